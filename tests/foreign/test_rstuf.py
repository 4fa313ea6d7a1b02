"""RSTUF hand-off files: real payloads from RSTUF's CLI round-trip byte for byte; payloads
built from the schema with python-tuf are written as RSTUF expects; hostile ones are refused."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
from tuf.api.metadata import DelegatedRole, Delegations, Metadata, Root, Signature

from ceremony.errors import InputError, ThresholdNotMet, VerificationFailed
from ceremony.foreign import rstuf
from ceremony.foreign.rstuf_rules import root_problems
from tests.foreign.helpers import RSTUF_FIXTURES, dump, rstuf_root, signer

FRESH = Path(os.environ.get("TUF_FOREIGN_FIXTURES", "build/foreign-fixtures")) / "rstuf"


def fixture_dirs() -> list[Path]:
    """The committed RSTUF 1.0.0b1 payloads, and those tests/foreign/make_fixtures.sh made
    now (CI runs it before the tests; a local run without them uses the committed ones)."""
    dirs = [RSTUF_FIXTURES]
    if (FRESH / "bootstrap.json").is_file():
        dirs.append(FRESH)
    return dirs


def test_fresh_fixtures_exist_in_ci() -> None:
    if (FRESH / "bootstrap.json").is_file():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{FRESH} is missing: CI must run tests/foreign/make_fixtures.sh first")
    pytest.skip("run tests/foreign/make_fixtures.sh to test payloads made by RSTUF's CLI now")


@pytest.mark.parametrize("directory", fixture_dirs(), ids=lambda p: p.name)
def test_real_payloads_round_trip_byte_for_byte(directory: Path) -> None:
    full = (directory / "bootstrap.json").read_bytes()
    payload = rstuf.parse_bootstrap_payload(full)
    assert payload.root.signed.version == 1
    assert payload.settings.bins == rstuf.Bins(1, 4)
    assert payload.settings.delegations is None
    assert payload.timeout == 300
    assert rstuf.bootstrap_payload_bytes(payload.root, payload.settings) == full

    das = (directory / "bootstrap-das.json").read_bytes()
    partial = rstuf.parse_bootstrap_payload(das)
    with pytest.raises(ThresholdNotMet):
        rstuf.bootstrap_payload_bytes(partial.root, partial.settings)
    assert rstuf.bootstrap_payload_bytes(partial.root, partial.settings, allow_partial=True) == das

    update = (directory / "update.json").read_bytes()
    new_root = rstuf.parse_update_payload(update)
    assert new_root.signed.version == 2
    assert rstuf.update_payload_bytes(new_root, payload.root) == update

    sign = (directory / "sign.json").read_bytes()
    sp = rstuf.parse_sign_payload(sign)
    assert sp.role == "root"
    assert rstuf.sign_payload_bytes(sp.role, sp.signature) == sign


@pytest.mark.parametrize("directory", fixture_dirs(), ids=lambda p: p.name)
def test_sign_request_plus_sign_payload_completes_the_das_bootstrap(directory: Path) -> None:
    request = rstuf.parse_sign_request(
        (directory / "pending-sign.json").read_bytes(), source="pending-sign.json"
    )
    assert set(request.pending) == {"root"} and request.trusted_root is None
    root = request.pending["root"]
    sp = rstuf.parse_sign_payload((directory / "sign.json").read_bytes())
    root.signatures[sp.signature.keyid] = sp.signature
    settings = rstuf.parse_bootstrap_payload((directory / "bootstrap.json").read_bytes()).settings
    rstuf.bootstrap_payload_bytes(root, settings)  # threshold met now, every signature verifies


def test_rstuf_online_key_and_names_in_real_root() -> None:
    root = rstuf.parse_bootstrap_payload((RSTUF_FIXTURES / "bootstrap.json").read_bytes()).root
    online_id = root.signed.roles["timestamp"].keyids[0]
    online = root.signed.keys[online_id]
    assert online.unrecognized_fields["x-rstuf-online-key-uri"] == f"fn:{online_id}"
    assert {k.unrecognized_fields["x-rstuf-key-name"] for k in root.signed.keys.values()} == {
        "alice",
        "bob",
        "online",
    }
    assert root_problems(root.signed.to_dict()) == []


def _signed_root(threshold: int = 2, n_sign: int = 2) -> Metadata[Root]:
    holders = [signer("ed25519"), signer("p256")]
    md = rstuf_root(holders, signer("p256"), threshold=threshold)
    for s in holders[:n_sign]:
        md.sign(s, append=True)
    return md


def test_payload_built_from_schema_with_python_tuf_is_what_rstuf_reads() -> None:
    md = _signed_root()
    settings = rstuf.BootstrapSettings(bins=rstuf.Bins(2, 16384))
    data = rstuf.bootstrap_payload_bytes(md, settings, timeout=600)
    doc = json.loads(data)
    assert list(doc) == ["settings", "metadata", "timeout"]
    assert list(doc["settings"]["roles"]) == [
        "root",
        "timestamp",
        "snapshot",
        "targets",
        "bins",
        "delegations",
    ]
    assert doc["settings"]["roles"]["bins"] == {"expiration": 2, "number_of_delegated_bins": 16384}
    assert doc["metadata"]["root"] == md.to_dict()
    assert rstuf.parse_bootstrap_payload(data).root.to_dict() == md.to_dict()


def test_custom_delegations_settings_round_trip() -> None:
    delegations = Delegations(
        keys={},
        roles={
            "dev": DelegatedRole(
                "dev", [], 1, True, ["dev/*"], unrecognized_fields={rstuf.EXPIRE_POLICY: 30}
            )
        },
    ).to_dict()
    settings = rstuf.BootstrapSettings(bins=None, delegations=delegations)
    data = rstuf.bootstrap_payload_bytes(_signed_root(), settings)
    again = rstuf.parse_bootstrap_payload(data)
    assert again.settings == settings
    assert rstuf.bootstrap_payload_bytes(again.root, again.settings) == data


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bins": None}, "exactly one of"),
        ({"delegations": {"keys": {}, "roles": []}}, "exactly one of"),
        ({"root_expiration": 0}, "at least 1"),
        ({"timestamp_expiration": True}, "whole number"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        rstuf.BootstrapSettings(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("bins", [0, 1, 300, 32768, True])
def test_bins_must_be_a_power_of_two_from_2_to_16384(bins: int) -> None:
    with pytest.raises(InputError, match="power of 2"):
        rstuf.Bins(1, bins)


def test_bad_delegated_role_name_is_refused() -> None:
    delegations = Delegations(
        keys={}, roles={"../etc": DelegatedRole("../etc", [], 1, True, ["x/*"])}
    ).to_dict()
    with pytest.raises(InputError, match="only a-z"):
        rstuf.BootstrapSettings(bins=None, delegations=delegations)


def _real() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((RSTUF_FIXTURES / "bootstrap.json").read_bytes())
    return doc


def _mutate_root_signed(doc: dict[str, Any], **fields: object) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    doc["metadata"]["root"]["signed"].update(fields)
    return doc


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xef\xbb\xbf{}", "byte-order mark"),
        (b'{"settings": 1, "settings": 2}', "appears twice"),
        (dump({**_real(), "extra": 1}), "unknown field"),
        (dump({**_real(), "timeout": 1.5}), "fraction"),
        (dump({k: v for k, v in _real().items() if k != "metadata"}), "has no 'metadata'"),
        (dump(_mutate_root_signed(_real(), _type="targets")), "not valid TUF metadata|not root"),
        (dump(_mutate_root_signed(_real(), consistent_snapshot=False)), "consistent_snapshot"),
        (dump(_mutate_root_signed(_real(), xnote="hi")), "x-<vendor>-<name>"),
        (b"[" * 100_000, "nests JSON too deeply|not valid JSON"),
    ],
    ids=[
        "bom",
        "duplicate-key",
        "unknown-field",
        "float",
        "no-metadata",
        "wrong-type",
        "not-consistent",
        "bad-extra-field",
        "deep",
    ],
)
def test_hostile_bootstrap_payloads_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        rstuf.parse_bootstrap_payload(data, source="payload.json")


def test_roots_rstuf_would_alter_are_refused_before_anything_is_written() -> None:
    """RSTUF's API drops key and role fields it does not model (checked with pydantic on
    repository-service-tuf-api 1.0.1's models): a tuf-on-ci root would lose its signatures."""
    md = _signed_root()
    key = next(iter(md.signed.keys.values()))
    key.unrecognized_fields["x-tuf-on-ci-keyowner"] = "@alice"
    md.signed.roles["root"].unrecognized_fields["x-tuf-on-ci-expiry-period"] = 365
    problems = root_problems(md.signed.to_dict())
    assert any("x-tuf-on-ci-keyowner" in p for p in problems)
    assert any("x-tuf-on-ci-expiry-period" in p for p in problems)
    with pytest.raises(InputError, match="RSTUF would refuse or change"):
        rstuf.bootstrap_payload_bytes(md, rstuf.BootstrapSettings())


