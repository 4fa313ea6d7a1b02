"""ceremony.thresholds.evaluate: which signatures count (Hypothesis properties).

Real ed25519 keys (CryptoSigner) sign real payloads: the canonical bytes of python-tuf
Root drafts. The properties are the rules the module promises:

(a) a key counts once per authority, even listed under two keyids;
(b) a signature for another digest (stale) never counts;
(c) a signature that does not verify never counts and is reported invalid;
(d) >= t distinct valid signatures meet the threshold, fewer do not;
(e) in a rotation the previous and new thresholds are counted independently.
"""

from __future__ import annotations

import functools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from securesystemslib.signer import CryptoSigner, Key, SSlibKey

from ceremony.digest import canonical_bytes, sha256_hex
from ceremony.keys import public_identity
from ceremony.thresholds import Authority, SignatureRecord, evaluate, verify_record
from tests.unit.factories import NOW, key, make_root, same_key_other_keyid, signer

PROPS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

N = 6
NAMES = [f"holder-{i}" for i in range(N)]


def signers() -> list[CryptoSigner]:
    return [signer(n) for n in NAMES]


def keys() -> list[SSlibKey]:
    return [key(n) for n in NAMES]


@functools.cache
def draft(version: int) -> tuple[bytes, str]:
    """A real root draft's signed bytes and digest; `version` makes different drafts."""
    root = make_root(version, keys()[:3], 2, expires=NOW.replace(year=2027))
    payload = canonical_bytes(root.to_dict())
    return payload, sha256_hex(payload)


@functools.cache
def sig_hex(i: int, payload: bytes) -> str:
    return signers()[i].sign(payload).signature


def record(
    i: int, payload: bytes, digest: str, *, keyid: str | None = None, sig: str | None = None
) -> SignatureRecord:
    """Holder i's signature over payload, filed under keyid (default: holder i's keyid)."""
    return SignatureRecord(
        role="root",
        keyid=keyid or keys()[i].keyid,
        signature=sig if sig is not None else sig_hex(i, payload),
        digest=digest,
        key_name=NAMES[i],
        holder=f"Holder {i}",
        signed_at="2026-01-01T12:00:00Z",
    )


def authority(members: dict[str, Key], threshold: int, of: str = "new") -> Authority:
    return Authority(
        of=of,
        label=f"{of} root",
        keys=members,
        threshold=threshold,
        names={kid: f"name-{kid[:6]}" for kid in members},
        holders=dict.fromkeys(members, "someone"),
    )


def members_of(indices: set[int]) -> dict[str, Key]:
    return {keys()[i].keyid: keys()[i] for i in sorted(indices)}


index_sets = st.sets(st.integers(0, N - 1), min_size=1, max_size=N)


# --- sanity: the signatures used here really verify --------------------------------------


def test_real_signatures_verify_and_fail_on_other_payload() -> None:
    payload, digest = draft(2)
    other, _ = draft(3)
    rec = record(0, payload, digest)
    assert verify_record(rec, keys()[0], payload)
    assert not verify_record(rec, keys()[0], other)
    assert not verify_record(rec, keys()[1], payload)


# --- (d) threshold arithmetic -------------------------------------------------------------


@PROPS
@given(data=st.data(), members=index_sets)
def test_threshold_met_iff_enough_distinct_valid_signatures(
    data: st.DataObject, members: set[int]
) -> None:
    payload, digest = draft(2)
    t = data.draw(st.integers(1, len(members)), label="threshold")
    signed = data.draw(st.sets(st.sampled_from(sorted(members))), label="signed")
    records = [record(i, payload, digest) for i in signed]
    # The same signature collected twice (e.g. merged from two sticks) changes nothing.
    records += data.draw(st.lists(st.sampled_from(records), max_size=3) if records else st.just([]))
    order = data.draw(st.permutations(records), label="order")

    status = evaluate("root", payload, digest, [authority(members_of(members), t)], order)
    (th,) = status.thresholds
    assert th.count == len(signed)
    assert th.met == (len(signed) >= t)
    assert status.complete == (len(signed) >= t)
    assert th.still_needed == max(0, t - len(signed))
    assert set(th.signed_keyids) == {keys()[i].keyid for i in signed}
    assert set(th.missing_keyids) == {keys()[i].keyid for i in members - signed}
    assert status.rejected == []


# --- (a) a key never counts twice ----------------------------------------------------------


