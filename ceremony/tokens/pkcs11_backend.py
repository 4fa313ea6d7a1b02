"""The PKCS#11 backend: the only module of tuf-ceremony that imports python-pkcs11.

Everything here speaks to real tokens through python-pkcs11 and returns the plain values of
`ceremony.tokens.types`. Every python-pkcs11 exception is translated into a
`ceremony.errors.TokenError` subclass written for the key holder; none escapes.

Fault-injection seam
--------------------
The backend obtains every PKCS#11 library object through the module-level function
`open_library(path)`, looked up at call time. Tests (and CLI tests) replace it to wrap the
REAL SoftHSM objects and inject faults a software token cannot produce (PIN flags, device
removal, bad signatures). See `tests/tokens/faults.py`::

    from ceremony.tokens import pkcs11_backend
    from tests.tokens.faults import Faults, FaultyLib
    faults = Faults(extra_flags=TokenFlag.USER_PIN_FINAL_TRY)
    real = pkcs11_backend.open_library
    monkeypatch.setattr(pkcs11_backend, "open_library", lambda p: FaultyLib(real(p), faults))

The objects returned need only what the backend uses: lib.get_slots(token_present=True);
slot.get_token(), slot.get_mechanisms(), slot.get_mechanism_info(m), slot.slot_id;
token.label/serial/manufacturer_id/model/firmware_version/flags/slot/open(rw=, user_pin=);
session.get_objects(attrs), session.generate_keypair(...), session.generate_random(bits),
session.close(); object[attribute], object.sign(data, mechanism=, mechanism_param=, pin=),
object.destroy().
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import warnings
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import pkcs11
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pkcs11 import MGF, Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass, TokenFlag
from pkcs11 import exceptions as pkx
from securesystemslib.exceptions import UnverifiedSignatureError, VerificationError
from securesystemslib.signer import (
    SIGNER_FOR_URI_SCHEME,
    Key,
    SecretsHandler,
    Signature,
    Signer,
    SSlibKey,
)

from ceremony.errors import (
    AmbiguousKey,
    AmbiguousToken,
    BadTokenSignature,
    CeremonyError,
    DeviceRemoved,
    KeyMismatch,
    KeyNotFound,
    KeyPolicyError,
    MechanismNotSupported,
    ModuleLoadError,
    PinIncorrect,
    PinLocked,
    TokenError,
    TokenNotFound,
    TouchNotDetected,
)
from ceremony.tokens import encoding
from ceremony.tokens.modules import find_module
from ceremony.tokens.types import (
    KEY_TYPES,
    KeyAttributes,
    Notifier,
    PinProvider,
    PinRequest,
    TokenInfo,
    TokenKeyInfo,
    TokenListing,
)
from ceremony.tokens.uri import Pkcs11Uri

# --- the seam ----------------------------------------------------------------------------


def open_library(path: str) -> Any:
    """FAULT-INJECTION SEAM: return the python-pkcs11 library object for `path`.

    The backend calls this (through the module global, at call time) every time it needs
    the library, and nothing else. Replace it with monkeypatch to wrap the real objects;
    see the module docstring for the small interface the wrapper must provide.
    python-pkcs11 caches one library object per path, and SoftHSM reads SOFTHSM2_CONF once,
    when the module is first initialised.
    """
    return pkcs11.lib(path)


def _load(path: str) -> Any:
    try:
        return open_library(path)
    except pkx.PKCS11Error as e:
        raise ModuleLoadError(
            f"The PKCS#11 module {path} could not be loaded: {e}.",
            hint="Check that this is the token vendor's PKCS#11 module for this machine's "
            "architecture, and that its package is installed completely.",
        ) from e


# --- error translation ---------------------------------------------------------------------

# python-pkcs11 exception class -> PKCS#11 return value name (from its own mapping).
_CKR_NAMES: dict[str, str] = {
    "AttributeTypeInvalid": "CKR_ATTRIBUTE_TYPE_INVALID",
    "AttributeValueInvalid": "CKR_ATTRIBUTE_VALUE_INVALID",
    "AttributeReadOnly": "CKR_ATTRIBUTE_READ_ONLY",
    "AttributeSensitive": "CKR_ATTRIBUTE_SENSITIVE",
    "ArgumentsBad": "CKR_ARGUMENTS_BAD",
    "DataInvalid": "CKR_DATA_INVALID",
    "DataLenRange": "CKR_DATA_LEN_RANGE",
    "DomainParamsInvalid": "CKR_DOMAIN_PARAMS_INVALID",
    "DeviceError": "CKR_DEVICE_ERROR",
    "DeviceMemory": "CKR_DEVICE_MEMORY",
    "DeviceRemoved": "CKR_DEVICE_REMOVED",
    "EncryptedDataInvalid": "CKR_ENCRYPTED_DATA_INVALID",
    "EncryptedDataLenRange": "CKR_ENCRYPTED_DATA_LEN_RANGE",
    "ExceededMaxIterations": "CKR_EXCEEDED_MAX_ITERATIONS",
    "FunctionCancelled": "CKR_FUNCTION_CANCELED",
    "FunctionFailed": "CKR_FUNCTION_FAILED",
    "FunctionRejected": "CKR_FUNCTION_REJECTED",
    "FunctionNotSupported": "CKR_FUNCTION_NOT_SUPPORTED",
    "KeyHandleInvalid": "CKR_KEY_HANDLE_INVALID",
    "KeyIndigestible": "CKR_KEY_INDIGESTIBLE",
    "KeyNeeded": "CKR_KEY_NEEDED",
    "KeyNotNeeded": "CKR_KEY_NOT_NEEDED",
    "KeySizeRange": "CKR_KEY_SIZE_RANGE",
    "KeyNotWrappable": "CKR_KEY_NOT_WRAPPABLE",
    "KeyTypeInconsistent": "CKR_KEY_TYPE_INCONSISTENT",
    "KeyUnextractable": "CKR_KEY_UNEXTRACTABLE",
    "GeneralError": "CKR_GENERAL_ERROR",
    "HostMemory": "CKR_HOST_MEMORY",
    "MechanismInvalid": "CKR_MECHANISM_INVALID",
    "MechanismParamInvalid": "CKR_MECHANISM_PARAM_INVALID",
    "NoEvent": "CKR_NO_EVENT",
    "ObjectHandleInvalid": "CKR_OBJECT_HANDLE_INVALID",
    "OperationActive": "CKR_OPERATION_ACTIVE",
    "OperationNotInitialized": "CKR_OPERATION_NOT_INITIALIZED",
    "PinExpired": "CKR_PIN_EXPIRED",
    "PinIncorrect": "CKR_PIN_INCORRECT",
    "PinInvalid": "CKR_PIN_INVALID",
    "PinLenRange": "CKR_PIN_LEN_RANGE",
    "PinLocked": "CKR_PIN_LOCKED",
    "PinTooWeak": "CKR_PIN_TOO_WEAK",
    "PublicKeyInvalid": "CKR_PUBLIC_KEY_INVALID",
    "RandomNoRNG": "CKR_RANDOM_NO_RNG",
    "RandomSeedNotSupported": "CKR_RANDOM_SEED_NOT_SUPPORTED",
    "SessionClosed": "CKR_SESSION_CLOSED",
    "SessionCount": "CKR_SESSION_COUNT",
    "SessionExists": "CKR_SESSION_EXISTS",
    "SessionHandleInvalid": "CKR_SESSION_HANDLE_INVALID",
    "SessionReadOnly": "CKR_SESSION_READ_ONLY",
    "SessionReadOnlyExists": "CKR_SESSION_READ_ONLY_EXISTS",
    "SessionReadWriteSOExists": "CKR_SESSION_READ_WRITE_SO_EXISTS",
    "SignatureLenRange": "CKR_SIGNATURE_LEN_RANGE",
    "SignatureInvalid": "CKR_SIGNATURE_INVALID",
    "TemplateIncomplete": "CKR_TEMPLATE_INCOMPLETE",
    "TemplateInconsistent": "CKR_TEMPLATE_INCONSISTENT",
    "SlotIDInvalid": "CKR_SLOT_ID_INVALID",
    "TokenNotPresent": "CKR_TOKEN_NOT_PRESENT",
    "TokenNotRecognised": "CKR_TOKEN_NOT_RECOGNIZED",
    "TokenWriteProtected": "CKR_TOKEN_WRITE_PROTECTED",
    "UnwrappingKeyHandleInvalid": "CKR_UNWRAPPING_KEY_HANDLE_INVALID",
    "UnwrappingKeySizeRange": "CKR_UNWRAPPING_KEY_SIZE_RANGE",
    "UnwrappingKeyTypeInconsistent": "CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT",
    "UserNotLoggedIn": "CKR_USER_NOT_LOGGED_IN",
    "UserAlreadyLoggedIn": "CKR_USER_ALREADY_LOGGED_IN",
    "AnotherUserAlreadyLoggedIn": "CKR_USER_ANOTHER_ALREADY_LOGGED_IN",
    "UserPinNotInitialized": "CKR_USER_PIN_NOT_INITIALIZED",
    "UserTooManyTypes": "CKR_USER_TOO_MANY_TYPES",
    "WrappedKeyInvalid": "CKR_WRAPPED_KEY_INVALID",
    "WrappedKeyLenRange": "CKR_WRAPPED_KEY_LEN_RANGE",
    "WrappingKeyHandleInvalid": "CKR_WRAPPING_KEY_HANDLE_INVALID",
    "WrappingKeySizeRange": "CKR_WRAPPING_KEY_SIZE_RANGE",
    "WrappingKeyTypeInconsistent": "CKR_WRAPPING_KEY_TYPE_INCONSISTENT",
    "NoSuchKey": "no such key",
    "NoSuchToken": "no such token",
    "MultipleObjectsReturned": "several objects match",
    "MultipleTokensReturned": "several tokens match",
}

_REMOVED = (
    pkx.DeviceRemoved,
    pkx.TokenNotPresent,
    pkx.SessionHandleInvalid,
    pkx.SessionClosed,
    pkx.TokenNotRecognised,
    pkx.SlotIDInvalid,
)
_UNSUPPORTED = (
    pkx.MechanismInvalid,
    pkx.MechanismParamInvalid,
    pkx.FunctionNotSupported,
    pkx.KeyTypeInconsistent,
    pkx.DomainParamsInvalid,
    pkx.KeySizeRange,
)


def ckr_name(exc: BaseException) -> str:
    """The PKCS#11 return value name of a python-pkcs11 exception (e.g. CKR_PIN_INCORRECT)."""
    for klass in type(exc).__mro__:
        name = _CKR_NAMES.get(klass.__name__)
        if name:
            return name
    return str(exc) or type(exc).__name__


