"""Issue 9 rules 1, 5 and 6 where keys are counted and named: thresholds, the checks, and
the claims of a signature file.

- one key, however spelled, counts once in every threshold (`thresholds.evaluate`);
- two names for one key are CER-KEY-DUPLICATE, reported by name: an error when the new
  plan could count it twice, a warning when only the previous root lists it twice;
- an enrolled key is measured again at validate (CER-KEY-STRENGTH);
- a signature file's key_name, holder and device are claims (`thresholds.claim_problem`).
"""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from securesystemslib.signer import CryptoSigner, Key, SSlibKey

from ceremony.checks import ERROR, WARNING, CheckContext, run_checks
from ceremony.digest import canonical_bytes, sha256_hex
from ceremony.keys import SOURCE_PREVIOUS_ROOT, SOURCE_PUBLIC_KEY, EnrolledKey, content_keyid
from ceremony.plan.parse import parse_plan
from ceremony.review import people_of
from ceremony.thresholds import Authority, SignatureRecord, claim_problem, evaluate
from tests.unit.factories import NOW, enrolled, key, make_root, plan_yaml

ROLES = {
    "root": (2, ["root-a", "root-b", "root-c"]),
    "targets": (1, ["targets-a"]),
    "snapshot": (1, ["online"]),
    "timestamp": (1, ["online"]),
}
PREVIOUS_SHA = hashlib.sha256(b"previous").hexdigest()


def respelled(k: Key, **changes: Any) -> SSlibKey:
    """The same public key written another way (another keyid follows)."""
    d = {**k.to_dict(), **changes}
    return SSlibKey.from_dict(content_keyid(d), dict(d))


def legacy(k: Key) -> SSlibKey:
    return respelled(k, keytype="ecdsa-sha2-nistp256")


def hex_point(k: Key) -> SSlibKey:
    pub = ser.load_pem_public_key(k.keyval["public"].encode())
    assert isinstance(pub, ec.EllipticCurvePublicKey)
    point = pub.public_bytes(ser.Encoding.X962, ser.PublicFormat.UncompressedPoint).hex()
    return respelled(k, keytype="ecdsa-sha2-nistp256", keyval={"public": point.upper()})


def extra_fields(k: Key) -> SSlibKey:
    return respelled(k, **{"x-tuf-on-ci-keyowner": "@a", "keyid_hash_algorithms": ["sha256"]})


# --- thresholds: a key counts once, whatever its spelling -----------------------------------


def test_one_ecdsa_key_in_four_spellings_counts_once() -> None:
    signer = CryptoSigner.generate_ecdsa()
    k = signer.public_key
    spellings = [k, legacy(k), hex_point(k), extra_fields(k)]
    other = CryptoSigner.generate_ed25519()
    members: dict[str, Key] = {s.keyid: s for s in spellings}
    members[other.public_key.keyid] = other.public_key
    root = make_root(2, [k, other.public_key], 2)
    payload = canonical_bytes(root.to_dict())
    digest = sha256_hex(payload)
    sig = signer.sign(payload).signature
    records = [
        SignatureRecord("root", s.keyid, sig, digest, "", "", "")
        for s in spellings
        if s is not spellings[2]  # securesystemslib cannot verify with a hex point
    ]
    auth = Authority("new", "new root", members, 2, {}, {})
    nobody = evaluate("root", payload, digest, [auth], [])
    assert nobody.thresholds[0].missing_keyids == [k.keyid, other.public_key.keyid]  # once each
    st = evaluate("root", payload, digest, [auth], records)
    assert len(st.valid) == 3 and st.thresholds[0].count == 1 and not st.complete
    assert st.thresholds[0].missing_keyids == [other.public_key.keyid]
    records.append(
        SignatureRecord(
            "root", other.public_key.keyid, other.sign(payload).signature, digest, "", "", ""
        )
    )
    assert evaluate("root", payload, digest, [auth], records).complete


def test_rsa_key_under_two_schemes_counts_once() -> None:
    priv = rsa.generate_private_key(65537, 3072)
    k = SSlibKey.from_crypto(priv.public_key())
    k2 = respelled(k, scheme="rsassa-pss-sha384")
    root = make_root(2, [k], 1)
    payload = canonical_bytes(root.to_dict())
    digest = sha256_hex(payload)
    records = [
        SignatureRecord(
            "root", s.keyid, CryptoSigner(priv, s).sign(payload).signature, digest, "", "", ""
        )
        for s in (k, k2)
    ]
    auth = Authority("new", "new root", {k.keyid: k, k2.keyid: k2}, 2, {}, {})
    st = evaluate("root", payload, digest, [auth], records)
    assert len(st.valid) == 2 and st.thresholds[0].count == 1 and not st.complete


# --- the checks: duplicates by name, strength re-measured -----------------------------------


def context(
    keys: dict[str, EnrolledKey], *, previous: list[Key] | None = None, roles: Any = None
) -> CheckContext:
    text = plan_yaml(
        roles or ROLES,
        {n: {} for n in keys},
        previous=("previous/1.root.json", PREVIOUS_SHA) if previous else None,
    )
    return CheckContext(
        plan=parse_plan(text),
        keys=keys,
        previous=make_root(1, previous, 2) if previous else None,
        previous_sha256=PREVIOUS_SHA if previous else None,
        now=NOW,
    )


def base_keys() -> dict[str, EnrolledKey]:
    return {n: enrolled(n) for n in ("root-a", "root-b", "root-c", "targets-a", "online")}


def results_of(ctx: CheckContext, check_id: str) -> list[tuple[str, str]]:
    return [(r.level, r.message) for r in run_checks(ctx) if r.id == check_id]


