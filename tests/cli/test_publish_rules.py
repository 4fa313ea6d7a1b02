"""Issue 9 rules 6 and 7 through the CLI (software rehearsal token; no token is involved
in what is checked here beyond signing).

Rule 6: a signature file proves only a keyid and a signature. `merge`, `status` and the
ceremony record name the enrolled key of the keyid; a file whose own names disagree is
refused with the reason.

Rule 7: export writes what clients fetch (the root's consistent_snapshot decides the names;
a python-tuf client reads the exported files unchanged), and refuses, with nothing written,
a role that a client would refuse at its next refresh (expired, or expiring within the
publishing margin); `verify` reports an expired newest root as an error.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from cryptography.hazmat.primitives import serialization as ser
from securesystemslib.signer import CryptoSigner
from tuf.api.exceptions import DownloadHTTPError
from tuf.api.metadata import Metadata, MetaFile, Root, Snapshot, Targets, Timestamp
from tuf.api.serialization.json import JSONSerializer
from tuf.ngclient import FetcherInterface, Updater

from tests.cli.backends import Backend, make_backend
from tests.cli.conftest import Result, snapshot_tree

PLAN = """\
repository: "publish.example.org"
root:
  expires: 365d
  consistent_snapshot: CS
roles:
  root:      {threshold: 2, keys: [root-a, root-b, root-c]}
  targets:   {threshold: 1, keys: [targets-a]}
  snapshot:  {threshold: 1, keys: [online]}
  timestamp: {threshold: 1, keys: [online]}
keys:
  root-a: {holder: "Alice Example"}
  root-b: {holder: "Bob Example"}
  root-c: {holder: "Carol Example"}
  targets-a: {holder: "Alice Example"}
  online: {holder: "Online service"}
targets:
  expires: 300d
rehearsal: true
"""


def signed_ceremony(tmp_path: Path, consistent: bool) -> tuple[Backend, Path, CryptoSigner]:
    """Root (Alice and Bob) and targets signed; nothing exported yet."""
    tok = make_backend("software", tmp_path, "pub")
    d = tmp_path / "c1"
    tok.ok("init", d)
    (d / "ceremony.yaml").write_text(PLAN.replace("CS", str(consistent).lower()))
    for name in ("root-a", "root-b", "root-c", "targets-a"):
        tok.keygen(d, name, "ed25519")
    online = CryptoSigner.generate_ed25519()
    pem = tmp_path / "online.pem"
    pem.write_bytes(
        online._private_key.public_key().public_bytes(
            ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo
        )
    )
    tok.ok("enroll", d, "online", "--public-key", pem)
    tok.ok("draft", d, "root")
    tok.ok("draft", d, "targets")
    for role, key in (("root", "root-a"), ("root", "root-b"), ("targets", "targets-a")):
        tok.ok("sign", d, role, "--key", key, stdin=("Yes", tok.pin))
    return tok, d, online


class _Disk(FetcherInterface):
    """Serves a folder; records each file name asked for."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.asked: list[str] = []

    def _fetch(self, url: str) -> Iterator[bytes]:
        name = Path(urlparse(url).path).name
        self.asked.append(name)
        path = self.folder / name
        if not path.exists():
            raise DownloadHTTPError(f"{name} not found", 404)
        yield path.read_bytes()


def client_refresh(published: Path, online: CryptoSigner, work: Path) -> list[str]:
    """A python-tuf client of a repository holding the exported files UNCHANGED, plus the
    online service's snapshot and timestamp; returns the file names it fetched."""
    repo = work / "repo"
    repo.mkdir()
    for f in published.glob("*.json"):
        (repo / f.name).write_bytes(f.read_bytes())
    root = Metadata[Root].from_bytes((published / "root.json").read_bytes()).signed
    targets = (
        Metadata[Targets].from_bytes(next(published.glob("*targets.json")).read_bytes()).signed
    )
    expires = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=7)
    snap = Metadata(Snapshot(expires=expires, meta={"targets.json": MetaFile(targets.version)}))
    snap.sign(online)
    ts = Metadata(Timestamp(expires=expires, snapshot_meta=MetaFile(1)))
    ts.sign(online)
    snap_name = "1.snapshot.json" if root.consistent_snapshot else "snapshot.json"
    (repo / snap_name).write_bytes(snap.to_bytes(JSONSerializer()))
    (repo / "timestamp.json").write_bytes(ts.to_bytes(JSONSerializer()))
    fetcher = _Disk(repo)
    (work / "client").mkdir()
    up = Updater(
        str(work / "client"),
        "http://repo.invalid/metadata/",
        str(work / "dl"),
        "http://repo.invalid/targets/",
        fetcher=fetcher,
        bootstrap=(published / "1.root.json").read_bytes(),
    )
    up.refresh()
    return fetcher.asked


@pytest.mark.parametrize("consistent", [True, False])
def test_export_writes_the_files_clients_fetch(tmp_path: Path, consistent: bool) -> None:
    tok, d, online = signed_ceremony(tmp_path, consistent)
    res = tok.ok("export", d)
    pub = d / "published"
    names = sorted(p.name for p in pub.glob("*.json"))
    assert names == ["1.root.json", "1.targets.json", "root.json", "targets.json"]
    assert (pub / "targets.json").read_bytes() == (pub / "1.targets.json").read_bytes()
    if consistent:
        assert "consistent_snapshot: true, so clients fetch VERSION.ROLE.json" in res.out
    else:
        assert "consistent_snapshot: false, so clients fetch ROLE.json" in res.out
    asked = client_refresh(pub, online, tmp_path)
    assert ("1.targets.json" if consistent else "targets.json") in asked, asked
    assert ("targets.json" if consistent else "1.targets.json") not in asked, asked


