"""The root ceremony end to end through the CLI on SoftHSM2, each session its own process.

First root 2-of-3 (Alice ed25519, Bob ECDSA P-256, Carol RSA-3072) signed in two separate
processes, one of them on a copy of the directory merged back; export refused below the
threshold; then a rotation that replaces Carol's key by Dave's and raises the threshold to 3,
with both thresholds shown in status; the exported chain accepted by python-tuf's client.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from tuf.api.metadata import Metadata

from tests.cli.conftest import Cli, Holders, plan_text, snapshot_tree
from tests.interop.clients import run_python_tuf
from tests.interop.repo import build_repository, read_exported

pytestmark = pytest.mark.softhsm

ROLES_V1 = {
    "root": (2, ["root-alice", "root-bob", "root-carol"]),
    "targets": (1, ["targets-key"]),
    "snapshot": (1, ["online"]),
    "timestamp": (1, ["online"]),
}
KEYS_V1 = {
    "root-alice": "Alice Example",
    "root-bob": "Bob Example",
    "root-carol": "Carol Example",
    "targets-key": "Targets key holder",
    "online": "Online signing service",
}


def status_json(cli: Cli, d: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(cli.ok("status", d, "--json").out)
    return data


@pytest.fixture(scope="module")
def first_root(cli: Cli, holders: Holders, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("c") / "first"
    cli.ok("init", d)
    (d / "ceremony.yaml").write_text(plan_text(ROLES_V1, KEYS_V1))
    res = cli.run("validate", d)
    assert res.code == 0, res.text
    assert "CER-KEY-NOT-ENROLLED" in res.text
    for holder, name, ktype in (
        ("alice", "root-alice", "ed25519"),
        ("bob", "root-bob", "ecdsa-p256"),
        ("carol", "root-carol", "rsa-3072"),
    ):
        res = cli.ok(
            "keygen",
            d,
            name,
            "--uri",
            holders.uri(holder, name),
            "--type",
            ktype,
            stdin=[holders.pin(holder)],
            module=True,
        )
        assert "Enrolled" in res.out
    cli.ok("enroll", d, "online", "--public-key", holders.online_pem)
    cli.ok("enroll", d, "targets-key", "--public-key", holders.targets_pem)
    cli.ok("validate", d)
    res = cli.ok("draft", d)
    assert "Drafted root version 1" in res.out
    return d


def test_first_root_signed_in_two_sessions_and_merged(
    cli: Cli, holders: Holders, first_root: Path, tmp_path: Path
) -> None:
    d = first_root
    st = status_json(cli, d)["roles"]["root"]
    assert st["complete"] is False
    assert st["thresholds"] == [
        {
            **st["thresholds"][0],
            "of": "new",
            "threshold": 2,
            "signed": [],
            "missing": ["root-alice", "root-bob", "root-carol"],
        }
    ]

    # Export below the threshold is refused and writes nothing.
    before = snapshot_tree(d)
    res = cli.run("export", d)
    assert res.code == 1, res.text
    assert "missing: root-alice (Alice Example)" in res.text
    assert snapshot_tree(d) == before
    assert not (d / "published").exists() or not any((d / "published").iterdir())

    # Session 1: Alice, process 1.
    res = cli.ok(
        "sign", d, "root", "--key", "root-alice", stdin=["Yes", holders.pin("alice")], module=True
    )
    assert "Signed root as 'root-alice'" in res.out
    assert "SHA-256 of the exact bytes" in res.out  # she saw the digest before signing
    # Session 2: Bob, on a copy of the directory (another machine), process 2.
    copy = tmp_path / "bob-usb"
    shutil.copytree(d, copy)
    cli.ok(
        "sign", copy, "root", "--key", "root-bob", stdin=["Yes", holders.pin("bob")], module=True
    )
    assert status_json(cli, d)["roles"]["root"]["complete"] is False

    res = cli.ok("merge", d, copy)
    assert "1 added, 1 skipped, 0 refused" in res.out  # Alice's is a duplicate, Bob's is new
    st = status_json(cli, d)["roles"]["root"]
    assert st["complete"] is True
    assert st["thresholds"][0]["signed"] == ["root-alice", "root-bob"]
    assert st["thresholds"][0]["missing"] == ["root-carol"]

    res = cli.ok("export", d)
    # SoftHSM is a rehearsal token: the export screen and the record say so.
    assert "REHEARSAL:" in res.out
    record = (d / "published" / "ceremony-record.md").read_text()
    assert (
        "**REHEARSAL: signed with keys on rehearsal tokens (SoftHSM: keys kept in files). "
        "Never publish these files.**"
    ) in record
    assert "(REHEARSAL token: keys in files)" in record
    pub = d / "published"
    assert {p.name for p in pub.iterdir()} == {
        "1.root.json",
        "root.json",
        "SHA256SUMS",
        "ceremony-record.md",
        "ceremony-record.html",  # the printable record (issue 11)
    }
    md = Metadata.from_bytes((pub / "1.root.json").read_bytes())
    assert md.signed.version == 1 and len(md.signatures) == 2
    # The same export again: those bytes are there already; nothing written, nothing to do.
    before = {f.name: f.read_bytes() for f in pub.iterdir()}
    res = cli.ok("export", d)
    assert "nothing was written, nothing to do" in " ".join(res.out.split())
    assert {f.name: f.read_bytes() for f in pub.iterdir()} == before
    # Export never overwrites another file.
    (pub / "1.root.json").write_text("edited")
    res = cli.run("export", d)
    assert res.code == 2 and "never overwrites" in res.text
    (pub / "1.root.json").write_bytes(before["1.root.json"])
    cli.ok("verify", pub / "1.root.json")


def test_wrong_answer_or_wrong_pin_writes_nothing(
    cli: Cli, holders: Holders, first_root: Path, tmp_path: Path
) -> None:
    d = tmp_path / "copy"
    shutil.copytree(first_root, d)
    shutil.rmtree(d / "signatures", ignore_errors=True)
    # As before any export (the first test exported first_root).
    shutil.rmtree(d / "published", ignore_errors=True)
    (d / "exports.json").unlink(missing_ok=True)
    before = snapshot_tree(d)
    res = cli.run(
        "sign", d, "root", "--key", "root-carol", stdin=["yes", holders.pin("carol")], module=True
    )
    assert res.code == 1 and "did not confirm" in res.text
    # The prompt and the refusal both state the rule, and show what was typed.
    assert "Type exactly Yes (capital Y, nothing else)" in res.out
    assert (
        "you typed 'yes'; only exactly Yes (capital Y, no spaces) confirms; nothing was signed"
        in res.err
    )
    assert snapshot_tree(d) == before
    res = cli.run(
        "sign", d, "root", "--key", "root-carol", stdin=["Yes", "not-the-pin-0000"], module=True
    )
    assert res.code == 3, res.text
    assert "Wrong PIN" in res.text or "wrong PIN" in res.text
    assert snapshot_tree(d) == before
    # A key of another holder on the wrong token: mismatch names both keys.
    res = cli.run(
        "sign",
        d,
        "root",
        "--key",
        "root-carol",
        "--uri",
        holders.uri("bob", "root-bob"),
        stdin=["Yes", holders.pin("bob")],
        module=True,
    )
    assert res.code == 3, res.text
    assert snapshot_tree(d) == before


@pytest.fixture(scope="module")
def rotation(cli: Cli, holders: Holders, first_root: Path) -> Path:
    pub = first_root / "published"
    if not (pub / "1.root.json").exists():
        pytest.skip(
            "first root was not exported (see test_first_root_signed_in_two_sessions_and_merged)"
        )
    d = first_root.parent / "rotation"
    res = cli.ok(
        "init", d, "--previous-root", pub / "1.root.json", "--previous-ceremony", first_root
    )
    assert "root-alice" in res.out
    from ceremony.plan.parse import parse_plan

    generated = parse_plan((d / "ceremony.yaml").read_text())
    assert generated.previous_root is not None
    prev_path, prev_sha = generated.previous_root.path, generated.previous_root.sha256
    assert generated.roles["root"].keys == (
        "root-alice",
        "root-bob",
        "root-carol",
    )  # names carried over
    roles = {**ROLES_V1, "root": (3, ["root-alice", "root-bob", "root-dave"])}
    keys = {**KEYS_V1, "root-dave": "Dave Example"}
    (d / "ceremony.yaml").write_text(
        plan_text(
            roles, keys, previous=(prev_path, prev_sha), statuses={"root-carol": "compromised"}
        )
    )
    cli.ok(
        "keygen",
        d,
        "root-dave",
        "--uri",
        holders.uri("dave", "root-dave"),
        "--type",
        "ecdsa-p384",
        stdin=[holders.pin("dave")],
        module=True,
    )
    res = cli.ok("validate", d)
    assert "CER-KEY-P384-CLIENTS" in res.out and "CER-THRESHOLD-ALL-KEYS" in res.out
    res = cli.ok("draft", d)
    assert "root: remove root-carol (holder Carol Example, compromised)" in res.out
    assert "root: add root-dave (holder Dave Example" in res.out
    assert "root: threshold 2 -> 3" in res.out
    return d


def test_rotation_shows_both_thresholds_and_exports(
    cli: Cli, holders: Holders, first_root: Path, rotation: Path, tmp_path: Path
) -> None:
    d = rotation
    cli.ok(
        "sign", d, "root", "--key", "root-alice", stdin=["Yes", holders.pin("alice")], module=True
    )
    cli.ok("sign", d, "root", "--key", "root-dave", stdin=["Yes", holders.pin("dave")], module=True)
    st = status_json(cli, d)["roles"]["root"]
    prev, new = st["thresholds"]
    assert (prev["of"], prev["threshold"], prev["signed"]) == ("previous", 2, ["root-alice"])
    assert set(prev["missing"]) == {"root-bob", "root-carol"}
    assert (new["of"], new["threshold"], new["signed"]) == ("new", 3, ["root-alice", "root-dave"])
    assert new["missing"] == ["root-bob"]
    assert st["complete"] is False
    text = cli.ok("status", d).out
    assert "previous root (version 1): 1 signed, 2 needed" in text
    assert "new root (version 2): 2 signed, 3 needed" in text

    # Carol's key is compromised: her signature still counts toward the previous root only.
    cli.ok(
        "sign", d, "root", "--key", "root-carol", stdin=["Yes", holders.pin("carol")], module=True
    )
    st = status_json(cli, d)["roles"]["root"]
    assert st["thresholds"][0]["signed"] == ["root-alice", "root-carol"]
    assert st["complete"] is False
    cli.ok("sign", d, "root", "--key", "root-bob", stdin=["Yes", holders.pin("bob")], module=True)
    assert status_json(cli, d)["roles"]["root"]["complete"] is True
    cli.ok("export", d)

    chain = [first_root / "published" / "1.root.json", d / "published" / "2.root.json"]
    res = cli.ok("verify", *chain)
    assert res.out.strip() == "The chain is valid up to root version 2 (2 roots checked)."
    res = cli.ok("verify", "--verbose", *chain)
    assert "version 1 -> 2: previous root 3/2, new root 3/3" in res.out
    assert "The chain is valid up to root version 2 (2 roots checked)." in res.out
    # The later root alone is not called a valid chain, and it says what was not checked.
    res = cli.ok("verify", chain[1])
    said = " ".join(res.out.split())
    assert "The chain is valid" not in said
    assert (
        "Not a chain: root version 2 is signed by its own threshold (3 of 3), but its "
        "predecessor (version 1) was not given, so whether clients that trust an earlier root "
        "accept it was NOT checked."
    ) in said

    # python-tuf's client, bootstrapped with v1, updates to v2 from a loopback repository.
    exported = read_exported(first_root / "published")
    roots = exported.roots + read_exported(d / "published").roots
    repo = build_repository(
        tmp_path / "repo",
        roots,
        {"hello.txt": b"hello"},
        {"snapshot": holders.online, "timestamp": holders.online, "targets": holders.targets},
    )
    result = run_python_tuf(repo.path, roots[0], "hello.txt")
    assert result.ok, result.error
    assert result.root_version == 2
