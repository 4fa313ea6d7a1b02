"""The plan's attestation policy: which keys need an attestation, and what it must say.

Applies `policy.attestation` and `keys.NAME.require_attestation` of the plan to a verified
`AttestationInfo`, and names the published key-extraction advisories for its firmware.
"""

from __future__ import annotations

from collections.abc import Collection

from ceremony.attestation.advisories import Advisory, firmware_advisories
from ceremony.attestation.record import SLOT_DEFAULT_PIN_POLICY, AttestationInfo
from ceremony.plan import Plan


def effective_pin_policy(info: AttestationInfo) -> str | None:
    """The PIN policy in force: "default" resolved by slot (None when the slot is unknown)."""
    if info.pin_policy != "default":
        return info.pin_policy
    if info.slot is None:
        return None
    return SLOT_DEFAULT_PIN_POLICY.get(info.slot, "once")


def check_policy(
    info: AttestationInfo,
    *,
    key_type: str,
    require_touch: str | None,
    forbid_pin_never: bool,
    allow_vulnerable_firmware: bool,
    allowed_advisories: Collection[str] = (),
) -> list[str]:
    """Problems with an attested key under the plan's policy (empty list: acceptable).

    `key_type` is the plan's or TUF's key type ("ecdsa-p256", "ecdsa", "rsa-3072", "rsa",
    "ed25519"...). `require_touch`: None (any), "cached" (cached or always) or "always".
    A firmware advisory is a problem unless `allow_vulnerable_firmware` (all of them) or its
    identifier is in `allowed_advisories` (the plan's `allow_advisories`).
    """
    problems: list[str] = []
    touch = info.touch_policy if info.touch_policy != "default" else "never"
    if require_touch is not None:
        allowed = {"always": {"always"}, "cached": {"always", "cached"}}.get(require_touch)
        if allowed is None:
            problems.append(f"unknown required touch policy {require_touch!r}")
        elif touch not in allowed:
            problems.append(
                f"the key's touch policy is '{touch}' but the plan requires "
                f"'{require_touch}'{' (or always)' if require_touch == 'cached' else ''}; "
                "generate a new key with the required touch policy"
            )
    if forbid_pin_never:
        pin = effective_pin_policy(info)
        if pin == "never":
            problems.append(
                "the key's PIN policy is 'never' (anyone holding the YubiKey can sign with it) "
                "and the plan forbids that; generate a new key with PIN policy once or always"
            )
        elif pin is None:
            problems.append(
                "the key's PIN policy is 'default' and the slot is unknown, so it cannot be "
                "shown not to be 'never'"
            )

    problems += refused_advisories(
        advisories_of(info, key_type), allow_vulnerable_firmware, allowed_advisories
    )
    return problems


def refused_advisories(
    found: list[Advisory], allow_all: bool, allowed: Collection[str]
) -> list[str]:
    """The advisories of `found` the plan does not allow, as problems saying how to allow them."""
    if allow_all:
        return []
    return [
        f"{a.text} (only if this is a deliberate, reviewed exception: list it in the plan "
        f"under policy.attestation.allow_advisories: [{a.id}])"
        for a in found
        if a.id not in allowed
    ]


def advisories_of(info: AttestationInfo, key_type: str) -> list[Advisory]:
    """Published advisories (`ceremony.attestation.advisories`) for this attested device and
    key type. Reported always; refused by `check_policy` unless the plan allows them."""
    return firmware_advisories(
        info.firmware_version,
        form_factor=info.form_factor,
        fips=info.fips,
        cspn=info.cspn,
        key_type=key_type,
    )


def advisories(info: AttestationInfo, key_type: str) -> list[str]:
    """The sentences of `advisories_of` (what the screens print)."""
    return [a.text for a in advisories_of(info, key_type)]


def allowed_by_plan(plan: Plan, advisory: Advisory) -> str | None:
    """Which plan setting allows `advisory` ("policy.attestation.allow_advisories" or
    "policy.attestation.allow_vulnerable_firmware"), or None when the plan refuses it."""
    pol = plan.policy.attestation
    if advisory.id in pol.allow_advisories:
        return "policy.attestation.allow_advisories"
    if pol.allow_vulnerable_firmware:
        return "policy.attestation.allow_vulnerable_firmware"
    return None


# --- the plan's rules -----------------------------------------------------------------------


def key_requires_attestation(plan: Plan, name: str) -> bool:
    """`keys.NAME.require_attestation: true` in the plan."""
    spec = plan.keys.get(name)
    return bool(spec and spec.require_attestation)


def roles_require_attestation(plan: Plan, name: str) -> bool:
    """`policy.attestation.roles` names a role the key serves."""
    return bool(set(plan.policy.attestation.roles) & set(plan.roles_of_key(name)))


def attestation_required(plan: Plan, name: str) -> bool:
    """Must the key `name` have a recorded attestation (its own rule, or its roles')?"""
    return key_requires_attestation(plan, name) or roles_require_attestation(plan, name)


def attestation_problems(plan: Plan, name: str, key_type: str, info: AttestationInfo) -> list[str]:
    """The plan's attestation policy applied to one attested key (empty list: it passes).

    Touch, PIN-never and PIN rules apply to keys in the policy's roles (or every key when
    it names none); the firmware advisories apply to every attested key.
    """
    pol = plan.policy.attestation
    in_scope = not pol.roles or bool(set(pol.roles) & set(plan.roles_of_key(name)))
    problems = check_policy(
        info,
        key_type=key_type,
        require_touch=pol.touch if in_scope else None,
        forbid_pin_never=pol.forbid_pin_never if in_scope else False,
        allow_vulnerable_firmware=pol.allow_vulnerable_firmware,
        allowed_advisories=pol.allow_advisories,
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
