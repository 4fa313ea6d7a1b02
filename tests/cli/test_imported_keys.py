"""Token keys that may exist outside the token are refused, unless the operator makes a
deliberate, recorded exception (--allow-imported-key) that every later screen repeats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, Holders, plan_text, snapshot_tree
from tests.softhsm import SoftHsm, create_imported_key

pytestmark = pytest.mark.softhsm


def test_imported_key_refused_then_recorded_exception(
    cli: Cli, hsm: SoftHsm, holders: Holders, tmp_path: Path
) -> None:
    token = hsm.init_token(label="cli-imported")
    cli.secrets += [token.pin, token.so_pin]
    create_imported_key(
        token, label="root-imp", key_id=b"\x51", key_type="ecdsa-p256", how="import"
    )
    d = tmp_path / "c"
    cli.ok("init", d)
    roles = {
        "root": (1, ["root-imp"]),
        "targets": (1, ["targets-key"]),
        "snapshot": (1, ["online"]),
        "timestamp": (1, ["online"]),
    }
    keys = {"root-imp": "Ivy Imported", "targets-key": "T", "online": "Online"}
    (d / "ceremony.yaml").write_text(plan_text(roles, keys))
    uri = f"{token.uri};object=root-imp"
    before = snapshot_tree(d)
    res = cli.run("enroll", d, "root-imp", "--uri", uri, stdin=[token.pin], module=True)
    assert res.code == 3, res.text
    assert "not generated on the token" in res.text or "imported" in res.text
    assert snapshot_tree(d) == before

    res = cli.ok(
        "enroll",
        d,
        "root-imp",
        "--uri",
        uri,
        "--allow-imported-key",
        stdin=[token.pin],
        module=True,
    )
    assert "--allow-imported-key" in res.out
    cli.ok("enroll", d, "targets-key", "--public-key", holders.targets_pem)
    cli.ok("enroll", d, "online", "--public-key", holders.online_pem)
    assert "CER-KEY-IMPORTED" in cli.ok("validate", d).out
    cli.ok("draft", d)
    assert "CER-KEY-IMPORTED" in cli.ok("status", d).out
    st = json.loads(cli.ok("status", d, "--json").out)
    assert any("CER-KEY-IMPORTED" in w for w in st["warnings"])
    # Signing with it works (the exception was recorded at enrolment), and export says so.
    # No --module, and a wrong module in the environment: the module recorded at enrolment wins.
    cli.ok(
        "sign",
        d,
        "root",
        "--key",
        "root-imp",
        stdin=["Yes", token.pin],
        env={"CEREMONY_PKCS11_MODULE": "/nonexistent/libwrong.so"},
    )
    cli.ok("export", d)
    record = (d / "published" / "ceremony-record.md").read_text()
    assert "accepted with --allow-imported-key" in record
    entries = [json.loads(x) for x in (d / "transcript.jsonl").read_text().splitlines()]
    assert any("--allow-imported-key used for root-imp" in n for e in entries for n in e["notes"])


def test_allow_imported_key_at_sign_is_recorded_everywhere(
    cli: Cli, hsm: SoftHsm, holders: Holders, tmp_path: Path
) -> None:
    """`sign --allow-imported-key` lands in the signature file, the transcript and the record."""
    token = hsm.init_token(label="cli-imported-2")
    cli.secrets += [token.pin, token.so_pin]
    create_imported_key(
        token, label="root-imp", key_id=b"\x52", key_type="ecdsa-p256", how="import"
    )
    d = tmp_path / "c"
    cli.ok("init", d)
    roles = {
        "root": (1, ["root-imp"]),
        "targets": (1, ["targets-key"]),
        "snapshot": (1, ["online"]),
        "timestamp": (1, ["online"]),
    }
    keys = {"root-imp": "Ivy Imported", "targets-key": "T", "online": "Online"}
    (d / "ceremony.yaml").write_text(plan_text(roles, keys))
    uri = f"{token.uri};object=root-imp"
    cli.ok(
        "enroll",
        d,
        "root-imp",
        "--uri",
        uri,
        "--allow-imported-key",
        stdin=[token.pin],
        module=True,
    )
    cli.ok("enroll", d, "targets-key", "--public-key", holders.targets_pem)
    cli.ok("enroll", d, "online", "--public-key", holders.online_pem)
    cli.ok("draft", d)
    cli.ok(
        "sign", d, "root", "--key", "root-imp", "--allow-imported-key",
        stdin=["Yes", token.pin], module=True,
    )  # fmt: skip
    (sig,) = (d / "signatures" / "root").glob("*.json")
    assert json.loads(sig.read_text())["allow_imported_key"] is True
    last = json.loads((d / "transcript.jsonl").read_text().splitlines()[-1])
    assert last["command"] == "sign" and last["args"]["allow_imported_key"] is True
    assert "--allow-imported-key used for root-imp at sign" in last["notes"]
    cli.ok("export", d)
    record = (d / "published" / "ceremony-record.md").read_text()
    row = next(line for line in record.splitlines() if line.startswith("| root-imp | Ivy"))
    assert "(signed with --allow-imported-key)" in row, row
