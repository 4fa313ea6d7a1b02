"""YubiKey PIV key generation and attestation through Yubico's own library, over PC/SC.

The only module of tuf-ceremony that imports `yubikit`/`ykman` (yubikey-manager) and `smartcard`
(pyscard); it imports them inside the functions, so `ceremony --help` never loads them. Signing
stays on the PKCS#11 path (ykcs11): this module makes the key, reads its attestation, and hands
back what enrolment needs.

What happens in `generate_piv_key` (one PC/SC connection, exclusive when the card allows it):

1. The YubiKey is found by serial (`list_yubikeys`), its PIV application selected.
2. Refusals before anything is asked or written: a key type the firmware cannot generate
   (Ed25519 and RSA-3072 need firmware 5.7+, Yubico "PIV key types"; yubikit's own
   `check_key_support`, e.g. no on-chip RSA generation on 4.2.0-4.3.4, ROCA/YSA-2017-01),
   a PIN/PUK still at its factory value or blocked (PIV metadata, INS F7, firmware 5.3+:
   `get_pin_metadata().default_value`), a management key still at its factory value
   (metadata), and a slot that already holds a key or a certificate (unless `replace_existing`).
3. The management key is asked through `management_key_provider` (hex, like a PIN: never argv),
   and refused when it is the factory key 010203...0708 (it is never sent). A management key
   that ykman stored PIN-protected on the card (`ykman piv access change-management-key
   --protect`) is read with the PIN instead, and nothing else is asked.
4. On firmware before 5.3 (no metadata) the PIN is asked, refused when it is a factory value,
   and verified: the card's PIN is then known not to be the default. The PUK cannot be checked
   there without spending a PUK try, so a warning goes to `notify`.
5. The key is generated ON the device (INS 47) with the requested PIN and touch policy, read
   back (metadata: generated, type, policies), attested (INS F9) and the slot f9 device
   certificate read (object 5FFF01). The attestation must carry the generated public key and be
   signed by the f9 key; the chain to Yubico's root is checked by `ceremony.attestation`.
6. Optionally a self-signed X.509 certificate is written into the slot (`write_certificate`,
   which costs one more PIN entry and touch). ykcs11 2.2 does not need one: it shows a key
   without a certificate from the slot metadata (firmware 5.3+) or from its attestation (older
   firmware), as tests/rig/test_yubikey_keygen.py shows with the real libykcs11. OpenSC 0.23
   shows no key object at all for a slot without a certificate.

Every failure is a `ceremony.errors.CeremonyError`: `TokenError` and its subclasses (exit 3)
for the device, `InputError` (exit 2) for arguments or a malformed management key. Messages
name the YubiKey by serial and say what to do; no yubikit traceback reaches the operator.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from securesystemslib.signer import SSlibKey

from ceremony.errors import (
    AmbiguousToken,
    CeremonyError,
    DeviceRemoved,
    InputError,
    KeyPolicyError,
    MechanismNotSupported,
    PinIncorrect,
    PinLocked,
    TokenError,
    TokenNotFound,
    TouchNotDetected,
)
from ceremony.tokens.types import (
    KEY_TYPES,
    Notifier,
    PinProvider,
    PinRequest,
    TokenInfo,
    is_factory_default_pin,
)
from ceremony.tokens.uri import Pkcs11Uri

if TYPE_CHECKING:
    from yubikit.piv import PivSession

__all__ = [
    "DEFAULT_MANAGEMENT_KEY",
    "PIV_SLOTS",
    "GeneratedPivKey",
    "ManagementKeyProvider",
    "ManagementKeyRequest",
    "PivAttestation",
    "YubiKeyInfo",
    "generate_piv_key",
    "list_yubikeys",
    "read_piv_attestation",
]

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
_MIN_FIRMWARE: Final = {
    "ed25519": (5, 7, 0),
    "rsa-3072": (5, 7, 0),
    "ecdsa-p256": (4, 0, 0),
    "ecdsa-p384": (4, 0, 0),
}
_FORM_FACTORS: Final = {
    0: "unknown",
    1: "usb-a-keychain",
    2: "usb-a-nano",
    3: "usb-c-keychain",
    4: "usb-c-nano",
    5: "usb-c-lightning",
    6: "usb-a-bio",
    7: "usb-c-bio",
}
_READER_MARK: Final = "yubico yubikey"  # ykman.pcsc.YK_READER_NAME: USB YubiKeys' readers

# ISO 7816 status words (yubikit.core.smartcard.SW).
_SW_SECURITY: Final = 0x6982
_SW_BLOCKED: Final = 0x6983
_SW_CONDITIONS: Final = 0x6985
_SW_REFERENCE_NOT_FOUND: Final = 0x6A88


# --- values ------------------------------------------------------------------------------------


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


# --- library access ----------------------------------------------------------------------------


def _missing_library(e: ImportError) -> TokenError:
    return TokenError(
        "Yubico's yubikey-manager library (yubikit, with pyscard for PC/SC) cannot be loaded "
        f"({e}), so YubiKeys cannot be used directly.",
        hint="Install tuf-ceremony with its dependencies (scripts/install-offline.sh), and the "
        "PC/SC service and library (Debian: pcscd, libpcsclite1).",
    )


def _describe(info: YubiKeyInfo | None) -> str:
    return info.describe() if info is not None else "the YubiKey"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


@contextlib.contextmanager
def _translating(doing: str, info: YubiKeyInfo | None) -> Iterator[None]:
    """Turn yubikit/pyscard failures into TokenError paragraphs (CeremonyError passes)."""
    from smartcard.Exceptions import CardConnectionException, NoCardException, SmartcardException
    from smartcard.pcsc.PCSCExceptions import BaseSCardException
    from yubikit.core import (
        ApplicationNotAvailableError,
        BadResponseError,
        CommandError,
        InvalidPinError,
        NotSupportedError,
    )
    from yubikit.core.smartcard import ApduError

    who = _describe(info)
    try:
        yield
    except CeremonyError:
        raise
    except InvalidPinError as e:
        raise _pin_error(info, e.attempts_remaining) from None
    except NotSupportedError as e:
        raise MechanismNotSupported(
            f"{_cap(who)} cannot do this while {doing}: {e}.",
            hint="YubiKey firmware cannot be upgraded: choose a key type and policies this "
            "firmware supports, or use a newer YubiKey.",
        ) from None
    except ApduError as e:
        raise _apdu_error(e.sw, doing, info) from None
    except ApplicationNotAvailableError:
        raise TokenError(
            f"{_cap(who)} has no PIV application enabled (found while {doing}).",
            hint="Enable PIV on the YubiKey (`ykman config usb --enable PIV`), then try again.",
        ) from None
    except (BadResponseError, CommandError) as e:
        raise TokenError(
            f"{_cap(who)} gave an unexpected answer while {doing} ({e}).",
            hint="Take the YubiKey out, put it back, and try again; if it happens again, use "
            "another YubiKey.",
        ) from None
    except (NoCardException, CardConnectionException) as e:
        raise DeviceRemoved(
            f"The connection to {who} was lost while {doing} ({e}).",
            hint="Keep the YubiKey inserted until the command finishes. Check with "
            "`ceremony tokens` what is on the device before trying again.",
        ) from None
    except (SmartcardException, BaseSCardException) as e:
        raise TokenNotFound(
            f"The PC/SC smart-card service could not be used while {doing} ({e}).",
            hint="Start the PC/SC daemon (Debian: `systemctl start pcscd`, or install pcscd) "
            "and insert the YubiKey.",
        ) from None


def _pin_error(info: YubiKeyInfo | None, left: int) -> TokenError:
    who = _describe(info)
    if left == 0:
        return PinLocked(
            f"The PIV PIN of {who} is now blocked (no tries left).",
            hint="Unblock it with the PUK (`ykman piv access unblock-pin`). If the PUK is "
            "blocked too, only a PIV reset is left, which erases every PIV key on the device.",
        )
    return PinIncorrect(
        f"Wrong PIV PIN for {who}: {left} tr{'y' if left == 1 else 'ies'} left before the PIN "
        "is blocked.",
        hint="Check the PIN on the holder's sealed card; the tool never tries a PIN by itself.",
    )


def _apdu_error(sw: int, doing: str, info: YubiKeyInfo | None) -> TokenError:
    who = _describe(info)
    if sw == _SW_CONDITIONS:
        return TouchNotDetected(
            f"{_cap(who)} refused while {doing}: the touch was not detected in time "
            f"(status {sw:04X}).",
            hint="Touch the YubiKey's gold contact when it blinks, then run the command again.",
        )
    if sw == _SW_BLOCKED:
        return PinLocked(
            f"{_cap(who)} refused while {doing}: the PIN is blocked (status {sw:04X}).",
            hint="Unblock it with the PUK (`ykman piv access unblock-pin`).",
        )
    if sw == _SW_SECURITY:
        return TokenError(
            f"{_cap(who)} refused while {doing}: security status not satisfied (status "
            f"{sw:04X}; the PIN or the management key was not accepted).",
            hint="Run the command again and give the right PIN and management key.",
        )
    return TokenError(
        f"{_cap(who)} answered with an error while {doing} (ISO 7816 status {sw:04X}).",
        hint="Take the YubiKey out, put it back, and try again.",
    )


# --- finding YubiKeys --------------------------------------------------------------------------


def _connect(reader: Any) -> Any:
    """A yubikit SmartCardConnection to `reader`: exclusive when possible, else shared.

    Unlike ykman's device opener this never kills other programs (scdaemon, yubikey-agent)
    to get the card. Raises NoCardException when the reader is empty.
    """
    from smartcard.Exceptions import CardConnectionException, NoCardException
    from smartcard.ExclusiveConnectCardConnection import ExclusiveConnectCardConnection
    from ykman.pcsc import ScardSmartCardConnection

    raw = reader.createConnection()
    try:
        exclusive = ExclusiveConnectCardConnection(raw)
        return ScardSmartCardConnection(exclusive)  # type: ignore[no-untyped-call]
    except CardConnectionException:
        # Another program holds the card (e.g. a PKCS#11 module, in a shared connection).
        _release(raw)
    except NoCardException:
        _release(raw)
        raise
    raw = reader.createConnection()
    try:
        return ScardSmartCardConnection(raw)  # type: ignore[no-untyped-call]
    except (CardConnectionException, NoCardException):
        _release(raw)
        raise


def _release(raw: Any) -> None:
    """Free a pyscard connection that did not connect. pyscard keeps the handle of a refused
    exclusive SCardConnect, and its destructor would then disconnect a handle it never had."""
    from smartcard.Exceptions import SmartcardException

    inner = raw
    while hasattr(inner, "component"):  # createConnection() wraps the PCSCCardConnection
        inner = inner.component
    inner.hcard = None
    with contextlib.suppress(SmartcardException, OSError):
        raw.release()


def _version_text(version: Any) -> str:
    return f"{version[0]}.{version[1]}.{version[2]}"


def _read_info(conn: Any, reader_name: str) -> YubiKeyInfo:
    """Serial, firmware and form factor: the Management application (YubiKey 5), else PIV."""
    from yubikit.core import ApplicationNotAvailableError, NotSupportedError
    from yubikit.core.smartcard import ApduError
    from yubikit.management import ManagementSession
    from yubikit.piv import PivSession

    try:
        device_info = ManagementSession(conn).read_device_info()
    except (ApplicationNotAvailableError, NotSupportedError, ApduError):
        device_info = None
    if device_info is not None and device_info.version is not None:
        form = _FORM_FACTORS.get(int(device_info.form_factor), "unknown")
        return YubiKeyInfo(
            serial=device_info.serial,
            firmware=_version_text(device_info.version),
            form_factor=form,
            fips=bool(device_info.is_fips),
            reader=reader_name,
        )
    piv = PivSession(conn)
    serial: int | None
    try:
        serial = piv.get_serial()
    except (NotSupportedError, ApduError):
        serial = None
    return YubiKeyInfo(
        serial=serial,
        firmware=_version_text(piv.version),
        form_factor="unknown",
        fips=False,
        reader=reader_name,
    )


def _yubikey_readers() -> list[Any]:
    from ykman.pcsc import list_readers

    readers = list_readers()  # type: ignore[no-untyped-call]
    return [r for r in readers if _READER_MARK in str(r.name).lower()]


def list_yubikeys() -> list[YubiKeyInfo]:
    """The YubiKeys plugged in (USB, seen through PC/SC), in reader order.

    Returns [] when there is none. Raises TokenError when yubikey-manager cannot be loaded,
    TokenNotFound when the PC/SC service is not running.
    """
    try:
        from smartcard.Exceptions import CardConnectionException, NoCardException
    except ImportError as e:
        raise _missing_library(e) from None
    found: list[YubiKeyInfo] = []
    with _translating("listing the YubiKeys", None):
        readers = _yubikey_readers()
    for reader in readers:
        try:
            conn = _connect(reader)
        except (NoCardException, CardConnectionException):
            continue  # an empty reader slot, or a card another program holds exclusively
        with _translating(f"reading the YubiKey in reader '{reader.name}'", None):
            try:
                found.append(_read_info(conn, str(reader.name)))
            finally:
                conn.close()
    return found


@contextlib.contextmanager
def _open_yubikey(serial: int | None, doing: str) -> Iterator[tuple[Any, YubiKeyInfo]]:
    """A connection to the YubiKey with this serial (or the only one when serial is None)."""
    try:
        from smartcard.Exceptions import CardConnectionException, NoCardException
    except ImportError as e:
        raise _missing_library(e) from None
    with _translating(doing, None):
        readers = _yubikey_readers()
    seen: list[YubiKeyInfo] = []
    chosen: tuple[Any, YubiKeyInfo] | None = None
    for reader in readers:
        try:
            conn = _connect(reader)
        except (NoCardException, CardConnectionException):
            continue
        keep = False
        try:
            with _translating(doing, None):
                info = _read_info(conn, str(reader.name))
            seen.append(info)
            if (serial is None or info.serial == serial) and chosen is None:
                chosen, keep = (conn, info), True
        finally:
            if not keep:
                conn.close()
    try:
        if chosen is None or (serial is None and len(seen) > 1):
            names = ", ".join(i.describe() for i in seen) or "none"
            if serial is None and len(seen) > 1:
                raise AmbiguousToken(
                    f"Several YubiKeys are plugged in ({names}); the tool will not guess which "
                    f"one to use for {doing}.",
                    hint="Name the YubiKey by its serial (printed on it), or unplug the others.",
                )
            what = f"YubiKey {serial}" if serial is not None else "A YubiKey"
            raise TokenNotFound(
                f"{what} is not plugged in (YubiKeys seen: {names}), so nothing was done "
                f"({doing}).",
                hint="Insert the holder's YubiKey and check its serial (printed on the back, "
                "or `ykman list --serials`).",
            )
        yield chosen
    finally:
        if chosen is not None:
            from smartcard.Exceptions import SmartcardException

            with contextlib.suppress(SmartcardException, OSError):  # a removed card
                chosen[0].close()


# --- checks --------------------------------------------------------------------------------------


def _check_arguments(slot: str, key_type: str, pin_policy: str, touch_policy: str) -> str:
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


def _check_firmware(info: YubiKeyInfo, key_type: str) -> None:
    need = _MIN_FIRMWARE[key_type]
    if info.firmware_version < need:
        what = {"ed25519": "Ed25519", "rsa-3072": "RSA-3072"}.get(key_type, key_type)
        raise MechanismNotSupported(
            f"{_cap(info.describe())} cannot generate {what} keys: they need YubiKey firmware "
            f"{'.'.join(map(str, need))} or later, and this one has {info.firmware}. YubiKey "
            "firmware cannot be upgraded. Nothing was generated.",
            hint="Use a YubiKey with firmware 5.7 or later, or change the key's type in the "
            "plan to ecdsa-p256 or ecdsa-p384 (which every YubiKey 5 generates).",
        )


def _piv_enums(key_type: str, pin_policy: str, touch_policy: str) -> tuple[Any, Any, Any]:
    from yubikit.piv import KEY_TYPE, PIN_POLICY, TOUCH_POLICY

    kt = {
        "ed25519": KEY_TYPE.ED25519,
        "ecdsa-p256": KEY_TYPE.ECCP256,
        "ecdsa-p384": KEY_TYPE.ECCP384,
        "rsa-3072": KEY_TYPE.RSA3072,
    }[key_type]
    return kt, PIN_POLICY[pin_policy.upper()], TOUCH_POLICY[touch_policy.upper()]


def _refuse_defaults(piv: PivSession, info: YubiKeyInfo) -> bool:
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
            f"{_cap(who)} still has its factory default PIV {_join(defaults)}. Anyone who picks "
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


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _slot_contents(piv: PivSession, slot: int) -> tuple[bool, bool, Any]:
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
        if e.sw != _SW_REFERENCE_NOT_FOUND:
            raise
    try:
        piv.get_object(OBJECT_ID.from_slot(SLOT(slot)))
        has_cert = True
    except ApduError as e:
        if e.sw != 0x6A82:  # file not found: no certificate
            raise
        has_cert = False
    return has_key, has_cert, metadata


def _parse_management_key(text: str, algorithm: Any, info: YubiKeyInfo) -> bytes:
    cleaned = re.sub(r"[\s:]", "", text)
    want = int(algorithm.key_len)
    try:
        key = bytes.fromhex(cleaned)
    except ValueError:
        key = b""
    if len(key) != want:
        raise InputError(
            f"The management key given for {info.describe()} is not {want * 2} hexadecimal "
            f"digits (its {_mgmt_name(algorithm)} management key has {want} bytes). Nothing "
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


def _mgmt_name(algorithm: Any) -> str:
    name = str(algorithm.name)
    return "TDES" if name == "TDES" else f"AES-{name[3:]}"


# --- credentials ---------------------------------------------------------------------------------


def _ask_pin(info: YubiKeyInfo, purpose: str, pin_provider: PinProvider, piv: PivSession) -> str:
    from yubikit.core import NotSupportedError

    try:
        left = piv.get_pin_metadata().attempts_remaining
    except NotSupportedError:
        left = piv.get_pin_attempts()
    if left == 0:
        raise _pin_error(info, 0)
    pin = pin_provider(
        PinRequest(
            token=info.token_info(), purpose=purpose, count_low=left <= 2, final_try=left == 1
        )
    )
    if is_factory_default_pin(pin):
        raise TokenError(
            f"The PIN given for {info.describe()} is a factory default PIN. A ceremony key is "
            "never used with it. It was not sent to the YubiKey.",
            hint="Change the PIN first (`ykman piv access change-pin`).",
        )
    return pin


def _authenticate(
    piv: PivSession,
    info: YubiKeyInfo,
    purpose: str,
    management_key_provider: ManagementKeyProvider,
    pin_provider: PinProvider,
) -> None:
    """Authenticate with the management key: the holder's, or the one ykman stored on the card
    protected by the PIN (then the PIN is asked and verified instead)."""
    from ykman.piv import get_pivman_data, get_pivman_protected_data
    from yubikit.core.smartcard import ApduError

    pivman = get_pivman_data(piv)
    if pivman.has_derived_key:
        raise TokenError(
            f"{_cap(info.describe())} uses a management key derived from the PIN (an old "
            "ykman/YubiKey PIV Manager setting, which Yubico deprecated). tuf-ceremony does not "
            "use it. Nothing was generated.",
            hint="Set a new random management key (`ykman piv access change-management-key "
            "--generate --protect`), then try again.",
        )
    algorithm = piv.management_key_type
    if pivman.has_stored_key:
        pin = _ask_pin(
            info, f"{purpose} (the management key is protected by the PIN)", pin_provider, piv
        )
        piv.verify_pin(pin)
        del pin
        stored = get_pivman_protected_data(piv).key
        if stored is None:
            raise TokenError(
                f"{_cap(info.describe())} says its management key is stored protected by the "
                "PIN, but the key is not there. Nothing was generated.",
                hint="Set the management key again (`ykman piv access change-management-key "
                "--generate --protect`).",
            )
        key = bytes(stored)
        if key == DEFAULT_MANAGEMENT_KEY:
            raise TokenError(
                f"{_cap(info.describe())} stores the factory default management key. Nothing "
                "was generated.",
                hint="Change it (`ykman piv access change-management-key --generate --protect`).",
            )
    else:
        text = management_key_provider(
            ManagementKeyRequest(
                device=info,
                purpose=purpose,
                algorithm=_mgmt_name(algorithm),
                hex_length=int(algorithm.key_len) * 2,
            )
        )
        key = _parse_management_key(text, algorithm, info)
    try:
        piv.authenticate(key)
    except ApduError as e:
        if e.sw != _SW_SECURITY:
            raise
        raise TokenError(
            f"The management key is wrong for {info.describe()} (the YubiKey refused it). "
            "Nothing was changed on the YubiKey; a wrong management key does not count "
            "against any retry counter.",
            hint="Type the management key again exactly as recorded for this YubiKey.",
        ) from None
    finally:
        del key


# --- the work ------------------------------------------------------------------------------------


def _public_key_der(public_key: Any) -> bytes:
    der: bytes = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


def _check_attestation(
    att: x509.Certificate, f9: x509.Certificate, public_der: bytes, info: YubiKeyInfo, slot: str
) -> None:
    if _public_key_der(att.public_key()) != public_der:
        raise KeyPolicyError(
            f"{_cap(info.describe())} attested a different key than the one it generated in "
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


def _read_attestation(piv: PivSession, slot: int) -> tuple[x509.Certificate, x509.Certificate]:
    from yubikit.piv import SLOT

    att = piv.attest_key(SLOT(slot))
    f9 = piv.get_certificate(SLOT.ATTESTATION)
    return att, f9


def _policies_from_attestation(att: x509.Certificate) -> tuple[str, str] | None:
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

    slot = _check_arguments(slot, "ecdsa-p256", "default", "default")
    doing = f"reading the attestation of slot {slot}"
    with _open_yubikey(serial, doing) as (conn, info), _translating(doing, info):
        from yubikit.core.smartcard import ApduError
        from yubikit.piv import PivSession

        piv = PivSession(conn)
        try:
            att, f9 = _read_attestation(piv, int(slot, 16))
        except ApduError as e:
            raise KeyNotFound(
                f"{_cap(info.describe())} cannot attest slot {slot} (status {e.sw:04X}): the slot "
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


def generate_piv_key(
    serial: int | None,
    slot: str = "9c",
    key_type: str = "ecdsa-p256",
    pin_policy: str = "always",
    touch_policy: str = "always",
    *,
    pin_provider: PinProvider,
    management_key_provider: ManagementKeyProvider,
    notify: Notifier,
    replace_existing: bool = False,
    write_certificate: bool = False,
    purpose: str | None = None,
) -> GeneratedPivKey:
    """Generate a key pair ON the YubiKey `serial` in PIV `slot`, attest it, and return it.

    Args:
        serial: the YubiKey's serial; None only when exactly one YubiKey is plugged in.
        slot: "9c" (Digital Signature, default), "9a", "9d", "9e" or a retired "82".."95".
        key_type: "ecdsa-p256", "ecdsa-p384", "ed25519" (firmware 5.7+), "rsa-3072" (5.7+).
        pin_policy, touch_policy: the PIV policies stored with the key ("default", "never",
            "once", "always"; touch also "cached"). A ceremony wants "always"/"always".
        pin_provider: asked for the PIN only when needed (firmware before 5.3, a PIN-protected
            management key, or `write_certificate`); never with a factory default accepted.
        management_key_provider: asked for the management key (hex) unless ykman stored it
            PIN-protected on the card.
        notify: one-line messages for the holder (what is happening, "touch the YubiKey").
        replace_existing: overwrite a key or certificate already in the slot (never silently).
        write_certificate: also store a self-signed certificate for the key in the slot (one
            more PIN and touch); only PKCS#11 modules such as OpenSC need it.
        purpose: the prompt's words, e.g. "generate the root key 'root-alice'".

    Returns a GeneratedPivKey (public key, DER attestation and f9 certificates, device).
    Raises InputError (exit 2) for bad arguments or a malformed management key; TokenError
    (exit 3) and subclasses for the device: TokenNotFound, AmbiguousToken,
    MechanismNotSupported (firmware), PinIncorrect/PinLocked, TouchNotDetected,
    DeviceRemoved, KeyPolicyError (attestation does not match), and TokenError for default
    credentials, an occupied slot or a wrong management key. When it raises before the key
    was generated, nothing was changed on the YubiKey.
    """
    slot = _check_arguments(slot, key_type, pin_policy, touch_policy)
    what = {"ed25519": "Ed25519", "rsa-3072": "RSA-3072"}.get(
        key_type, key_type.replace("ecdsa-p", "ECDSA P-")
    )
    purpose = purpose or f"generate an {what} key in PIV slot {slot}"
    doing = f"generating an {what} key in PIV slot {slot}"
    state = {"generated": False}
    try:
        with _open_yubikey(serial, doing) as (conn, info), _translating(doing, info):
            return _generate_on(
                conn,
                info,
                slot,
                key_type,
                pin_policy,
                touch_policy,
                what,
                purpose,
                pin_provider=pin_provider,
                management_key_provider=management_key_provider,
                notify=notify,
                replace_existing=replace_existing,
                write_certificate=write_certificate,
                state=state,
            )
    except TokenError as e:
        raise _phase_note(e, slot, state["generated"]) from None


def _phase_note(e: TokenError, slot: str, generated: bool) -> TokenError:
    """Say whether the YubiKey was changed: before the generation nothing was; after it, the
    new key is in the slot (and a run again needs `replace_existing`)."""
    if generated:
        message = (
            f"{e.message} The new key was already generated in PIV slot {slot} (it is not "
            "enrolled). To start over, run the command again and confirm that the key in that "
            "slot may be replaced."
        )
    elif "othing was" in e.message or "not sent" in e.message:
        return e
    else:
        message = f"{e.message} Nothing was changed on the YubiKey."
    return type(e)(message, hint=e.hint)


def _generate_on(
    conn: Any,
    info: YubiKeyInfo,
    slot: str,
    key_type: str,
    pin_policy: str,
    touch_policy: str,
    what: str,
    purpose: str,
    *,
    pin_provider: PinProvider,
    management_key_provider: ManagementKeyProvider,
    notify: Notifier,
    replace_existing: bool,
    write_certificate: bool,
    state: dict[str, bool],
) -> GeneratedPivKey:
    """The body of `generate_piv_key` on an open connection; sets state["generated"]."""
    from yubikit.piv import PivSession

    slot_int = int(slot, 16)
    _check_firmware(info, key_type)
    piv = PivSession(conn)
    kt, pp, tp = _piv_enums(key_type, pin_policy, touch_policy)
    piv.check_key_support(kt, pp, tp, True, fips_restrictions=info.fips)
    has_metadata = _refuse_defaults(piv, info)
    has_key, has_cert, _ = _slot_contents(piv, slot_int)
    if (has_key or has_cert) and not replace_existing:
        held = _join([w for w, h in (("a key", has_key), ("a certificate", has_cert)) if h])
        raise TokenError(
            f"PIV slot {slot} of {info.describe()} already holds {held}. Keys are never "
            "overwritten silently; nothing was generated and nothing was changed.",
            hint="Use an empty slot (--slot), or another YubiKey. Replace the key only if "
            "you are sure it is not enrolled anywhere (and say so explicitly).",
        )
    if not has_metadata:
        pin = _ask_pin(info, purpose, pin_provider, piv)
        piv.verify_pin(pin)
        del pin
        notify(
            f"{_cap(info.describe())} has no PIV metadata (firmware before 5.3): its PIN "
            "was checked, but whether its PUK is still the factory default (12345678) "
            "cannot be checked without spending a PUK try. Make sure it was changed."
        )
    _authenticate(piv, info, purpose, management_key_provider, pin_provider)
    notify(
        f"Generating an {what} key on {info.describe()} in PIV slot {slot} (PIN policy "
        f"{pin_policy}, touch policy {touch_policy})"
        + ("; this can take a minute." if key_type == "rsa-3072" else ".")
    )
    public = piv.generate_key(_slot(slot_int), kt, pp, tp)
    state["generated"] = True
    public_der = _public_key_der(public)
    if has_cert and not write_certificate:
        # The old certificate describes the old key: PKCS#11 modules would show it.
        piv.delete_certificate(_slot(slot_int))
    resolved = _read_back(piv, slot_int, kt, public_der, info, slot)
    att, f9 = _read_attestation(piv, slot_int)
    _check_attestation(att, f9, public_der, info, slot)
    if resolved is None:
        resolved = _policies_from_attestation(att) or (pin_policy, touch_policy)
    if write_certificate:
        _write_self_signed(piv, slot_int, public, info, purpose, pin_provider, notify, resolved)
    return GeneratedPivKey(
        device=info,
        slot=slot,
        key_type=key_type,
        pin_policy=resolved[0],
        touch_policy=resolved[1],
        public_key=SSlibKey.from_crypto(public),
        public_key_der=public_der,
        attestation_certificate=att.public_bytes(serialization.Encoding.DER),
        device_certificate=f9.public_bytes(serialization.Encoding.DER),
        certificate_written=write_certificate,
        replaced=has_key or has_cert,
    )


def _slot(slot: int) -> Any:
    """yubikit's SLOT enum member of a slot number."""
    from yubikit.piv import SLOT

    return SLOT(slot)


