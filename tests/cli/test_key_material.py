"""Issue 9 rules 1 and 5 through the CLI, on both token backends (the software rehearsal
token and SoftHSM2).

Rule 1, a key is its public key material: a holder whose key a previous root lists in
another spelling (extra fields as tuf-on-ci writes them, the legacy keytype, upper-case
hex, another RSA-PSS scheme) signs the rotation with the right token, and that signature
counts; the same key is never enrolled under a second name; a root that meets a threshold
only by listing one key twice is refused by `verify`, naming the keys.

Rule 5, a key's type and strength come from the key: an RSA key below 3072 bits, or an EC
key on another curve than the plan's, is refused at enrolment from a file and from a token
alike with what was measured, nothing written; a key file edited afterwards fails
`validate`; screens show what a key is.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from securesystemslib.signer import CryptoSigner, Key, Signature, SSlibKey
from tuf.api.metadata import Metadata, Root
from tuf.api.serialization.json import JSONSerializer

from ceremony.keys import content_keyid
from tests.cli.backends import BACKENDS, Backend, make_backend
from tests.cli.conftest import snapshot_tree

ROLES = """\
roles:
  root:      {threshold: 1, keys: [KEY]}
  targets:   {threshold: 1, keys: [KEY]}
  snapshot:  {threshold: 1, keys: [online]}
  timestamp: {threshold: 1, keys: [online]}
"""


def scratch_plan(name: str, key_type: str | None) -> str:
    """A plan that only names `name` (to generate a key with `ceremony keygen`)."""
    typ = f", type: {key_type}" if key_type else ""
    return (
        'repository: "keys.example.org"\nroot: {expires: 365d}\n'
        + ROLES.replace("KEY", name)
        + f'keys:\n  {name}: {{holder: "Alice Example"{typ}}}\n  online: {{holder: "Online"}}\n'
        + "rehearsal: true\n"
    )


def pem_file(path: Path, pub: Any) -> Path:
    path.write_bytes(pub.public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo))
    return path


def respell(key: dict[str, Any], spelling: str) -> SSlibKey:
    """The token's key as another tool wrote it in a root (its keyid follows the spelling)."""
    d = dict(key)
    if spelling == "extra-fields":  # tuf-on-ci / Sigstore's roots
        d.update({"x-tuf-on-ci-keyowner": "@alice", "keyid_hash_algorithms": ["sha256", "sha512"]})
    elif spelling == "legacy-keytype":  # securesystemslib < 0.26
        d["keytype"] = "ecdsa-sha2-nistp256"
    elif spelling == "upper-hex":
        d["keyval"] = {"public": d["keyval"]["public"].upper()}
    elif spelling == "rsa-pss-sha384":
        d["scheme"] = "rsassa-pss-sha384"
    return SSlibKey.from_dict(content_keyid(d), dict(d))


def previous_root(path: Path, alice: Key, bob: CryptoSigner) -> Path:
    """Version 1: root and targets held by Alice's key (as spelled) and Bob's, threshold 1,
    signed by Bob."""
    expires = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=200)
    root = Root(expires=expires, consistent_snapshot=True)
    for role in ("root", "targets"):
        root.add_key(alice, role)
        root.add_key(bob.public_key, role)
    online = CryptoSigner.generate_ed25519().public_key
    root.add_key(online, "snapshot")
    root.add_key(online, "timestamp")
    md = Metadata(root)
    md.sign(bob, append=True)
    path.write_bytes(md.to_bytes(JSONSerializer()))
    return path


SPELLINGS = {
    "extra-fields": "ecdsa-p256",
    "legacy-keytype": "ecdsa-p256",
    "upper-hex": "ed25519",
    "rsa-pss-sha384": "rsa-3072",  # trusted with another scheme: CER-KEY-TYPE warns (rule 4)
}


