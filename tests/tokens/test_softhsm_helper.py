"""tests/softhsm.py itself: one conf per process, tokens made later are visible."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ceremony.errors import TokenError
from ceremony.tokens import softhsm as setup
from ceremony.tokens.pkcs11 import generate_key, list_tokens
from tests.softhsm import SoftHsm, create_imported_key, get_softhsm

pytestmark = pytest.mark.softhsm


def test_one_configuration_per_process(softhsm: SoftHsm) -> None:
    assert get_softhsm() is softhsm
    assert os.environ["SOFTHSM2_CONF"] == str(softhsm.conf)
    assert str(softhsm.tokens_dir) in softhsm.conf.read_text()


def test_tokens_made_after_the_module_was_loaded_are_visible(softhsm: SoftHsm) -> None:
    first = softhsm.init_token()
    generate_key(
        first.uri,
        module=softhsm.module,
        key_type="ed25519",
        label="k",
        pin_provider=first.pin_provider(),
    )
    assert first.serial in {t.token.serial for t in list_tokens(softhsm.module)}
    second = softhsm.init_token()  # the module is loaded and was used: re-listing sees it
    serials = {t.token.serial for t in list_tokens(softhsm.module)}
    assert {first.serial, second.serial} <= serials
    assert first.serial != second.serial and second.label != first.label


def test_imported_key_helper(softhsm: SoftHsm) -> None:
    token = softhsm.init_token()
    create_imported_key(token, label="imp", key_id=b"\x07", key_type="ed25519")
    listing = next(t for t in list_tokens(softhsm.module) if t.token.serial == token.serial)
    assert [(k.label, k.key_id, k.key_type) for k in listing.keys] == [("imp", b"\x07", "ed25519")]


def test_set_up_refuses_without_softhsm_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(setup, "MODULE_PATHS", (str(tmp_path / "absent" / "libsofthsm2.so"),))
    assert setup.missing() is not None
    with pytest.raises(TokenError, match="SoftHSM2 is not installed"):
        setup.set_up(tmp_path / "hsm")
    assert not (tmp_path / "hsm").exists()


def test_init_token_failure_is_a_token_error(softhsm: SoftHsm, tmp_path: Path) -> None:
    hsm = setup.set_up(tmp_path / "hsm", module=softhsm.module)
    assert hsm.conf.read_text() == (
        f"directories.tokendir = {hsm.tokens_dir}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    with pytest.raises(TokenError, match="softhsm2-util --init-token failed") as e:
        hsm.init_token("short-pin", pin="1", so_pin="2")  # SoftHSM: PINs of 4..255 characters
    assert "'short-pin'" in str(e.value) and ": " in str(e.value)