def _read_back(
    piv: PivSession, slot: int, kt: Any, public_der: bytes, info: YubiKeyInfo, slot_name: str
) -> tuple[str, str] | None:
    """Check the slot metadata of the new key (5.3+); its resolved (PIN, touch) policies."""
    from yubikit.core import NotSupportedError

    try:
        md = piv.get_slot_metadata(_slot(slot))
    except NotSupportedError:
        return None
    problems = []
    if not md.generated:
        problems.append("the card says it was imported, not generated on the device")
    if md.key_type != kt:
        problems.append(f"it is {md.key_type.name}, not {kt.name}")
    if _public_key_der(md.public_key) != public_der:
        problems.append("its public key is not the one the card returned when generating it")
    if problems:
        raise KeyPolicyError(
            f"The key just generated in slot {slot_name} of {info.describe()} is not what was "
            f"asked for: {'; '.join(problems)}.",
            hint="Use another YubiKey and report this device.",
        )
    return md.pin_policy.name.lower(), md.touch_policy.name.lower()


def _write_self_signed(
    piv: PivSession,
    slot: int,
    public: Any,
    info: YubiKeyInfo,
    purpose: str,
    pin_provider: PinProvider,
    notify: Notifier,
    policies: tuple[str, str],
) -> None:
    """Store a self-signed certificate for the new key in its slot (PIN + touch)."""
    from ykman.piv import generate_self_signed_certificate

    pin = _ask_pin(info, f"{purpose}: sign the slot's self-signed certificate", pin_provider, piv)
    piv.verify_pin(pin)  # just before the signature: a PIN-always key consumes it
    if policies[1] in ("always", "cached"):
        notify(f"Touch {info.describe()} now (its light blinks) to sign the slot's certificate.")
    now = dt.datetime.now(dt.UTC)
    cert = generate_self_signed_certificate(
        piv,
        _slot(slot),
        public,
        f"CN=tuf-ceremony PIV {slot:02x} key",
        now - dt.timedelta(days=1),
        now + dt.timedelta(days=365 * 20),
    )
    piv.put_certificate(_slot(slot), cert)
