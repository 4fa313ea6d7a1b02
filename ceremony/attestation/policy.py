"""The plan's attestation policy: which keys need an attestation, and what it must say.

Applies `policy.attestation` and `keys.NAME.require_attestation` of the plan to a verified
`AttestationInfo`, and names the published key-extraction advisories for its firmware.
"""

from __future__ import annotations

from ceremony.attestation.record import SLOT_DEFAULT_PIN_POLICY, AttestationInfo
from ceremony.plan import Plan


def _key_family(key_type: str) -> str:
    k = key_type.lower()
    if k.startswith("ecdsa"):
        return "ecdsa"
    if k.startswith("rsa"):
        return "rsa"
    if k.startswith("ed25519"):
        return "ed25519"
    return k


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
) -> list[str]:
    """Problems with an attested key under the plan's policy (empty list: acceptable).

    `key_type` is the plan's or TUF's key type ("ecdsa-p256", "ecdsa", "rsa-3072", "rsa",
    "ed25519"...). `require_touch`: None (any), "cached" (cached or always) or "always".
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

    if not allow_vulnerable_firmware:
        problems += [
            a + " (or allow_vulnerable_firmware in the plan, with a recorded reason)"
            for a in advisories(info, key_type)
        ]
    return problems


def advisories(info: AttestationInfo, key_type: str) -> list[str]:
    """Published key-extraction advisories that apply to this device and key type.

    Reported always; refused by `check_policy` unless the plan allows vulnerable firmware.
    """
    out: list[str] = []
    family = _key_family(key_type)
    version = info.firmware_version
    # YSA-2024-03: YubiKey 5 fixed in 5.7.0; YubiKey 5 FIPS and Bio only in 5.7.2.
    bio = info.form_factor.endswith("-bio")
    fixed = (5, 7, 2) if bio or info.fips else (5, 7, 0)
    if family == "ecdsa" and version[0] == 5 and version < fixed:
        out.append(
            f"YubiKey firmware {info.firmware} is affected by Yubico Security Advisory "
            "YSA-2024-03 ('EUCLEAK'): the ECDSA implementation of YubiKey 5 devices before "
            f"firmware {'.'.join(map(str, fixed))} leaks enough through a side channel that "
            "someone with the device and lab equipment can recover the private key; use a "
            "YubiKey with newer firmware"
        )
    if family == "rsa" and version[0] == 4 and version < (4, 3, 5):
        out.append(
            f"YubiKey firmware {info.firmware} is affected by Yubico Security Advisory "
            "YSA-2017-01 ('ROCA', CVE-2017-15361): RSA keys generated on YubiKey 4 before "
            "firmware 4.3.5 can be factored from the public key; use another device"
        )
    return out


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