@dataclass
class _Ctx:
    """What the operation is doing, for error messages."""

    doing: str
    module: str = ""
    token: TokenInfo | None = None
    touch_prompted: bool = False
    slot: Any = None  # with lib: to check, after a device error, whether the token is still there
    lib: Any = None

    def where(self) -> str:
        if self.token:
            return self.token.describe()
        return f"the PKCS#11 module {self.module}" if self.module else "the token"


def _token_gone(ctx: _Ctx) -> bool:
    """After CKR_DEVICE_ERROR: is the token gone? (ykcs11 reports a removal that way.)"""
    if ctx.slot is None or ctx.lib is None:
        return False
    try:
        # C_GetSlotList first: ykcs11 only notices a removal when it re-enumerates
        present = {s.slot_id for s in ctx.lib.get_slots(token_present=True)}
        if ctx.slot.slot_id not in present:
            return True
        ctx.slot.get_token()
    except pkx.PKCS11Error:
        return True
    return False


def _translate(e: pkx.PKCS11Error, ctx: _Ctx) -> TokenError:
    where = ctx.where()
    name = ckr_name(e)
    if isinstance(e, _REMOVED) or (isinstance(e, pkx.DeviceError) and _token_gone(ctx)):
        return DeviceRemoved(
            f"{_cap(where)} stopped answering while {ctx.doing} ({name}): it was "
            "removed, lost power or was reset. Nothing was written.",
            hint="Re-insert the token and run the same command again.",
        )
    if isinstance(e, pkx.PinLocked):
        return _locked_error(ctx.token)
    if isinstance(e, pkx.PinIncorrect | pkx.PinInvalid | pkx.PinLenRange):
        return PinIncorrect(
            f"The PIN for {where} was not accepted while {ctx.doing} ({name}). Nothing was written.",
            hint="Run the command again and type the PIN carefully; do not guess: "
            "each wrong PIN uses up one of the few tries before the token locks.",
        )
    if isinstance(e, pkx.PinExpired):
        return TokenError(
            f"The PIN for {where} has expired ({name}); the token wants it changed before use.",
            hint="Change the PIN with the token vendor's tool, then run the command again.",
        )
    if isinstance(e, pkx.UserNotLoggedIn):
        if ctx.touch_prompted:
            return TouchNotDetected(
                f"Touch not detected: {where} did not sign because it was not touched in time "
                f"({name}). Nothing was written.",
                hint="Run the command again and touch the token's button or gold contact when "
                "asked (it blinks while it waits).",
            )
        return TokenError(
            f"{_cap(where)} says nobody is logged in while {ctx.doing} ({name}). "
            "Nothing was written.",
            hint="Run the command again; if it repeats, unplug the token, plug it back in "
            "and retry.",
        )
    if isinstance(e, _UNSUPPORTED):
        return MechanismNotSupported(
            f"{_cap(where)} cannot do what is needed for {ctx.doing} ({name}).",
            hint="Use a key type this token supports, or a token that supports this one.",
        )
    if isinstance(e, pkx.UserAlreadyLoggedIn | pkx.AnotherUserAlreadyLoggedIn):
        return TokenError(
            f"{_cap(where)} already has a login from another program or session "
            f"({name}) while {ctx.doing}.",
            hint="Close other programs using the token (or unplug and re-insert it), then retry.",
        )
    if isinstance(e, pkx.DeviceError):
        return TokenError(
            f"{_cap(where)} reported a device error while {ctx.doing} ({name}). "
            "Nothing was written.",
            hint="Check the token is inserted (and, for smart cards and YubiKeys, that the "
            "pcscd service is running); unplug and re-insert it, then retry.",
        )
    if isinstance(e, pkx.TokenWriteProtected):
        return TokenError(
            f"{_cap(where)} is write-protected ({name}).",
            hint="Use a token that can store new keys.",
        )
    if isinstance(e, pkx.DeviceMemory):
        return TokenError(
            f"{_cap(where)} is full ({name}).",
            hint="Use another token; do not delete keys that may still be enrolled.",
        )
    if isinstance(e, pkx.FunctionCancelled):
        return TokenError(
            f"The operation was cancelled on {where} ({name}). Nothing was written.",
            hint="Run the command again.",
        )
    return TokenError(
        f"{_cap(where)} failed while {ctx.doing}: {name}. Nothing was written.",
        hint="Run the command again; if it repeats, note the error name and the token serial "
        "for the ceremony log.",
    )


