"""A previous root made by another tool, through the CLI (issue 9, rules 2 and 4).

Rule 2: a previous root is judged before anything is built on it (`init --previous-root`,
`validate` and every command that loads the directory), and a refusal names the file, the
rule and python-tuf's own cause; a role's keyid with no key object, and a key no client can
load, are reported and left out. Rule 4: `init` writes a plan `validate` accepts for every
root a client accepts (legacy keytypes, keys of types the tool would not generate today, an
online key that also signs targets), while the same choices made NEW are still refused.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from securesystemslib.signer import SSlibKey
from tuf.api.metadata import Metadata, Root

from ceremony.keys import SOURCE_PUBLIC_KEY, EnrolledKey
from tests.cli.foreign_roots import Foreign, ceremony, fill_holders, make_root, tree_hashes

# --- rule 2: refused, with the file, the rule and the cause; nothing written ---------------


def _refused_by_init(tmp_path: Path, root: Path) -> str:
    before = tree_hashes(tmp_path)
    r = ceremony("init", tmp_path / "c2", "--previous-root", root)
    assert r.code == 2, r.out
    assert not (tmp_path / "c2").exists()
    assert tree_hashes(tmp_path) == before
    assert str(root) in r.out
    assert "previous_root.path" not in r.out  # the file came from --previous-root
    return r.out


def test_init_refuses_a_root_short_of_its_own_threshold(tmp_path: Path) -> None:
    f = make_root(threshold=2, sign_with=1)
    out = _refused_by_init(tmp_path, f.write(tmp_path / "1.root.json"))
    assert "does not verify by its own threshold" in out
    assert "root was signed by 1/2 keys" in out  # python-tuf's words


@pytest.mark.parametrize(
    ("edit", "cause", "verify_exit"),
    [
        (lambda f, s: s.update(spec_version="2.0.0"), "Unsupported spec_version 2.0.0", 2),
        (lambda f, s: s.update({"x-ratio": 1.5}), "holds a float (1.5) at signed.x-ratio", 2),
        (lambda f, s: s.pop("keys"), "the field 'keys' is missing", 2),
        # python-tuf reads it; no key can count for a null keyid: refused, not unreadable.
        (lambda f, s: s["roles"]["root"].update(keyids=[None]), "root was signed by 0/2 keys", 1),
    ],
    ids=["spec-version", "float", "no-keys", "null-keyid"],
)
def test_init_and_verify_name_python_tufs_cause(
    tmp_path: Path, edit: Any, cause: str, verify_exit: int
) -> None:
    f = make_root(edit=edit, sign_with=0)
    f.sign(list(f.signers)[:2], canonical=False)  # a tool that does not canonicalise floats
    root = f.write(tmp_path / "1.root.json")
    out = _refused_by_init(tmp_path, root)
    assert cause in out
    assert "Failed to deserialize" not in out
    r = ceremony("verify", root)
    assert r.code == verify_exit and cause in r.out, r.out
    assert "Failed to deserialize" not in r.out


def test_two_signatures_for_one_keyid_are_named(tmp_path: Path) -> None:
    f = make_root()
    f.doc["signatures"].append(dict(f.doc["signatures"][0]))
    out = _refused_by_init(tmp_path, f.write(tmp_path / "1.root.json"))
    assert "Multiple signatures found for keyid" in out


def test_validate_refuses_a_previous_root_that_does_not_verify(tmp_path: Path) -> None:
    """A directory whose previous root (and its pin) were replaced by an unsigned one: every
    command that builds on it refuses, naming the previous root and its signatures."""
    good = make_root()
    d = tmp_path / "c2"
    assert ceremony("init", d, "--previous-root", good.write(tmp_path / "1.root.json")).code == 0
    fill_holders(d)
    bad = make_root(threshold=2, sign_with=1)
    data = json.dumps(bad.doc).encode()
    (d / "previous" / "1.root.json").write_bytes(data)
    import hashlib

    plan = d / "ceremony.yaml"
    plan.write_text(
        re.sub(
            r'sha256: "[0-9a-f]{64}"',
            f'sha256: "{hashlib.sha256(data).hexdigest()}"',
            plan.read_text(),
        )
    )
    before = tree_hashes(d)
    val = ceremony("validate", d)
    assert val.code == 2
    assert re.search(
        r"ERROR\s+CER-PREVIOUS-SIGNED: the previous root previous/1.root.json", val.out
    )
    assert "root was signed by 1/2 keys" in val.out
    draft = ceremony("draft", d)
    assert draft.code == 2 and "CER-PREVIOUS-SIGNED" in draft.out
    assert tree_hashes(d) == before


def test_validate_says_when_the_previous_roots_predecessor_is_not_checked(tmp_path: Path) -> None:
    d = tmp_path / "c4"
    f = make_root(version=3)
    init = ceremony("init", d, "--previous-root", f.write(tmp_path / "3.root.json"))
    assert init.code == 0
    assert "NOT checked: give them with --trusted-chain" in init.out
    fill_holders(d)
    val = ceremony("validate", d)
    assert val.code == 0, val.out
    assert "Whether it follows from the roots before it is not checked here" in val.out


def _chain(tmp_path: Path) -> tuple[Path, Path, Foreign]:
    """1.root.json and 2.root.json, 2 signed by 1's threshold and its own."""
    one = make_root()
    p1 = one.write(tmp_path / "1.root.json")
    two = Foreign(one.signers, json.loads(json.dumps(one.doc)))
    two.doc["signed"]["version"] = 2
    two.sign(one.doc["signed"]["roles"]["root"]["keyids"][:2])
    return p1, two.write(tmp_path / "2.root.json"), one


