"""PKCS#11 errors, translated for the key holder.

Every python-pkcs11 exception (`pkcs11.exceptions.PKCS11Error`, one class per PKCS#11
return value, CK_RV) that reaches this package is turned into a `ceremony.errors.TokenError`
subclass here: what failed, on which token (label and serial), while doing what, and what
to do next, with the CKR_* name of the return value (PKCS#11 v2.40 base specification,
section 5.1 "Function return values") for the ceremony log.

- `translating(ctx)`: a `with` block that translates the errors raised inside it;
- `guarded(doing)`: a decorator for every public function, the last line of defence;
- `Ctx`: what the operation is doing, and on which token, for the message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import wraps
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from pkcs11 import exceptions as pkx

from ceremony.errors import (
    CeremonyError,
    DeviceRemoved,
    MechanismNotSupported,
    PinIncorrect,
    PinLocked,
    TokenError,
    TouchNotDetected,
)
from ceremony.tokens.types import TokenInfo

if TYPE_CHECKING:
    from ceremony.tokens.pkcs11.session import Pkcs11Library, Pkcs11Slot

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
class Ctx:
    """What the operation is doing, for error messages."""

    doing: str
    module: str = ""
    token: TokenInfo | None = None
    touch_prompted: bool = False
    # with lib: to check, after a device error, whether the token is still there
    slot: Pkcs11Slot | None = None
    lib: Pkcs11Library | None = None

    def where(self) -> str:
        """The token's description, else the module's."""
        if self.token:
            return self.token.describe()
        return f"the PKCS#11 module {self.module}" if self.module else "the token"


def _token_gone(ctx: Ctx) -> bool:
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


def translate(e: pkx.PKCS11Error, ctx: Ctx) -> TokenError:
    """The TokenError subclass for a python-pkcs11 exception: DeviceRemoved (the token was
    removed, or CKR_DEVICE_ERROR and it is gone), PinLocked, PinIncorrect, TouchNotDetected
    (CKR_USER_NOT_LOGGED_IN after a touch prompt), MechanismNotSupported, else TokenError;
    each message names the token, what was being done and the CKR_* name."""
    where = ctx.where()
    name = ckr_name(e)
    if isinstance(e, _REMOVED) or (isinstance(e, pkx.DeviceError) and _token_gone(ctx)):
        return DeviceRemoved(
            f"{cap(where)} stopped answering while {ctx.doing} ({name}): it was "
            "removed, lost power or was reset. Nothing was written.",
            hint="Re-insert the token and run the same command again.",
        )
    if isinstance(e, pkx.PinLocked):
        return locked_error(ctx.token)
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
            f"{cap(where)} says nobody is logged in while {ctx.doing} ({name}). "
            "Nothing was written.",
            hint="Run the command again; if it repeats, unplug the token, plug it back in "
            "and retry.",
        )
    if isinstance(e, _UNSUPPORTED):
        return MechanismNotSupported(
            f"{cap(where)} cannot do what is needed for {ctx.doing} ({name}).",
            hint="Use a key type this token supports, or a token that supports this one.",
        )
    if isinstance(e, pkx.UserAlreadyLoggedIn | pkx.AnotherUserAlreadyLoggedIn):
        return TokenError(
            f"{cap(where)} already has a login from another program or session "
            f"({name}) while {ctx.doing}.",
            hint="Close other programs using the token (or unplug and re-insert it), then retry.",
        )
    if isinstance(e, pkx.DeviceError):
        return TokenError(
            f"{cap(where)} reported a device error while {ctx.doing} ({name}). "
            "Nothing was written.",
            hint="Check the token is inserted (and, for smart cards and YubiKeys, that the "
            "pcscd service is running); unplug and re-insert it, then retry.",
        )
    if isinstance(e, pkx.TokenWriteProtected):
        return TokenError(
            f"{cap(where)} is write-protected ({name}).",
            hint="Use a token that can store new keys.",
        )
    if isinstance(e, pkx.DeviceMemory):
        return TokenError(
            f"{cap(where)} is full ({name}).",
            hint="Use another token; do not delete keys that may still be enrolled.",
        )
    if isinstance(e, pkx.FunctionCancelled):
        return TokenError(
            f"The operation was cancelled on {where} ({name}). Nothing was written.",
            hint="Run the command again.",
        )
    return TokenError(
        f"{cap(where)} failed while {ctx.doing}: {name}. Nothing was written.",
        hint="Run the command again; if it repeats, note the error name and the token serial "
        "for the ceremony log.",
    )


@contextlib.contextmanager
def translating(ctx: Ctx) -> Iterator[None]:
    """Translate a python-pkcs11 exception raised in the block (see translate)."""
    try:
        yield
    except CeremonyError:
        raise
    except pkx.PKCS11Error as e:
        raise translate(e, ctx) from e


_P = ParamSpec("_P")
_R = TypeVar("_R")


def guarded(doing: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Last line of defence: no python-pkcs11 exception leaves a public function."""

    def wrap(fn: Callable[_P, _R]) -> Callable[_P, _R]:
        @wraps(fn)
        def inner(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return fn(*args, **kwargs)
            except CeremonyError:
                raise
            except pkx.PKCS11Error as e:
                raise translate(e, Ctx(doing)) from e

        return inner

    return wrap


def locked_error(token: TokenInfo | None, *, just_locked: bool = False) -> PinLocked:
    """PinLocked (CKF_USER_PIN_LOCKED), with the way out; just_locked: by this attempt."""
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


def cap(text: str) -> str:
    """`text` with its first letter upper-case (a token description starts a sentence)."""
    return text[:1].upper() + text[1:]
