"""Custom delegations and the PEP 458 recovery step, through the CLI on SoftHSM2.

- A custom delegated role (path pattern, its own key, terminating) next to succinct bins:
  a target under its paths is fetched through targets -> project-x, another through
  targets -> bins -> bin-n.
- Rotation of the targets keys in root (root v2) followed by re-signing targets v2 with the
  new key; bins v1 from the first ceremony stays valid; python-tuf's Updater walks
  root v1 -> v2 -> targets v2 -> bins v1 -> bin-n.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from securesystemslib.signer import Signer
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import Metadata

from tests.cli.conftest import Cli
from tests.interop.clients import run_both, run_python_tuf
from tests.interop.repo import build_repository, read_exported
from tests.targets.conftest import People, plan_yaml

pytestmark = pytest.mark.softhsm


def sign(cli: Cli, people: People, d: Path, role: str, key: str, holder: str) -> None:
    cli.ok("sign", d, role, "--key", key, stdin=["Yes", people.pin(holder)], module=True)


def keygen(cli: Cli, people: People, d: Path, holder: str, name: str) -> None:
    cli.ok(
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


def online_signers(people: People) -> dict[str, Signer]:
    return {
        "timestamp": people.online,
        "snapshot": people.online,
        people.online.public_key.keyid: people.online,
    }


CUSTOM_TARGETS = """targets:
  expires: 365d
  delegations:
    - name: project-x
      paths: ["project-x/*"]
      threshold: 1
      keys: [dev-key]
      terminating: true
      expires: 90d
    - name: bins
      paths: ["*"]
      threshold: 1
      keys: [cu-bins]
      hash_bins: {count: 16, prefix: bin, threshold: 1, keys: [online], succinct: true}
"""


def test_custom_delegation_and_succinct_bins(tcli: Cli, people: People, tmp_path: Path) -> None:
    d = tmp_path / "custom"
    tcli.ok("init", d)
    roles = {
        "root": (1, ["cu-root"]),
        "targets": (1, ["cu-targets"]),
        "snapshot": (1, ["online"]),
        "timestamp": (1, ["online"]),
    }
    keys = {
        "cu-root": "Carol Example",
        "cu-targets": "Carol Example",
        "cu-bins": "Carol Example",
        "dev-key": "Project X developers",
        "online": "Online signing service",
    }
    (d / "ceremony.yaml").write_text(plan_yaml(roles, keys, CUSTOM_TARGETS))
    for name in ("cu-root", "cu-targets", "cu-bins"):
        keygen(tcli, people, d, "carol", name)
    tcli.ok("enroll", d, "online", "--public-key", people.online_pem)
    tcli.ok("enroll", d, "dev-key", "--public-key", people.developer_pem)
    for role in ("root", "targets", "bins"):
        tcli.ok("draft", d, role)

    show = tcli.ok("show", d, "targets").out
    assert "project-x: paths project-x/* (terminating)" in show
    assert "bins: paths *" in show
    show = tcli.ok("show", d, "bins").out
    assert "16 hash bins bin-0 … bin-f as ONE succinct_roles entry (TAP 15)" in show
    assert "python-tuf >= 2.0, tuf-js and go-tuf v2" in show

    for role, key in (("root", "cu-root"), ("targets", "cu-targets"), ("bins", "cu-bins")):
        sign(tcli, people, d, role, key, "carol")
    out = tmp_path / "published"
    res = tcli.ok("export", d, "--out", out)
    assert "1.targets.json" in res.out and "1.bins.json" in res.out
    record = (out / "ceremony-record.md").read_text()
    assert "## bins version 1" in record

    exported = read_exported(out)
    files = {"project-x/tool-1.0.tar.gz": b"tool\n", "other-2.0.tar.gz": b"other\n"}
    signers = {**online_signers(people), people.developer.public_key.keyid: people.developer}
    repo = build_repository(
        tmp_path / "repo",
        exported.roots,
        files,
        signers,
        presigned=exported.presigned,
    )
    assert repo.delegation_paths["project-x/tool-1.0.tar.gz"] == ["targets", "project-x"]
    assert repo.delegation_paths["other-2.0.tar.gz"][:2] == ["targets", "bins"]
    for target, content in files.items():
        both = run_both(repo.path, repo.trusted_root, target)  # python-tuf AND tuf-js
        for result in both:
            assert result.ok, (result.client, result.error)
            assert result.downloaded == content, result.client


def bins_targets(version: int) -> str:
    return f"""targets:
  expires: 365d
  version: {version}
  delegations:
    - name: bins
      paths: ["*"]
      threshold: 1
      keys: [rot-bins]
      hash_bins: {{count: 16, prefix: bin, threshold: 1, keys: [online]}}
