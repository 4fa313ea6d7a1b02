"""Fixtures for the token tests: SoftHSM (from tests.softhsm) and a shared keyring."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ceremony.tokens.pkcs11 import generate_key
from ceremony.tokens.types import KEY_TYPES, TokenKeyInfo
from tests.softhsm import SoftHsm, SoftToken, softhsm, softhsm_token, softhsm_token_factory

__all__ = ["Keyring", "keyring", "softhsm", "softhsm_token", "softhsm_token_factory"]


@dataclass(frozen=True)
class Keyring:
    """One token holding one on-token key of every ceremony key type (made once per session)."""

    token: SoftToken
    keys: dict[str, TokenKeyInfo]


@pytest.fixture(scope="session")
def keyring(softhsm: SoftHsm) -> Keyring:
    token = softhsm.init_token("keyring")
    keys = {
        kt: generate_key(
            token.uri,
            module=softhsm.module,
            key_type=kt,
            label=f"key-{kt}",
            pin_provider=token.pin_provider(),
        )
        for kt in KEY_TYPES
    }
    return Keyring(token, keys)
