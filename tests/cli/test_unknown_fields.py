"""Nothing of a previous root is lost silently (issue 9, rule 3), through the CLI.

Fields other tools write (tuf-on-ci's `x-tuf-on-ci-*` on the root, on its roles and on its
keys) survive a rotation unless the plan changes them; every change to the signed bytes is
shown by `show` in holder terms, never summarised as "expiry-only". The expiry-only rotation
is signed end to end on both token backends (the software rehearsal token and SoftHSM2,
holding the previous root's own private keys) and checked by python-tuf's client.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from tuf.ngclient._internal.trusted_metadata_set import TrustedMetadataSet
from tuf.ngclient.config import EnvelopeType

from tests.cli.foreign_roots import PIN, Foreign, ceremony, fill_holders, make_root

TOC = {"x-tuf-on-ci-expiry-period": 182, "x-tuf-on-ci-signing-period": 35}


def _tuf_on_ci_fields(f: Foreign, signed: dict[str, Any]) -> None:
    signed["x-tuf-on-ci-online-uri"] = "gcpkms:projects/example/keys/online"
    for role in signed["roles"].values():
        role.update(TOC)
    unused = f.key()  # a key object no role uses: another tool may keep one
    signed["keys"][unused.keyid] = unused.to_dict()


def _tuf_on_ci_root() -> Foreign:
    return make_root(edit=_tuf_on_ci_fields, key_fields={"x-tuf-on-ci-keyowner": "@someone"})


def _signed(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_bytes())
    signed = doc.get("signed", doc)
    assert isinstance(signed, dict)
    return signed


def test_fields_survive_at_every_level_and_show_tells_what_changes(tmp_path: Path) -> None:
    f = _tuf_on_ci_root()
    d = tmp_path / "c2"
    assert ceremony("init", d, "--previous-root", f.write(tmp_path / "1.root.json")).code == 0
    fill_holders(d)
    assert ceremony("validate", d).code == 0
    assert ceremony("draft", d).code == 0
    before, after = f.doc["signed"], _signed(d / "drafts" / "root.json")
    assert after["x-tuf-on-ci-online-uri"] == before["x-tuf-on-ci-online-uri"]
    for role in ("root", "targets", "snapshot", "timestamp"):
        assert {k: after["roles"][role][k] for k in TOC} == TOC
    used = {k for r in before["roles"].values() for k in r["keyids"]}
    assert {k: before["keys"][k] for k in used} == after["keys"]  # keyowner kept, keyids too
    show = ceremony("show", d)
    # The unused key object is not carried: shown, so this is no expiry-only re-sign.
    assert "is no longer listed" in show
    assert "expiry-only" not in show.out


def test_a_re_spelled_key_is_shown_with_the_fields_it_loses(tmp_path: Path) -> None:
    """The holder enrols root-1 again from its PEM: the same key without tuf-on-ci's owner
    field, so a new keyid. show names the re-spelling and the field removed."""
    f = _tuf_on_ci_root()
    d = tmp_path / "c2"
    assert ceremony("init", d, "--previous-root", f.write(tmp_path / "1.root.json")).code == 0
    fill_holders(d)
    rec = json.loads((d / "keys" / "root-1.json").read_text())
    pem = tmp_path / "root-1.pem"
    pem.write_bytes(
        f.private(rec["keyid"])
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    (d / "keys" / "root-1.json").unlink()
    assert ceremony("enroll", d, "root-1", "--public-key", pem).code == 0
    assert ceremony("draft", d).code == 0
    show = ceremony("show", d)
    assert f"key {rec['keyid'][:8]} is re-spelled as keyid" in show
    assert 'field "x-tuf-on-ci-keyowner" removed (it was "@someone")' in show
    assert "root: remove" not in show.out and "root: add" not in show.out
    assert "expiry-only" not in show.out


def _keep_only_used_keys(f: Foreign, signed: dict[str, Any]) -> None:
    for role in signed["roles"].values():
        role.update(TOC)
    signed["x-tuf-on-ci-online-uri"] = "gcpkms:projects/example/keys/online"


def _software_signers(tmp_path: Path, f: Foreign, names: dict[str, str]) -> dict[str, list[str]]:
    from ceremony.tokens.software_rehearsal import SoftwareToken, SoftwareUri, _encrypt

    SoftwareToken.create(tmp_path / "tok", "prev", PIN)
    out = {}
    for name, kid in names.items():
        (tmp_path / "tok" / "prev" / f"{name}.key.pem").write_bytes(_encrypt(f.private(kid), PIN))
        out[name] = ["--uri", str(SoftwareUri(tmp_path / "tok", "prev", name))]
    return out


def _softhsm_signers(
    f: Foreign, names: dict[str, str]
) -> tuple[dict[str, list[str]], dict[str, str], str]:
    """The previous root's private keys put on a SoftHSM2 token (C_CreateObject)."""
    import pkcs11
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from pkcs11 import Attribute, KeyType, ObjectClass

    from ceremony.tokens import encoding
    from tests.softhsm import require_softhsm

    hsm = require_softhsm()
    token = hsm.init_token()
    lib = pkcs11.lib(token.module)
    tok = next(
        t
        for t in (s.get_token() for s in lib.get_slots(token_present=True))
        if t.serial.decode().strip() == token.serial
    )
    out = {}
    with tok.open(user_pin=token.pin, rw=True) as session:
        for i, (name, kid) in enumerate(names.items()):
            priv = f.private(kid)
            assert isinstance(priv, ed25519.Ed25519PrivateKey)
            raw = priv.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
            point = priv.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
            common = {Attribute.TOKEN: True, Attribute.LABEL: name, Attribute.ID: bytes([i + 1])}
            params = encoding.ED25519_OID_PARAMS
            session.create_object(
                {
                    **common,
                    Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                    Attribute.KEY_TYPE: KeyType.EC_EDWARDS,
                    Attribute.EC_PARAMS: params,
                    Attribute.VALUE: raw,
                    Attribute.PRIVATE: True,
                    Attribute.SENSITIVE: True,
                    Attribute.SIGN: True,
                }
            )
            session.create_object(
                {
                    **common,
                    Attribute.CLASS: ObjectClass.PUBLIC_KEY,
                    Attribute.KEY_TYPE: KeyType.EC_EDWARDS,
                    Attribute.EC_PARAMS: params,
                    Attribute.EC_POINT: bytes([0x04, len(point)]) + point,
                    Attribute.VERIFY: True,
                }
            )
            out[name] = [
                "--uri",
                token.key_uri(label=name),
                "--module",
                token.module,
                "--allow-imported-key",  # the previous root's keys were made in software here
            ]
    return out, hsm.env(), token.pin