@pytest.mark.softhsm
@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
@pytest.mark.parametrize("kind", BACKENDS)
def test_the_right_token_signs_for_a_key_the_previous_root_spells_otherwise(
    kind: str, spelling: str, tmp_path: Path
) -> None:
    tok = make_backend(kind, tmp_path, f"rs-{kind[:4]}-{spelling}"[:32])
    key_type = SPELLINGS[spelling]
    c0 = tmp_path / "c0"  # Alice's key, generated on her token
    tok.ok("init", c0)
    (c0 / "ceremony.yaml").write_text(scratch_plan("root-alice", key_type))
    uri = tok.keygen(c0, "root-alice", key_type)
    token_key = tok.public_key(c0, "root-alice")
    prev = previous_root(
        tmp_path / "1.root.json", respell(token_key, spelling), CryptoSigner.generate_ed25519()
    )

    d = tmp_path / "c2"
    tok.ok("init", d, "--previous-root", prev)
    plan = d / "ceremony.yaml"
    text = re.sub(r"TODO: holder of key [0-9a-f]*", "Bob Example", plan.read_text())
    text = text.replace('"root-1": {holder: "Bob Example"', '"root-1": {holder: "Alice"')
    plan.write_text(text + "rehearsal: true\n")  # the tokens are rehearsal tokens (tests)
    enrolled = json.loads((d / "keys" / "root-1.json").read_text())["key"]
    assert enrolled != token_key, "the previous root spells the key otherwise"
    tok.ok("validate", d)
    tok.ok("draft", d)

    res = tok.run("sign", d, "root", "--key", "root-1", "--uri", uri, stdin=("Yes", tok.pin))
    assert res.code == 0, res.text
    assert "Wrong key" not in res.text and "is not the enrolled key" not in res.text
    st = json.loads(tok.ok("status", d, "--json").out)["roles"]["root"]
    assert [(t["of"], t["signed"]) for t in st["thresholds"]] == [
        ("previous", ["root-1"]),
        ("new", ["root-1"]),
    ]
    assert st["complete"] is True
    tok.ok("export", d)
    tok.ok("verify", prev, d / "published" / "2.root.json")

    # The same key, offered again under another name, is refused: it is already root-1.
    plan.write_text(plan.read_text().replace("keys:\n", 'keys:\n  "again": {holder: "A"}\n', 1))
    before = snapshot_tree(d)
    res = tok.run("enroll", d, "again", "--uri", uri, stdin=(tok.pin,))
    assert res.code == 2, res.text
    assert "already enrolled as 'root-1'" in res.text
    assert snapshot_tree(d) == before


# --- rule 5: strength and type from the key ------------------------------------------------


def ceremony_with(tok: Backend, base: Path, key_type: str | None) -> Path:
    d = base / "c1"
    tok.ok("init", d)
    (d / "ceremony.yaml").write_text(scratch_plan("root-alice", key_type))
    return d


@pytest.mark.softhsm
@pytest.mark.parametrize("kind", BACKENDS)
def test_a_weak_rsa_key_on_a_token_is_refused_with_its_size(kind: str, tmp_path: Path) -> None:
    tok = make_backend(kind, tmp_path, f"weak-{kind}")
    d = ceremony_with(tok, tmp_path, "rsa-3072")
    for bits in (1024, 2048):
        uri = tok.put_rsa_key(f"rsa{bits}", bits)
        before = snapshot_tree(d)
        res = tok.run("enroll", d, "root-alice", "--uri", uri, stdin=(tok.pin,))
        assert res.code == 2, res.text
        assert f"it is an RSA key of {bits} bits; RSA keys need at least 3072 bits" in res.text
        assert "'root-alice'" in res.text and "Nothing was enrolled" in res.text
        assert snapshot_tree(d) == before
    # Without a planned type, the size is refused all the same.
    (d / "ceremony.yaml").write_text(scratch_plan("root-alice", None))
    res = tok.run("enroll", d, "root-alice", "--uri", tok.uri("rsa1024"), stdin=(tok.pin,))
    assert res.code == 2 and "1024 bits" in res.text, res.text


@pytest.mark.softhsm
@pytest.mark.parametrize("kind", BACKENDS)
def test_a_token_key_on_another_curve_than_planned_is_refused(kind: str, tmp_path: Path) -> None:
    tok = make_backend(kind, tmp_path, f"curve-{kind}")
    scratch = ceremony_with(tok, tmp_path / "scratch", "ecdsa-p384")
    uri = tok.keygen(scratch, "root-alice", "ecdsa-p384", obj="p384")
    d = ceremony_with(tok, tmp_path, "ecdsa-p256")
    before = snapshot_tree(d)
    res = tok.run("enroll", d, "root-alice", "--uri", uri, stdin=(tok.pin,))
    assert res.code == 2, res.text
    assert "an ECDSA key on curve P-384 (ecdsa-p384), but the plan asks for ecdsa-p256" in res.text
    assert snapshot_tree(d) == before
    # The key the plan asks for is enrolled, and shown as what it is.
    (d / "ceremony.yaml").write_text(scratch_plan("root-alice", "ecdsa-p384"))
    tok.ok("enroll", d, "root-alice", "--uri", uri, stdin=(tok.pin,))


