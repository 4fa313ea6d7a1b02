"""Checks on versions, expiry, thresholds and the rotation: CER-VERSION, CER-PREVIOUS-HASH,
CER-PREVIOUS-SIGNED, CER-PREVIOUS-KEY-*, CER-EXPIRY-*, CER-THRESHOLD-*, CER-ROTATION-*.

Pure: no I/O. The caller supplies the previous root and the digest of its file.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from tuf.api.metadata import Root

from ceremony.checks.base import ERROR, OK, WARNING, CheckContext, CheckResult
from ceremony.keys import EnrolledKey, key_identity, short
from ceremony.plan import Plan
from ceremony.tufread import RootVerdict


def check_previous(ctx: CheckContext) -> list[CheckResult]:
    plan = ctx.plan
    out: list[CheckResult] = []
    if plan.previous_root is None:
        if plan.root.version not in (None, 1):
            out.append(
                CheckResult(
                    "CER-VERSION",
                    ERROR,
                    f"root.version is {plan.root.version} but the plan has no previous_root: a "
                    "first root is version 1, and any later one needs its trusted previous root.",
                )
            )
        else:
            out.append(CheckResult("CER-VERSION", OK, "first root: version 1"))
        return out
    if ctx.previous_sha256 is not None:
        if ctx.previous_sha256 != plan.previous_root.sha256:
            out.append(
                CheckResult(
                    "CER-PREVIOUS-HASH",
                    ERROR,
                    f"previous_root.sha256 says {plan.previous_root.sha256[:16]}… but "
                    f"{plan.previous_root.path} has SHA-256 {ctx.previous_sha256[:16]}…. This is not "
                    "the root the plan's reviewers approved; get the trusted file again.",
                )
            )
        else:
            out.append(
                CheckResult("CER-PREVIOUS-HASH", OK, "previous root matches the plan's SHA-256")
            )
    if ctx.previous_verdict is not None:
        out += _previous_judged(ctx, ctx.previous_verdict)
    if ctx.previous is not None:
        expected = ctx.previous.version + 1
        version = plan.root.version if plan.root.version is not None else expected
        if version != expected:
            out.append(
                CheckResult(
                    "CER-VERSION",
                    ERROR,
                    f"root.version is {version} but the previous root is version "
                    f"{ctx.previous.version}: clients only accept version {expected} next "
                    "(no skipping, no going back).",
                )
            )
        else:
            out.append(
                CheckResult("CER-VERSION", OK, f"version {version} follows {ctx.previous.version}")
            )
    return out


def _previous_judged(ctx: CheckContext, v: RootVerdict) -> list[CheckResult]:
    """The previous root judged by itself (issue 9, rule 2): its own threshold, and the keys
    in it no client can use."""
    path = ctx.plan.previous_root.path if ctx.plan.previous_root else "the previous root"
    out: list[CheckResult] = []
    if not v.ok:
        out.append(
            CheckResult(
                "CER-PREVIOUS-SIGNED",
                ERROR,
                f"the previous root {path} (version {v.version}) is not signed by its own "
                f"threshold: python-tuf says: {v.problem}. No client could ever have trusted it, "
                "so nothing may be built on it: get the root.json your clients really trust.",
            )
        )
    else:
        older = (
            " Whether it follows from the roots before it is not checked here: check that chain "
            "with `ceremony verify 1.root.json ... ROOT` (or `ceremony init --trusted-chain`)."
            if v.version > 1
            else ""
        )
        out.append(
            CheckResult(
                "CER-PREVIOUS-SIGNED",
                OK,
                f"the previous root (version {v.version}) is signed by {len(v.signed)} of its "
                f"{v.listed} root keys (threshold {v.threshold}).{older}",
            )
        )
    used = {ctx.keys[n].keyid for r in ctx.plan.roles.values() for n in r.keys if n in ctx.keys}
    for role, kid in v.missing_keys:
        out.append(
            CheckResult(
                "CER-PREVIOUS-KEY-MISSING",
                WARNING,
                f"the previous root's {role} role lists keyid {short(kid)} with no key object "
                "(clients ignore it). It can never sign, and the new root does not carry it.",
            )
        )
    for u in v.unusable_keys:
        kept = u.keyid in used
        out.append(
            CheckResult(
                "CER-PREVIOUS-KEY-UNUSABLE",
                ERROR if kept else WARNING,
                f"the previous root's key {short(u.keyid)} ({', '.join(u.roles)}) has a public "
                f"value no client can load ({u.reason}). "
                + (
                    "The plan keeps it in a role of the new root, where it could never sign: "
                    "remove it from every role."
                    if kept
                    else "It can never sign, and the new root does not carry it."
                ),
            )
        )
    return out


def check_expiry(ctx: CheckContext) -> list[CheckResult]:
    plan = ctx.plan
    out: list[CheckResult] = []
    items = [("root", "root.expires", plan.root.expires, plan.policy.max_expiry_days["root"])]
    if plan.targets is not None:
        items.append(
            (
                "targets",
                "targets.expires",
                plan.targets.expires,
                plan.policy.max_expiry_days["targets"],
            )
        )
        for i, d in enumerate(plan.targets.delegations):
            items.append(
                (
                    d.name,
                    f"targets.delegations[{i}].expires",
                    d.expires,
                    plan.policy.max_expiry_days["delegation"],
                )
            )
    for role, path, exp, max_days in items:
        when = exp.resolve(ctx.now)
        days = (when - ctx.now).total_seconds() / 86400
        if when <= ctx.now:
            out.append(
                CheckResult(
                    "CER-EXPIRY-PAST",
                    ERROR,
                    f"{path}: {exp} is in the past; clients would reject {role} at once.",
                )
            )
        elif days > max_days + 1:
            out.append(
                CheckResult(
                    "CER-EXPIRY-MAX",
                    ERROR,
                    f"{path}: {exp} is {int(days)} days away, beyond the policy maximum of "
                    f"{max_days} days (policy.max_expiry.{role if role in ('root', 'targets') else 'delegation'}).",
                )
            )
        elif days < plan.policy.min_expiry_days:
            out.append(
                CheckResult(
                    "CER-EXPIRY-SHORT",
                    WARNING,
                    f"{path}: {role} would expire in {days:.1f} days, leaving little time to collect "
                    "signatures and publish.",
                )
            )
        else:
            out.append(
                CheckResult("CER-EXPIRY", OK, f"{role} expires {when:%Y-%m-%d} ({int(days)} days)")
            )
    return out


def check_thresholds(ctx: CheckContext) -> list[CheckResult]:
    plan = ctx.plan
    out: list[CheckResult] = []
    root = plan.roles.get("root")
    if root is not None:
        n = len(root.keys)
        if root.threshold == 1:
            out.append(
                CheckResult(
                    "CER-THRESHOLD-ROOT-ONE",
                    WARNING,
                    "roles.root.threshold is 1: any single root key holder (or a thief of one key) "
                    "can replace the whole trust root. PEP 458 asks for t > 1.",
                )
            )
        if root.threshold == n and n > 1:
            out.append(
                CheckResult(
                    "CER-THRESHOLD-ALL-KEYS",
                    WARNING,
                    f"roles.root.threshold is {n} of {n} keys: if one more root key is lost, no new "
                    "root can ever be signed and clients need a root distributed out of band. "
                    "Consider a threshold below the number of keys.",
                )
            )
        elif n == 1:
            out.append(
                CheckResult(
                    "CER-THRESHOLD-ALL-KEYS",
                    WARNING,
                    "roles.root has a single key: losing it leaves no way to sign a new root.",
                )
            )
    out.append(
        CheckResult(
            "CER-THRESHOLD-RANGE", OK, "every threshold is between 1 and its number of keys"
        )
    )
    return out


@dataclass(frozen=True)
class PreviousRootSigners:
    """Who can still sign for the previous root's root role: its threshold, and its distinct
    keys (one key under two keyids counts once) by the plan's status. A key the plan does
    not name counts as active. `active` lists "name (holder)" for keys not marked lost or
    compromised; `clean`/`usable` count the keys that are active / not lost."""

    threshold: int
    active: list[str]
    clean: int
    usable: int


def previous_root_signers(
    plan: Plan, keys: Mapping[str, EnrolledKey], prev: Root, dropped: Collection[str] = ()
) -> PreviousRootSigners:
    """The previous root's root-role signers as the plan marks them (see the class).
    `dropped`: keyids no client can load (`tufread.RootVerdict.dropped`): they never sign."""
    role = prev.roles["root"]
    by_id = {k.keyid: k.name for k in keys.values()}
    clean: dict[str, str] = {}
    usable: set[str] = set()
    for kid in role.keyids:  # distinct keys: one key under two keyids counts once
        if kid not in prev.keys or kid in dropped:
            continue  # no key object, or one no client can load: it can never sign
        ident = key_identity(prev.keys[kid])
        name = by_id.get(kid)
        status = plan.keys[name].status if name and name in plan.keys else "active"
        if status != "lost":
            usable.add(ident)
        if status == "active" and ident not in clean:
            who = f"{name} ({plan.holder(name)})" if name else f"keyid {kid[:8]} (not enrolled)"
            clean[ident] = who
    return PreviousRootSigners(role.threshold, sorted(clean.values()), len(clean), len(usable))


def check_rotation(ctx: CheckContext) -> list[CheckResult]:
    """Can the previous root's threshold be reached, and by whom?"""
    plan, prev = ctx.plan, ctx.previous
    if prev is None:
        return []
    out: list[CheckResult] = []
    role = prev.roles["root"]
    dropped = ctx.previous_verdict.dropped() if ctx.previous_verdict else set()
    signers = previous_root_signers(plan, ctx.keys, prev, dropped)
    clean_n, usable_n = signers.clean, signers.usable
    if usable_n < role.threshold:
        out.append(
            CheckResult(
                "CER-ROTATION-OUT-OF-BAND",
                WARNING,
                f"the previous root needs {role.threshold} of its keys, but only {usable_n} are not "
                "lost: existing clients can never accept this new root. It must be distributed to "
                "clients out of band (a new trusted root shipped with the client), and export needs "
                "--out-of-band.",
            )
        )
    elif clean_n < role.threshold:
        out.append(
            CheckResult(
                "CER-ROTATION-COMPROMISED-THRESHOLD",
                WARNING,
                f"the previous root's threshold ({role.threshold}) can only be reached with keys "
                "marked compromised. Their signatures still count toward the previous root (the "
                "spec requires it), but whoever stole them could sign a competing root: publish "
                "this root and also distribute it out of band (PEP 458).",
            )
        )
    return out
