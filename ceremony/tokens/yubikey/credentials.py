"""The PIN and the PIV management key: asked like a PIN, factory values refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ceremony.errors import TokenError
from ceremony.tokens.types import PinProvider, PinRequest, is_factory_default_pin
from ceremony.tokens.yubikey.checks import mgmt_name, parse_management_key
from ceremony.tokens.yubikey.failures import cap, pin_error
from ceremony.tokens.yubikey.values import (
    DEFAULT_MANAGEMENT_KEY,
    SW_SECURITY,
    ManagementKeyProvider,
    ManagementKeyRequest,
    YubiKeyInfo,
)

if TYPE_CHECKING:
    from yubikit.piv import PivSession


def ask_pin(info: YubiKeyInfo, purpose: str, pin_provider: PinProvider, piv: PivSession) -> str:
    from yubikit.core import NotSupportedError

    try:
        left = piv.get_pin_metadata().attempts_remaining
    except NotSupportedError:
        left = piv.get_pin_attempts()
    if left == 0:
        raise pin_error(info, 0)
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


def authenticate(
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
            f"{cap(info.describe())} uses a management key derived from the PIN (an old "
            "ykman/YubiKey PIV Manager setting, which Yubico deprecated). tuf-ceremony does not "
            "use it. Nothing was generated.",
            hint="Set a new random management key (`ykman piv access change-management-key "
            "--generate --protect`), then try again.",
        )
    algorithm = piv.management_key_type
    if pivman.has_stored_key:
        pin = ask_pin(
            info, f"{purpose} (the management key is protected by the PIN)", pin_provider, piv
        )
        piv.verify_pin(pin)
        del pin
        stored = get_pivman_protected_data(piv).key
        if stored is None:
            raise TokenError(
                f"{cap(info.describe())} says its management key is stored protected by the "
                "PIN, but the key is not there. Nothing was generated.",
                hint="Set the management key again (`ykman piv access change-management-key "
                "--generate --protect`).",
            )
        key = bytes(stored)
        if key == DEFAULT_MANAGEMENT_KEY:
            raise TokenError(
                f"{cap(info.describe())} stores the factory default management key. Nothing "
                "was generated.",
                hint="Change it (`ykman piv access change-management-key --generate --protect`).",
            )
    else:
        text = management_key_provider(
            ManagementKeyRequest(
                device=info,
                purpose=purpose,
                algorithm=mgmt_name(algorithm),
                hex_length=int(algorithm.key_len) * 2,
            )
        )
        key = parse_management_key(text, algorithm, info)
    try:
        piv.authenticate(key)
    except ApduError as e:
        if e.sw != SW_SECURITY:
            raise
        raise TokenError(
            f"The management key is wrong for {info.describe()} (the YubiKey refused it). "
            "Nothing was changed on the YubiKey; a wrong management key does not count "
            "against any retry counter.",
            hint="Type the management key again exactly as recorded for this YubiKey.",
        ) from None
    finally:
        del key