def test_init_checks_the_chain_given_with_trusted_chain(tmp_path: Path) -> None:
    p1, p2, _ = _chain(tmp_path)
    r = ceremony("init", tmp_path / "ok", "--previous-root", p2, "--trusted-chain", p1)
    assert r.code == 0, r.out
    assert "follows from the root you trust (version 1" in r.out
    # A version 2 that version 1's keys did not sign: refused, nothing written.
    other = make_root(version=2)
    p2b = other.write(tmp_path / "2b.root.json")
    before = tree_hashes(tmp_path)
    r = ceremony("init", tmp_path / "no", "--previous-root", p2b, "--trusted-chain", p1)
    assert r.code == 2 and "does not follow from the roots given with --trusted-chain" in r.out
    assert "previous root threshold not met" in r.out
    assert tree_hashes(tmp_path) == before


def test_trusted_chain_without_a_previous_root_is_refused(tmp_path: Path) -> None:
    p1, _, _ = _chain(tmp_path)
    r = ceremony("init", tmp_path / "c", "--trusted-chain", p1)
    assert r.code == 2 and "--previous-root" in r.out
    assert not (tmp_path / "c").exists()


def test_a_keyid_without_a_key_object_is_reported_and_left_out(tmp_path: Path) -> None:
    """Clients accept such a root (the remaining keys meet the threshold); init works, says
    so, and the new root drops the keyid, shown as a removal, never as expiry-only."""

    def drop_third(f: Foreign, signed: dict[str, Any]) -> None:
        del signed["keys"][signed["roles"]["root"]["keyids"][2]]

    f = make_root(edit=drop_third)
    d = tmp_path / "c2"
    init = ceremony("init", d, "--previous-root", f.write(tmp_path / "1.root.json"))
    assert init.code == 0, init.out
    assert "has no key object for it" in init.out
    fill_holders(d)
    val = ceremony("validate", d)
    assert val.code == 0 and "WARNING CER-PREVIOUS-KEY-MISSING" in val.out, val.out
    assert ceremony("draft", d).code == 0
    show = ceremony("show", d)
    assert show.code == 0
    assert "(the previous root has no key object for it)" in show.out
    assert "expiry-only" not in show.out
    assert ceremony("status", d).code == 0


def test_a_key_no_client_can_load_is_reported_and_left_out(tmp_path: Path) -> None:
    def break_third(f: Foreign, signed: dict[str, Any]) -> None:
        kid = signed["roles"]["root"]["keyids"][2]
        signed["keys"][kid]["keyval"]["public"] = "zz-not-hex"

    f = make_root(edit=break_third)
    d = tmp_path / "c2"
    init = ceremony("init", d, "--previous-root", f.write(tmp_path / "1.root.json"))
    assert init.code == 0, init.out
    assert "has a public value no client can load" in init.out
    assert "root-3" not in (d / "ceremony.yaml").read_text()
    fill_holders(d)
    val = ceremony("validate", d)
    assert val.code == 0 and "WARNING CER-PREVIOUS-KEY-UNUSABLE" in val.out, val.out


# --- rule 4: init writes a plan validate accepts, for every root a client accepts -----------


