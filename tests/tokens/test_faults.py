"""Faults SoftHSM cannot produce, injected around the real SoftHSM objects (tests/tokens/faults.py)."""

from __future__ import annotations

import pytest
from pkcs11 import Mechanism, TokenFlag
from pkcs11 import exceptions as pkx
from securesystemslib.signer import SSlibKey

from ceremony import errors
from ceremony.tokens.pkcs11 import generate_key, list_tokens, login, open_signer, read_key
from ceremony.tokens.types import KEY_TYPES, TokenKeyInfo
from tests.softhsm import RecordingPinProvider, SoftToken
from tests.tokens.conftest import Keyring
from tests.tokens.faults import Faults, install_faults

pytestmark = pytest.mark.softhsm

YUBICO = "Yubico (www.yubico.com)"


def _open_and_sign(
    info: TokenKeyInfo,
    token: SoftToken,
    provider: RecordingPinProvider | None = None,
    notes: list[str] | None = None,
) -> None:
    key = info.public_key
    assert isinstance(key, SSlibKey)
    with open_signer(
        info.uri,
        module=token.module,
        public_key=key,
        pin_provider=provider or token.pin_provider(),
        notify=(notes if notes is not None else []).append,
        purpose="sign root",
    ) as signer:
        key.verify_signature(signer.sign(b"payload"), b"payload")


@pytest.fixture(autouse=True)
def _no_login_left_behind() -> object:
    yield
    assert login._LOGINS == {}


# --- PIN flags ----------------------------------------------------------------------------------


def test_locked_pin_is_never_tried(keyring: Keyring, monkeypatch: pytest.MonkeyPatch) -> None:
    faults = install_faults(
        monkeypatch, Faults(extra_flags=TokenFlag.USER_PIN_LOCKED, only_serial=keyring.token.serial)
    )
    provider = keyring.token.pin_provider()
    with pytest.raises(errors.PinLocked) as info:
        _open_and_sign(keyring.keys["ecdsa-p256"], keyring.token, provider)
    assert provider.requests == [] and "login" not in faults.events
    message = str(info.value) + " " + (info.value.hint or "")
    assert keyring.token.serial in message
    assert "PUK" in message and "SO PIN" in message and "DESTROYS the keys" in message
    assert info.value.exit_code == 3


@pytest.mark.parametrize(
    ("flag", "count_low", "final_try"),
    [(TokenFlag.USER_PIN_COUNT_LOW, True, False), (TokenFlag.USER_PIN_FINAL_TRY, False, True)],
)
def test_low_count_and_final_try_reach_the_prompt(
    keyring: Keyring, monkeypatch: pytest.MonkeyPatch, flag: int, count_low: bool, final_try: bool
) -> None:
    install_faults(monkeypatch, Faults(extra_flags=flag, only_serial=keyring.token.serial))
    provider = keyring.token.pin_provider()
    _open_and_sign(keyring.keys["ed25519"], keyring.token, provider)
    assert len(provider.requests) == 1
    request = provider.requests[0]
    assert (request.count_low, request.final_try) == (count_low, final_try)
    assert request.purpose == "sign root"
    assert request.token.serial == keyring.token.serial


@pytest.mark.parametrize(
    ("after", "error", "text"),
    [
        # SoftHSM itself sets USER_PIN_COUNT_LOW after a wrong PIN, and says so in its words
        # since issue 11 (it never locks; the wording for other tokens: test_pin_state_text)
        (0, errors.PinIncorrect, "SoftHSM2 now shows its 'PIN count low' flag"),
        (TokenFlag.USER_PIN_FINAL_TRY, errors.PinIncorrect, "NEXT wrong PIN LOCKS it"),
        (TokenFlag.USER_PIN_LOCKED, errors.PinLocked, "has now LOCKED its user PIN"),
    ],
)
def test_wrong_pin_reports_what_the_token_says_next(
    softhsm_token: SoftToken,
    monkeypatch: pytest.MonkeyPatch,
    after: int,
    error: type[Exception],
    text: str,
) -> None:
    token = softhsm_token  # its own token: a wrong PIN changes the token's flags
    info = generate_key(
        token.uri,
        module=token.module,
        key_type="ecdsa-p256",
        label="k",
        pin_provider=token.pin_provider(),
    )
    faults = install_faults(
        monkeypatch, Faults(flags_after_failed_login=after, only_serial=token.serial)
    )
    provider = token.pin_provider("wrong-pin-0000")
    with pytest.raises(error) as exc:
        _open_and_sign(info, token, provider)
    assert text in str(exc.value)
    assert "wrong-pin-0000" not in str(exc.value)
    assert faults.events == ["login", "login-failed"]  # exactly one try, no retry
    assert len(provider.requests) == 1


# --- device removed, touch, bad signatures -------------------------------------------------------


@pytest.mark.parametrize(
    "exc", [pkx.DeviceRemoved, pkx.TokenNotPresent, pkx.SessionHandleInvalid, pkx.SessionClosed]
)
def test_device_removed_mid_sign(
    keyring: Keyring, monkeypatch: pytest.MonkeyPatch, exc: type[pkx.PKCS11Error]
) -> None:
    install_faults(monkeypatch, Faults(sign_error=exc, only_serial=keyring.token.serial))
    with pytest.raises(errors.DeviceRemoved) as info:
        _open_and_sign(keyring.keys["rsa-3072"], keyring.token)
    assert "Nothing was written" in str(info.value)
    assert "Re-insert" in (info.value.hint or "")
    assert keyring.token.serial in str(info.value)
    assert not isinstance(info.value, pkx.PKCS11Error)


