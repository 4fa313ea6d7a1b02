"""tests/softhsm.py itself: one conf per process, tokens made later are visible."""

from __future__ import annotations

import os

import pytest

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
