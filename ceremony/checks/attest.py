"""Checks on one enrolled key's attestation: CER-ATTESTATION-REQUIRED, -POLICY, -ADVISORY,
-MISSING and -WAIVED.

A key on a YubiKey PIV application can prove it was generated on the device, so it must be
attested unless the plan waives it for that key (`keys.NAME.waive_attestation: reason`), and
the waiver is repeated on every screen. Published firmware advisories are errors unless the
plan allows them (`policy.attestation.allow_advisories` or `allow_vulnerable_firmware`), for
attested keys and for YubiKey keys whose token reports its firmware.

Pure: no I/O.
"""

from __future__ import annotations

from ceremony.attestation import (
    AttestationInfo,
    advisories_of,
    allowed_by_plan,
    attestation_problems,
    firmware_advisories,
    key_requires_attestation,
    roles_require_attestation,
)
from ceremony.checks.base import ERROR, WARNING, CheckContext, CheckResult
from ceremony.errors import StoreError
from ceremony.keys import EnrolledKey
from ceremony.keysource import is_yubikey_token


def _token_firmware(k: EnrolledKey) -> tuple[int, int, int] | None:
    text = str((k.token or {}).get("firmware", ""))
    parts = text.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return (int(parts[0]), int(parts[1]), int(parts[2]))


def check_key_attestation(
    ctx: CheckContext, name: str, k: EnrolledKey, ktype: str
) -> list[CheckResult]:
    """The attestation checks of the enrolled key `name` (of key type `ktype`)."""
    plan = ctx.plan
    spec = plan.keys.get(name)
    waiver = spec.waive_attestation if spec is not None else None
    out: list[CheckResult] = []
    if key_requires_attestation(plan, name) and not k.attestation:
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
            info, problems = None, [str(exc)]
        for problem in problems:
            out.append(CheckResult("CER-ATTESTATION-POLICY", ERROR, f"key '{name}': {problem}"))
        for advisory in advisories_of(info, ktype) if info is not None and not problems else []:
            out.append(
                CheckResult(
                    "CER-ATTESTATION-ADVISORY",
                    WARNING,
                    f"key '{name}': {advisory.text}. Accepted only because the plan sets "
                    f"{allowed_by_plan(plan, advisory)}.",
                )
            )
    if roles_require_attestation(plan, name) and not k.attestation:
        role_att = set(plan.policy.attestation.roles)
        out.append(
            CheckResult(
                "CER-ATTESTATION-REQUIRED",
                ERROR,
                f"policy.attestation requires attested keys for {', '.join(sorted(role_att))}, "
                f"but '{name}' has no attestation; enrol it again with --attest"
                + (
                    f" (keys.{name}.waive_attestation cannot waive a role's rule)."
                    if waiver
                    else "."
                ),
            )
        )
    if k.attestation:
        return out
    if waiver is not None:
        out.append(
            CheckResult(
                "CER-ATTESTATION-WAIVED",
                WARNING,
                f"key '{name}' was enrolled without an attestation: the plan waives it "
                f"(keys.{name}.waive_attestation: {waiver!r}). Nothing proves the key was "
                "generated on its device and never left it.",
            )
        )
    if not is_yubikey_token(k.token):
        return out
    if waiver is None:
        out.append(
            CheckResult(
                "CER-ATTESTATION-MISSING",
                ERROR,
                f"key '{name}' is on a YubiKey, which can prove that the key was generated on "
                "it, but no attestation was recorded. Enrol it again (`ceremony enroll` reads "
                "and checks the attestation by default), or waive it in the reviewed plan with "
                f"the reason: keys.{name}.waive_attestation.",
            )
        )
    firmware = _token_firmware(k)
    model = str((k.token or {}).get("model", "")).lower()
    found = (
        firmware_advisories(
            firmware, form_factor="unknown", fips="fips" in model, cspn=False, key_type=ktype
        )
        if firmware is not None
        else []
    )
    for advisory in found:
        setting = allowed_by_plan(plan, advisory)
        out.append(
            CheckResult(
                "CER-ATTESTATION-ADVISORY",
                WARNING if setting else ERROR,
                f"key '{name}' (firmware as its token reports it): {advisory.text}"
                + (
                    f". Accepted only because the plan sets {setting}."
                    if setting
                    else f" (only if this is a deliberate, reviewed exception: list it in the "
                    f"plan under policy.attestation.allow_advisories: [{advisory.id}])."
                ),
            )
        )
    return out