def shifted(tok: Backend, days: int, *args: str | Path) -> Result:
    """`ceremony ARGS` in a process whose clock runs `days` ahead (the one clock,
    `ceremony.clock.now_utc`, patched before the CLI is imported)."""
    code = (
        "import datetime as dt, sys\n"
        "import ceremony.clock as c\n"
        "real = c.now_utc\n"
        f"c.now_utc = lambda: real() + dt.timedelta(days={days})\n"
        "from ceremony.cli import main\n"
        "sys.argv = ['ceremony', *sys.argv[1:]]\n"
        "main()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
        check=False,
    )
    res = Result(proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in res.text and "Internal error" not in res.text, res.text
    return res


def test_export_refuses_what_has_expired_by_the_time_it_is_published(tmp_path: Path) -> None:
    tok, d, _ = signed_ceremony(tmp_path, True)
    before = snapshot_tree(d)
    res = shifted(tok, 301, "export", d)  # targets (300d) has expired; root (365d) has not
    assert res.code == 1, res.text
    assert "a client would refuse this at its next refresh, so nothing was written" in res.text
    assert (
        "targets version 1 (drafts/targets.json) expired on" in res.text
        and "root version 1" not in res.text
    )
    assert "ceremony draft DIR ROLE" in res.text
    assert snapshot_tree(d) == before and not (d / "published").exists()
    res = shifted(tok, 366, "export", d)
    assert res.code == 1 and "root version 1 (drafts/root.json) expired on" in res.text, res.text
    assert snapshot_tree(d) == before


def test_verify_reports_an_expired_root_as_an_error(tmp_path: Path) -> None:
    signer = CryptoSigner.generate_ed25519()
    paths = []
    for days in (-1, 30):
        root = Root(
            expires=dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=days)
        )
        for role in ("root", "targets", "snapshot", "timestamp"):
            root.add_key(signer.public_key, role)
        md = Metadata(root)
        md.sign(signer)
        # Not N.root.json: a file so named must hold version N (issue 9 rule 8); both are v1.
        paths.append(tmp_path / f"expires-in-{days}-days.root.json")
        paths[-1].write_bytes(md.to_bytes(JSONSerializer()))
    tok = make_backend("software", tmp_path, "verify")
    res = tok.run("verify", paths[0])
    assert res.code == 1, res.text
    assert "the newest root (version 1) expired on" in res.text
    assert "a client refuses to use an expired root" in res.text
    assert "The chain is valid" not in res.text
    tok.ok("verify", paths[1])


# --- rule 6 --------------------------------------------------------------------------------


def test_merge_names_the_enrolled_key_and_refuses_a_files_own_names(tmp_path: Path) -> None:
    tok = make_backend("software", tmp_path, "merge")
    d = tmp_path / "c1"
    tok.ok("init", d)
    (d / "ceremony.yaml").write_text(
        PLAN.replace("CS", "true").replace("targets:\n  expires: 300d\n", "")
    )
    for name in ("root-a", "root-b", "root-c", "targets-a"):
        tok.keygen(d, name, "ed25519")
    pem = tmp_path / "online.pem"
    pem.write_bytes(
        CryptoSigner.generate_ed25519()
        ._private_key.public_key()
        .public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo)
    )
    tok.ok("enroll", d, "online", "--public-key", pem)
    tok.ok("draft", d)
    copy = tmp_path / "bob-stick"
    subprocess.run(["cp", "-a", str(d), str(copy)], check=True)
    tok.ok("sign", d, "root", "--key", "root-c", stdin=("Yes", tok.pin))
    tok.ok("sign", copy, "root", "--key", "root-b", stdin=("Yes", tok.pin))
    sig = next((copy / "signatures" / "root").glob("*.json"))
    data = json.loads(sig.read_text())
    data.update(key_name="root-a", holder="[bold]Alice Example", device="YubiKey 5 serial 1")
    sig.write_text(json.dumps(data))

    res = tok.ok("merge", d, copy)
    assert "1 added" in res.out and "The names of 1 file(s) were refused" in res.out
    assert "root-b (Bob Example)" in res.out
    assert "key name 'root-a' where the enrolled key of keyid" in res.out
    assert "holder '[bold]Alice Example'" in res.out  # escaped, shown as written
    assert "root-a (Alice" not in res.out
    st = json.loads(tok.ok("status", d, "--json").out)["roles"]["root"]
    assert st["thresholds"][0]["signed"] == ["root-b", "root-c"]
    assert st["names_refused"] == []
    tok.ok("export", d)
    record = (d / "published" / "ceremony-record.md").read_text()
    signers = record.split("| key | holder | signed at | device |")[1].split("\n\n")[0]
    assert "| root-b | Bob Example |" in signers and "| root-c | Carol Example |" in signers
    assert "Alice" not in signers and "YubiKey" not in signers

    # A file edited in place is named from its keyid too, and its names are reported.
    mine = next(p for p in (d / "signatures" / "root").glob("*.json") if "root-c" in p.read_text())
    data = json.loads(mine.read_text())
    data.update(key_name="root-a", holder="Alice Example")
    mine.write_text(json.dumps(data))
    res = tok.ok("status", d)
    assert "names refused" in res.out and "key name 'root-a'" in res.out
    assert "signed:  root-b (Bob Example), root-c (Carol Example)" in res.out
