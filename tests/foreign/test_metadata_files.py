"""Plain metadata files and tuf-on-ci signing events, built with python-tuf as python-tuf
repository scripts and tuf-on-ci build them (tuf-on-ci-sign 0.21.0 `_signer_repository.py`)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from tuf.api.metadata import DelegatedRole, Delegations, Key, Metadata, Root, Signature, Targets
from tuf.api.serialization.json import CanonicalJSONSerializer

from ceremony.errors import InputError
from ceremony.foreign import metadata_file, names, tuf_on_ci
from tests.foreign.helpers import EXPIRES, dump, signer, with_keyid_of_content


def staged_python_tuf_root() -> tuple[Metadata[Root], list[Any]]:
    """A root staged by python-tuf's Metadata API with unrecognized fields at every level,
    one signature present and one empty placeholder."""
    a, b, online = signer("ed25519"), signer("p256"), signer("p256")
    root = Root(expires=EXPIRES, unrecognized_fields={"x-acme-ceremony": {"n": 7}})
    ka = a.public_key
    ka.unrecognized_fields["x-acme-holder"] = "Ada"
    root.add_key(ka, "root")
    root.add_key(b.public_key, "root")
    root.roles["root"].threshold = 2
    root.roles["root"].unrecognized_fields["x-acme-policy"] = ["two", "of", "two"]
    for role in ("timestamp", "snapshot", "targets"):
        root.add_key(online.public_key, role)
    md = Metadata(root, unrecognized_fields={"x-acme-top": True})
    md.sign(a, append=True)
    md.signatures[b.public_key.keyid] = Signature(b.public_key.keyid, "")
    return md, [a, b]


def test_python_tuf_staged_root_parses_with_its_placeholder_listed() -> None:
    md, (a, b) = staged_python_tuf_root()
    data = md.to_bytes()
    parsed = metadata_file.parse_metadata_file(data, source="root.json", expected_type="root")
    assert parsed.placeholders == (b.public_key.keyid,)
    assert list(parsed.metadata.signatures) == [a.public_key.keyid]
    assert parsed.canonical == CanonicalJSONSerializer().serialize(md.signed)
    assert parsed.signed == json.loads(data)["signed"]
    assert parsed.top_level_extra == {"x-acme-top": True}
    assert parsed.signed["x-acme-ceremony"] == {"n": 7}
    # written back (with a new signature) its signed part is unchanged
    md2 = copy.deepcopy(md)
    del md2.signatures[b.public_key.keyid]
    md2.sign(b, append=True)
    out = metadata_file.metadata_bytes(parsed.signed, list(md2.signatures.values()))
    assert json.loads(out)["signed"] == parsed.signed
    written = Metadata.from_bytes(out)
    written.signed.verify_delegate("root", written.signed_bytes, written.signatures)


def _doc() -> dict[str, Any]:
    md, _ = staged_python_tuf_root()
    return md.to_dict()


@pytest.mark.parametrize(
    ("mutate", "expected_type", "message"),
    [
        (lambda d: d, "targets", "root metadata, but targets was expected"),
        (lambda d: d["signed"].update(_type="mirrors"), None, "not a TUF role type"),
        (lambda d: d["signed"].update(version=1.0), None, "fraction"),
        (lambda d: d["signed"].update(expires=5), None, "not valid root metadata"),
        (lambda d: d.update(signatures={}), None, "must be an array"),
        (lambda d: d["signatures"].append({"keyid": 5, "sig": ""}), None, "string"),
        (lambda d: d["signatures"].append(dict(d["signatures"][0])), None, "not valid"),
        (lambda d: d["signed"].update({"x-note": "\ud800"}), None, "Unicode|not valid"),
        (lambda d: d.pop("signed"), None, "needs"),
    ],
    ids=[
        "wrong-role",
        "bad-type",
        "float",
        "bad-expires",
        "signatures-object",
        "keyid-int",
        "duplicate-keyid",
        "lone-surrogate",
        "no-signed",
    ],
)
def test_hostile_metadata_files_are_refused(
    mutate: Any, expected_type: str | None, message: str
) -> None:
    doc = _doc()
    mutate(doc)
    data = json.dumps(doc).encode("utf-8", "surrogatepass")
    with pytest.raises(InputError, match=message):
        metadata_file.parse_metadata_file(data, source="root.json", expected_type=expected_type)


def test_duplicate_json_keys_in_signed_are_refused() -> None:
    text = json.dumps(_doc()).replace('"version": 1,', '"version": 1, "version": 2,', 1)
    with pytest.raises(InputError, match="appears twice"):
        metadata_file.parse_metadata_file(text.encode(), source="root.json")


def test_published_file_names() -> None:
    assert metadata_file.published_file_names("root", 3, consistent_snapshot=True) == (
        "3.root.json",
        "root.json",
    )
    assert metadata_file.published_file_names("targets", 2, consistent_snapshot=False) == (
        "targets.json",  # what clients fetch
        "2.targets.json",  # the versioned copy (issue 9 rule 7)
    )
    assert metadata_file.published_file_names("a/b", 2, consistent_snapshot=True) == (
        "2.a%2Fb.json",
        "a%2Fb.json",
    )


# --- tuf-on-ci ------------------------------------------------------------------------------


def tuf_on_ci_event() -> tuple[bytes, bytes, dict[str, Any]]:
    """A signing event's metadata/root.json and metadata/targets.json as tuf-on-ci stages
    them: keys annotated with x-tuf-on-ci-keyowner (keyid over the annotated key), the online
    key with x-tuf-on-ci-online-uri, periods on root, targets and the online roles, and an
    empty placeholder per signer."""
    alice, bob, online = signer("p256"), signer("p256"), signer("p256")
    root = Root(expires=EXPIRES)
    root.unrecognized_fields.update({tuf_on_ci.EXPIRY_PERIOD: 365, tuf_on_ci.SIGNING_PERIOD: 60})
    people: dict[str, Key] = {}
    for owner, s in (("@alice", alice), ("@bob", bob)):
        key = copy.deepcopy(s.public_key)
        key.unrecognized_fields[tuf_on_ci.KEYOWNER] = owner
        people[owner] = with_keyid_of_content(key)
        root.add_key(people[owner], "root")
        root.add_key(people[owner], "targets")
    okey = copy.deepcopy(online.public_key)
    okey.unrecognized_fields[tuf_on_ci.ONLINE_URI] = "gcpkms:projects/p/keys/k"
    okey = with_keyid_of_content(okey)
    for role in ("timestamp", "snapshot"):
        root.add_key(okey, role)
        root.roles[role].unrecognized_fields.update(
            {tuf_on_ci.EXPIRY_PERIOD: 7, tuf_on_ci.SIGNING_PERIOD: 6}
        )
    root.roles["root"].threshold = 2
    md = Metadata(root)
    for person in people.values():
        md.signatures[person.keyid] = Signature(person.keyid, "")
    targets = Targets(
        expires=EXPIRES,
        unrecognized_fields={tuf_on_ci.EXPIRY_PERIOD: 90, tuf_on_ci.SIGNING_PERIOD: 30},
    )
    targets.delegations = Delegations(
        {}, {"dev": DelegatedRole("dev", [], 1, True, ["dev/*", "dev/*/*"])}
    )
    tmd = Metadata(targets)
    for person in people.values():
        tmd.signatures[person.keyid] = Signature(person.keyid, "")
    signers = {"@alice": alice, "@bob": bob}
    return (
        tuf_on_ci.serialize(md.to_dict()),
        tuf_on_ci.serialize(tmd.to_dict()),
        {
            "keys": people,
            "signers": signers,
            "root": md,
        },
    )


def test_tuf_on_ci_layout_round_trips_unchanged() -> None:
    root_bytes, targets_bytes, _ctx = tuf_on_ci_event()
    for data, role in ((root_bytes, "root"), (targets_bytes, "targets")):
        parsed = metadata_file.parse_metadata_file(
            data, source=f"metadata/{role}.json", expected_type=role
        )
        assert len(parsed.placeholders) == 2 and not parsed.metadata.signatures
        assert tuf_on_ci.serialize(json.loads(data)) == data  # tuf-on-ci's own serialization
    parsed = metadata_file.parse_metadata_file(root_bytes, source="metadata/root.json")
    assert tuf_on_ci.periods(parsed.signed) == tuf_on_ci.Periods(365, 60)
    assert tuf_on_ci.periods(parsed.signed["roles"]["timestamp"]) == tuf_on_ci.Periods(7, 6)
    keys = parsed.metadata.signed.keys
    assert {tuf_on_ci.key_owner(k) for k in keys.values()} == {"@alice", "@bob", None}
    assert sorted(names.readable_key_names(keys).values())[:2] == ["alice", "bob"]
    assert any(tuf_on_ci.online_uri(k) for k in keys.values())


def test_fill_signatures_changes_only_the_signatures() -> None:
    root_bytes, _, ctx = tuf_on_ci_event()
    alice_key = ctx["keys"]["@alice"]
    md: Metadata[Root] = ctx["root"]
    payload = CanonicalJSONSerializer().serialize(md.signed)
    sig = ctx["signers"]["@alice"].sign(payload).signature
    out = tuf_on_ci.fill_signatures(root_bytes, {alice_key.keyid: sig}, source="root.json")
    before, after = json.loads(root_bytes), json.loads(out)
    assert after["signed"] == before["signed"]
    assert [e["keyid"] for e in after["signatures"]] == [e["keyid"] for e in before["signatures"]]
    assert [e["sig"] for e in after["signatures"]].count("") == 1
    changed = [a for a, b in zip(out.splitlines(), root_bytes.splitlines(), strict=True) if a != b]
    assert len(changed) == 1 and sig.encode() in changed[0]
    parsed = metadata_file.parse_metadata_file(out, source="root.json")
    alice_key.verify_signature(parsed.metadata.signatures[alice_key.keyid], parsed.canonical)
    assert tuf_on_ci.metadata_paths("root", 4) == (
        "metadata/root.json",
        "metadata/root_history/4.root.json",
    )
    with pytest.raises(InputError):
        tuf_on_ci.metadata_paths("../x", 1)
    with pytest.raises(InputError, match="empty"):
        tuf_on_ci.fill_signatures(root_bytes, {alice_key.keyid: ""}, source="root.json")


def test_placeholder_detection_and_invites() -> None:
    assert tuf_on_ci.is_placeholder({"keyid": "a", "sig": ""})
    assert not tuf_on_ci.is_placeholder(Signature("a", "00"))
    state = dump({"invites": {"@carol": ["root", "targets"]}}, indent=2)
    assert tuf_on_ci.signing_event_invites(state, source=".signing-event-state") == {
        "@carol": ["root", "targets"]
    }
    with pytest.raises(InputError):
        tuf_on_ci.signing_event_invites(dump({"invites": {"@c": "root"}}), source="s")


def test_readable_names_are_plan_names_and_unique() -> None:
    from ceremony.files import NAME_RE

    a, b = signer().public_key, signer().public_key
    a.unrecognized_fields[tuf_on_ci.KEYOWNER] = "@Alice Smith"
    b.unrecognized_fields[tuf_on_ci.KEYOWNER] = "@alice smith"
    c = signer().public_key
    c.unrecognized_fields["x-rstuf-key-name"] = "JanisJoplin's Key"
    d = signer().public_key
    d.unrecognized_fields[tuf_on_ci.KEYOWNER] = "@@@"
    got = names.readable_key_names({k.keyid: k for k in (a, b, c, d)})
    assert got[c.keyid] == "janisjoplin-s-key"
    assert got[d.keyid] == f"key-{d.keyid[:8]}"
    assert got[a.keyid] == f"alice-smith-{a.keyid[:8]}"
    assert len(set(got.values())) == 4
    assert all(NAME_RE.match(n) for n in got.values())
