"""A slot's attestation (INS F9) and the device certificate (slot f9), read from the YubiKey.

The chain to Yubico's root is checked by `ceremony.attestation`; here only that the attestation
describes the key and is signed by the device's own f9 key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from securesystemslib.signer import SSlibKey

from ceremony.errors import KeyPolicyError
from ceremony.tokens.yubikey.checks import check_arguments
from ceremony.tokens.yubikey.device import open_yubikey
from ceremony.tokens.yubikey.failures import cap, translating
from ceremony.tokens.yubikey.values import PivAttestation, YubiKeyInfo

if TYPE_CHECKING:
    from yubikit.piv import PivSession


def public_key_der(public_key: Any) -> bytes:
    der: bytes = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


def check_attestation(
    att: x509.Certificate, f9: x509.Certificate, public_der: bytes, info: YubiKeyInfo, slot: str
) -> None:
    if public_key_der(att.public_key()) != public_der:
        raise KeyPolicyError(
            f"{cap(info.describe())} attested a different key than the one it generated in "
            f"slot {slot}. The device cannot be trusted for the ceremony.",
            hint="Use another YubiKey and report this device.",
        )
    try:
        att.verify_directly_issued_by(f9)
    except (ValueError, TypeError, InvalidSignature):
        raise KeyPolicyError(
            f"The attestation of slot {slot} of {info.describe()} is not signed by the "
            "device's own attestation key (slot f9). The device cannot be trusted for the "
            "ceremony.",
            hint="Use another YubiKey and report this device.",
        ) from None


def read_attestation(piv: PivSession, slot: int) -> tuple[x509.Certificate, x509.Certificate]:
    from yubikit.piv import SLOT

    att = piv.attest_key(SLOT(slot))
    f9 = piv.get_certificate(SLOT.ATTESTATION)
    return att, f9


def policies_from_attestation(att: x509.Certificate) -> tuple[str, str] | None:
    oid = x509.ObjectIdentifier("1.3.6.1.4.1.41482.3.8")
    try:
        ext = att.extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None
    raw = getattr(ext, "value", b"")
    if len(raw) != 2:
        return None
    pins = {0: "default", 1: "never", 2: "once", 3: "always", 4: "match-once", 5: "match-always"}
    touches = {0: "default", 1: "never", 2: "always", 3: "cached"}
    return pins.get(raw[0], "unknown"), touches.get(raw[1], "unknown")


def read_piv_attestation(serial: int | None, slot: str = "9c") -> PivAttestation:
    """Read the attestation of the key in `slot` of the YubiKey `serial` (no credentials).

    For `ceremony enroll --attest` of a YubiKey key without ykcs11. Raises KeyNotFound when the
    slot is empty or its key was imported (a YubiKey attests only keys it generated),
    TokenNotFound/AmbiguousToken for the device, InputError for a bad slot.
    """
    from ceremony.errors import KeyNotFound

    slot = check_arguments(slot, "ecdsa-p256", "default", "default")
    doing = f"reading the attestation of slot {slot}"
    with open_yubikey(serial, doing) as (conn, info), translating(doing, info):
        from yubikit.core.smartcard import ApduError
        from yubikit.piv import PivSession

        piv = PivSession(conn)
        try:
            att, f9 = read_attestation(piv, int(slot, 16))
        except ApduError as e:
            raise KeyNotFound(
                f"{cap(info.describe())} cannot attest slot {slot} (status {e.sw:04X}): the slot "
                "is empty, or its key was imported rather than generated on the YubiKey, and "
                "imported keys cannot be attested.",
                hint="Generate the key on the YubiKey itself (`ceremony keygen ... --yubikey`).",
            ) from None
        return PivAttestation(
            device=info,
            slot=slot,
            public_key=SSlibKey.from_crypto(att.public_key()),
            attestation_certificate=att.public_bytes(serialization.Encoding.DER),
            device_certificate=f9.public_bytes(serialization.Encoding.DER),
        )
