"""Login and PIN safety.

PKCS#11 login state is per token and per PROCESS: one C_Login applies to every session the
application has with that token, and C_Logout ends it for all of them (PKCS#11 v2.40 base
specification, section 5.6, C_Login and C_Logout). So this module keeps one process-wide
registry of the logins it made, with a use count: one C_Login (one PIN prompt) serves every
operation of the process on that token, and the session that logged in is closed (python-
pkcs11 logs out first) when the last user releases it.

PIN safety: the token's PIN flags (CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY,
CKF_USER_PIN_LOCKED in CK_TOKEN_INFO, section 3.2) are read fresh before every prompt; a
locked PIN is never tried; the PIN provider is asked once per login and a wrong PIN is never
retried by the tool; the PIN is dropped as soon as the login is done, unless the key needs it
at each signature (CKA_ALWAYS_AUTHENTICATE).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import pkcs11
from pkcs11 import TokenFlag
from pkcs11 import exceptions as pkx

from ceremony.errors import PinIncorrect, TokenError
from ceremony.tokens.pkcs11.errors import Ctx, cap, ckr_name, locked_error, translating
from ceremony.tokens.pkcs11.session import Pkcs11Session, TokenHandle, fresh_info
from ceremony.tokens.types import PinProvider, PinRequest, TokenInfo


@dataclass
class _LoginRef:
    session: Pkcs11Session | None  # the session that did C_Login (its close() logs out)
    users: int = 1


# PKCS#11 login state is per token and per process: one C_Login serves every session of the
# process on that token, and C_Logout (done by closing the login session) ends it for all.
_LOGINS: dict[tuple[str, int, str], _LoginRef] = {}


def forget_logins() -> None:
    """Forget every login this process made. Call after the module was finalised and
    re-initialised (python-pkcs11 `lib.reinitialize()`), which ends all sessions and logins."""
    _LOGINS.clear()


def _login_key(tok: TokenHandle) -> tuple[str, int, str]:
    return (tok.module, tok.info.slot_id, tok.info.serial)


def ask_pin(tok: TokenHandle, purpose: str, pin_provider: PinProvider, ctx: Ctx) -> str:
    """Read the flags, refuse a locked PIN, ask the provider exactly once."""
    with translating(ctx):
        info = fresh_info(tok)
    ctx.token = info
    if info.pin_locked:
        raise locked_error(info)
    return pin_provider(
        PinRequest(
            token=info, purpose=purpose, count_low=info.pin_count_low, final_try=info.pin_final_try
        )
    )


def pin_state_text(info: TokenInfo) -> str:
    """What the token reports after a wrong PIN, in words: the next wrong PIN locks it; a
    low count (SoftHSM2: its flag after any wrong PIN, and it never locks); or nothing."""
    if info.pin_final_try:
        return (
            "The token now reports that the NEXT wrong PIN LOCKS it: do not try again unless "
            "you are sure of the PIN."
        )
    if info.pin_count_low and info.is_softhsm:
        return (
            "SoftHSM2 now shows its 'PIN count low' flag, as it does after any wrong PIN; it "
            "never locks (a rehearsal token), and the flag clears at the next right PIN."
        )
    if info.pin_count_low:
        return "The token now reports a low PIN count: few tries are left before it locks."
    return "The token does not report how many tries are left."


def _wrong_pin(tok: TokenHandle, purpose: str, e: pkx.PKCS11Error) -> TokenError:
    try:
        info = fresh_info(tok)
    except pkx.PKCS11Error:
        info = tok.info
    if info.pin_locked or isinstance(e, pkx.PinLocked):
        return locked_error(info, just_locked=True)
    state = " " + pin_state_text(info)
    return PinIncorrect(
        f"The PIN for {info.describe()} was not accepted ({ckr_name(e)}).{state} "
        "Nothing was written.",
        hint="Run the command again only when you are sure of the PIN; the tool never retries "
        "by itself.",
    )


def acquire_login(
    tok: TokenHandle, purpose: str, pin_provider: PinProvider | None, ctx: Ctx, *, keep_pin: bool
) -> str | None:
    """Make sure the process is logged in to `tok`; return the PIN if asked to keep it.

    Returns None when the process was already logged in (no prompt), when the token needs
    no login, or when keep_pin is False. Pair every call with release_login.
    """
    key = _login_key(tok)
    ref = _LOGINS.get(key)
    if ref is not None:
        ref.users += 1
        return None
    with translating(ctx):
        info = fresh_info(tok)
    ctx.token = info
    if info.pin_locked:
        raise locked_error(info)
    if not info.login_required:
        _LOGINS[key] = _LoginRef(None)
        return None
    if int(tok.token.flags) & TokenFlag.PROTECTED_AUTHENTICATION_PATH:
        with translating(ctx):
            try:
                pad_session = tok.token.open(user_pin=pkcs11.PROTECTED_AUTH)
            except pkx.PinIncorrect as e:
                raise _wrong_pin(tok, purpose, e) from e
        _LOGINS[key] = _LoginRef(pad_session)
        return None
    if pin_provider is None:
        raise TokenError(
            f"{cap(info.describe())} needs its PIN for {purpose}, and no PIN prompt was given.",
            hint="This is a bug in the calling code: pass a PIN provider.",
        )
    pin: str | None = pin_provider(
        PinRequest(
            token=info, purpose=purpose, count_low=info.pin_count_low, final_try=info.pin_final_try
        )
    )
    session: Pkcs11Session | None = None
    try:
        with translating(ctx):
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


def release_login(tok: TokenHandle) -> None:
    """End one use of the login made by acquire_login; the last one logs out."""
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