def test_a_weak_or_unplanned_key_file_is_refused(tmp_path: Path) -> None:
    from tests.cli.backends import make_backend as mk

    tok = mk("software", tmp_path, "files")
    d = ceremony_with(tok, tmp_path, "rsa-3072")
    weak = pem_file(tmp_path / "weak.pem", rsa.generate_private_key(65537, 1024).public_key())
    p384 = pem_file(tmp_path / "p384.pem", ec.generate_private_key(ec.SECP384R1()).public_key())
    before = snapshot_tree(d)
    res = tok.run("enroll", d, "root-alice", "--public-key", weak)
    assert res.code == 2, res.text
    assert f"'root-alice' (from {weak})" in res.text and "an RSA key of 1024 bits" in res.text
    (d / "ceremony.yaml").write_text(scratch_plan("root-alice", "ecdsa-p256"))
    before = snapshot_tree(d)
    res = tok.run("enroll", d, "root-alice", "--public-key", p384)
    assert res.code == 2 and "curve P-384" in res.text, res.text
    # A TUF key JSON whose labels say P-256 but whose key is on P-384: measured, refused.
    lying = tmp_path / "lying.json"
    key = SSlibKey.from_crypto(ser.load_pem_public_key(p384.read_bytes())).to_dict()
    key["scheme"] = "ecdsa-sha2-nistp256"
    lying.write_text(json.dumps(key))
    res = tok.run("enroll", d, "root-alice", "--public-key", lying)
    assert res.code == 2 and "curve P-384" in res.text, res.text
    assert snapshot_tree(d) == before


def test_a_key_file_edited_after_enrolment_fails_validate(tmp_path: Path) -> None:
    tok = make_backend("software", tmp_path, "edited")
    d = ceremony_with(tok, tmp_path, None)
    tok.keygen(d, "root-alice", "ed25519")
    online = pem_file(tmp_path / "online.pem", rsa.generate_private_key(65537, 4096).public_key())
    tok.ok("enroll", d, "online", "--public-key", online)
    # An online key may be RSA-4096: shown as what it is, never as rsa-3072.
    draft = tok.ok("draft", d)
    assert "rsa-4096" in draft.out and "rsa-3072" not in draft.out, draft.out
    path = d / "keys" / "root-alice.json"
    rec = json.loads(path.read_text())
    weak = SSlibKey.from_crypto(rsa.generate_private_key(65537, 1024).public_key())
    rec["key"] = weak.to_dict()
    rec["keyid"] = weak.keyid
    path.write_text(json.dumps(rec))
    res = tok.run("validate", d)
    assert res.code == 2, res.text
    assert "CER-KEY-STRENGTH" in res.text and "key 'root-alice' (keys/root-alice.json)" in res.text
    assert "an RSA key of 1024 bits" in res.text
    assert "key 'root-alice' is rsa-1024" in res.text  # shown as what it is
    assert "is rsa-3072" not in res.text
    assert tok.run("draft", d).code == 2


# --- rule 1 in verify: a key counted twice, named ---------------------------------------------


@pytest.mark.parametrize("spelling", ["legacy-keytype", "extra-fields", "hex-point"])
def test_verify_refuses_a_threshold_met_by_one_key_spelled_twice(
    spelling: str, tmp_path: Path
) -> None:
    signer = CryptoSigner.generate_ecdsa()
    k = signer.public_key
    if spelling == "hex-point":
        pub = ser.load_pem_public_key(k.keyval["public"].encode())
        assert isinstance(pub, ec.EllipticCurvePublicKey)
        point = pub.public_bytes(ser.Encoding.X962, ser.PublicFormat.UncompressedPoint).hex()
        d = {**k.to_dict(), "keytype": "ecdsa-sha2-nistp256", "keyval": {"public": point}}
        twin = SSlibKey.from_dict(content_keyid(d), dict(d))
    else:
        twin = respell(k.to_dict(), spelling)
    other = CryptoSigner.generate_ed25519().public_key
    root = Root(expires=dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=90))
    for key in (k, twin, other):
        root.add_key(key, "root")
    for role in ("targets", "snapshot", "timestamp"):
        root.add_key(other, role)
    root.roles["root"].threshold = 2
    md = Metadata(root)
    sig = md.sign(signer, append=True)
    md.signatures[twin.keyid] = Signature(twin.keyid, sig.signature)  # the same signature
    path = tmp_path / "1.root.json"
    path.write_bytes(md.to_bytes(JSONSerializer()))
    tok = make_backend("software", tmp_path, "verify")
    res = tok.run("verify", path)
    if spelling == "hex-point":  # no client can verify with a hex point: 1 of 2 either way
        assert res.code == 1, res.text
        return
    assert res.code == 1, res.text
    assert f"key-{k.keyid[:8]}" in res.text and f"key-{twin.keyid[:8]}" in res.text
    assert "threshold met only by counting one key twice" in res.text
