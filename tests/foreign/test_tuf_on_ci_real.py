"""A signing event staged by tuf-on-ci-sign's own code (tests/foreign/tuf_on_ci_driver.py):
read strictly, named, refused by RSTUF's rules, filled with a signature exactly as
tuf-on-ci-sign would commit it, and written back byte for byte."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from securesystemslib.signer import CryptoSigner

from ceremony.errors import InputError
from ceremony.foreign import metadata_file, names, rstuf, tuf_on_ci
from ceremony.foreign.rstuf_rules import root_problems
from tests.foreign.helpers import FIXTURES, with_keyid_of_content

COMMITTED = FIXTURES / "tuf-on-ci-0.21.0"
FRESH = Path(os.environ.get("TUF_FOREIGN_FIXTURES", "build/foreign-fixtures")) / "tuf-on-ci"


def event_dirs() -> list[Path]:
    dirs = [COMMITTED]
    if (FRESH / "metadata" / "root.json").is_file():
        dirs.append(FRESH)
    return dirs


def test_fresh_event_exists_in_ci() -> None:
    if (FRESH / "metadata" / "root.json").is_file():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{FRESH} is missing: CI must run tests/foreign/make_fixtures.sh first")
    pytest.skip("run tests/foreign/make_fixtures.sh to test an event staged by tuf-on-ci now")


@pytest.mark.parametrize("event", event_dirs(), ids=lambda p: p.name)
def test_staged_event_reads_unchanged_with_placeholders_and_owners(event: Path) -> None:
    md_dir = event / "metadata"
    root_bytes = (md_dir / "root.json").read_bytes()
    assert (md_dir / "root_history" / "1.root.json").read_bytes() == root_bytes
    root = metadata_file.parse_metadata_file(root_bytes, source="root.json", expected_type="root")
    targets = metadata_file.parse_metadata_file(
        (md_dir / "targets.json").read_bytes(), source="targets.json", expected_type="targets"
    )
    for parsed, data in ((root, root_bytes), (targets, (md_dir / "targets.json").read_bytes())):
        assert parsed.placeholders and not parsed.metadata.signatures
        assert (
            tuf_on_ci.serialize(
                parsed.metadata.to_dict()
                | {"signatures": [{"keyid": k, "sig": ""} for k in parsed.placeholders]}
            )
            == data
        )
    keys = root.metadata.signed.keys
    assert sorted(filter(None, (tuf_on_ci.key_owner(k) for k in keys.values()))) == ["@alice"]
    assert [tuf_on_ci.online_uri(k) for k in keys.values() if tuf_on_ci.online_uri(k)] == [
        "gcpkms:projects/p/k/1"
    ]
    for key in keys.values():  # tuf-on-ci's keyid covers the annotated key
        assert with_keyid_of_content(key.__class__.from_dict(key.keyid, key.to_dict())).keyid == (
            key.keyid
        )
    assert "alice" in names.readable_key_names(keys).values()
    assert tuf_on_ci.periods(root.signed) == tuf_on_ci.Periods(365, 60)
    assert tuf_on_ci.periods(root.signed["roles"]["timestamp"]) == tuf_on_ci.Periods(2, 1)
    assert tuf_on_ci.periods(targets.signed) == tuf_on_ci.Periods(90, 30)
    invites = tuf_on_ci.signing_event_invites(
        (md_dir / tuf_on_ci.SIGNING_EVENT_STATE).read_bytes(), source=".signing-event-state"
    )
    assert invites == {"@bob": ["root"]}
    # RSTUF could not take this root: its API would drop the tuf-on-ci fields
    assert root_problems(root.signed)
    with pytest.raises(InputError, match="RSTUF would refuse or change"):
        rstuf.bootstrap_payload_bytes(root.metadata, rstuf.BootstrapSettings())


def test_filled_event_changes_only_the_signature_line(tmp_path: Path) -> None:
    """The committed event's key is a throw-away one; sign with a new key put in its place
    the way tuf-on-ci would stage it, and check fill_signatures touches only `sig`."""
    data = (COMMITTED / "metadata" / "root.json").read_bytes()
    doc = json.loads(data)
    signer = CryptoSigner.generate_ecdsa()
    key = signer.public_key
    key.unrecognized_fields[tuf_on_ci.KEYOWNER] = "@alice"
    key = with_keyid_of_content(key)
    old = doc["signatures"][0]["keyid"]
    doc["signed"]["keys"][key.keyid] = doc["signed"]["keys"].pop(old) | key.to_dict()
    for role in doc["signed"]["roles"].values():
        role["keyids"] = [key.keyid if k == old else k for k in role["keyids"]]
    doc["signatures"] = [{"keyid": key.keyid, "sig": ""}]
    staged = tuf_on_ci.serialize(doc)
    parsed = metadata_file.parse_metadata_file(staged, source="root.json")
    sig = signer.sign(parsed.canonical)
    filled = tuf_on_ci.fill_signatures(staged, {key.keyid: sig.signature}, source="root.json")
    diff = [a for a, b in zip(filled.splitlines(), staged.splitlines(), strict=True) if a != b]
    assert diff == [f'   "sig": "{sig.signature}"'.encode()]
    again = metadata_file.parse_metadata_file(filled, source="root.json")
    assert again.signed == parsed.signed and not again.placeholders
    again.metadata.signed.verify_delegate(
        "root", again.metadata.signed_bytes, again.metadata.signatures
    )