def test_online_key_rules() -> None:
    md = _signed_root()
    online_id = md.signed.roles["timestamp"].keyids[0]
    del md.signed.keys[online_id].unrecognized_fields["x-rstuf-online-key-uri"]
    assert any("x-rstuf-online-key-uri" in p for p in root_problems(md.signed.to_dict()))
    md2 = _signed_root()
    md2.signed.add_key(signer().public_key, "snapshot")
    assert any("exactly one key" in p for p in root_problems(md2.signed.to_dict()))


def test_placeholders_and_bad_signatures_are_refused_by_the_writer() -> None:
    md = _signed_root(n_sign=1)
    missing = next(k for k in md.signed.roles["root"].keyids if k not in md.signatures)
    md.signatures[missing] = Signature(missing, "")
    with pytest.raises(VerificationFailed, match="does not verify"):
        rstuf.bootstrap_payload_bytes(md, rstuf.BootstrapSettings(), allow_partial=True)
    unsigned = _signed_root(n_sign=0)
    with pytest.raises(ThresholdNotMet, match="no signature"):
        rstuf.bootstrap_payload_bytes(unsigned, rstuf.BootstrapSettings(), allow_partial=True)


def test_bootstrap_needs_version_1_and_update_needs_the_next_version() -> None:
    v1 = _signed_root()
    v3 = copy.deepcopy(v1)
    v3.signed.version = 3
    with pytest.raises(InputError, match="version 1"):
        rstuf.bootstrap_payload_bytes(v3, rstuf.BootstrapSettings())
    with pytest.raises(InputError, match="must be version 2"):
        rstuf.update_payload_bytes(v3, v1)


def test_sign_request_refuses_online_roles_and_an_unanchored_root() -> None:
    root = rstuf.parse_bootstrap_payload((RSTUF_FIXTURES / "bootstrap.json").read_bytes()).root
    v2 = copy.deepcopy(root)
    v2.signed.version = 2
    with pytest.raises(InputError, match="no trusted_root"):
        rstuf.parse_sign_request(
            dump({"data": {"metadata": {"root": v2.to_dict()}}}), source="req.json"
        )
    from tuf.api.metadata import Snapshot

    snap = Metadata(Snapshot())
    with pytest.raises(InputError, match="only root"):
        rstuf.parse_sign_request(
            dump({"data": {"metadata": {"snapshot": snap.to_dict()}}}), source="req.json"
        )


def test_sign_payload_refuses_empty_signature() -> None:
    with pytest.raises(InputError, match="empty"):
        rstuf.parse_sign_payload(dump({"signature": {"keyid": "ab", "sig": ""}, "role": "root"}))
    with pytest.raises(InputError):
        rstuf.sign_payload_bytes("root", Signature("ab", ""))
