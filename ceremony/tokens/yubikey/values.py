"""The values of the YubiKey device layer: slots, factory defaults, and what it returns.

Pure: no yubikit import. `YubiKeyInfo` is a device seen over PC/SC, `GeneratedPivKey` a key
made on it, `PivAttestation` a slot's attestation as read (unverified).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from securesystemslib.signer import SSlibKey

from ceremony.attestation.record import FORM_FACTORS as FORM_FACTORS  # (one table)
from ceremony.tokens.types import TokenInfo
from ceremony.tokens.uri import Pkcs11Uri

PIN_POLICIES: Final = ("default", "never", "once", "always")
TOUCH_POLICIES: Final = ("default", "never", "always", "cached")

# Key slots that hold a signing key (SP 800-73-4 9a/9c/9d/9e and the retired 82-95). Not 9b
# (the management key) nor f9 (the device's attestation key).
PIV_SLOTS: Final = ("9a", "9c", "9d", "9e", *(f"{n:02x}" for n in range(0x82, 0x96)))

# ykcs11's CKA_ID of each slot (yubico-piv-tool ykcs11 `objects.c`): 9a=1, 9c=2, 9d=3, 9e=4,
# retired 82..95 = 5..24 (f9 = 25).
YKCS11_KEY_IDS: Final = {
    "9a": 1,
    "9c": 2,
    "9d": 3,
    "9e": 4,
    **{f"{n:02x}": 5 + n - 0x82 for n in range(0x82, 0x96)},
}

# Factory values of every YubiKey PIV application (Yubico, "PIV PIN, PUK and management key").
DEFAULT_MANAGEMENT_KEY: Final = bytes.fromhex("010203040506070801020304050607080102030405060708")
DEFAULT_PIN: Final = "123456"
DEFAULT_PUK: Final = "12345678"

# The oldest firmware that generates each ceremony key type on the device.
MIN_FIRMWARE: Final = {
    "ed25519": (5, 7, 0),
    "rsa-3072": (5, 7, 0),
    "ecdsa-p256": (4, 0, 0),
    "ecdsa-p384": (4, 0, 0),
}
READER_MARK: Final = "yubico yubikey"  # ykman.pcsc.YK_READER_NAME: USB YubiKeys' readers

# ISO 7816 status words (yubikit.core.smartcard.SW).
SW_SECURITY: Final = 0x6982
SW_BLOCKED: Final = 0x6983
SW_CONDITIONS: Final = 0x6985
SW_REFERENCE_NOT_FOUND: Final = 0x6A88


@dataclass(frozen=True)
class YubiKeyInfo:
    """One YubiKey seen over PC/SC.

    `serial` is None on old keys that do not tell it; `firmware` is "5.7.1"; `form_factor` is
    "usb-a-keychain", ..., or "unknown" (YubiKey 4 and older do not say); `fips` is True on
    FIPS-series keys; `reader` is the PC/SC reader name.
    """

    serial: int | None
    firmware: str
    form_factor: str
    fips: bool
    reader: str

    @property
    def firmware_version(self) -> tuple[int, int, int]:
        a, b, c = (int(x) for x in self.firmware.split("."))
        return (a, b, c)

    def describe(self) -> str:
        """'YubiKey 12345678 (firmware 5.7.1, usb-c-nano)': what a holder reads on the label."""
        serial = f"YubiKey {self.serial}" if self.serial is not None else "YubiKey (no serial)"
        extra = f", {self.form_factor}" if self.form_factor != "unknown" else ""
        fips = ", FIPS" if self.fips else ""
        return f"{serial} (firmware {self.firmware}{extra}{fips})"

    def token_info(self) -> TokenInfo:
        """The same YubiKey as a `TokenInfo`, for `PinRequest` (the PIN prompts of the CLI).

        label, model and serial are those ykcs11 shows ("YubiKey PIV #12345678"), so the holder
        sees one name for the device in every prompt.
        """
        serial = str(self.serial) if self.serial is not None else ""
        return TokenInfo(
            module_path="yubikit (PC/SC)",
            slot_id=0,
            label=f"YubiKey PIV #{serial}" if serial else "YubiKey PIV",
            manufacturer="Yubico",
            model="YubiKey",
            serial=serial,
            firmware=self.firmware,
            initialized=True,
            login_required=True,
            pin_count_low=False,
            pin_final_try=False,
            pin_locked=False,
        )


@dataclass(frozen=True)
class ManagementKeyRequest:
    """What a management-key prompt must tell the holder before asking.

    `algorithm` is "TDES", "AES-128", "AES-192" or "AES-256" (the card's management key type;
    factory keys are TDES before firmware 5.7, AES-192 from 5.7); `hex_length` is how many hex
    digits the answer has (48, 32, 48 or 64).
    """

    device: YubiKeyInfo
    purpose: str
    algorithm: str
    hex_length: int


ManagementKeyProvider = Callable[[ManagementKeyRequest], str]
"""Returns the PIV management key as hex (spaces and colons allowed), read like a PIN."""


@dataclass(frozen=True)
class PivAttestation:
    """A slot's attestation, as read from the device (DER certificates, unverified).

    `attestation_certificate` is made by the YubiKey on demand for the slot's key (INS F9) and
    signed by the device key in slot f9; `device_certificate` is the slot f9 certificate
    (object 5FFF01), issued by Yubico. Verify them with `ceremony.attestation`.
    """

    device: YubiKeyInfo
    slot: str
    public_key: SSlibKey
    attestation_certificate: bytes
    device_certificate: bytes


@dataclass(frozen=True)
class GeneratedPivKey:
    """A key pair generated on a YubiKey by `generate_piv_key`.

    `key_type` is the ceremony's name ("ecdsa-p256", ...); `pin_policy`/`touch_policy` are what
    the card reports for the new key (slot metadata, or the attestation on firmware before 5.3),
    with "default" resolved where the card says; `public_key` the TUF key (securesystemslib,
    default scheme of its type); `public_key_der` its SubjectPublicKeyInfo (DER);
    `attestation_certificate`/`device_certificate` DER (see `PivAttestation`);
    `certificate_written` whether a self-signed certificate was stored in the slot; `replaced`
    whether a key or certificate that was in the slot was overwritten (`replace_existing`).
    """

    device: YubiKeyInfo
    slot: str
    key_type: str
    pin_policy: str
    touch_policy: str
    public_key: SSlibKey
    public_key_der: bytes
    attestation_certificate: bytes
    device_certificate: bytes
    certificate_written: bool
    replaced: bool

    @property
    def serial(self) -> int | None:
        return self.device.serial

    @property
    def firmware(self) -> str:
        return self.device.firmware

    @property
    def pkcs11_key_id(self) -> bytes:
        """The key's CKA_ID through ykcs11 (9c -> b'\\x02')."""
        return bytes([YKCS11_KEY_IDS[self.slot]])

    def pkcs11_uri(self) -> str:
        """RFC 7512 URI of the private key through ykcs11: token label, serial, id, type."""
        serial = str(self.device.serial) if self.device.serial is not None else None
        return Pkcs11Uri(
            token=self.device.token_info().label,
            serial=serial,
            id=self.pkcs11_key_id,
            type="private",
        ).to_string()