def test_touch_prompt_and_touch_not_detected(
    keyring: Keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    faults = install_faults(
        monkeypatch, Faults(manufacturer=YUBICO, only_serial=keyring.token.serial)
    )
    notes: list[str] = []
    _open_and_sign(keyring.keys["ecdsa-p256"], keyring.token, notes=notes)
    assert len(notes) == 1 and notes[0].startswith("Touch ") and "now" in notes[0]

    faults.sign_error = pkx.UserNotLoggedIn
    notes.clear()
    with pytest.raises(errors.TouchNotDetected, match="Touch not detected"):
        _open_and_sign(keyring.keys["ecdsa-p256"], keyring.token, notes=notes)
    assert len(notes) == 1


def test_user_not_logged_in_without_touch_is_a_token_error(
    keyring: Keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_faults(
        monkeypatch, Faults(sign_error=pkx.UserNotLoggedIn, only_serial=keyring.token.serial)
    )
    with pytest.raises(errors.TokenError, match="nobody is logged in") as info:
        _open_and_sign(keyring.keys["ecdsa-p256"], keyring.token)
    assert not isinstance(info.value, errors.TouchNotDetected)


@pytest.mark.parametrize("key_type", list(KEY_TYPES))
def test_bad_signature_from_token(
    keyring: Keyring, monkeypatch: pytest.MonkeyPatch, key_type: str
) -> None:
    install_faults(monkeypatch, Faults(corrupt_signature=True, only_serial=keyring.token.serial))
    with pytest.raises(errors.BadTokenSignature) as info:
        _open_and_sign(keyring.keys[key_type], keyring.token)
    assert "was not written" in str(info.value)


def test_other_pkcs11_errors_name_the_return_value(
    keyring: Keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_faults(
        monkeypatch, Faults(sign_error=pkx.GeneralError, only_serial=keyring.token.serial)
    )
    with pytest.raises(errors.TokenError, match="CKR_GENERAL_ERROR") as info:
        _open_and_sign(keyring.keys["ed25519"], keyring.token)
    assert type(info.value) is errors.TokenError


# --- mechanisms, listing ---------------------------------------------------------------------------


def test_token_without_ed25519(
    keyring: Keyring, softhsm_token: SoftToken, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_faults(
        monkeypatch,
        Faults(hide_mechanisms=frozenset({Mechanism.EDDSA, Mechanism.EC_EDWARDS_KEY_PAIR_GEN})),
    )
    provider = softhsm_token.pin_provider()
    with pytest.raises(errors.MechanismNotSupported) as info:
        generate_key(
            softhsm_token.uri,
            module=softhsm_token.module,
            key_type="ed25519",
            label="k",
            pin_provider=provider,
        )
    assert "cannot generate Ed25519" in str(info.value) and "5.7" in str(info.value)
    assert provider.requests == []  # refused before asking for the PIN
    provider = keyring.token.pin_provider()
    with pytest.raises(errors.MechanismNotSupported, match="cannot sign with Ed25519"):
        _open_and_sign(keyring.keys["ed25519"], keyring.token, provider)
    assert provider.requests == []


def test_rsa_pss_without_the_combined_mechanism_hashes_on_the_host(
    keyring: Keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_faults(monkeypatch, Faults(hide_mechanisms=frozenset({Mechanism.SHA256_RSA_PKCS_PSS})))
    _open_and_sign(keyring.keys["rsa-3072"], keyring.token)


def test_smart_card_service_down(softhsm_token: SoftToken, monkeypatch: pytest.MonkeyPatch) -> None:
    install_faults(monkeypatch, Faults(slots_error=pkx.DeviceError))
    with pytest.raises(errors.TokenError) as info:
        list_tokens(softhsm_token.module)
    assert "pcscd" in (info.value.hint or "")


def test_read_key_on_locked_token(keyring: Keyring, monkeypatch: pytest.MonkeyPatch) -> None:
    install_faults(
        monkeypatch, Faults(extra_flags=TokenFlag.USER_PIN_LOCKED, only_serial=keyring.token.serial)
    )
    provider = keyring.token.pin_provider()
    with pytest.raises(errors.PinLocked):
        read_key(keyring.keys["ed25519"].uri, module=keyring.token.module, pin_provider=provider)
    assert provider.requests == []


@pytest.mark.parametrize(
    ("manufacturer", "low", "final", "text"),
    [
        ("Yubico (www.yubico.com)", True, False, "now reports a low PIN count: few tries are left"),
        ("SoftHSM project", True, False, "SoftHSM2 now shows its 'PIN count low' flag"),
        ("SoftHSM project", False, True, "the NEXT wrong PIN LOCKS it"),
        ("Yubico (www.yubico.com)", False, False, "does not report how many tries are left"),
    ],
)
def test_pin_state_text(manufacturer: str, low: bool, final: bool, text: str) -> None:
    from ceremony.tokens.pkcs11.login import pin_state_text
    from ceremony.tokens.types import TokenInfo

    info = TokenInfo(
        "m.so", 1, "t", manufacturer, "model", "1", "1.0", True, True, low, final, False
    )
    assert text in pin_state_text(info)
    assert ("never locks" in pin_state_text(info)) == (manufacturer == "SoftHSM project" and low)
