"""yubikit and pyscard failures as `ceremony.errors` paragraphs (exit 3 for the device)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ceremony.errors import (
    CeremonyError,
    DeviceRemoved,
    MechanismNotSupported,
    PinIncorrect,
    PinLocked,
    TokenError,
    TokenNotFound,
    TouchNotDetected,
)
from ceremony.tokens.yubikey.values import (
    SW_BLOCKED,
    SW_CONDITIONS,
    SW_SECURITY,
    YubiKeyInfo,
)


def missing_library(e: ImportError) -> TokenError:
    return TokenError(
        "Yubico's yubikey-manager library (yubikit, with pyscard for PC/SC) cannot be loaded "
        f"({e}), so YubiKeys cannot be used directly.",
        hint="Install tuf-ceremony with its dependencies (scripts/install-offline.sh), and the "
        "PC/SC service and library (Debian: pcscd, libpcsclite1).",
    )


def describe(info: YubiKeyInfo | None) -> str:
    return info.describe() if info is not None else "the YubiKey"


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


@contextlib.contextmanager
def translating(doing: str, info: YubiKeyInfo | None) -> Iterator[None]:
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

    who = describe(info)
    try:
        yield
    except CeremonyError:
        raise
    except InvalidPinError as e:
        raise pin_error(info, e.attempts_remaining) from None
    except NotSupportedError as e:
        raise MechanismNotSupported(
            f"{cap(who)} cannot do this while {doing}: {e}.",
            hint="YubiKey firmware cannot be upgraded: choose a key type and policies this "
            "firmware supports, or use a newer YubiKey.",
        ) from None
    except ApduError as e:
        raise apdu_error(e.sw, doing, info) from None
    except ApplicationNotAvailableError:
        raise TokenError(
            f"{cap(who)} has no PIV application enabled (found while {doing}).",
            hint="Enable PIV on the YubiKey (`ykman config usb --enable PIV`), then try again.",
        ) from None
    except (BadResponseError, CommandError) as e:
        raise TokenError(
            f"{cap(who)} gave an unexpected answer while {doing} ({e}).",
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


def pin_error(info: YubiKeyInfo | None, left: int) -> TokenError:
    who = describe(info)
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


def apdu_error(sw: int, doing: str, info: YubiKeyInfo | None) -> TokenError:
    who = describe(info)
    if sw == SW_CONDITIONS:
        return TouchNotDetected(
            f"{cap(who)} refused while {doing}: the touch was not detected in time "
            f"(status {sw:04X}).",
            hint="Touch the YubiKey's gold contact when it blinks, then run the command again.",
        )
    if sw == SW_BLOCKED:
        return PinLocked(
            f"{cap(who)} refused while {doing}: the PIN is blocked (status {sw:04X}).",
            hint="Unblock it with the PUK (`ykman piv access unblock-pin`).",
        )
    if sw == SW_SECURITY:
        return TokenError(
            f"{cap(who)} refused while {doing}: security status not satisfied (status "
            f"{sw:04X}; the PIN or the management key was not accepted).",
            hint="Run the command again and give the right PIN and management key.",
        )
    return TokenError(
        f"{cap(who)} answered with an error while {doing} (ISO 7816 status {sw:04X}).",
        hint="Take the YubiKey out, put it back, and try again.",
    )
