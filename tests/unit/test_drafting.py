"""ceremony.drafting: the unsigned root a plan describes, and python-tuf's view of it.

The last property ties the threshold rules to the client: for any set of holders who
sign, `thresholds.evaluate` says "complete" exactly when python-tuf accepts the new root
from the previous one.
"""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from securesystemslib.signer import Signature
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import Metadata, Root

from ceremony.digest import canonical_bytes, sha256_hex
from ceremony.drafting import draft_root, root_version
from ceremony.errors import PlanError
from ceremony.keys import EnrolledKey
from ceremony.plan.parse import parse_plan
from ceremony.thresholds import Authority, SignatureRecord, evaluate
from tests.unit.factories import NOW, enrolled, key, make_root, plan_yaml, signer

ROLES = {
    "root": (2, ["root-a", "root-b", "root-c"]),
    "targets": (1, ["targets-a"]),
    "snapshot": (1, ["online"]),
    "timestamp": (1, ["online"]),
}
ALL = ["root-a", "root-b", "root-c", "targets-a", "online", "spare"]


def keys_for(names: list[str]) -> dict[str, EnrolledKey]:
    return {n: enrolled(n) for n in names}


def test_first_root_draft() -> None:
    plan = parse_plan(plan_yaml(ROLES, {"spare": {}}))
    md = draft_root(plan, keys_for(ALL), None, NOW)
    root = md.signed
    assert md.signatures == {}
    assert root.version == 1
    assert root.expires == NOW + dt.timedelta(days=365)
    assert root.consistent_snapshot is True
    assert root.roles["root"].keyids == [key(n).keyid for n in ("root-a", "root-b", "root-c")]
    assert root.roles["root"].threshold == 2
    assert root.roles["timestamp"].keyids == [key("online").keyid]
    # Only keys some role uses go in; the spare described key does not.
    assert set(root.keys) == {key(n).keyid for n in ALL if n != "spare"}


def test_draft_is_deterministic() -> None:
    plan = parse_plan(plan_yaml(ROLES))
    a = draft_root(plan, keys_for(ALL), None, NOW)
    b = draft_root(plan, dict(reversed(list(keys_for(ALL).items()))), None, NOW)
    assert canonical_bytes(a.signed.to_dict()) == canonical_bytes(b.signed.to_dict())


def test_expiry_date_and_explicit_version() -> None:
    plan = parse_plan(plan_yaml(ROLES, version=1, expires="2027-11-24"))
    root = draft_root(plan, keys_for(ALL), None, NOW).signed
    assert root.expires == dt.datetime(2027, 11, 24, tzinfo=dt.UTC)
    assert root.version == 1


def test_unenrolled_key_refused() -> None:
    plan = parse_plan(plan_yaml(ROLES))
    with pytest.raises(PlanError, match=r"roles\.root\.keys: key 'root-b' is not enrolled yet"):
        draft_root(plan, keys_for([n for n in ALL if n != "root-b"]), None, NOW)


def test_rotation_keeps_unknown_fields_and_replaces_keys() -> None:
    prev_root = make_root(4, [key("old-1"), key("old-2")], 2)
    prev_root.unrecognized_fields["x-mirror-policy"] = {"keep": True}
    previous = Metadata(prev_root, signatures={})
    plan = parse_plan(plan_yaml(ROLES, previous=("previous/4.root.json", "ab" * 32)))
    root = draft_root(plan, keys_for(ALL), previous, NOW).signed
    assert root.version == 5 == root_version(plan, prev_root)
    assert root.unrecognized_fields == {"x-mirror-policy": {"keep": True}}
    assert root.spec_version == prev_root.spec_version
    assert key("old-1").keyid not in root.keys
    assert key("old-online").keyid not in root.keys
    assert prev_root.version == 4 and key("old-1").keyid in prev_root.keys  # not mutated


# --- evaluate agrees with python-tuf ------------------------------------------------------------

OLD = ["old-1", "old-2", "old-3"]
SIGNERS = [*OLD, "root-a", "root-b", "root-c"]


def _rotation() -> tuple[Metadata[Root], Metadata[Root]]:
    prev_root = make_root(1, [key(n) for n in OLD], 2)
    previous = Metadata(prev_root, signatures={})
    roles = dict(ROLES, root=(2, ["old-1", "root-a", "root-b", "root-c"]))
    plan = parse_plan(plan_yaml(roles, previous=("previous/1.root.json", "ab" * 32)))
    new = draft_root(plan, keys_for([*ALL, "old-1"]), previous, NOW)
    return previous, new


PREVIOUS_MD, NEW_MD = _rotation()


def _authority(of: str, root: Root) -> Authority:
    role = root.roles["root"]
    return Authority(of, of, {k: root.keys[k] for k in role.keyids}, role.threshold, {}, {})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(signed=st.sets(st.sampled_from(SIGNERS)))
@example(signed={"old-1", "old-2", "root-a"})  # old-1 counts for both roots: accepted
@example(signed={"old-2", "old-3", "root-a"})  # new root has only 1 of 2: refused
@example(signed={"old-1", "root-a", "root-b"})  # previous root has only 1 of 2: refused
def test_evaluate_complete_iff_python_tuf_accepts(signed: set[str]) -> None:
    new = copy.deepcopy(NEW_MD)
    payload = canonical_bytes(new.signed.to_dict())
    digest = sha256_hex(payload)
    records = []
    for name in sorted(signed):
        sig = signer(name).sign(payload)
        new.signatures[sig.keyid] = Signature(sig.keyid, sig.signature)
        records.append(SignatureRecord("root", sig.keyid, sig.signature, digest, name, name, "now"))
    status = evaluate(
        "root",
        payload,
        digest,
        [_authority("previous", PREVIOUS_MD.signed), _authority("new", new.signed)],
        records,
    )
    try:
        PREVIOUS_MD.verify_delegate(Root.type, new)
        new.verify_delegate(Root.type, new)
        accepted = True
    except UnsignedMetadataError:
        accepted = False
    assert status.complete == accepted
    if signed in ({"old-1", "old-2", "root-a"},):
        assert accepted