def test_the_same_key_under_two_names_in_the_new_plan_is_an_error_by_name() -> None:
    ecdsa = CryptoSigner.generate_ecdsa().public_key
    keys = base_keys()
    keys["root-a"] = enrolled("root-a", ecdsa)
    keys["root-b"] = enrolled("root-b", legacy(ecdsa), source=SOURCE_PUBLIC_KEY)
    found = results_of(context(keys), "CER-KEY-DUPLICATE")
    assert len(found) == 1 and found[0][0] == ERROR
    assert "keys root-a, root-b are the same public key" in found[0][1]


def test_a_key_the_previous_root_lists_twice_is_a_warning_when_the_plan_uses_one_name() -> None:
    keys = base_keys()
    old = key("old-1", "ecdsa-p256")
    keys["old-1"] = enrolled("old-1", old, source=SOURCE_PREVIOUS_ROOT)
    keys["old-2"] = enrolled("old-2", extra_fields(old), source=SOURCE_PREVIOUS_ROOT)
    roles = {**ROLES, "root": (2, ["old-1", "root-b", "root-c"])}
    ctx = context(keys, previous=[old, extra_fields(old), key("root-b")], roles=roles)
    found = results_of(ctx, "CER-KEY-DUPLICATE")
    assert found == [(WARNING, found[0][1])], found
    assert "keys old-1, old-2 are one public key that the previous root lists" in found[0][1]
    assert "only as 'old-1'" in found[0][1]
    # Both names in the new root's role: the new root would count it twice.
    roles = {**ROLES, "root": (2, ["old-1", "old-2", "root-c"])}
    ctx = context(keys, previous=[old, extra_fields(old), key("root-b")], roles=roles)
    assert [lv for lv, _ in results_of(ctx, "CER-KEY-DUPLICATE")] == [ERROR]


def test_the_previous_roots_threshold_counts_a_respelled_key_once() -> None:
    old = key("old-1", "ecdsa-p256")
    keys = base_keys()
    keys["old-1"] = enrolled("old-1", old, source=SOURCE_PREVIOUS_ROOT)
    keys["old-2"] = enrolled("old-2", legacy(old), source=SOURCE_PREVIOUS_ROOT)
    keys["old-3"] = enrolled("old-3", key("old-3"), source=SOURCE_PREVIOUS_ROOT)
    text = plan_yaml(
        ROLES,
        {"old-1": {}, "old-2": {}, "old-3": {"status": "lost"}},
        previous=("previous/1.root.json", PREVIOUS_SHA),
    )
    ctx = CheckContext(
        plan=parse_plan(text),
        keys=keys,
        previous=make_root(1, [old, legacy(old), key("old-3")], 2),
        previous_sha256=PREVIOUS_SHA,
        now=NOW,
    )
    assert results_of(ctx, "CER-ROTATION-OUT-OF-BAND"), "one usable key for a threshold of 2"


def test_an_enrolled_key_file_edited_to_a_weak_key_fails_validate() -> None:
    weak = SSlibKey.from_crypto(rsa.generate_private_key(65537, 1024).public_key())
    keys = base_keys()
    keys["root-b"] = enrolled("root-b", weak)
    found = results_of(context(keys), "CER-KEY-STRENGTH")
    assert found and found[0][0] == ERROR
    assert "key 'root-b' (keys/root-b.json): it is an RSA key of 1024 bits" in found[0][1]
    types = results_of(context(keys), "CER-KEY-TYPE")
    assert any("root-b' is rsa-1024" in m for _, m in types), types  # shown as what it is


def test_a_weak_key_of_the_previous_root_is_a_warning() -> None:
    weak = SSlibKey.from_crypto(rsa.generate_private_key(65537, 2048).public_key())
    keys = base_keys()
    keys["old-1"] = enrolled("old-1", weak, source=SOURCE_PREVIOUS_ROOT)
    ctx = context(keys, previous=[weak, key("root-b")])
    found = results_of(ctx, "CER-KEY-STRENGTH")
    assert found == [] or found[0][0] == WARNING  # only checked for keys the plan uses
    roles = {**ROLES, "root": (2, ["old-1", "root-b", "root-c"])}
    ctx = context(keys, previous=[weak, key("root-b")], roles=roles)
    found = results_of(ctx, "CER-KEY-STRENGTH")
    assert [lv for lv, _ in found] == [WARNING] and "2048 bits" in found[0][1]


# --- a signature file's own names are claims ------------------------------------------------


def test_claims_are_checked_against_the_enrolled_key() -> None:
    keys = base_keys()
    plan = parse_plan(plan_yaml(ROLES, {"root-b": {"holder": "Bob Example"}}))
    people = people_of(plan, keys)
    kid = keys["root-b"].keyid
    good = SignatureRecord(
        "root",
        kid,
        "00",
        "d",
        "root-b",
        "Bob Example",
        "2026-01-01T12:00:00Z",
        extra={"device": keys["root-b"].device(), "rehearsal_only": False},
    )
    assert claim_problem(good, people) is None
    assert claim_problem(SignatureRecord("root", kid, "00", "d", "", "", ""), people) is None
    spoofed = SignatureRecord(
        "root", kid, "00", "d", "root-a", "Alice", "yesterday", extra={"device": "YubiKey 5"}
    )
    problem = claim_problem(spoofed, people)
    assert problem is not None
    for words in (
        "key name 'root-a' where the enrolled key of keyid",
        "is 'root-b'",
        "holder 'Alice'",
        "device 'YubiKey 5'",
        "signed_at 'yesterday', which is not a time",
    ):
        assert words in problem, problem
    wrong_flag = SignatureRecord("root", kid, "00", "d", "", "", "", extra={"rehearsal_only": True})
    assert "rehearsal_only true" in (claim_problem(wrong_flag, people) or "")