@PROPS
@given(data=st.data(), members=index_sets)
def test_key_under_two_keyids_counts_once(data: st.DataObject, members: set[int]) -> None:
    payload, digest = draft(2)
    doubled = data.draw(st.sets(st.sampled_from(sorted(members)), min_size=1), label="doubled")
    auth_keys: dict[str, Key] = members_of(members)
    second: dict[int, SSlibKey] = {}
    for i in doubled:
        second[i] = same_key_other_keyid(keys()[i])
        auth_keys[second[i].keyid] = second[i]
    distinct = len(members)
    t = data.draw(st.integers(1, len(auth_keys)), label="threshold")
    signed = data.draw(st.sets(st.sampled_from(sorted(members))), label="signed")
    records: list[SignatureRecord] = []
    for i in signed:
        which = data.draw(
            st.sampled_from(["first", "second", "both"]) if i in second else st.just("first")
        )
        if which in ("first", "both"):
            records.append(record(i, payload, digest))
        if which in ("second", "both"):
            records.append(record(i, payload, digest, keyid=second[i].keyid))

    status = evaluate("root", payload, digest, [authority(auth_keys, t)], records)
    (th,) = status.thresholds
    assert status.rejected == []  # every record is a valid signature...
    assert th.count == len(signed)  # ...but each physical key counts once
    assert th.count <= distinct
    idents = [public_identity(auth_keys[k]) for k in th.signed_keyids]
    assert len(idents) == len(set(idents))
    assert th.met == (len(signed) >= t)


def test_same_key_in_upper_case_hex_counts_once() -> None:
    payload, digest = draft(2)
    k = keys()[0]
    d = k.to_dict()
    d["keyval"] = {"public": d["keyval"]["public"].upper()}
    upper = SSlibKey.from_dict("e" * 64, d)
    auth = authority({k.keyid: k, upper.keyid: upper, keys()[1].keyid: keys()[1]}, 2)
    records = [record(0, payload, digest), record(0, payload, digest, keyid=upper.keyid)]
    status = evaluate("root", payload, digest, [auth], records)
    assert status.rejected == []  # both verify: it is the same key
    assert status.thresholds[0].count == 1
    assert not status.complete


# --- (b) stale signatures never count -------------------------------------------------------


@PROPS
@given(data=st.data(), members=index_sets, other_version=st.integers(3, 6))
def test_signature_for_another_digest_never_counts(
    data: st.DataObject, members: set[int], other_version: int
) -> None:
    payload, digest = draft(2)
    old_payload, old_digest = draft(other_version)
    current = data.draw(st.sets(st.sampled_from(sorted(members))), label="current")
    stale = data.draw(st.sets(st.sampled_from(sorted(members))), label="stale")
    kind = data.draw(
        st.sampled_from(["old-draft", "relabelled", "mislabelled", "damaged"]), label="kind"
    )
    stale_records = []
    for i in stale:
        if kind == "old-draft":  # a real signature over the previous draft
            stale_records.append(record(i, old_payload, old_digest))
        elif kind == "relabelled":  # signs the current bytes but names an old digest
            stale_records.append(record(i, payload, old_digest))
        elif kind == "mislabelled":  # signs old bytes, claims the current digest
            stale_records.append(record(i, payload, digest, sig=sig_hex(i, old_payload)))
        else:  # as service.load_signatures files an unreadable signature file
            stale_records.append(record(i, payload, "damaged", sig=""))
    records = data.draw(
        st.permutations([record(i, payload, digest) for i in current] + stale_records)
    )
    t = data.draw(st.integers(1, len(members)), label="threshold")

    status = evaluate("root", payload, digest, [authority(members_of(members), t)], records)
    (th,) = status.thresholds
    assert th.count == len(current)
    assert {r.keyid for r in status.valid} == {keys()[i].keyid for i in current}
    assert len(status.rejected) == len(stale_records)
    expected_reason = "invalid" if kind == "mislabelled" else "stale"
    assert {r.reason for r in status.rejected} <= {expected_reason}
    assert th.met == (len(current) >= t)


# --- (c) garbled or wrong signatures never count --------------------------------------------


def _garble(sig: str, how: str, pos: int) -> str:
    if how == "flip":
        p = pos % len(sig)
        return sig[:p] + ("0" if sig[p] != "0" else "1") + sig[p + 1 :]
    if how == "truncate":
        return sig[: pos % len(sig)]
    if how == "extend":
        return sig + "00"
    if how == "not-hex":
        return "zz" + sig[2:]
    return ""


