"""PEP 458 through the CLI on SoftHSM2: root, targets (2 of 2), bins (2 of 2) delegating to
16,384 bin-n roles with one online key; bins signed on a copy and merged back; exported,
then served with online-made snapshot/timestamp/bin-n and fetched by python-tuf's Updater
through root -> targets -> bins -> bin-n."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata, SuccinctRoles, Targets

from tests.cli.conftest import Cli
from tests.interop.clients import run_python_tuf
from tests.interop.repo import build_repository, read_exported
from tests.targets.conftest import People, plan_yaml

pytestmark = pytest.mark.softhsm

ROLES = {
    "root": (1, ["root-alice"]),
    "targets": (2, ["targets-alice", "targets-bob"]),
    "snapshot": (1, ["online"]),
    "timestamp": (1, ["online"]),
}
KEYS = {
    "root-alice": "Alice Example",
    "targets-alice": "Alice Example",
    "targets-bob": "Bob Example",
    "bins-alice": "Alice Example",
    "bins-bob": "Bob Example",
    "online": "Online signing service",
}
TARGETS = """targets:
  expires: 365d
  delegations:
    - name: bins
      paths: ["*"]
      threshold: 2
      keys: [bins-alice, bins-bob]
      expires: 365d
      hash_bins: {count: 16384, prefix: bin, threshold: 1, keys: [online], succinct: false}
"""
TARGET = "pep458-demo-1.0.tar.gz"


def sign(cli: Cli, people: People, d: Path, role: str, key: str, holder: str) -> str:
    return cli.ok("sign", d, role, "--key", key, stdin=["Yes", people.pin(holder)], module=True).out


@pytest.fixture(scope="module")
def ceremony(tcli: Cli, people: People, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pep458") / "c"
    tcli.ok("init", d)
    (d / "ceremony.yaml").write_text(plan_yaml(ROLES, KEYS, TARGETS))
    for holder, name in (
        ("alice", "root-alice"),
        ("alice", "targets-alice"),
        ("bob", "targets-bob"),
        ("alice", "bins-alice"),
        ("bob", "bins-bob"),
    ):
        tcli.ok(
            "keygen",
            d,
            name,
            "--uri",
            people.uri(holder, name),
            "--type",
            "ed25519",
            stdin=[people.pin(holder)],
            module=True,
        )
    tcli.ok("enroll", d, "online", "--public-key", people.online_pem)
    tcli.ok("validate", d)
    for role in ("root", "targets", "bins"):
        res = tcli.ok("draft", d, role)
        assert f"Drafted {role} version 1" in res.out
    return d


def test_show_bins_is_a_summary(tcli: Cli, ceremony: Path) -> None:
    res = tcli.ok("show", ceremony, "bins")
    assert len(res.out.splitlines()) < 120, res.out
    assert "16,384 hash bins bin-0000 … bin-3fff by path_hash_prefixes" in res.out
    assert "(4 hex digits, 4 prefixes per bin), each 1 of [online]" in res.out
    assert (
        "OK: the 65,536 prefixes of 16,384 roles cover the whole hash space exactly once" in res.out
    )
    assert "bytes of canonical JSON are signed" in res.out
    assert "delegation 'bins' in the targets draft" in res.out

    full = tcli.ok("show", ceremony, "bins", "--full")
    assert "Every delegated role (16,384)" in full.out
    assert "bin-3fff  1 of 1  path_hash_prefixes fffc fffd fffe ffff" in full.out
    assert "bin-0000  1 of 1  path_hash_prefixes 0000 0001 0002 0003" in full.out

    tg = tcli.ok("show", ceremony, "targets")
    assert "bins: paths *" in tg.out
    assert "role 'targets' of the root draft (version 1)" in tg.out


def test_online_bins_and_wrong_keys_are_refused(tcli: Cli, people: People, ceremony: Path) -> None:
    res = tcli.run("draft", ceremony, "bin-0a3f")
    assert res.code == 2 and "signed ONLINE" in res.text
    res = tcli.run(
        "sign",
        ceremony,
        "bins",
        "--key",
        "targets-alice",
        stdin=["Yes", people.pin("alice")],
        module=True,
    )
    assert res.code == 2 and "not one of the keys that approve bins" in res.text


def test_sign_merge_status_export_and_client(
    tcli: Cli, people: People, ceremony: Path, tmp_path: Path
) -> None:
    d = ceremony
    sign(tcli, people, d, "root", "root-alice", "alice")
    sign(tcli, people, d, "targets", "targets-alice", "alice")
    sign(tcli, people, d, "targets", "targets-bob", "bob")
    sign(tcli, people, d, "bins", "bins-alice", "alice")

    # Export with bins at 1 of 2 is refused and writes nothing.
    res = tcli.run("export", d)
    assert res.code == 1, res.text
    assert "bins: delegation 'bins' in the targets draft (version 1) has 1 of 2" in res.text
    assert not (d / "published").exists() or not any((d / "published").iterdir())

    # Bob signs bins on his own copy (another machine); the copy is merged back.
    copy = tmp_path / "bob-copy"
    shutil.copytree(d, copy, ignore=shutil.ignore_patterns(".ceremony.lock"))
    sign(tcli, people, copy, "bins", "bins-bob", "bob")
    res = tcli.ok("merge", d, copy)
    assert "1 added" in res.out

    st = json.loads(tcli.ok("status", d, "--json").out)["roles"]
    assert set(st) == {"root", "targets", "bins"}
    assert all(st[r]["complete"] for r in st), st
    assert st["bins"]["thresholds"][0]["signed"] == ["bins-alice", "bins-bob"]

    out = tmp_path / "published"
    res = tcli.ok("export", d, "--out", out)
    assert "1.bins.json" in res.out and "bytes)" in res.out
    names = sorted(p.name for p in out.iterdir())
    assert {"1.root.json", "1.targets.json", "1.bins.json", "SHA256SUMS"} <= set(names)
    bins = Metadata[Targets].from_bytes((out / "1.bins.json").read_bytes())
    assert bins.signed.delegations is not None and bins.signed.delegations.roles is not None
    assert len(bins.signed.delegations.roles) == 16384
    assert set(bins.signed.delegations.keys) == {people.online.public_key.keyid}

    exported = read_exported(out)
    files = {TARGET: b"PEP 458 demo\n"}
    signers = {
        "timestamp": people.online,
        "snapshot": people.online,
        people.online.public_key.keyid: people.online,
    }
    repo = build_repository(
        tmp_path / "repo", exported.roots, files, signers, presigned=exported.presigned
    )
    expected = SuccinctRoles([], 1, 14, "bin").get_role_for_target(TARGET)
    assert repo.delegation_paths[TARGET] == ["targets", "bins", expected]
    result = run_python_tuf(repo.path, repo.trusted_root, TARGET)
    assert result.ok, result.error
    assert result.downloaded == files[TARGET]