def _rotate(tmp_path: Path, f: Foreign, name: str = "c2") -> tuple[Path, str]:
    d = tmp_path / name
    init = ceremony("init", d, "--previous-root", f.write(tmp_path / f"{name}.root.json"))
    assert init.code == 0, init.out
    fill_holders(d)
    val = ceremony("validate", d)
    assert val.code == 0, val.out
    return d, val.out


def test_legacy_ecdsa_keytype_maps_to_the_plan_type(tmp_path: Path) -> None:
    f = make_root(kind="ecdsa-p256", key_fields={"keytype": "ecdsa-sha2-nistp256"})
    d, _ = _rotate(tmp_path, f)
    assert 'type: "ecdsa-p256"' in (d / "ceremony.yaml").read_text()
    assert ceremony("draft", d).code == 0
    before = json.loads(json.dumps(f.doc["signed"]))
    after = Metadata[Root].from_bytes((d / "drafts" / "root.json").read_bytes()).signed.to_dict()
    assert after["keys"] == before["keys"]  # the legacy spelling is kept, keyids unchanged


def test_an_already_trusted_key_of_an_old_type_may_re_sign_but_not_be_added(tmp_path: Path) -> None:
    """RSA-PSS with SHA-512 is not a type new keys may have; a root that already trusts such
    keys can still be re-signed (a warning), and the plan says no `type` it cannot express."""
    f = make_root(kind="rsa-3072", key_fields={"scheme": "rsassa-pss-sha512"})
    d, out = _rotate(tmp_path, f)
    assert "WARNING CER-KEY-TYPE" in out and "previous root already trusts it" in out
    assert "type:" not in (d / "ceremony.yaml").read_text().split("keys:", 1)[1]
    # The same kind of key, new to this root: an error.
    other = make_root(kind="rsa-3072", key_fields={"scheme": "rsassa-pss-sha512"})
    extra = Foreign(other.signers, other.doc)
    new_kid = extra.doc["signed"]["roles"]["root"]["keyids"][0]
    key_json = json.dumps({**extra.doc["signed"]["keys"][new_kid], "keyid": new_kid})
    (tmp_path / "new.json").write_text(key_json)
    plan = d / "ceremony.yaml"
    text = plan.read_text().replace(
        'keys: ["root-1", "root-2", "root-3"]', 'keys: ["root-1", "root-2", "root-3", "root-new"]'
    )
    plan.write_text(text + '  "root-new": {holder: "New"}\n')
    # Refused at enrolment already, measured from the key (issue 9 rule 5), nothing written.
    before = tree_hashes(d)
    enr = ceremony("enroll", d, "root-new", "--public-key", tmp_path / "new.json")
    assert enr.code == 2, enr.out
    assert "it is rsa-3072 (rsa/rsassa-pss-sha512), and offline roles accept" in enr.out
    assert tree_hashes(d) == before
    # A key file put there by hand is refused by validate all the same.
    fields = {k: v for k, v in json.loads(key_json).items() if k != "keyid"}
    key = SSlibKey.from_dict(new_kid, fields)
    rec = EnrolledKey("root-new", key, SOURCE_PUBLIC_KEY, "2026-01-01T00:00:00Z")
    (d / "keys" / "root-new.json").write_text(json.dumps(rec.to_dict()))
    val = ceremony("validate", d)
    assert val.code == 2
    assert re.search(r"ERROR\s+CER-KEY-TYPE: key 'root-new'", val.out), val.out


def test_an_inherited_online_targets_key_is_a_warning_a_new_one_an_error(tmp_path: Path) -> None:
    """RSTUF's layout: one online key signs targets, snapshot and timestamp. Kept from the
    root clients trust: a warning naming the risk. Introduced by the plan: an error."""
    f = make_root(online_signs_targets=True)
    d, out = _rotate(tmp_path, f)
    assert "WARNING CER-KEY-OFFLINE-ONLINE" in out and "has exactly this layout" in out
    # The plan now also gives the online key the root role: new, so refused.
    plan = d / "ceremony.yaml"
    plan.write_text(
        plan.read_text().replace(
            'keys: ["root-1", "root-2", "root-3"]',
            'keys: ["root-1", "root-2", "root-3", "targets-1"]',
        )
    )
    val = ceremony("validate", d)
    assert val.code == 2 and re.search(r"ERROR\s+CER-KEY-OFFLINE-ONLINE", val.out), val.out
