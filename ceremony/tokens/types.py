"""Values that describe tokens and token keys (pure: no PKCS#11 import here).

The rest of the program sees tokens only through these values and the functions of
`ceremony.tokens.pkcs11`, the only package that imports python-pkcs11.
`KEY_TYPES` and `key_type_of` live in `ceremony.keys` (the one key-type table) and are
re-exported here for the token package's own modules.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from securesystemslib.signer import Signer, SSlibKey

# Re-exported (explicitly, for mypy) for ceremony.tokens and its backend.
from ceremony.keys import KEY_TYPES as KEY_TYPES
from ceremony.keys import EnrolledKey
from ceremony.keys import key_type_of as key_type_of
from ceremony.keysource import TokenKeyRead


@dataclass(frozen=True)
class KeyAttributes:
    """The PKCS#11 attributes of a private key that decide whether it may be trusted.

    None means the token did not say (attribute not readable).
    """

    sensitive: bool | None
    extractable: bool | None
    always_sensitive: bool | None
    never_extractable: bool | None
    local: bool | None
    always_authenticate: bool | None

    def problems(self) -> list[str]:
        """Why this key cannot be trusted to have been generated on, and never left, the token."""
        out: list[str] = []
        if self.extractable is not False:
            out.append(
                "it is extractable (CKA_EXTRACTABLE is not false): the private key can be exported"
            )
        if self.sensitive is not True:
            out.append(
                "it is not sensitive (CKA_SENSITIVE is not true): its secret value can be read"
            )
        if self.always_sensitive is not True:
            out.append(
                "it was not always sensitive (CKA_ALWAYS_SENSITIVE): its value was readable once"
            )
        if self.never_extractable is not True:
            out.append("it was extractable at some time (CKA_NEVER_EXTRACTABLE is not true)")
        if self.local is not True:
            out.append(
                "it was not generated on the token (CKA_LOCAL is not true): it was imported, "
                "so a copy may exist elsewhere"
            )
        return out


@dataclass(frozen=True)
class TokenInfo:
    """One token (a slot with a token present)."""

    module_path: str
    slot_id: int
    label: str
    manufacturer: str
    model: str
    serial: str
    firmware: str
    initialized: bool
    login_required: bool
    pin_count_low: bool
    pin_final_try: bool
    pin_locked: bool

    def describe(self) -> str:
        """Human description: label, model and serial (never the slot number alone)."""
        return f"token '{self.label}' ({self.manufacturer} {self.model}, serial {self.serial})"

    @property
    def is_rehearsal_token(self) -> bool:
        """A token whose keys are files on a disk: SoftHSM2, or the built-in software
        rehearsal token (`tokens.software_rehearsal`, manufacturer "tuf-ceremony"). Refused
        in a plan without `rehearsal: true`."""
        return self.is_softhsm or self.manufacturer == "tuf-ceremony"

    @property
    def is_softhsm(self) -> bool:
        """SoftHSM2, a software token for rehearsals. SoftHSM 2.6 sets CKF_USER_PIN_COUNT_LOW
        after ANY wrong PIN, clears it at the next right one, and never sets FINAL_TRY or
        LOCKED: its user PIN never locks (tried: eight wrong PINs, then the right one works)."""
        return self.manufacturer.startswith("SoftHSM")


@dataclass(frozen=True)
class TokenKeyInfo:
    """A key pair on a token, as read back from it (the private part never leaves)."""

    token: TokenInfo
    label: str | None
    key_id: bytes
    key_type: str  # 'ed25519', 'ecdsa-p256', 'ecdsa-p384', 'rsa-3072', or e.g. 'rsa-2048'
    public_key: SSlibKey | None
    attributes: KeyAttributes | None  # None when the private key object was not visible
    uri: str  # canonical RFC 7512 URI: token serial + id (+ label as object)


@dataclass(frozen=True)
class TokenListing:
    token: TokenInfo
    keys: list[TokenKeyInfo] = field(default_factory=list)


@dataclass(frozen=True)
class PinRequest:
    """What a PIN prompt must tell the holder before asking."""

    token: TokenInfo
    purpose: str  # e.g. "sign root as root-alice"
    count_low: bool  # the token says few tries are left
    final_try: bool  # the token says this is the LAST try: the prompt must ask for confirmation


PinProvider = Callable[[PinRequest], str]
Notifier = Callable[[str], None]


@dataclass(frozen=True)
class ManagementKeyPrompt:
    """What a YubiKey PIV management-key prompt must tell the holder before asking (the key
    is asked like a PIN: never on the command line). `algorithm` is "TDES", "AES-128",
    "AES-192" or "AES-256"; `hex_length` how many hex digits the answer has."""

    device: str  # "YubiKey 12345678 (firmware 5.7.1, usb-c-nano)"
    purpose: str
    algorithm: str
    hex_length: int


ManagementKeyReader = Callable[[ManagementKeyPrompt], str]


@dataclass(frozen=True)
class YubiKeyFacts:
    """What a YubiKey says about itself over PC/SC before a key is made on it (not signed:
    the attestation, read after, is). `firmware` is (5, 7, 1); `form_factor` "usb-c-nano",
    ..., or "unknown"."""

    serial: int | None
    firmware: tuple[int, int, int]
    form_factor: str
    fips: bool
    description: str  # "YubiKey 12345678 (firmware 5.7.1, usb-c-nano)"


@dataclass(frozen=True)
class AttestedKeyRead:
    """A key generated on a YubiKey PIV slot: what to enrol (`read`, with the ykcs11 URI and
    module so `sign` finds it) and its attestation as read, not yet verified against the
    pinned roots (DER certificates)."""

    read: TokenKeyRead
    attestation_certificate: bytes
    device_certificate: bytes
    slot: str
    device: str  # the YubiKey, described for messages


# How the use cases reach tokens (made by `ceremony.tokens.select`, faked in tests):
# - read a key for enrolment: (uri, purpose) -> its public part and provenance;
KeyReader = Callable[[str, str], TokenKeyRead]
# - generate a key pair on a token: (uri, key name, key type) -> the new key's public part;
KeyGenerator = Callable[[str, str, str], TokenKeyRead]
# - read a YubiKey PIV attestation: uri -> (attestation certificate, f9 certificate), DER;
AttestationReader = Callable[[str], tuple[bytes, bytes]]
# - generate a key pair on a YubiKey PIV slot: (key name, key type, PIN policy, touch policy,
#   check) -> the key and its attestation; `check` sees the device before anything changes;
YubiKeyGenerator = Callable[[str, str, str, str, Callable[[YubiKeyFacts], None]], AttestedKeyRead]
# - open a signer for an enrolled key: (key, purpose, before_pin) -> a context manager. It
#   finds the token and checks the key and the PIN state, then calls before_pin() right
#   before it asks for the PIN (the holder's typed confirmation).
SignerFactory = Callable[[EnrolledKey, str, Callable[[], None]], AbstractContextManager[Signer]]

# Factory default PINs that a ceremony token must not still use.
FACTORY_DEFAULT_PINS = frozenset({"123456", "12345678", "000000", "00000000", "1234", "648219"})


def is_factory_default_pin(pin: str) -> bool:
    """True if `pin` is a well-known factory default PIN (YubiKey PIV, PUK, SoftHSM demos)."""
    return pin in FACTORY_DEFAULT_PINS
