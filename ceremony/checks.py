"""Named policy checks over a plan, its enrolled keys and the previous root.

Each check has an id (CER-AREA-NAME) that appears on screen, in the transcript and in
the test names. A check yields `error` (clients would break, or policy forbids it),
`warning` (a legitimate but risky choice: shown, recorded, and not blocking) or `ok`.

Pure: no I/O. The caller supplies the previous root and the digest of its file.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tuf.api.metadata import Root

from ceremony.attestation import AttestationInfo, advisories, check_policy, effective_pin_policy
from ceremony.errors import StoreError
from ceremony.keys import (
    KEY_TYPES,
    SOURCE_PREVIOUS_ROOT,
    EnrolledKey,
    key_type_of,
    public_identity,
    short,
)
from ceremony.plan import Plan

ERROR = "error"
WARNING = "warning"
OK = "ok"


@dataclass(frozen=True)
class CheckResult:
    id: str
    level: str  # error | warning | ok
    message: str

    def line(self) -> str:
        return f"{self.id}: {self.message}"


@dataclass(frozen=True)
class CheckContext:
    plan: Plan
    keys: Mapping[str, EnrolledKey]
    previous: Root | None
    previous_sha256: str | None  # of the previous root file's bytes, as read
    now: dt.datetime
    require_enrolled: bool = False  # True once a draft is to be made


def _holder_list(plan: Plan, names: Iterable[str]) -> str:
    return ", ".join(f"{n} ({plan.holder(n)})" for n in names)


def previous_key_names(keys: Mapping[str, EnrolledKey], previous: Root) -> dict[str, str]:
    """keyid -> human name for the previous root's keys (enrolled name, else a short id)."""
    by_id = {k.keyid: k.name for k in keys.values()}
    return {kid: by_id.get(kid, f"key {short(kid)}") for kid in previous.keys}


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