@PROPS
@given(
    data=st.data(),
    members=index_sets,
    how=st.sampled_from(["flip", "truncate", "extend", "not-hex", "empty", "other-key"]),
    pos=st.integers(0, 127),
)
def test_invalid_signature_never_counts_and_is_reported(
    data: st.DataObject, members: set[int], how: str, pos: int
) -> None:
    payload, digest = draft(2)
    good = data.draw(st.sets(st.sampled_from(sorted(members))), label="good")
    bad = data.draw(st.sets(st.sampled_from(sorted(members)), min_size=1), label="bad")
    bad_records = []
    for i in bad:
        if how == "other-key":  # another holder's valid signature filed under i's keyid
            j = (i + 1) % N
            sig = sig_hex(j, payload)
        else:
            sig = _garble(sig_hex(i, payload), how, pos)
        bad_records.append(record(i, payload, digest, sig=sig))
    records = [record(i, payload, digest) for i in good - bad] + bad_records
    t = data.draw(st.integers(1, len(members)), label="threshold")

    status = evaluate("root", payload, digest, [authority(members_of(members), t)], records)
    (th,) = status.thresholds
    assert th.count == len(good - bad)
    assert sorted(r.record.keyid for r in status.rejected) == sorted(keys()[i].keyid for i in bad)
    assert {r.reason for r in status.rejected} == {"invalid"}
    assert all(r.record not in status.valid for r in status.rejected)


@PROPS
@given(data=st.data(), members=index_sets)
def test_bad_copy_does_not_hide_a_good_signature(data: st.DataObject, members: set[int]) -> None:
    """A garbled duplicate of a key's signature does not cancel its valid one."""
    payload, digest = draft(2)
    i = data.draw(st.sampled_from(sorted(members)))
    records = [
        record(i, payload, digest, sig=_garble(sig_hex(i, payload), "flip", 5)),
        record(i, payload, digest),
    ]
    status = evaluate(
        "root",
        payload,
        digest,
        [authority(members_of(members), 1)],
        data.draw(st.permutations(records)),
    )
    assert status.thresholds[0].count == 1
    assert [r.reason for r in status.rejected] == ["invalid"]


def test_unknown_key_never_counts() -> None:
    payload, digest = draft(2)
    status = evaluate(
        "root", payload, digest, [authority(members_of({0, 1}), 1)], [record(5, payload, digest)]
    )
    assert status.thresholds[0].count == 0
    assert [r.reason for r in status.rejected] == ["unknown key"]


# --- (e) rotation: previous and new thresholds are independent ------------------------------


@PROPS
@given(
    data=st.data(),
    previous=index_sets,
    new=index_sets,
)
def test_rotation_thresholds_are_independent(
    data: st.DataObject, previous: set[int], new: set[int]
) -> None:
    payload, digest = draft(2)
    t_prev = data.draw(st.integers(1, len(previous)), label="t_prev")
    t_new = data.draw(st.integers(1, len(new)), label="t_new")
    signed = data.draw(st.sets(st.integers(0, N - 1)), label="signed")
    records = [record(i, payload, digest) for i in signed]
    auths = [
        authority(members_of(previous), t_prev, of="previous"),
        authority(members_of(new), t_new, of="new"),
    ]
    status = evaluate("root", payload, digest, auths, records)
    prev_st, new_st = status.thresholds
    assert (prev_st.of, new_st.of) == ("previous", "new")
    assert prev_st.count == len(signed & previous)
    assert new_st.count == len(signed & new)
    assert set(prev_st.signed_keyids) == {keys()[i].keyid for i in signed & previous}
    assert set(new_st.signed_keyids) == {keys()[i].keyid for i in signed & new}
    assert status.complete == (len(signed & previous) >= t_prev and len(signed & new) >= t_new)
    # A key in neither root is unknown; a key in either is valid (counted where it belongs).
    assert {r.record.keyid for r in status.rejected} == {
        keys()[i].keyid for i in signed - previous - new
    }
    assert all(r.reason == "unknown key" for r in status.rejected)


def test_key_only_in_previous_root_does_not_count_for_new() -> None:
    payload, digest = draft(2)
    auths = [
        authority(members_of({0, 1, 2}), 2, of="previous"),
        authority(members_of({2, 3, 4}), 2, of="new"),
    ]
    status = evaluate(
        "root", payload, digest, auths, [record(i, payload, digest) for i in (0, 1, 2)]
    )
    prev_st, new_st = status.thresholds
    assert (prev_st.count, prev_st.met) == (3, True)
    assert (new_st.count, new_st.met) == (1, False)
    assert new_st.still_needed == 1
    assert not status.complete


def test_no_authority_is_never_complete() -> None:
    payload, digest = draft(2)
    assert not evaluate("root", payload, digest, [], [record(0, payload, digest)]).complete
