"""The PKCS#11 library seam, token discovery and selection, and sessions.

The seam
--------
This package obtains every PKCS#11 library object through ONE function, `open_library(path)`,
looked up in this module at call time. What it returns must provide the small interface
typed below as `Pkcs11Library` (and the slot, token, session and object protocols it leads
to): the part of python-pkcs11 the package uses, and nothing else (as boulder's
`pkcs11helpers.PKCtx` does for its ceremony). python-pkcs11's own classes satisfy it (checked
by mypy at the end of this module). Tests replace `open_library` to wrap the REAL SoftHSM
objects and inject faults a software token cannot produce (PIN flags, device removal, bad
signatures); see `tests/tokens/faults.py`::

    from ceremony.tokens.pkcs11 import session
    from tests.tokens.faults import Faults, FaultyLib
    faults = Faults(extra_flags=TokenFlag.USER_PIN_FINAL_TRY)
    real = session.open_library
    monkeypatch.setattr(session, "open_library", lambda p: FaultyLib(real(p), faults))

The PKCS#11 function behind each member is named in its docstring (PKCS#11 v2.40 base
specification, section 5).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, TokenFlag
from pkcs11 import exceptions as pkx

from ceremony.errors import AmbiguousToken, MechanismNotSupported, ModuleLoadError, TokenNotFound
from ceremony.tokens.pkcs11.errors import Ctx, cap, translate, translating
from ceremony.tokens.types import TokenInfo
from ceremony.tokens.uri import Pkcs11Uri

# --- the seam: what the package needs of a PKCS#11 library ---------------------------------


class Pkcs11Object(Protocol):
    """A key or certificate object on a token."""

    def __getitem__(self, attribute: Attribute, /) -> Any:
        """C_GetAttributeValue of one attribute (CKA_*); raises PKCS11Error if not readable."""

    def destroy(self) -> None:
        """C_DestroyObject."""


class Pkcs11SigningKey(Pkcs11Object, Protocol):
    """A private key object (CKO_PRIVATE_KEY) with CKA_SIGN."""

    def sign(self, data: bytes, *, mechanism: Mechanism, mechanism_param: Any, pin: Any) -> bytes:
        """C_SignInit + C_Sign; `pin` answers a CKA_ALWAYS_AUTHENTICATE key's C_Login
        (CKU_CONTEXT_SPECIFIC). Returns the raw signature (ECDSA: r||s, section 2.3.1 of
        the PKCS#11 v2.40 current mechanisms specification)."""


class Pkcs11Session(Protocol):
    """An open session (C_OpenSession) on a token."""

    def get_objects(self, attrs: dict[Attribute, Any] | None = None) -> Iterator[Pkcs11Object]:
        """C_FindObjectsInit/C_FindObjects/C_FindObjectsFinal with the template `attrs`."""

    def generate_keypair(
        self, key_type: KeyType, key_length: int | None = None, **kwargs: Any
    ) -> tuple[Pkcs11Object, Pkcs11Object]:
        """C_GenerateKeyPair; returns (public key, private key)."""

    def generate_random(self, nbits: int) -> bytes:
        """C_GenerateRandom of nbits // 8 bytes."""

    def close(self) -> None:
        """C_CloseSession (closing the session that logged in also logs out)."""


class Pkcs11MechanismInfo(Protocol):
    """CK_MECHANISM_INFO."""

    @property
    def max_key_length(self) -> int | None:
        """ulMaxKeySize: bits for RSA (for EC, the units are the vendor's)."""


class Pkcs11Token(Protocol):
    """The token in a slot: CK_TOKEN_INFO (C_GetTokenInfo), and C_OpenSession / C_Login."""

    @property
    def label(self) -> str: ...
    @property
    def serial(self) -> bytes: ...
    @property
    def manufacturer_id(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def firmware_version(self) -> tuple[int, int]: ...
    @property
    def flags(self) -> int:
        """CKF_* token flags (TokenFlag): re-read for fresh PIN flags."""

    def open(self, rw: bool = False, user_pin: Any = None) -> Pkcs11Session:
        """C_OpenSession; with user_pin also C_Login as CKU_USER (PROTECTED_AUTH: the
        token's own PIN pad)."""


class Pkcs11Slot(Protocol):
    """A slot (CK_SLOT_ID) of the module."""

    @property
    def slot_id(self) -> int: ...

    def get_token(self) -> Pkcs11Token:
        """C_GetTokenInfo of the token in this slot."""

    def get_mechanisms(self) -> Iterable[Mechanism]:
        """C_GetMechanismList."""

    def get_mechanism_info(self, mechanism: Mechanism) -> Pkcs11MechanismInfo:
        """C_GetMechanismInfo."""


class Pkcs11Library(Protocol):
    """A loaded, initialised PKCS#11 module (C_Initialize done)."""

    def get_slots(self, token_present: bool = False) -> Sequence[Pkcs11Slot]:
        """C_GetSlotList."""


def open_library(path: str) -> Pkcs11Library:
    """FAULT-INJECTION SEAM: return the python-pkcs11 library object for `path`.

    The package calls this (through this module's global, at call time) every time it needs
    the library, and nothing else. Replace it with monkeypatch to wrap the real objects; the
    wrapper must provide `Pkcs11Library`. python-pkcs11 caches one library object per path,
    and SoftHSM reads SOFTHSM2_CONF once, when the module is first initialised.
    Raises pkcs11.exceptions.PKCS11Error when the module cannot be loaded.
    """
    return pkcs11.lib(path)


def load_library(path: str) -> Pkcs11Library:
    """`open_library(path)`; ModuleLoadError (exit code 3) if the module does not load."""
    try:
        return open_library(path)
    except pkx.PKCS11Error as e:
        raise ModuleLoadError(
            f"The PKCS#11 module {path} could not be loaded: {e}.",
            hint="Check that this is the token vendor's PKCS#11 module for this machine's "
            "architecture, and that its package is installed completely.",
        ) from e


# --- tokens --------------------------------------------------------------------------------


@dataclass
class TokenHandle:
    """A present token: its module, library, slot, python-pkcs11 token and what it says."""

    module: str
    lib: Pkcs11Library
    slot: Pkcs11Slot
    token: Pkcs11Token
    info: TokenInfo


def as_text(value: Any) -> str:
    """A PKCS#11 text field (CK_UTF8CHAR, blank-padded; bytes or str) as a stripped str."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip()
    return str(value).strip()


def token_info(module: str, slot: Pkcs11Slot, token: Pkcs11Token) -> TokenInfo:
    """The TokenInfo of `token` (CK_TOKEN_INFO: label, manufacturerID, model, serialNumber,
    firmwareVersion, flags)."""
    flags = int(token.flags)
    try:
        major, minor = token.firmware_version
        firmware = f"{major}.{minor}"
        if "yubico" in as_text(token.manufacturer_id).lower() and minor >= 10:
            # ykcs11 packs minor and patch into CK_VERSION.minor: 5.7.1 arrives as (5, 71).
            firmware = f"{major}.{minor // 10}.{minor % 10}"
    except (pkx.PKCS11Error, TypeError, ValueError):
        firmware = ""
    return TokenInfo(
        module_path=module,
        slot_id=int(slot.slot_id),
        label=as_text(token.label),
        manufacturer=as_text(token.manufacturer_id),
        model=as_text(token.model),
        serial=as_text(token.serial),
        firmware=firmware,
        initialized=bool(flags & TokenFlag.TOKEN_INITIALIZED),
        login_required=bool(flags & TokenFlag.LOGIN_REQUIRED),
        pin_count_low=bool(flags & TokenFlag.USER_PIN_COUNT_LOW),
        pin_final_try=bool(flags & TokenFlag.USER_PIN_FINAL_TRY),
        pin_locked=bool(flags & TokenFlag.USER_PIN_LOCKED),
    )


def fresh_info(tok: TokenHandle) -> TokenInfo:
    """Re-read the token info (flags change after a wrong PIN)."""
    tok.token = tok.slot.get_token()
    tok.info = token_info(tok.module, tok.slot, tok.token)
    return tok.info


def present_tokens(module: str, ctx: Ctx) -> list[TokenHandle]:
    """Every token present in the module's slots (also uninitialised ones)."""
    lib = load_library(module)
    ctx.module = module
    out: list[TokenHandle] = []
    with translating(Ctx("listing the tokens", module)):
        slots = lib.get_slots(token_present=True)
    for slot in slots:
        try:
            token = slot.get_token()
        except (pkx.TokenNotPresent, pkx.TokenNotRecognised, pkx.DeviceRemoved):
            continue
        except pkx.PKCS11Error as e:
            raise translate(e, Ctx("reading token information", module)) from e
        out.append(TokenHandle(module, lib, slot, token, token_info(module, slot, token)))
    return out


def describe_tokens(toks: list[TokenHandle]) -> str:
    """'label …, serial …; …' for a message, or 'none'."""
    return "; ".join(t.info.describe() for t in toks) or "none"


def parse_uri(uri: str | Pkcs11Uri) -> Pkcs11Uri:
    """`uri` parsed (RFC 7512); InputError if it is not a valid pkcs11: URI."""
    return uri if isinstance(uri, Pkcs11Uri) else Pkcs11Uri.parse(uri)


def select_token(module: str, uri: Pkcs11Uri, ctx: Ctx) -> TokenHandle:
    """The one initialised token the URI names (serial, else label; manufacturer, model).

    Raises TokenNotFound (none matches; the message lists the tokens present) or
    AmbiguousToken (several match). Records the token in `ctx` for later messages.
    """
    toks = [t for t in present_tokens(module, ctx) if t.info.initialized]
    matches = toks
    if uri.serial is not None:
        matches = [t for t in matches if t.info.serial == uri.serial.strip()]
    elif uri.token is not None:
        matches = [t for t in matches if t.info.label == uri.token.strip()]
    if uri.manufacturer is not None:
        matches = [t for t in matches if t.info.manufacturer == uri.manufacturer.strip()]
    if uri.model is not None:
        matches = [t for t in matches if t.info.model == uri.model.strip()]
    if not matches:
        if not toks:
            raise TokenNotFound(
                f"No initialised token is present in the PKCS#11 module {module} "
                f"(looking for {uri.describe_token()}).",
                hint="Insert the token (check the serial on its label or bag) and run again.",
            )
        raise TokenNotFound(
            f"No token with {uri.describe_token()} is present in the PKCS#11 module {module}. "
            f"Tokens present: {describe_tokens(toks)}.",
            hint="Insert the right token (compare its serial with the plan and its bag), "
            "then run again.",
        )
    if len(matches) > 1:
        raise AmbiguousToken(
            f"Several tokens match {uri.describe_token()}: {describe_tokens(matches)}.",
            hint="Say which one by its serial (serial=... in the key URI).",
        )
    ctx.token = matches[0].info
    ctx.slot, ctx.lib = matches[0].slot, matches[0].lib
    return matches[0]


# --- what the token is and can do ------------------------------------------------------------


def mechanisms(tok: TokenHandle) -> set[Mechanism] | None:
    """The token's mechanisms (C_GetMechanismList), or None if the module does not say."""
    try:
        return set(tok.slot.get_mechanisms())
    except pkx.PKCS11Error:
        return None


def is_yubico(info: TokenInfo) -> bool:
    """A Yubico token (YubiKey through ykcs11, YubiHSM), by manufacturer, model or label.

    Such a token may wait for a touch before it signs (touch policy), and ykcs11 reports the
    key-origin attributes as true for imported keys too (see `objects.policy_error`).
    """
    text = f"{info.manufacturer} {info.model} {info.label}".lower()
    return "yubico" in text or "yubikey" in text or "yubihsm" in text


def is_yubikey_piv(info: TokenInfo) -> bool:
    """A YubiKey's PIV application through ykcs11 (not a YubiHSM)."""
    text = f"{info.model} {info.label}".lower()
    return "yubikey" in text and "yubihsm" not in text


def unsupported(tok: TokenHandle, what: str, action: str) -> MechanismNotSupported:
    """The error for a token that cannot `action` ('generate', 'sign with') `what` keys."""
    text = f"{cap(tok.info.describe())} cannot {action} {what} keys."
    if what == "Ed25519":
        text += " Old YubiKeys (before firmware 5.7) and older ykcs11/OpenSC only do ECDSA and RSA."
    elif what == "RSA-3072":
        text += " YubiKeys before firmware 5.7 only do RSA up to 2048 bits."
    return MechanismNotSupported(
        text,
        hint="Choose a key type this token supports (e.g. ecdsa-p256 or ecdsa-p384) in the plan.",
    )


# --- sessions ------------------------------------------------------------------------------


def open_session(tok: TokenHandle, ctx: Ctx, *, rw: bool = False) -> Pkcs11Session:
    """C_OpenSession (read-only unless rw), errors translated."""
    with translating(ctx):
        return tok.token.open(rw=rw)


def close_session(session: Pkcs11Session) -> None:
    """C_CloseSession; a failure (e.g. the token is gone) is ignored."""
    with contextlib.suppress(pkx.PKCS11Error):
        session.close()


if TYPE_CHECKING:
    # python-pkcs11's own classes provide the seam (a type error here if they stop to).
    def _real_slot(slot: pkcs11.Slot) -> Pkcs11Slot:
        return slot

    def _real_key(key: pkcs11.types.SignMixin) -> Pkcs11SigningKey:
        return key