def check_keys(ctx: CheckContext) -> list[CheckResult]:
    plan, keys = ctx.plan, ctx.keys
    out: list[CheckResult] = []
    used = {k for r in plan.roles.values() for k in r.keys}
    if plan.targets:
        for d in plan.targets.delegations:
            used.update(d.keys)
            if d.hash_bins:
                used.update(d.hash_bins.keys)

    todo = sorted(
        n for n, spec in plan.keys.items() if re.match(r"(?i)TODO\b", spec.holder.strip())
    )
    if todo:
        out.append(
            CheckResult(
                "CER-PLAN-TODO",
                ERROR,
                f"keys {', '.join(todo)}: the holder is still a TODO placeholder; write each "
                "holder's name so signers can be told apart.",
            )
        )

    # Compromised or lost keys must not stay in any role.
    for name in sorted(used):
        spec = plan.keys.get(name)
        if spec is not None and spec.status != "active":
            out.append(
                CheckResult(
                    "CER-KEY-COMPROMISED-KEPT",
                    ERROR,
                    f"key '{name}' ({spec.holder}) is marked {spec.status} but is still used by "
                    f"{', '.join(plan.roles_of_key(name)) or 'a delegation'}; remove it from every role.",
                )
            )

    # One key in both an offline and an online role.
    both = sorted(plan.offline_key_names() & plan.online_key_names())
    if both:
        out.append(
            CheckResult(
                "CER-KEY-OFFLINE-ONLINE",
                ERROR,
                f"{_holder_list(plan, both)}: used by an offline role (root, targets, bins) and an "
                "online role (snapshot, timestamp, bin-n). An online key sits on a server; if it "
                "also signs offline roles, a server compromise becomes a root compromise.",
            )
        )
    # Enrolled keys also checked by identity: two names for one public key.
    by_ident: dict[tuple[str, str, str], list[str]] = {}
    for k in keys.values():
        by_ident.setdefault(k.public_identity(), []).append(k.name)
    for names in by_ident.values():
        if len(names) > 1:
            out.append(
                CheckResult(
                    "CER-KEY-DUPLICATE",
                    ERROR,
                    f"keys {', '.join(sorted(names))} are the same public key; one key must never "
                    "count twice toward a threshold. Keep one name and remove the others.",
                )
            )
    # Offline-online overlap by identity (e.g. same key enrolled under two names).
    offline_ids = {keys[n].public_identity() for n in plan.offline_key_names() if n in keys}
    for n in sorted(plan.online_key_names()):
        if n in keys and keys[n].public_identity() in offline_ids and n not in both:
            out.append(
                CheckResult(
                    "CER-KEY-OFFLINE-ONLINE",
                    ERROR,
                    f"online key '{n}' is the same public key as an offline key.",
                )
            )

    missing = sorted(n for n in used if n not in keys)
    if missing:
        level = ERROR if ctx.require_enrolled else WARNING
        out.append(
            CheckResult(
                "CER-KEY-NOT-ENROLLED",
                level,
                f"not enrolled yet: {_holder_list(plan, missing)}. Next: `ceremony enroll DIR NAME "
                "--uri pkcs11:...` (token keys) or `--public-key FILE` (online key).",
            )
        )

    p384_root: list[str] = []
    for name in sorted(used & set(keys)):
        k = keys[name]
        spec = plan.keys.get(name)
        ktype = key_type_of(k.key)
        if name in plan.offline_key_names() and ktype not in KEY_TYPES:
            out.append(
                CheckResult(
                    "CER-KEY-TYPE",
                    ERROR,
                    f"key '{name}' is {ktype}; offline roles accept {', '.join(KEY_TYPES)}.",
                )
            )
        if spec is not None and spec.type is not None and spec.type != ktype:
            out.append(
                CheckResult(
                    "CER-KEY-TYPE",
                    ERROR,
                    f"keys.{name}.type says {spec.type} but the enrolled key is {ktype}. Either the "
                    "wrong key was enrolled or the plan is wrong.",
                )
            )
        if ktype == "ecdsa-p384" and "root" in plan.roles and name in plan.roles["root"].keys:
            p384_root.append(name)
        if not k.keyid_matches_content:
            level = WARNING if k.source == SOURCE_PREVIOUS_ROOT else ERROR
            out.append(
                CheckResult(
                    "CER-KEYID-CONTENT",
                    level,
                    f"key '{name}' has keyid {short(k.keyid)} which is not the SHA-256 of its key "
                    "object. "
                    + (
                        "It comes from the previous root and is kept as is so clients still "
                        "recognise it, but strict clients may disagree about it; consider rotating it."
                        if level == WARNING
                        else "Enrol it again: the tool never writes keys whose keyid differs between implementations."
                    ),
                )
            )
        if k.allow_imported:
            out.append(
                CheckResult(
                    "CER-KEY-IMPORTED",
                    WARNING,
                    f"key '{name}' was enrolled with --allow-imported-key: the token does not "
                    "prove it was generated on the device and never left it.",
                )
            )
        if spec is not None and spec.require_attestation and not k.attestation:
            out.append(
                CheckResult(
                    "CER-ATTESTATION-REQUIRED",
                    ERROR,
                    f"keys.{name} requires attestation but none was recorded; enrol it again with --attest.",
                )
            )
        if k.attestation:
            try:
                info = AttestationInfo.from_dict(k.attestation, where=f"keys/{name}.json")
                problems = attestation_problems(plan, name, ktype, info)
            except StoreError as exc:
                problems = [str(exc)]
            for problem in problems:
                out.append(CheckResult("CER-ATTESTATION-POLICY", ERROR, f"key '{name}': {problem}"))
            if plan.policy.attestation.allow_vulnerable_firmware and not problems:
                for advisory in advisories(info, ktype):
                    out.append(
                        CheckResult(
                            "CER-ATTESTATION-ADVISORY",
                            WARNING,
                            f"key '{name}': {advisory}. Accepted only because the plan sets "
                            "policy.attestation.allow_vulnerable_firmware: true.",
                        )
                    )
        role_att = set(plan.policy.attestation.roles)
        if role_att & set(plan.roles_of_key(name)) and not k.attestation:
            out.append(
                CheckResult(
                    "CER-ATTESTATION-REQUIRED",
                    ERROR,
                    f"policy.attestation requires attested keys for {', '.join(sorted(role_att))}, "
                    f"but '{name}' has no attestation; enrol it again with --attest.",
                )
            )
    softhsm = sorted(
        n
        for n in used & set(keys)
        if "softhsm" in str((keys[n].token or {}).get("manufacturer", "")).lower()
    )
    if softhsm and not plan.rehearsal:
        out.append(
            CheckResult(
                "CER-KEY-SOFTHSM",
                WARNING,
                f"{', '.join(softhsm)}: on SoftHSM, which keeps its keys in files on this "
                "machine's disk. Good for rehearsals and tests; a production ceremony needs "
                "hardware tokens (YubiKey, HSM).",
            )
        )
    software = sorted(n for n in used & set(keys) if keys[n].is_software)
    if software:
        out.append(
            CheckResult(
                "CER-SOFTWARE-KEY",
                WARNING if plan.rehearsal else ERROR,
                f"{', '.join(software)}: REHEARSAL software key{'s' if len(software) > 1 else ''}"
                + (
                    " (allowed: this plan says rehearsal: true; never publish the result)."
                    if plan.rehearsal
                    else "; software keys are refused outside a rehearsal (set `rehearsal: true` "
                    "in the plan only for a practice run)."
                ),
            )
        )
    if p384_root:
        out.append(
            CheckResult(
                "CER-KEY-P384-CLIENTS",
                WARNING,
                f"root keys {', '.join(p384_root)} are ECDSA P-384: tuf-js before 6.0 cannot verify "
                "ecdsa-sha2-nistp384 signatures, so clients on old tuf-js would reject this root.",
            )
        )
    return out


