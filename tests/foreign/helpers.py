"""Test helpers for tests/foreign: software keys and python-tuf-made metadata (no token)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Key, Metadata, Root
from tuf.api.serialization.json import CanonicalJSONSerializer

KeyT = TypeVar("KeyT", bound=Key)

FIXTURES = Path(__file__).parent / "fixtures"
RSTUF_FIXTURES = FIXTURES / "rstuf-1.0.0b1"
EXPIRES = datetime(2030, 1, 1, tzinfo=UTC)


def signer(kind: str = "ed25519") -> CryptoSigner:
    if kind == "ed25519":
        return CryptoSigner.generate_ed25519()
    if kind == "p256":
        return CryptoSigner.generate_ecdsa()
    if kind == "rsa":
        return CryptoSigner.generate_rsa(scheme="rsassa-pss-sha256", size=3072)
    raise ValueError(kind)


def rstuf_root(
    root_signers: list[CryptoSigner], online: CryptoSigner, *, threshold: int = 2
) -> Metadata[Root]:
    """A root as `rstuf admin ceremony` makes it (cli/admin/helpers.py), unsigned."""
    root = Root(expires=EXPIRES)
    for i, s in enumerate(root_signers):
        key = s.public_key
        key.unrecognized_fields["x-rstuf-key-name"] = f"holder {i}"
        root.add_key(key, "root")
    root.roles["root"].threshold = threshold
    key = online.public_key
    key.unrecognized_fields["x-rstuf-key-name"] = "online"
    key.unrecognized_fields["x-rstuf-online-key-uri"] = f"fn:{key.keyid}"
    for role in ("timestamp", "snapshot", "targets"):
        root.add_key(key, role)
    return Metadata(root)


def signed_bytes(md: Metadata[Any]) -> bytes:
    return CanonicalJSONSerializer().serialize(md.signed)


def dump(value: Any, **kwargs: Any) -> bytes:
    return json.dumps(value, **kwargs).encode()


def with_keyid_of_content(key: KeyT) -> KeyT:
    """tuf-on-ci's keyid rule: SHA-256 of the key's canonical JSON, custom fields included."""
    import hashlib

    from securesystemslib.formats import encode_canonical

    text = encode_canonical(key.to_dict())
    assert isinstance(text, str)
    key.keyid = hashlib.sha256(text.encode()).hexdigest()
    return key
