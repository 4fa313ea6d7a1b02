"""ceremony.keys: enrolled-key records (public material and provenance only)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from securesystemslib.signer import SSlibKey

from ceremony.errors import StoreError
from ceremony.keys import (
    SOURCE_PKCS11,
    SOURCE_PREVIOUS_ROOT,
    SOURCE_PUBLIC_KEY,
    SOURCE_SOFTWARE,
    EnrolledKey,
    content_keyid,
    public_identity,
)
from tests.unit.factories import enrolled, key, same_key_other_keyid


def test_round_trip_keeps_everything() -> None:
    rec = enrolled(
        "root-a",
        uri="pkcs11:serial=123;id=%01",
        token={"label": "alice", "serial": "123", "manufacturer": "Yubico", "model": "YK5"},
        cka_id="01",
        attributes={"sensitive": True, "extractable": False},
        allow_imported=True,
        attestation={"format": "yubico-piv"},
        extra={"note": "x"},
    )
    data = json.loads(json.dumps(rec.to_dict()))
    back = EnrolledKey.from_dict(data, "keys/root-a.json")
    assert back == rec
    assert data["rehearsal_only"] is False
    assert "private" not in json.dumps(data)


def test_keyid_is_content_hash_for_new_keys() -> None:
    rec = enrolled("root-a")
    assert rec.keyid == content_keyid(rec.key.to_dict())
    assert rec.keyid_matches_content


def test_foreign_keyid_kept_verbatim() -> None:
    other = same_key_other_keyid(key("root-a"))
    rec = enrolled("old-1", other, source=SOURCE_PREVIOUS_ROOT)
    back = EnrolledKey.from_dict(rec.to_dict(), "keys/old-1.json")
    assert back.keyid == other.keyid
    assert not back.keyid_matches_content
    assert back.public_identity() == enrolled("root-a").public_identity()


@pytest.mark.parametrize(
    ("source", "extra", "device"),
    [
        (SOURCE_SOFTWARE, {}, "REHEARSAL software key"),
        (
            SOURCE_PKCS11,
            {"token": {"manufacturer": "Yubico", "model": "YubiKey 5C", "serial": "42"}},
            "Yubico YubiKey 5C serial 42",
        ),
        (SOURCE_PUBLIC_KEY, {}, "public key file (private key held elsewhere)"),
        (SOURCE_PREVIOUS_ROOT, {}, "key of the previous root (device not yet identified)"),
    ],
)
def test_device_description(source: str, extra: dict[str, Any], device: str) -> None:
    rec = enrolled("k", source=source, **extra)
    assert rec.device() == device
    assert rec.is_software == (source == SOURCE_SOFTWARE)
    assert rec.to_dict()["rehearsal_only"] == (source == SOURCE_SOFTWARE)


def _valid() -> dict[str, Any]:
    return enrolled("root-a").to_dict()


def _without(field: str) -> dict[str, Any]:
    d = _valid()
    del d[field]
    return d


def _with(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    d = _valid()
    target = d
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = value
    return d


@pytest.mark.parametrize(
    "data",
    [
        _without("name"),
        _without("keyid"),
        _without("key"),
        _without("provenance"),
        _with(("provenance", "source"), "usb-stick"),
        _with(("key", "keyval"), "not a mapping"),
        _with(("key",), None),
        [],
        "text",
        None,
    ],
    ids=[
        "no-name",
        "no-keyid",
        "no-key",
        "no-provenance",
        "unknown-source",
        "bad-keyval",
        "key-null",
        "list",
        "text",
        "null",
    ],
)
def test_damaged_record_is_a_store_error(data: Any) -> None:
    with pytest.raises(StoreError, match=r"keys/root-a\.json is not a valid enrolled-key file"):
        EnrolledKey.from_dict(data, "keys/root-a.json")


def test_public_identity_ignores_pem_line_breaks() -> None:
    k = key("p256", "ecdsa-p256")
    d = k.to_dict()
    pem = d["keyval"]["public"]
    d["keyval"] = {"public": pem.replace("\n", "\r\n") + "\n"}
    same = SSlibKey.from_dict("e" * 64, d)
    assert public_identity(same) == public_identity(k)
    assert public_identity(k) != public_identity(key("other-p256", "ecdsa-p256"))