@pytest.mark.parametrize("backend", ["software", "softhsm"])
def test_an_expiry_only_rotation_keeps_every_field_and_is_accepted_by_a_client(
    tmp_path: Path, backend: str
) -> None:
    # Key-level fields on the PKCS#11 path need a token key matched by its public key, not its
    # keyid (rule 1, case 05); the software token already matches so, and gets them here.
    fields = {"x-tuf-on-ci-keyowner": "@someone"} if backend == "software" else None
    f = make_root(edit=_keep_only_used_keys, key_fields=fields)
    prev = f.write(tmp_path / "1.root.json")
    d = tmp_path / "c2"
    assert ceremony("init", d, "--previous-root", prev).code == 0
    fill_holders(d, extra="rehearsal: true\n")  # both are rehearsal tokens (SoftHSM too)
    assert ceremony("draft", d).code == 0
    show = ceremony("show", d)
    assert "only the version and expiry change: an expiry-only re-sign" in show
    names = {
        n: json.loads((d / "keys" / f"{n}.json").read_text())["keyid"] for n in ("root-1", "root-2")
    }
    env: dict[str, str] = {}
    pin = PIN
    if backend == "software":
        how = _software_signers(tmp_path, f, names)
    else:
        how, env, pin = _softhsm_signers(f, names)
    for name in names:
        r = ceremony("sign", d, "root", "--key", name, *how[name], stdin=["Yes", pin], env=env)
        assert r.code == 0, r.out
    exported = ceremony("export", d, env=env)
    assert exported.code == 0, exported.out
    new = d / "published" / "2.root.json"
    TrustedMetadataSet(prev.read_bytes(), EnvelopeType.METADATA).update_root(new.read_bytes())
    before, after = f.doc["signed"], _signed(new)
    assert {k for k in before if before[k] != after.get(k)} == {"version", "expires"}
    assert set(after) == set(before)