def attestation_problems(plan: Plan, name: str, key_type: str, info: AttestationInfo) -> list[str]:
    """The plan's attestation policy applied to one attested key."""
    pol = plan.policy.attestation
    in_scope = not pol.roles or bool(set(pol.roles) & set(plan.roles_of_key(name)))
    problems = check_policy(
        info,
        key_type=key_type,
        require_touch=pol.touch if in_scope else None,
        forbid_pin_never=pol.forbid_pin_never if in_scope else False,
        allow_vulnerable_firmware=pol.allow_vulnerable_firmware,
    )
    if in_scope and pol.pin is not None:
        pin = effective_pin_policy(info)
        allowed = {"always"} if pol.pin == "always" else {"once", "always"}
        if pin not in allowed:
            problems.append(
                f"the key's PIN policy is '{pin or 'unknown'}' but the plan requires "
                f"'{pol.pin}'{' (or always)' if pol.pin == 'once' else ''}; generate a new key "
                "with that PIN policy"
            )
    return problems


def check_rotation(ctx: CheckContext) -> list[CheckResult]:
    """Can the previous root's threshold be reached, and by whom?"""
    plan, prev = ctx.plan, ctx.previous
    if prev is None:
        return []
    out: list[CheckResult] = []
    role = prev.roles["root"]
    by_id = {k.keyid: k.name for k in ctx.keys.values()}
    clean: set[tuple[str, str, str]] = set()
    usable: set[tuple[str, str, str]] = set()
    for kid in role.keyids:  # distinct keys: one key under two keyids counts once
        ident = public_identity(prev.keys[kid])
        name = by_id.get(kid)
        status = plan.keys[name].status if name and name in plan.keys else "active"
        if status != "lost":
            usable.add(ident)
        if status == "active":
            clean.add(ident)
    clean_n, usable_n = len(clean), len(usable)
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


ALL_CHECKS = (check_previous, check_expiry, check_thresholds, check_keys, check_rotation)


def run_checks(ctx: CheckContext) -> list[CheckResult]:
    results: list[CheckResult] = []
    for check in ALL_CHECKS:
        results.extend(check(ctx))
    return results


def errors(results: Iterable[CheckResult]) -> list[CheckResult]:
    return [r for r in results if r.level == ERROR]


def warnings(results: Iterable[CheckResult]) -> list[CheckResult]:
    return [r for r in results if r.level == WARNING]