"""


def test_rotate_targets_keys_then_resign_targets(tcli: Cli, people: People, tmp_path: Path) -> None:
    # Ceremony 1: root v1, targets v1 (rot-targets-old), bins v1.
    d1 = tmp_path / "first"
    tcli.ok("init", d1)
    keys = {
        "rot-root": "Alice Example",
        "rot-targets-old": "Alice Example",
        "rot-bins": "Alice Example",
        "online": "Online signing service",
    }
    roles = {
        "root": (1, ["rot-root"]),
        "targets": (1, ["rot-targets-old"]),
        "snapshot": (1, ["online"]),
        "timestamp": (1, ["online"]),
    }
    (d1 / "ceremony.yaml").write_text(plan_yaml(roles, keys, bins_targets(1)))
    for name in ("rot-root", "rot-targets-old", "rot-bins"):
        keygen(tcli, people, d1, "alice", name)
    tcli.ok("enroll", d1, "online", "--public-key", people.online_pem)
    for role, key in (("root", "rot-root"), ("targets", "rot-targets-old"), ("bins", "rot-bins")):
        tcli.ok("draft", d1, role)
        sign(tcli, people, d1, role, key, "alice")
    out1 = tmp_path / "out1"
    tcli.ok("export", d1, "--out", out1)

    # Ceremony 2 (PEP 458 recovery): the targets key is replaced in root v2, targets v2 is
    # signed by the new key; bins is not re-signed.
    d2 = tmp_path / "rotation"
    tcli.ok("init", d2, "--previous-root", out1 / "1.root.json", "--previous-ceremony", d1)
    generated = (d2 / "ceremony.yaml").read_text()
    prev_path = next(ln.split(":", 1)[1].strip() for ln in generated.splitlines() if "path:" in ln)
    prev_sha = next(
        ln.split(":", 1)[1].strip().strip('"') for ln in generated.splitlines() if "sha256:" in ln
    )
    roles2 = {**roles, "targets": (1, ["rot-targets-new"])}
    keys2 = {**keys, "rot-targets-new": "Bob Example"}
    plan = plan_yaml(roles2, keys2, bins_targets(2), previous=(prev_path, prev_sha), root_version=2)
    plan = plan.replace(
        'rot-targets-old: {holder: "Alice Example"}',
        'rot-targets-old: {holder: "Alice Example", status: compromised}',
    )
    (d2 / "ceremony.yaml").write_text(plan)
    keygen(tcli, people, d2, "bob", "rot-targets-new")
    tcli.ok("enroll", d2, "rot-bins", "--public-key", d1 / "keys" / "rot-bins.json")
    tcli.ok("validate", d2)
    tcli.ok("draft", d2, "root")
    res = tcli.ok("draft", d2, "targets")
    assert "Drafted targets version 2" in res.out
    assert "role 'targets' of the root draft (version 2)" in res.out

    # The compromised key no longer approves targets.
    res = tcli.run(
        "sign",
        d2,
        "targets",
        "--key",
        "rot-targets-old",
        stdin=["Yes", people.pin("alice")],
        module=True,
    )
    assert res.code == 2 and "not one of the keys that approve targets" in res.text
    sign(tcli, people, d2, "root", "rot-root", "alice")
    sign(tcli, people, d2, "targets", "rot-targets-new", "bob")
    st = json.loads(tcli.ok("status", d2, "--json").out)["roles"]
    assert st["targets"]["complete"] and st["root"]["complete"]
    out2 = tmp_path / "out2"
    tcli.ok("export", d2, "--out", out2)
    assert (out2 / "2.targets.json").exists() and not list(out2.glob("*.bins.json"))

    root2 = Metadata.from_bytes((out2 / "2.root.json").read_bytes())
    old_targets = Metadata.from_bytes((out1 / "1.targets.json").read_bytes())
    with pytest.raises(UnsignedMetadataError):
        root2.verify_delegate("targets", old_targets)

    first, second = read_exported(out1), read_exported(out2)
    presigned = {"targets": second.presigned["targets"], "bins": first.presigned["bins"]}
    target = "recovered-1.0.tar.gz"
    repo = build_repository(
        tmp_path / "repo",
        first.roots + second.roots,
        {target: b"after recovery\n"},
        online_signers(people),
        presigned=presigned,
        trusted_root=first.roots[0],
    )
    assert repo.root_version == 2
    assert repo.delegation_paths[target][:2] == ["targets", "bins"]
    result = run_python_tuf(repo.path, repo.trusted_root, target)
    assert result.ok, result.error
    assert result.root_version == 2
