"""`ceremony.tokens.yubikey` without a device: lazy imports, argument checks, ykcs11 names.

The device behaviour is tested on the PIV emulator rig (tests/rig/test_yubikey_keygen.py).
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from securesystemslib.signer import SSlibKey

from ceremony import errors
from ceremony.tokens import yubikey as yk

_YUBICO = ("yubikit", "ykman", "smartcard", "fido2")

_PROBE = """
import sys
{body}
loaded = sorted(m for m in sys.modules if m.split('.')[0] in {names!r})
print(loaded)
"""


@pytest.mark.parametrize(
    "body",
    [
        "import ceremony.tokens.yubikey",
        "sys.argv = ['ceremony', '--help']\nfrom ceremony.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass",
    ],
    ids=["import", "ceremony --help"],
)
def test_yubico_libraries_are_loaded_only_when_a_yubikey_is_used(body: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(body=body, names=_YUBICO)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_the_probe_sees_a_loaded_library() -> None:
    """The lazy-import test above can fail: the same probe sees yubikit once it is imported."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(body="import yubikit.piv", names=_YUBICO)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "yubikit.piv" in out


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"slot": "9b"}, "9b is the management key"),
        ({"slot": "f9"}, "f9 the device's own attestation key"),
        ({"key_type": "rsa-2048"}, "Key type 'rsa-2048' is not one of"),
        ({"pin_policy": "sometimes"}, "PIN policy 'sometimes'"),
        ({"touch_policy": "maybe"}, "Touch policy 'maybe'"),
    ],
)
def test_bad_arguments_are_input_errors_before_any_device_access(
    kwargs: dict[str, Any], words: str
) -> None:
    def never(_request: object) -> str:
        raise AssertionError("nothing may be asked")

    def never_notify(_message: str) -> None:
        raise AssertionError("nothing may be shown")

    with pytest.raises(errors.InputError) as exc:
        yk.generate_piv_key(
            12345678,
            pin_provider=never,
            management_key_provider=never,
            notify=never_notify,
            **kwargs,
        )
    assert words in str(exc.value)
    assert exc.value.exit_code == 2


def test_ykcs11_key_ids_and_uri() -> None:
    assert yk.YKCS11_KEY_IDS["9a"] == 1 and yk.YKCS11_KEY_IDS["9c"] == 2
    assert yk.YKCS11_KEY_IDS["9e"] == 4 and yk.YKCS11_KEY_IDS["82"] == 5
    assert yk.YKCS11_KEY_IDS["95"] == 24
    assert set(yk.YKCS11_KEY_IDS) == set(yk.PIV_SLOTS)
    device = yk.YubiKeyInfo(12345678, "5.7.1", "usb-c-nano", False, "Yubico YubiKey")
    key = yk.GeneratedPivKey(
        device=device,
        slot="9c",
        key_type="ecdsa-p256",
        pin_policy="always",
        touch_policy="always",
        public_key=SSlibKey.from_crypto(ec.generate_private_key(ec.SECP256R1()).public_key()),
        public_key_der=b"",
        attestation_certificate=b"",
        device_certificate=b"",
        certificate_written=False,
        replaced=False,
    )
    assert key.pkcs11_key_id == b"\x02"
    assert key.pkcs11_uri() == (
        "pkcs11:token=YubiKey%20PIV%20%2312345678;serial=12345678;id=%02;type=private"
    )
    assert device.describe() == "YubiKey 12345678 (firmware 5.7.1, usb-c-nano)"
    assert device.token_info().label == "YubiKey PIV #12345678"


def test_ceremony_help_loads_neither_tuf_nor_pkcs11() -> None:
    body = (
        "sys.argv = ['ceremony', '--help']\nfrom ceremony.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    names = ("tuf", "pkcs11", *_YUBICO)
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(body=body, names=names)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"