@contextlib.contextmanager
def _translating(ctx: _Ctx) -> Iterator[None]:
    try:
        yield
    except CeremonyError:
        raise
    except pkx.PKCS11Error as e:
        raise _translate(e, ctx) from e


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _guarded(doing: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Last line of defence: no python-pkcs11 exception leaves a public function."""

    def wrap(fn: Callable[_P, _R]) -> Callable[_P, _R]:
        @wraps(fn)
        def inner(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return fn(*args, **kwargs)
            except CeremonyError:
                raise
            except pkx.PKCS11Error as e:
                raise _translate(e, _Ctx(doing)) from e

        return inner

    return wrap


def _locked_error(token: TokenInfo | None, *, just_locked: bool = False) -> PinLocked:
    where = token.describe() if token else "the token"
    if just_locked:
        what = f"The PIN was wrong, and {where} has now LOCKED its user PIN."
    else:
        what = f"The user PIN of {where} is locked (too many wrong PINs), so no PIN was tried."
    return PinLocked(
        f"{what} Nothing was written. To recover, unblock the PIN with the PUK (YubiKey: "
        "`ykman piv access unblock-pin`) or with the SO PIN (other tokens), as your recovery "
        "procedure says. Careful: if the PUK / SO PIN gets blocked too, the only way out is a "
        "reset, which DESTROYS the keys on the token.",
        hint="Follow the token recovery procedure; never guess the PUK or SO PIN.",
    )


# --- tokens --------------------------------------------------------------------------------


@dataclass
class _Tok:
    module: str
    lib: Any
    slot: Any
    token: Any
    info: TokenInfo


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip()
    return str(value).strip()


def _info(module: str, slot: Any, token: Any) -> TokenInfo:
    flags = int(token.flags)
    try:
        major, minor = token.firmware_version
        firmware = f"{major}.{minor}"
        if "yubico" in _text(token.manufacturer_id).lower() and minor >= 10:
            # ykcs11 packs minor and patch into CK_VERSION.minor: 5.7.1 arrives as (5, 71).
            firmware = f"{major}.{minor // 10}.{minor % 10}"
    except (pkx.PKCS11Error, TypeError, ValueError):
        firmware = ""
    return TokenInfo(
        module_path=module,
        slot_id=int(slot.slot_id),
        label=_text(token.label),
        manufacturer=_text(token.manufacturer_id),
        model=_text(token.model),
        serial=_text(token.serial),
        firmware=firmware,
        initialized=bool(flags & TokenFlag.TOKEN_INITIALIZED),
        login_required=bool(flags & TokenFlag.LOGIN_REQUIRED),
        pin_count_low=bool(flags & TokenFlag.USER_PIN_COUNT_LOW),
        pin_final_try=bool(flags & TokenFlag.USER_PIN_FINAL_TRY),
        pin_locked=bool(flags & TokenFlag.USER_PIN_LOCKED),
    )


def _fresh(tok: _Tok) -> TokenInfo:
    """Re-read the token info (flags change after a wrong PIN)."""
    tok.token = tok.slot.get_token()
    tok.info = _info(tok.module, tok.slot, tok.token)
    return tok.info


def _tokens(module: str, ctx: _Ctx) -> list[_Tok]:
    lib = _load(module)
    ctx.module = module
    out: list[_Tok] = []
    with _translating(_Ctx("listing the tokens", module)):
        slots = lib.get_slots(token_present=True)
    for slot in slots:
        try:
            token = slot.get_token()
        except (pkx.TokenNotPresent, pkx.TokenNotRecognised, pkx.DeviceRemoved):
            continue
        except pkx.PKCS11Error as e:
            raise _translate(e, _Ctx("reading token information", module)) from e
        out.append(_Tok(module, lib, slot, token, _info(module, slot, token)))
    return out


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _names(toks: list[_Tok]) -> str:
    return "; ".join(t.info.describe() for t in toks) or "none"


def _select_token(module: str, uri: Pkcs11Uri, ctx: _Ctx) -> _Tok:
    toks = [t for t in _tokens(module, ctx) if t.info.initialized]
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
            f"Tokens present: {_names(toks)}.",
            hint="Insert the right token (compare its serial with the plan and its bag), "
            "then run again.",
        )
    if len(matches) > 1:
        raise AmbiguousToken(
            f"Several tokens match {uri.describe_token()}: {_names(matches)}.",
            hint="Say which one by its serial (serial=... in the key URI).",
        )
    ctx.token = matches[0].info
    ctx.slot, ctx.lib = matches[0].slot, matches[0].lib
    return matches[0]


def _mechanisms(tok: _Tok) -> set[Any] | None:
    """The token's mechanisms, or None if the module does not say."""
    try:
        return set(tok.slot.get_mechanisms())
    except pkx.PKCS11Error:
        return None


def _needs_touch(info: TokenInfo) -> bool:
    text = f"{info.manufacturer} {info.model} {info.label}".lower()
    return "yubico" in text or "yubikey" in text or "yubihsm" in text


def _is_yubico(info: TokenInfo) -> bool:
    return _needs_touch(info)


def _is_yubikey_piv(info: TokenInfo) -> bool:
    text = f"{info.model} {info.label}".lower()
    return "yubikey" in text and "yubihsm" not in text


# --- login and PIN safety --------------------------------------------------------------------


@dataclass
class _LoginRef:
    session: Any  # the session that did C_Login (its close() logs out), or None
    users: int = 1


# PKCS#11 login state is per token and per process: one C_Login serves every session of the
# process on that token, and C_Logout (done by closing the login session) ends it for all.
_LOGINS: dict[tuple[str, int, str], _LoginRef] = {}


def forget_logins() -> None:
    """Forget every login this process made. Call after the module was finalised and
    re-initialised (python-pkcs11 `lib.reinitialize()`), which ends all sessions and logins."""
    _LOGINS.clear()


def _login_key(tok: _Tok) -> tuple[str, int, str]:
    return (tok.module, tok.info.slot_id, tok.info.serial)


def _ask_pin(tok: _Tok, purpose: str, pin_provider: PinProvider, ctx: _Ctx) -> str:
    """Read the flags, refuse a locked PIN, ask the provider exactly once."""
    with _translating(ctx):
        info = _fresh(tok)
    ctx.token = info
    if info.pin_locked:
        raise _locked_error(info)
    return pin_provider(
        PinRequest(
            token=info, purpose=purpose, count_low=info.pin_count_low, final_try=info.pin_final_try
        )
    )


def _wrong_pin(tok: _Tok, purpose: str, e: pkx.PKCS11Error) -> TokenError:
    try:
        info = _fresh(tok)
    except pkx.PKCS11Error:
        info = tok.info
    if info.pin_locked or isinstance(e, pkx.PinLocked):
        return _locked_error(info, just_locked=True)
    if info.pin_final_try:
        state = (
            " The token now reports that the NEXT wrong PIN LOCKS it: do not try again "
            "unless you are sure of the PIN."
        )
    elif info.pin_count_low:
        state = " The token now reports a low PIN count: few tries are left before it locks."
    else:
        state = " The token does not report how many tries are left."
    return PinIncorrect(
        f"The PIN for {info.describe()} was not accepted ({ckr_name(e)}).{state} "
        "Nothing was written.",
        hint="Run the command again only when you are sure of the PIN; the tool never retries "
        "by itself.",
    )


def _acquire_login(
    tok: _Tok, purpose: str, pin_provider: PinProvider | None, ctx: _Ctx, *, keep_pin: bool
) -> str | None:
    """Make sure the process is logged in to `tok`; return the PIN if asked to keep it.

    Returns None when the process was already logged in (no prompt), when the token needs
    no login, or when keep_pin is False. Pair every call with _release_login.
    """
    key = _login_key(tok)
    ref = _LOGINS.get(key)
    if ref is not None:
        ref.users += 1
        return None
    with _translating(ctx):
        info = _fresh(tok)
    ctx.token = info
    if info.pin_locked:
        raise _locked_error(info)
    if not info.login_required:
        _LOGINS[key] = _LoginRef(None)
        return None
    if int(tok.token.flags) & TokenFlag.PROTECTED_AUTHENTICATION_PATH:
        with _translating(ctx):
            try:
                session = tok.token.open(user_pin=pkcs11.PROTECTED_AUTH)
            except pkx.PinIncorrect as e:
                raise _wrong_pin(tok, purpose, e) from e
        _LOGINS[key] = _LoginRef(session)
        return None
    if pin_provider is None:
        raise TokenError(
            f"{_cap(info.describe())} needs its PIN for {purpose}, and no PIN prompt was given.",
            hint="This is a bug in the calling code: pass a PIN provider.",
        )
    pin: str | None = pin_provider(
        PinRequest(
            token=info, purpose=purpose, count_low=info.pin_count_low, final_try=info.pin_final_try
        )
    )
    session = None
    try:
        with _translating(ctx):
            try:
                session = tok.token.open(user_pin=pin)
            except (pkx.PinIncorrect, pkx.PinInvalid, pkx.PinLenRange, pkx.PinLocked) as e:
                raise _wrong_pin(tok, purpose, e) from e
            except pkx.UserAlreadyLoggedIn:
                session = None  # logged in by someone else in this process: usable as is
        _LOGINS[key] = _LoginRef(session)
        return pin if keep_pin else None
    finally:
        pin = None  # drop our reference as soon as possible


def _release_login(tok: _Tok) -> None:
    key = _login_key(tok)
    ref = _LOGINS.get(key)
    if ref is None:
        return
    ref.users -= 1
    if ref.users > 0:
        return
    del _LOGINS[key]
    if ref.session is not None:
        with contextlib.suppress(pkx.PKCS11Error):
            ref.session.close()


def _open_session(tok: _Tok, ctx: _Ctx, *, rw: bool = False) -> Any:
    with _translating(ctx):
        return tok.token.open(rw=rw)


def _close_session(session: Any) -> None:
    with contextlib.suppress(pkx.PKCS11Error):
        session.close()


# --- objects and keys ----------------------------------------------------------------------


def _attr(obj: Any, attribute: Attribute) -> Any:
    """An attribute's value, or None if the token does not have or show it."""
    try:
        return obj[attribute]
    except (
        pkx.AttributeTypeInvalid,
        pkx.AttributeSensitive,
        pkx.FunctionFailed,
        pkx.ArgumentsBad,
        KeyError,
        NotImplementedError,
    ):
        return None


def _bool_attr(obj: Any, attribute: Attribute) -> bool | None:
    value = _attr(obj, attribute)
    return None if value is None else bool(value)


@dataclass
class _Pair:
    key_id: bytes
    public: Any = None
    private: Any = None
    labels: list[str] = field(default_factory=list)

    @property
    def label(self) -> str | None:
        return self.labels[0] if self.labels else None


def _find_pairs(session: Any, uri: Pkcs11Uri | None, ctx: _Ctx) -> list[_Pair]:
    """Key pairs (public and/or private object, grouped by CKA_ID) matching the URI's id/object."""
    pairs: dict[bytes, _Pair] = {}
    with _translating(ctx):
        for klass in (ObjectClass.PUBLIC_KEY, ObjectClass.PRIVATE_KEY):
            template: dict[Attribute, Any] = {Attribute.CLASS: klass}
            if uri is not None and uri.id is not None:
                template[Attribute.ID] = uri.id
            for obj in list(session.get_objects(template)):
                key_id = bytes(_attr(obj, Attribute.ID) or b"")
                pair = pairs.setdefault(key_id, _Pair(key_id))
                label = _text(_attr(obj, Attribute.LABEL) or "")
                if klass == ObjectClass.PUBLIC_KEY:
                    pair.public = pair.public or obj
                else:
                    pair.private = pair.private or obj
                if label and label not in pair.labels:
                    # prefer the private key's label
                    if klass == ObjectClass.PRIVATE_KEY:
                        pair.labels.insert(0, label)
                    else:
                        pair.labels.append(label)
    out = sorted(pairs.values(), key=lambda p: p.key_id)
    if uri is not None and uri.object is not None:
        # The label may be the private or the public object's (ykcs11 labels them
        # differently). While the private key is hidden (before login), a pair already
        # selected by id is kept; the label is checked again once it is visible.
        out = [
            p for p in out if uri.object in p.labels or (p.private is None and uri.id is not None)
        ]
    return out


def _key_type(obj: Any) -> str:
    kt = _attr(obj, Attribute.KEY_TYPE)
    if kt == KeyType.EC:
        params = _attr(obj, Attribute.EC_PARAMS)
        return (encoding.ec_key_type(bytes(params)) if params else None) or "ecdsa-unknown-curve"
    if kt == KeyType.EC_EDWARDS:
        params = _attr(obj, Attribute.EC_PARAMS)
        return (
            encoding.edwards_key_type(bytes(params)) if params else None
        ) or "eddsa-unknown-curve"
    if kt == KeyType.RSA:
        bits = _attr(obj, Attribute.MODULUS_BITS)
        if not bits:
            modulus = _attr(obj, Attribute.MODULUS)
            bits = len(bytes(modulus)) * 8 if modulus else 0
        return f"rsa-{int(bits)}" if bits else "rsa"
    return f"key type {kt!r}" if kt is not None else "unknown"


def _crypto_public_key(pair: _Pair) -> Any:
    """The `cryptography` public key of a pair, or None if not readable / not supported."""
    obj = pair.public
    if obj is not None:
        kt = _attr(obj, Attribute.KEY_TYPE)
        point = _attr(obj, Attribute.EC_POINT)
        if kt == KeyType.EC_EDWARDS and point is not None:
            if _key_type(obj) != "ed25519":
                return None
            return Ed25519PublicKey.from_public_bytes(encoding.unwrap_ec_point(bytes(point), 32))
        if kt == KeyType.EC and point is not None:
            curve = encoding.CRYPTO_CURVES.get(_key_type(obj))
            if curve is None:
                return None
            return ec.EllipticCurvePublicKey.from_encoded_point(
                curve, encoding.unwrap_ec_point(bytes(point))
            )
    for candidate in (pair.public, pair.private):
        if candidate is None or _attr(candidate, Attribute.KEY_TYPE) != KeyType.RSA:
            continue
        modulus = _attr(candidate, Attribute.MODULUS)
        exponent = _attr(candidate, Attribute.PUBLIC_EXPONENT)
        if modulus and exponent:
            return rsa.RSAPublicNumbers(
                int.from_bytes(bytes(exponent), "big"), int.from_bytes(bytes(modulus), "big")
            ).public_key()
    return None


def _sslib_key(pair: _Pair) -> SSlibKey | None:
    try:
        crypto = _crypto_public_key(pair)
        return None if crypto is None else SSlibKey.from_crypto(crypto)
    except (ValueError, TypeError, pkx.PKCS11Error):
        return None


def _pair_type(pair: _Pair) -> str:
    return _key_type(pair.public if pair.public is not None else pair.private)


def _attributes(private: Any) -> KeyAttributes:
    return KeyAttributes(
        sensitive=_bool_attr(private, Attribute.SENSITIVE),
        extractable=_bool_attr(private, Attribute.EXTRACTABLE),
        always_sensitive=_bool_attr(private, Attribute.ALWAYS_SENSITIVE),
        never_extractable=_bool_attr(private, Attribute.NEVER_EXTRACTABLE),
        local=_bool_attr(private, Attribute.LOCAL),
        always_authenticate=_bool_attr(private, Attribute.ALWAYS_AUTHENTICATE),
    )


def key_uri(info: TokenInfo, key_id: bytes, label: str | None) -> str:
    """Canonical URI of a token key: token label + serial + object label + id, type=private."""
    return Pkcs11Uri(
        token=info.label, serial=info.serial, object=label or None, id=key_id, type="private"
    ).to_string()


def _key_info(tok: _Tok, pair: _Pair, *, with_attributes: bool = True) -> TokenKeyInfo:
    return TokenKeyInfo(
        token=tok.info,
        label=pair.label,
        key_id=pair.key_id,
        key_type=_pair_type(pair),
        public_key=_sslib_key(pair),
        attributes=_attributes(pair.private)
        if with_attributes and pair.private is not None
        else None,
        uri=key_uri(tok.info, pair.key_id, pair.label),
    )


def _describe_pair(pair: _Pair) -> str:
    label = f"label '{pair.label}', " if pair.label else ""
    return f"{label}id {pair.key_id.hex() or '(empty)'}"


def _short(key: Key) -> str:
    return key.keyid[:8]


def _one_pair(pairs: list[_Pair], uri: Pkcs11Uri, tok: _Tok) -> _Pair:
    if not pairs:
        raise KeyNotFound(
            f"{_cap(tok.info.describe())} has no key with {uri.describe_key()}.",
            hint="Check the key URI; `ceremony tokens --module PATH` shows the keys on a token. "
            "If the token is the wrong one, swap it and run again.",
        )
    if len(pairs) > 1:
        raise AmbiguousKey(
            f"Several keys on {tok.info.describe()} match {uri.describe_key()}: "
            + "; ".join(_describe_pair(p) for p in pairs)
            + ".",
            hint="Name the key by its id (id=... in the key URI).",
        )
    return pairs[0]


def _policy_error(tok: _Tok, pair: _Pair, problems: list[str]) -> KeyPolicyError:
    text = (
        f"The key ({_describe_pair(pair)}) on {tok.info.describe()} cannot be trusted as a "
        f"ceremony key: {'; '.join(problems)}. A private key that was ever outside a token "
        "may have copies elsewhere, and anyone holding a copy could sign metadata without "
        "this ceremony."
    )
    if _is_yubico(tok.info):
        text += (
            " Note: on Yubico tokens ykcs11 reports these attributes as true for every "
            "key, even imported ones, so only a PIV attestation proves the key was "
            "generated on the device."
        )
    return KeyPolicyError(
        text,
        hint="Generate a new key on the token (`ceremony keygen DIR NAME --uri ... --type ...`). "
        "Only for a deliberate, documented exception (e.g. a backup copy), use "
        "--allow-imported-key; it is recorded and repeated on every screen.",
    )


# --- public operations -------------------------------------------------------------------------


@_guarded("loading the PKCS#11 module")
def resolve_module(uri: Pkcs11Uri | None, module: str | None) -> str:
    """The module path to use (see `ceremony.tokens.modules.find_module`), loaded once to check."""
    path = find_module(uri, module)
    _load(path)
    return path


def _parse(uri: str | Pkcs11Uri) -> Pkcs11Uri:
    return uri if isinstance(uri, Pkcs11Uri) else Pkcs11Uri.parse(uri)


@_guarded("listing the tokens")
def list_tokens(
    module: str, *, pin_provider: PinProvider | None = None, login: bool = False
) -> list[TokenListing]:
    """Every slot with a token (also uninitialised ones) and the keys on each.

    Without login: the public key objects (and private ones where the token shows them).
    With login (and a pin_provider): also the private keys' attributes; one PIN prompt per
    token that needs it.
    """
    ctx = _Ctx("listing the tokens", module)
    out: list[TokenListing] = []
    for tok in _tokens(module, ctx):
        ctx.token = tok.info
        if not tok.info.initialized:
            out.append(TokenListing(tok.info, []))
            continue
        logged = False
        session = None
        try:
            if login and tok.info.login_required and not tok.info.pin_locked:
                _acquire_login(
                    tok,
                    f"list the keys on {tok.info.describe()}",
                    pin_provider,
                    ctx,
                    keep_pin=False,
                )
                logged = True
            session = _open_session(tok, ctx)
            ctx.doing = "reading the keys"
            pairs = _find_pairs(session, None, ctx)
            with _translating(ctx):
                keys = [_key_info(tok, p) for p in sorted(pairs, key=lambda p: p.key_id)]
            out.append(TokenListing(tok.info, keys))
        finally:
            if session is not None:
                _close_session(session)
            if logged:
                _release_login(tok)
    return out


@_guarded("reading the key")
def read_key(
    uri: str, *, module: str | None, pin_provider: PinProvider | None, allow_imported: bool = False
) -> TokenKeyInfo:
    """Read a token key for enrolment: its public key and the private key's attributes.

    Logs in (one PIN prompt) only if the private key is not visible without it. Refuses a
    key whose attributes say it was imported or is extractable unless allow_imported.
    """
    parsed = _parse(uri)
    path = resolve_module(parsed, module)
    ctx = _Ctx("reading the key", path)
    tok = _select_token(path, parsed, ctx)
    session = _open_session(tok, ctx)
    logged = False
    try:
        pairs = _find_pairs(session, parsed, ctx)
        pair = _one_pair(pairs, parsed, tok) if pairs else None
        if pair is None or pair.private is None:
            if tok.info.login_required:
                _acquire_login(
                    tok,
                    f"read the key {parsed.describe_key()} on {tok.info.describe()}",
                    pin_provider,
                    ctx,
                    keep_pin=False,
                )
                logged = True
            pair = _one_pair(_find_pairs(session, parsed, ctx), parsed, tok)
        if pair.private is None:
            raise KeyNotFound(
                f"{_cap(tok.info.describe())} has a public key ({_describe_pair(pair)}) but no "
                "private key with the same id, so it cannot sign.",
                hint="Check the key URI; the private key may be on another token.",
            )
        with _translating(ctx):
            info = _key_info(tok, pair)
        if info.public_key is None:
            raise KeyPolicyError(
                f"The key ({_describe_pair(pair)}) on {tok.info.describe()} is of type "
                f"{info.key_type}, which TUF metadata cannot use here (or its public key "
                "could not be read).",
                hint=f"Use one of: {', '.join(KEY_TYPES)}.",
            )
        assert info.attributes is not None
        problems = info.attributes.problems()
        if problems and not allow_imported:
            raise _policy_error(tok, pair, problems)
        return info
    finally:
        _close_session(session)
        if logged:
            _release_login(tok)


def _mismatch(tok: _Tok, pair: _Pair, found: SSlibKey | None, expected: Key) -> KeyMismatch:
    found_text = f"keyid {_short(found)}…" if found is not None else "a key of another type"
    return KeyMismatch(
        f"The key ({_describe_pair(pair)}) on {tok.info.describe()} is not the enrolled key: "
        f"the token has {found_text}, the ceremony expects keyid {_short(expected)}…. "
        "Nothing was signed.",
        hint="Check that this is the right token for this key holder (compare the serial with "
        "the plan), or that the key URI names the right key.",
    )


@_guarded("looking for the key")
def locate_key(public_key: SSlibKey, *, module: str | None, uri: str | None) -> TokenKeyInfo:
    """Find the token key pair whose public key equals `public_key`.

    `uri` is a hint: when it names a token and a key that is present but DIFFERENT, that is
    a KeyMismatch. Otherwise all initialised tokens of the module are scanned (no login).
    """
    hint = _parse(uri) if uri else None
    path = resolve_module(hint, module)
    ctx = _Ctx("looking for the key", path)
    if hint is not None and hint.selects_key:
        try:
            tok = _select_token(path, hint, ctx)
            session = _open_session(tok, ctx)
            try:
                pairs = _find_pairs(session, hint, ctx)
                if len(pairs) == 1:
                    with _translating(ctx):
                        found = _sslib_key(pairs[0])
                    if found is not None or pairs[0].public is not None:
                        if found is None or found != public_key:
                            raise _mismatch(tok, pairs[0], found, public_key)
                        with _translating(ctx):
                            return _key_info(tok, pairs[0])
            finally:
                _close_session(session)
        except (TokenNotFound, AmbiguousToken):
            pass
    hits: list[TokenKeyInfo] = []
    toks = [t for t in _tokens(path, ctx) if t.info.initialized]
    for tok in toks:
        ctx.token = tok.info
        session = _open_session(tok, ctx)
        try:
            for pair in _find_pairs(session, None, ctx):
                with _translating(ctx):
                    if _sslib_key(pair) == public_key:
                        hits.append(_key_info(tok, pair))
        finally:
            _close_session(session)
    if not hits:
        raise KeyNotFound(
            f"No token in the PKCS#11 module {path} holds the key with keyid "
            f"{_short(public_key)}…. Tokens checked: {_names(toks)}.",
            hint="Insert the token that holds this key and run again. (A token that hides "
            "its public keys until login cannot be searched this way: give the key URI.)",
        )
    if len(hits) > 1:
        raise AmbiguousKey(
            f"The key with keyid {_short(public_key)}… is on several tokens: "
            + "; ".join(h.token.describe() for h in hits)
            + ".",
            hint="Remove all but the token you mean to use, or give its key URI.",
        )
    return hits[0]


# --- key generation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _GenSpec:
    key_type: Any
    bits: int | None
    mechanism: Any
    params: tuple[bytes, ...]  # EC_PARAMS values to try, in order
    sign_mechanisms: tuple[Any, ...]  # at least one must be supported
    what: str


def _gen_spec(key_type: str) -> _GenSpec:
    if key_type == "ed25519":
        return _GenSpec(
            KeyType.EC_EDWARDS,
            None,
            Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
            (encoding.ED25519_STRING_PARAMS, encoding.ED25519_OID_PARAMS),
            (Mechanism.EDDSA,),
            "Ed25519",
        )
    if key_type == "ecdsa-p256":
        return _GenSpec(
            KeyType.EC,
            None,
            Mechanism.EC_KEY_PAIR_GEN,
            (encoding.P256_PARAMS,),
            (Mechanism.ECDSA,),
            "ECDSA P-256",
        )
    if key_type == "ecdsa-p384":
        return _GenSpec(
            KeyType.EC,
            None,
            Mechanism.EC_KEY_PAIR_GEN,
            (encoding.P384_PARAMS,),
            (Mechanism.ECDSA,),
            "ECDSA P-384",
        )
    if key_type == "rsa-3072":
        return _GenSpec(
            KeyType.RSA,
            3072,
            Mechanism.RSA_PKCS_KEY_PAIR_GEN,
            (),
            (Mechanism.SHA256_RSA_PKCS_PSS, Mechanism.RSA_PKCS_PSS),
            "RSA-3072",
        )
    raise MechanismNotSupported(
        f"Key type {key_type!r} is not one the ceremony generates.",
        hint=f"Use one of: {', '.join(KEY_TYPES)}.",
    )


def _unsupported(tok: _Tok, what: str, action: str) -> MechanismNotSupported:
    text = f"{_cap(tok.info.describe())} cannot {action} {what} keys."
    if what == "Ed25519":
        text += " Old YubiKeys (before firmware 5.7) and older ykcs11/OpenSC only do ECDSA and RSA."
    elif what == "RSA-3072":
        text += " YubiKeys before firmware 5.7 only do RSA up to 2048 bits."
    return MechanismNotSupported(
        text,
        hint="Choose a key type this token supports (e.g. ecdsa-p256 or ecdsa-p384) in the plan.",
    )


def _new_id(tok: _Tok, session: Any, ctx: _Ctx) -> bytes:
    for _ in range(8):
        key_id = b""
        if int(tok.token.flags) & TokenFlag.RNG:
            try:
                key_id = bytes(session.generate_random(64))
            except pkx.PKCS11Error:
                key_id = b""
        if len(key_id) != 8:
            key_id = os.urandom(8)
        with _translating(ctx):
            if not list(session.get_objects({Attribute.ID: key_id})):
                return key_id
    raise TokenError(f"Could not find a free key id on {tok.info.describe()}.")


@_guarded("generating a key")
def generate_key(
    uri: str, *, module: str | None, key_type: str, label: str, pin_provider: PinProvider
) -> TokenKeyInfo:
    """Generate a key pair ON the token, with a fresh random CKA_ID and the given label.

    Private key: TOKEN, PRIVATE, SENSITIVE, EXTRACTABLE=false, SIGN only. Public key:
    TOKEN, VERIFY, not private (so it can be found without a PIN). Never overwrites: an
    object with the same label is an error. The result is read back and checked.
    """
    if not label:
        raise TokenError("A key label is needed to generate a key.", hint="Give --label.")
    spec = _gen_spec(key_type)
    parsed = _parse(uri)
    path = resolve_module(parsed, module)
    ctx = _Ctx(f"generating a {spec.what} key", path)
    tok = _select_token(path, parsed, ctx)
    if _is_yubikey_piv(tok.info):
        raise TokenError(
            f"{_cap(tok.info.describe())} is a YubiKey PIV token: through PKCS#11 (ykcs11) a "
            "key can only be generated with the PIV management key, and ykcs11 ignores key "
            "labels and cannot set the touch policy. Nothing was generated.",
            hint="Generate the key on the YubiKey with `ykman piv keys generate` (for example "
            "--pin-policy ALWAYS --touch-policy ALWAYS, slot 9c), then enrol it with "
            "`ceremony enroll DIR NAME --uri URI --attest` (runbooks/token-preparation.md).",
        )
    mechs = _mechanisms(tok)
    if mechs is not None:
        if spec.mechanism not in mechs:
            raise _unsupported(tok, spec.what, "generate")
        if not any(m in mechs for m in spec.sign_mechanisms):
            raise _unsupported(tok, spec.what, "sign with")
        if spec.bits is not None:
            try:
                mech_info = tok.slot.get_mechanism_info(spec.mechanism)
                max_bits = int(mech_info.max_key_length)
            except (pkx.PKCS11Error, AttributeError, TypeError, ValueError):
                max_bits = 0
            if 0 < max_bits < spec.bits:
                raise _unsupported(tok, spec.what, "generate")
    _acquire_login(
        tok,
        f"generate the {spec.what} key '{label}' on {tok.info.describe()}",
        pin_provider,
        ctx,
        keep_pin=False,
    )
    session = None
    try:
        session = _open_session(tok, ctx, rw=True)
        with _translating(ctx):
            if list(session.get_objects({Attribute.LABEL: label})):
                raise TokenError(
                    f"{_cap(tok.info.describe())} already has an object labelled '{label}'. "
                    "Nothing was generated and nothing was changed.",
                    hint="Choose another label; existing keys are never overwritten.",
                )
        key_id = _new_id(tok, session, ctx)
        private_template = {
            Attribute.TOKEN: True,
            Attribute.PRIVATE: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.SIGN: True,
            Attribute.DECRYPT: False,
            Attribute.UNWRAP: False,
            Attribute.DERIVE: False,
        }
        public_template: dict[Attribute, Any] = {
            Attribute.TOKEN: True,
            Attribute.PRIVATE: False,
            Attribute.VERIFY: True,
            Attribute.ENCRYPT: False,
            Attribute.WRAP: False,
        }
        public, private = _generate(
            session, tok, spec, key_id, label, public_template, private_template, ctx
        )
        try:
            pair = _Pair(key_id, public, private, [label])
            with _translating(ctx):
                _check_generated(tok, pair, spec, key_type)
                info = _key_info(tok, pair)
            if info.public_key is None:
                raise TokenError(
                    f"The new key on {tok.info.describe()} has a public key that "
                    "could not be read back."
                )
            return info
        except CeremonyError:
            with contextlib.suppress(pkx.PKCS11Error):
                private.destroy()
                public.destroy()
            raise
    finally:
        if session is not None:
            _close_session(session)
        _release_login(tok)


def _generate(
    session: Any,
    tok: _Tok,
    spec: _GenSpec,
    key_id: bytes,
    label: str,
    public_template: dict[Attribute, Any],
    private_template: dict[Attribute, Any],
    ctx: _Ctx,
) -> tuple[Any, Any]:
    attempts = spec.params or (b"",)
    for n, params in enumerate(attempts):
        template = dict(public_template)
        if params:
            template[Attribute.EC_PARAMS] = params
        try:
            with _translating(ctx):
                try:
                    result: tuple[Any, Any] = session.generate_keypair(
                        spec.key_type,
                        spec.bits,
                        id=key_id,
                        label=label,
                        store=True,
                        mechanism=spec.mechanism,
                        capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                        public_template=template,
                        private_template=private_template,
                    )
                    return result
                except pkx.UserNotLoggedIn as e:
                    if _is_yubico(tok.info):
                        raise TokenError(
                            f"{_cap(tok.info.describe())} refused to generate a key with the user "
                            "PIN: YubiKey PIV (ykcs11) needs the management key for that.",
                            hint="Generate the key on the YubiKey with `ykman piv keys "
                            "generate` (touch policy ALWAYS), then enrol it with "
                            "`ceremony enroll DIR NAME --uri URI --attest`.",
                        ) from e
                    raise
        except MechanismNotSupported:
            if n + 1 < len(attempts):
                continue  # e.g. a token that only takes the OID form of edwards25519
            raise _unsupported(tok, spec.what, "generate") from None
    raise AssertionError("unreachable")


def _check_generated(tok: _Tok, pair: _Pair, spec: _GenSpec, key_type: str) -> None:
    problems: list[str] = []
    found_type = _pair_type(pair)
    if found_type != key_type:
        problems.append(f"it is {found_type}, not {key_type}")
    if spec.key_type == KeyType.RSA:
        exponent = _attr(pair.public, Attribute.PUBLIC_EXPONENT)
        if exponent is None or int.from_bytes(bytes(exponent), "big") != 65537:
            problems.append("its RSA public exponent is not 65537")
    attributes = _attributes(pair.private)
    problems.extend(attributes.problems())
    if _bool_attr(pair.private, Attribute.SIGN) is False:
        problems.append("it cannot sign (CKA_SIGN is false)")
    if _bool_attr(pair.private, Attribute.TOKEN) is False:
        problems.append("it is not stored on the token (CKA_TOKEN is false)")
    if problems:
        raise KeyPolicyError(
            f"The key just generated on {tok.info.describe()} is not what was asked for: "
            f"{'; '.join(problems)}. It was deleted again.",
            hint="This token does not honour the key template; use another token model.",
        )


# --- signing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SignPlan:
    mechanism: Any
    param: Any
    prehash: Callable[[bytes], bytes] | None
    der: bool


def _digest(name: str) -> Callable[[bytes], bytes]:
    def run(data: bytes) -> bytes:
        return hashlib.new(name, data).digest()

    return run


_PSS = {
    "rsassa-pss-sha256": (
        "sha256",
        Mechanism.SHA256_RSA_PKCS_PSS,
        Mechanism.SHA256,
        MGF.SHA256,
        32,
    ),
    "rsassa-pss-sha384": (
        "sha384",
        Mechanism.SHA384_RSA_PKCS_PSS,
        Mechanism.SHA384,
        MGF.SHA384,
        48,
    ),
    "rsassa-pss-sha512": (
        "sha512",
        Mechanism.SHA512_RSA_PKCS_PSS,
        Mechanism.SHA512,
        MGF.SHA512,
        64,
    ),
}
_ECDSA = {
    "ecdsa-sha2-nistp256": "sha256",
    "ecdsa-sha2-nistp384": "sha384",
    "ecdsa-sha2-nistp521": "sha512",
}


def _sign_plan(tok: _Tok, public_key: SSlibKey) -> _SignPlan:
    scheme = public_key.scheme
    mechs = _mechanisms(tok)

    def has(m: Any) -> bool:
        return mechs is None or m in mechs

    if scheme == "ed25519":
        if not has(Mechanism.EDDSA):
            raise _unsupported(tok, "Ed25519", "sign with")
        return _SignPlan(Mechanism.EDDSA, None, None, der=False)
    if scheme in _ECDSA:
        if not has(Mechanism.ECDSA):
            raise _unsupported(tok, "ECDSA", "sign with")
        return _SignPlan(Mechanism.ECDSA, None, _digest(_ECDSA[scheme]), der=True)
    if scheme in _PSS:
        hname, combined, hmech, mgf, salt = _PSS[scheme]
        if mechs is None or combined in mechs:
            return _SignPlan(combined, (hmech, mgf, salt), None, der=False)
        if Mechanism.RSA_PKCS_PSS in mechs:
            return _SignPlan(Mechanism.RSA_PKCS_PSS, (hmech, mgf, salt), _digest(hname), der=False)
        raise _unsupported(tok, "RSA-PSS", "sign with")
    raise MechanismNotSupported(
        f"The enrolled key uses the signature scheme {scheme!r}, which tuf-ceremony cannot "
        "make on a token.",
        hint=f"Use one of: {', '.join(s for _, s in KEY_TYPES.values())}.",
    )


def _stderr_notify(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _SignerState:
    """Everything an open signer holds; close() ends the session and the login."""

    def __init__(
        self,
        tok: _Tok,
        session: Any,
        private: Any,
        plan: _SignPlan,
        pin: str | None,
        notify: Notifier,
        pair: _Pair,
    ) -> None:
        self.tok = tok
        self.session = session
        self.private = private
        self.plan = plan
        self.pin = pin
        self.notify = notify
        self.pair = pair
        self.closed = False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.pin = None
        self.private = None
        _close_session(self.session)
        _release_login(self.tok)


class Pkcs11Signer(Signer):
    """A securesystemslib Signer for a key on a PKCS#11 token.

    Get one from `open_signer` (a context manager) or, through securesystemslib, from
    `Signer.from_priv_key_uri("pkcs11:...", public_key, secrets_handler)` after
    `register_signer()`; call close() when done with the latter.
    """

    SCHEME = "pkcs11"

    def __init__(self, state: _SignerState, public_key: SSlibKey) -> None:
        self._state = state
        self._public_key = public_key
        self._finalizer = weakref.finalize(self, state.close)

    @property
    def public_key(self) -> SSlibKey:
        return self._public_key

    @property
    def token(self) -> TokenInfo:
        return self._state.tok.info

    @property
    def uri(self) -> str:
        """Canonical URI of the token key this signer uses."""
        pair = self._state.pair
        return key_uri(self._state.tok.info, pair.key_id, pair.label)

    def close(self) -> None:
        """End the session (and the login, if this signer made it). Idempotent."""
        self._finalizer()

    def sign(self, payload: bytes) -> Signature:
        """Sign `payload` on the token; the signature is verified before it is returned."""
        state = self._state
        info = state.tok.info
        if state.closed or state.private is None:
            raise TokenError(
                f"The signer for {info.describe()} was already closed.",
                hint="This is a bug in the calling code.",
            )
        plan = state.plan
        data = plan.prehash(payload) if plan.prehash else payload
        ctx = _Ctx(
            f"signing with the key {_describe_pair(state.pair)}",
            info.module_path,
            info,
            slot=state.tok.slot,
            lib=state.tok.lib,
        )
        if _needs_touch(info):
            state.notify(f"Touch {info.describe()} now (if it blinks) to approve the signature.")
            ctx.touch_prompted = True
        with _translating(ctx):
            raw = bytes(
                state.private.sign(
                    data, mechanism=plan.mechanism, mechanism_param=plan.param, pin=state.pin
                )
            )
        try:
            sig = encoding.ecdsa_raw_to_der(raw) if plan.der else raw
        except ValueError as e:
            raise self._bad(f"it is not an ECDSA signature ({e})") from e
        signature = Signature(self._public_key.keyid, sig.hex())
        try:
            self._public_key.verify_signature(signature, payload)
        except (UnverifiedSignatureError, VerificationError) as e:
            raise self._bad("it does not verify with the enrolled public key") from e
        return signature

    def _bad(self, why: str) -> BadTokenSignature:
        return BadTokenSignature(
            f"{_cap(self._state.tok.info.describe())} returned a signature that is wrong: {why}. "
            "It was not written.",
            hint="Run the command again. If it happens again, stop: the token may be faulty "
            "or not what it claims; record its serial in the ceremony log.",
        )

    @classmethod
    def from_priv_key_uri(
        cls, priv_key_uri: str, public_key: Key, secrets_handler: SecretsHandler | None = None
    ) -> Pkcs11Signer:
        """securesystemslib entry point for 'pkcs11:' URIs; secrets_handler('pin') gives the PIN.

        The module comes from the URI (module-path / module-name), CEREMONY_PKCS11_MODULE,
        or the default list. Imported/extractable keys are refused. Touch prompts go to stderr.
        """
        if not isinstance(public_key, SSlibKey):
            raise ValueError(f"expected an SSlibKey, got {type(public_key).__name__}")
        handler = secrets_handler

        def provider(_request: PinRequest) -> str:
            if handler is None:
                raise TokenError("The token needs a PIN, and no secrets handler was given.")
            return handler("pin")

        return _open_signer(
            priv_key_uri,
            module=None,
            public_key=public_key,
            pin_provider=provider,
            notify=_stderr_notify,
            purpose=f"sign with key {_short(public_key)}…",
            allow_imported=False,
        )


def register_signer() -> None:
    """Make securesystemslib's Signer.from_priv_key_uri() handle 'pkcs11:' URIs."""
    SIGNER_FOR_URI_SCHEME[Pkcs11Signer.SCHEME] = Pkcs11Signer


@_guarded("opening the key for signing")
def _open_signer(
    uri: str,
    *,
    module: str | None,
    public_key: SSlibKey,
    pin_provider: PinProvider,
    notify: Notifier,
    purpose: str,
    allow_imported: bool,
) -> Pkcs11Signer:
    parsed = _parse(uri)
    path = resolve_module(parsed, module)
    ctx = _Ctx("opening the key for signing", path)
    tok = _select_token(path, parsed, ctx)
    session = _open_session(tok, ctx)
    logged = False
    pin: str | None = None
    try:
        pair = _pick_for_signing(tok, session, parsed, public_key, ctx, final=False)
        plan = _sign_plan(tok, public_key)
        pin = _acquire_login(tok, purpose, pin_provider, ctx, keep_pin=True)
        logged = True
        if pair is None or pair.private is None:
            pair = _pick_for_signing(tok, session, parsed, public_key, ctx, final=True)
        assert pair is not None
        if pair.private is None:
            raise KeyNotFound(
                f"{_cap(tok.info.describe())} has the public key ({_describe_pair(pair)}) but no "
                "private key with the same id, so it cannot sign.",
                hint="Check the key URI; the private key may be on another token.",
            )
        attributes = _attributes(pair.private)
        problems = attributes.problems()
        if problems and not allow_imported:
            raise _policy_error(tok, pair, problems)
        if attributes.always_authenticate:
            if pin is None:
                pin = _ask_pin(tok, purpose, pin_provider, ctx)
        else:
            pin = None
        state = _SignerState(tok, session, pair.private, plan, pin, notify, pair)
        pin = None
        return Pkcs11Signer(state, public_key)
    except BaseException:
        pin = None
        _close_session(session)
        if logged:
            _release_login(tok)
        raise


def _pick_for_signing(
    tok: _Tok, session: Any, uri: Pkcs11Uri, public_key: SSlibKey, ctx: _Ctx, *, final: bool
) -> _Pair | None:
    """The pair to sign with, checked against public_key; None if not decidable yet (pre-login)."""
    pairs = _find_pairs(session, uri, ctx)
    if uri.selects_key:
        if not pairs and not final:
            return None
        pair = _one_pair(pairs, uri, tok)
        with _translating(ctx):
            found = _sslib_key(pair)
        if found is None and pair.public is None and not final:
            return pair if pair.private is not None else None
        if found != public_key:
            raise _mismatch(tok, pair, found, public_key)
        return pair
    with _translating(ctx):
        matching = [p for p in pairs if _sslib_key(p) == public_key]
    if matching:
        return matching[0]
    if not final:
        return None
    raise KeyNotFound(
        f"{_cap(tok.info.describe())} has no key with keyid {_short(public_key)}….",
        hint="Insert the token that holds this key, or give its key URI.",
    )


@contextlib.contextmanager
def open_signer(
    uri: str,
    *,
    module: str | None,
    public_key: SSlibKey,
    pin_provider: PinProvider,
    notify: Notifier,
    purpose: str,
    allow_imported: bool = False,
) -> Iterator[Pkcs11Signer]:
    """Open the token key for signing as `public_key`; one session, one PIN prompt.

    Checks, in order: the token (by serial/label), the key (by id/label, else by public key)
    equals public_key (KeyMismatch otherwise), the mechanism is supported, the PIN flags
    (PinLocked; final-try reported to the prompt), login, the key's attributes. The session
    is closed and the login ended when the block exits.
    """
    signer = _open_signer(
        uri,
        module=module,
        public_key=public_key,
        pin_provider=pin_provider,
        notify=notify,
        purpose=purpose,
        allow_imported=allow_imported,
    )
    try:
        yield signer
    finally:
        signer.close()


# --- attestation -----------------------------------------------------------------------------

YKCS11_F9_ID = bytes([25])  # ykcs11's CKA_ID for slot f9 (the attestation key and its certificate)


def _certificates(session: Any, key_id: bytes, ctx: _Ctx) -> list[tuple[str, bytes]]:
    with _translating(ctx):
        objs = list(
            session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.ID: key_id})
        )
        out = []
        for obj in objs:
            value = _attr(obj, Attribute.VALUE)
            if value:
                out.append((_text(_attr(obj, Attribute.LABEL) or ""), bytes(value)))
    return out


