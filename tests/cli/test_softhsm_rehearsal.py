"""SoftHSM is a rehearsal token: its keys are files on a disk. A plan without `rehearsal: true`
refuses them (CER-KEY-SOFTHSM, like the software token's CER-SOFTWARE-KEY), with one clear
paragraph; with `rehearsal: true` every screen says REHEARSAL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Cli, Holders, plan_text

pytestmark = pytest.mark.softhsm


def _enrolled(cli: Cli, holders: Holders, d: Path, name: str, *, rehearsal: bool) -> None:
    """A ceremony whose root key `name` is on Alice's SoftHSM token (the token is shared by
    the session's tests: each test uses its own key name)."""
    roles = {
        "root": (1, [name]),
        "targets": (1, ["targets-key"]),
        "snapshot": (1, ["online"]),
        "timestamp": (1, ["online"]),
    }
    keys = {name: "Alice Example", "targets-key": "T", "online": "Online"}
    cli.ok("init", d)
    (d / "ceremony.yaml").write_text(plan_text(roles, keys, rehearsal=rehearsal))
    cli.ok(
        "keygen", d, name, "--uri", holders.uri("alice", name),
        "--type", "ed25519", stdin=[holders.pin("alice")], module=True,
    )  # fmt: skip
    cli.ok("enroll", d, "targets-key", "--public-key", holders.targets_pem)
    cli.ok("enroll", d, "online", "--public-key", holders.online_pem)


def test_a_softhsm_key_in_a_production_plan_is_refused(
    cli: Cli, holders: Holders, tmp_path: Path
) -> None:
    d = tmp_path / "c"
    _enrolled(cli, holders, d, "root-prod", rehearsal=False)
    res = cli.run("validate", d)
    assert res.code == 2, res.text
    line = next(ln for ln in res.out.splitlines() if "CER-KEY-SOFTHSM" in ln)
    assert line.strip().startswith("ERROR   CER-KEY-SOFTHSM: root-prod: on SoftHSM")
    assert "SoftHSM is a rehearsal token: it is refused outside a rehearsal" in line
    assert "set `rehearsal: true` in the plan only for a practice run" in line
    res = cli.run("draft", d)
    assert res.code == 2 and "CER-KEY-SOFTHSM" in res.err, res.text
    assert not (d / "drafts" / "root.json").exists()


def test_a_softhsm_rehearsal_says_so_on_every_screen(
    cli: Cli, holders: Holders, tmp_path: Path
) -> None:
    d = tmp_path / "c"
    _enrolled(cli, holders, d, "root-reh", rehearsal=True)
    assert "CER-KEY-SOFTHSM" not in cli.ok("validate", d).out
    for args in (("draft", d), ("show", d), ("status", d)):
        assert "REHEARSAL:" in cli.ok(*args).out, args
    res = cli.ok(
        "sign", d, "root", "--key", "root-reh", stdin=["Yes", holders.pin("alice")], module=True
    )
    assert "REHEARSAL:" in res.out


def test_a_softhsm_key_enrolled_from_its_public_part_cannot_sign_a_production_root(
    cli: Cli, holders: Holders, tmp_path: Path
) -> None:
    """The rule holds for the device actually used: a key whose public part was enrolled from
    a file (so `validate` cannot know where it lives) is refused at `sign` when the token it is
    found on is SoftHSM, and in a rehearsal the signature file names that token."""
    import json

    from tests.cli.conftest import snapshot_tree

    made = tmp_path / "made"
    _enrolled(cli, holders, made, "root-pub", rehearsal=True)
    record = json.loads((made / "keys" / "root-pub.json").read_text())
    key_file = tmp_path / "root-pub.key.json"
    key_file.write_text(json.dumps(record["key"]))

    for rehearsal in (False, True):
        d = tmp_path / f"file-{rehearsal}"
        roles = {
            "root": (1, ["root-pub"]),
            "targets": (1, ["targets-key"]),
            "snapshot": (1, ["online"]),
            "timestamp": (1, ["online"]),
        }
        keys = {"root-pub": "Alice Example", "targets-key": "T", "online": "Online"}
        cli.ok("init", d)
        (d / "ceremony.yaml").write_text(plan_text(roles, keys, rehearsal=rehearsal))
        cli.ok("enroll", d, "root-pub", "--public-key", key_file)
        cli.ok("enroll", d, "targets-key", "--public-key", holders.targets_pem)
        cli.ok("enroll", d, "online", "--public-key", holders.online_pem)
        cli.ok("draft", d)
        before = snapshot_tree(d)
        res = cli.run(
            "sign", d, "root", "--key", "root-pub",
            stdin=["Yes", holders.pin("alice")], module=True,
        )  # fmt: skip
        if not rehearsal:
            assert res.code == 3, res.text
            assert "SoftHSM2 is a rehearsal token" in res.text and "Nothing was signed" in res.text
            assert not (d / "signatures").exists()
            assert {k: v for k, v in snapshot_tree(d).items() if "transcript" not in k} == {
                k: v for k, v in before.items() if "transcript" not in k
            }
            continue
        assert res.code == 0, res.text
        (sig,) = (d / "signatures" / "root").glob("*.json")
        data = json.loads(sig.read_text())
        assert (
            data["device"].startswith("SoftHSM")
            and "found by the key's public part" in (data["device"])
        )
        assert data["rehearsal_only"] is True
