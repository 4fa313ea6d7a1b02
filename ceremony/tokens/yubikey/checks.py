"""Refusals before a YubiKey is changed: arguments, firmware, factory credentials, the slot."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ceremony.errors import InputError, MechanismNotSupported, PinLocked, TokenError
from ceremony.tokens.types import KEY_TYPES
from ceremony.tokens.yubikey.failures import cap
from ceremony.tokens.yubikey.values import (
    DEFAULT_MANAGEMENT_KEY,
    DEFAULT_PIN,
    DEFAULT_PUK,
    MIN_FIRMWARE,
    PIN_POLICIES,
    PIV_SLOTS,
    SW_REFERENCE_NOT_FOUND,
    TOUCH_POLICIES,
    YubiKeyInfo,
)

if TYPE_CHECKING:
    from yubikit.piv import PivSession


def check_arguments(slot: str, key_type: str, pin_policy: str, touch_policy: str) -> str:
    slot = slot.lower().removeprefix("0x")
    if slot not in PIV_SLOTS:
        raise InputError(
            f"PIV slot '{slot}' cannot hold a ceremony key: use 9c (Digital Signature, the "
            "default), 9a, 9d, 9e or a retired slot 82-95. 9b is the management key and f9 the "
            "device's own attestation key."
        )
    if key_type not in KEY_TYPES:
        raise InputError(f"Key type '{key_type}' is not one of {', '.join(KEY_TYPES)}.")
    if pin_policy not in PIN_POLICIES:
        raise InputError(
            f"PIN policy '{pin_policy}' is not one of {', '.join(PIN_POLICIES)} "
            "(the YubiKey's PIV PIN policies)."
        )
    if touch_policy not in TOUCH_POLICIES:
        raise InputError(
            f"Touch policy '{touch_policy}' is not one of {', '.join(TOUCH_POLICIES)}."
        )
    return slot


def check_firmware(info: YubiKeyInfo, key_type: str) -> None:
    need = MIN_FIRMWARE[key_type]
    if info.firmware_version < need:
        what = {"ed25519": "Ed25519", "rsa-3072": "RSA-3072"}.get(key_type, key_type)
        raise MechanismNotSupported(
            f"{cap(info.describe())} cannot generate {what} keys: they need YubiKey firmware "
            f"{'.'.join(map(str, need))} or later, and this one has {info.firmware}. YubiKey "
            "firmware cannot be upgraded. Nothing was generated.",
            hint="Use a YubiKey with firmware 5.7 or later, or change the key's type in the "
            "plan to ecdsa-p256 or ecdsa-p384 (which every YubiKey 5 generates).",
        )


def piv_enums(key_type: str, pin_policy: str, touch_policy: str) -> tuple[Any, Any, Any]:
    from yubikit.piv import KEY_TYPE, PIN_POLICY, TOUCH_POLICY

    kt = {
        "ed25519": KEY_TYPE.ED25519,
        "ecdsa-p256": KEY_TYPE.ECCP256,
        "ecdsa-p384": KEY_TYPE.ECCP384,
        "rsa-3072": KEY_TYPE.RSA3072,
    }[key_type]
    return kt, PIN_POLICY[pin_policy.upper()], TOUCH_POLICY[touch_policy.upper()]


def refuse_defaults(piv: PivSession, info: YubiKeyInfo) -> bool:
    """Refuse a default or blocked PIN/PUK and a default management key (metadata, 5.3+).

    Returns False when the firmware has no metadata (the caller then checks the PIN itself).
    """
    from yubikit.core import NotSupportedError

    try:
        pin = piv.get_pin_metadata()
        puk = piv.get_puk_metadata()
        mgmt = piv.get_management_key_metadata()
    except NotSupportedError:
        return False
    who = info.describe()
    if pin.attempts_remaining == 0:
        raise PinLocked(
            f"The PIV PIN of {who} is blocked. Nothing was generated.",
            hint="Unblock it with the PUK (`ykman piv access unblock-pin`), then try again.",
        )
    defaults = [
        name
        for name, is_default in (
            (f"PIN ({DEFAULT_PIN})", pin.default_value),
            (f"PUK ({DEFAULT_PUK})", puk.default_value),
            ("management key (010203...0708)", mgmt.default_value),
        )
        if is_default
    ]
    if defaults:
        raise TokenError(
            f"{cap(who)} still has its factory default PIV {join(defaults)}. Anyone who picks "
            "it up could use or replace the key, so a ceremony key is not generated on it. "
            "Nothing was generated.",
            hint="Set the holder's own values first, with the YubiKey in hand: `ykman piv "
            "access change-pin`, `ykman piv access change-puk` and `ykman piv access "
            "change-management-key --generate` (runbooks/token-preparation.md).",
        )
    if puk.attempts_remaining == 0:
        raise TokenError(
            f"The PIV PUK of {who} is blocked: a blocked PIN could then only be recovered by a "
            "PIV reset, which erases the key. Nothing was generated.",
            hint="Use another YubiKey, or reset PIV on this one and set new PIN, PUK and "
            "management key before the ceremony.",
        )
    return True


def join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def slot_contents(piv: PivSession, slot: int) -> tuple[bool, bool, Any]:
    """(holds a key, holds a certificate, metadata or None) for a slot."""
    from yubikit.core import NotSupportedError
    from yubikit.core.smartcard import ApduError
    from yubikit.piv import OBJECT_ID, SLOT

    metadata = None
    has_key = False
    try:
        metadata = piv.get_slot_metadata(SLOT(slot))
        has_key = True
    except NotSupportedError:
        # Firmware before 5.3: a key made on the card can still be attested.
        try:
            piv.attest_key(SLOT(slot))
            has_key = True
        except (ApduError, NotSupportedError):
            has_key = False
    except ApduError as e:
        if e.sw != SW_REFERENCE_NOT_FOUND:
            raise
    try:
        piv.get_object(OBJECT_ID.from_slot(SLOT(slot)))
        has_cert = True
    except ApduError as e:
        if e.sw != 0x6A82:  # file not found: no certificate
            raise
        has_cert = False
    return has_key, has_cert, metadata


def parse_management_key(text: str, algorithm: Any, info: YubiKeyInfo) -> bytes:
    cleaned = re.sub(r"[\s:]", "", text)
    want = int(algorithm.key_len)
    try:
        key = bytes.fromhex(cleaned)
    except ValueError:
        key = b""
    if len(key) != want:
        raise InputError(
            f"The management key given for {info.describe()} is not {want * 2} hexadecimal "
            f"digits (its {mgmt_name(algorithm)} management key has {want} bytes). Nothing "
            "was sent to the YubiKey.",
            hint="Type the management key again exactly as recorded (hex digits only).",
        )
    if key == DEFAULT_MANAGEMENT_KEY:
        raise TokenError(
            f"The management key given for {info.describe()} is the factory default "
            "(010203...0708). A ceremony key is never generated with it: anyone could replace "
            "the key. It was not sent to the YubiKey; nothing was generated.",
            hint="Change the management key first (`ykman piv access change-management-key "
            "--generate`), with the YubiKey in hand.",
        )
    return key


def mgmt_name(algorithm: Any) -> str:
    name = str(algorithm.name)
    return "TDES" if name == "TDES" else f"AES-{name[3:]}"
