"""Checks on the keys: CER-PLAN-TODO, CER-KEY-*, CER-KEYID-CONTENT, CER-SOFTWARE-KEY,
CER-ATTESTATION-*.

Pure: no I/O; the enrolled keys are values read by the caller.
"""

from __future__ import annotations

import re

from ceremony.checks.attest import check_key_attestation
from ceremony.checks.base import ERROR, WARNING, CheckContext, CheckResult, holder_list
from ceremony.keys import (
    KEY_TYPES,
    SOURCE_IMPORTED,
    SOURCE_PREVIOUS_ROOT,
    key_identity,
    key_type_of,
    short,
    strength_problem,
)
from ceremony.keysource import is_softhsm_token


def _previous_roles_of(ctx: CheckContext, name: str) -> set[str]:
    """The previous root's top-level roles that list the enrolled key `name` (by public
    key, whatever its spelling there); empty for a first root or a key not enrolled."""
    prev, key = ctx.previous, ctx.keys.get(name)
    if prev is None or key is None:
        return set()
    ident = key.public_identity()
    return {
        role
        for role, r in prev.roles.items()
        for kid in r.keyids
        if kid in prev.keys and key_identity(prev.keys[kid]) == ident
    }


def _trusted_by_previous(ctx: CheckContext, name: str) -> bool:
    return bool(_previous_roles_of(ctx, name))


def _layout_inherited(ctx: CheckContext, name: str) -> bool:
    """True when every role the plan gives key `name` already listed it in the previous root
    (so an offline+online layout is the one clients trust today, not a new one)."""
    plan = ctx.plan
    in_plan = {role for role, r in plan.roles.items() if name in r.keys}
    delegations = plan.targets.delegations if plan.targets else ()
    in_delegations = any(
        name in d.keys or (d.hash_bins is not None and name in d.hash_bins.keys)
        for d in delegations
    )
    return bool(in_plan) and not in_delegations and in_plan <= _previous_roles_of(ctx, name)


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

    # One key in both an offline and an online role: an error when the plan makes it so,
    # a warning when the previous root (which clients already trust) had exactly this layout.
    both = sorted(plan.offline_key_names() & plan.online_key_names())
    risk = (
        "used by an offline role (root, targets, bins) and an online role (snapshot, "
        "timestamp, bin-n). An online key sits on a server; if it also signs offline roles, a "
        "server compromise becomes a root compromise."
    )
    inherited = [n for n in both if _layout_inherited(ctx, n)]
    new_layout = [n for n in both if n not in inherited]
    if new_layout:
        out.append(
            CheckResult("CER-KEY-OFFLINE-ONLINE", ERROR, f"{holder_list(plan, new_layout)}: {risk}")
        )
    if inherited:
        out.append(
            CheckResult(
                "CER-KEY-OFFLINE-ONLINE",
                WARNING,
                f"{holder_list(plan, inherited)}: {risk} The previous root, which clients already "
                "trust, has exactly this layout, so it is kept; plan a rotation that gives the "
                "offline roles their own offline keys.",
            )
        )
    out += _duplicates(ctx, used)
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
                f"not enrolled yet: {holder_list(plan, missing)}. Next: `ceremony enroll DIR NAME "
                "--uri pkcs11:...` (token keys) or `--public-key FILE` (online key).",
            )
        )

    p384_root: list[str] = []
    for name in sorted(used & set(keys)):
        k = keys[name]
        spec = plan.keys.get(name)
        ktype = key_type_of(k.key)
        weak = strength_problem(k.key)  # measured again: the file may be edited after enrolment
        if weak is not None:
            old = _trusted_by_previous(ctx, name)  # clients trust it already: rotate it out
            out.append(
                CheckResult(
                    "CER-KEY-STRENGTH",
                    WARNING if old else ERROR,
                    f"key '{name}' (keys/{name}.json): {weak}. "
                    + (
                        "It comes from the previous root, whose clients already trust it; "
                        "rotate it out of every role in this ceremony."
                        if old
                        else "Delete keys/"
                        f"{name}.json and enrol a key of a type the plan accepts "
                        f"({', '.join(KEY_TYPES)})."
                    ),
                )
            )
        if name in plan.offline_key_names() and ktype not in KEY_TYPES:
            # The key-type policy is for NEW keys: re-signing with a key clients already trust
            # (listed in the previous root) is allowed, with a warning.
            trusted = _trusted_by_previous(ctx, name)
            out.append(
                CheckResult(
                    "CER-KEY-TYPE",
                    WARNING if trusted else ERROR,
                    f"key '{name}' is {ktype}; new offline keys must be {', '.join(KEY_TYPES)}."
                    + (
                        " It is kept because the previous root already trusts it; consider "
                        "replacing it in a later rotation."
                        if trusted
                        else ""
                    ),
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
            level = WARNING if k.source in (SOURCE_PREVIOUS_ROOT, SOURCE_IMPORTED) else ERROR
            origin = "the imported metadata" if k.source == SOURCE_IMPORTED else "the previous root"
            out.append(
                CheckResult(
                    "CER-KEYID-CONTENT",
                    level,
                    f"key '{name}' has keyid {short(k.keyid)} which is not the SHA-256 of its key "
                    "object. "
                    + (
                        f"It comes from {origin} and is kept as is so clients still "
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
        out += check_key_attestation(ctx, name, k, ktype)
    softhsm = sorted(n for n in used & set(keys) if is_softhsm_token(keys[n].token))
    if softhsm and not plan.rehearsal:
        out.append(
            CheckResult(
                "CER-KEY-SOFTHSM",
                ERROR,
                f"{', '.join(softhsm)}: on SoftHSM, which keeps its keys in files on this "
                "machine's disk, so a copy of the disk is a copy of the key. SoftHSM is a "
                "rehearsal token: it is refused outside a rehearsal (set `rehearsal: true` in "
                "the plan only for a practice run); a production ceremony needs hardware "
                "tokens (YubiKey, HSM).",
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


def _duplicates(ctx: CheckContext, used: set[str]) -> list[CheckResult]:
    """CER-KEY-DUPLICATE: two names for one public key, whatever its spelling (`key_identity`).

    An error when the new plan could count the key twice (both names used, or one enrolled
    here); a warning when the second name is only a previous root's second listing of the
    key, which counts once toward that root's threshold and is not carried into the new one.
    """
    keys, out = ctx.keys, []
    by_ident: dict[str, list[str]] = {}
    for k in keys.values():
        by_ident.setdefault(key_identity(k.key), []).append(k.name)
    for names in (sorted(n) for n in by_ident.values() if len(n) > 1):
        in_use = [n for n in names if n in used]
        old_only = all(keys[n].source == SOURCE_PREVIOUS_ROOT for n in names if n not in used)
        listed = ", ".join(names)
        if len(in_use) <= 1 and old_only:
            out.append(
                CheckResult(
                    "CER-KEY-DUPLICATE",
                    WARNING,
                    f"keys {listed} are one public key that the previous root lists under "
                    f"{len(names)} keyids: it counts once toward the previous root's threshold. "
                    + (
                        f"The new root uses it only as '{in_use[0]}'."
                        if in_use
                        else "The new root does not use it."
                    ),
                )
            )
            continue
        out.append(
            CheckResult(
                "CER-KEY-DUPLICATE",
                ERROR,
                f"keys {listed} are the same public key (spelled differently or under "
                f"different keyids); one key must never count twice toward a threshold. Keep "
                f"one name in the plan's roles and remove the others"
                + (f" ({', '.join(in_use)} are all used)." if len(in_use) > 1 else "."),
            )
        )
    return out