def _load_cert(der: bytes) -> x509.Certificate | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. ykcs11's placeholder certificates have serial 0
        try:
            return x509.load_der_x509_certificate(der)
        except ValueError:
            return None


@_guarded("reading the attestation")
def read_attestation(
    uri: str, *, module: str | None, pin_provider: PinProvider | None = None
) -> tuple[bytes, bytes]:
    """YubiKey PIV: (attestation certificate of the key, slot f9 device certificate), DER.

    Through ykcs11 the attestation certificate is a CKO_CERTIFICATE with the key's CKA_ID,
    made by the device when read; the f9 certificate has CKA_ID 25. This returns the bytes
    only; verifying the chain is the attestation checker's job.
    """
    parsed = _parse(uri)
    path = resolve_module(parsed, module)
    ctx = _Ctx("reading the attestation", path)
    tok = _select_token(path, parsed, ctx)
    session = _open_session(tok, ctx)
    logged = False
    try:
        pairs = _find_pairs(session, parsed, ctx)
        if not pairs and pin_provider is not None and tok.info.login_required:
            _acquire_login(
                tok,
                f"read the attestation on {tok.info.describe()}",
                pin_provider,
                ctx,
                keep_pin=False,
            )
            logged = True
            pairs = _find_pairs(session, parsed, ctx)
        pair = _one_pair(pairs, parsed, tok)
        f9_certs = [c for _, c in _certificates(session, YKCS11_F9_ID, ctx)]
        key_certs = _certificates(session, pair.key_id, ctx) if pair.key_id != YKCS11_F9_ID else []
        no_attestation = f"{_cap(tok.info.describe())} offers no attestation for the key ({_describe_pair(pair)})"
        if not f9_certs:
            raise TokenError(
                f"{no_attestation}: it has no slot f9 attestation certificate (CKA_ID 25). "
                "Attestation is a YubiKey PIV feature (through ykcs11).",
                hint="Use ykcs11 (libykcs11.so) as the module for YubiKeys; other tokens "
                "cannot prove on-device key generation this way.",
            )
        parsed_f9 = [(c, der) for der in f9_certs if (c := _load_cert(der)) is not None]
        # ykcs11 labels them "X.509 Certificate for PIV Attestation 9c"; look at those first
        key_certs.sort(key=lambda lc: "attestation" not in lc[0].lower())
        reasons: list[str] = []
        for label, der in key_certs:
            cert = _load_cert(der)
            if cert is None:
                continue
            for f9, f9_der in parsed_f9:
                if cert.issuer == f9.subject and cert.issuer != cert.subject:
                    return der, f9_der
            if "attestation" in label.lower() and cert.issuer == cert.subject:
                # ykcs11's placeholder when the device refused: its subject says why
                names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
                reasons.append(str(names[0].value) if names else cert.subject.rfc4514_string())
        detail = f" (ykcs11 says: {reasons[0]})" if reasons else ""
        raise TokenError(
            f"{no_attestation}: no certificate signed by the device's f9 key was found"
            f"{detail}. Keys imported into a YubiKey cannot be attested.",
            hint="Generate the key on the YubiKey itself, then enrol it again.",
        )
    finally:
        _close_session(session)
        if logged:
            _release_login(tok)
