"""`ceremony import`, `add-signature` and `export` through the command line, on files the
other tools made themselves: a tuf-on-ci signing event staged by tuf-on-ci-sign 0.21.0 and
RSTUF payloads written by RSTUF's CLI 1.0.0b1 (tests/foreign/fixtures, and the fresh copies
tests/foreign/make_fixtures.sh makes in CI). Then hostile imports, each refused with a clear
message and nothing written."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from securesystemslib.signer import CryptoSigner, Signature
from tuf.api.metadata import Metadata, Root, Timestamp

from ceremony.foreign import rstuf
from tests.cli.foreign_roots import tree_hashes
from tests.foreign import staging
from tests.foreign.helpers import FIXTURES
from tests.foreign.test_rstuf import fixture_dirs
from tests.foreign.test_tuf_on_ci_real import event_dirs


@dataclass
class Run:
    code: int
    text: str


def ceremony(*args: str | Path, stdin: Sequence[str] = (), cwd: Path | None = None) -> Run:
    env = dict(os.environ, COLUMNS="200")
    env.pop("CEREMONY_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "ceremony", *map(str, args)],
        input="".join(f"{s}\n" for s in stdin),
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    text = proc.stdout + proc.stderr
    assert "Traceback" not in text, text
    return Run(proc.returncode, text)


def ok(*args: str | Path, stdin: Sequence[str] = ()) -> Run:
    res = ceremony(*args, stdin=stdin)
    assert res.code == 0, res.text
    return res


def tree(root: Path) -> dict[str, str]:
    """Every file under `root` with its SHA-256 (for 'nothing was written'); a transcript
    without the entries of refused commands, which log themselves (docs/adr/0005)."""
    return tree_hashes(root)


# --- tuf-on-ci: the staged event round-trips unchanged ------------------------------------


@pytest.mark.parametrize("event", event_dirs(), ids=lambda p: p.name)
def test_tuf_on_ci_event_round_trips_unchanged(event: Path, tmp_path: Path) -> None:
    md = event / "metadata"
    res = ok("import", tmp_path / "root", md / "root.json")
    assert "Imported root version 1 (tuf-on-ci)" in res.text
    assert "dropped: placeholder (empty sig)" in res.text
    ok("validate", tmp_path / "root")
    status = json.loads(ok("status", tmp_path / "root", "--json").text)
    assert status["imported"] == {
        "role": "root",
        "format": "tuf-on-ci",
        "path": "imported/source.json",
    }
    assert "x-tuf-on-ci-expiry-period: 365" in ok("show", tmp_path / "root").text
    out = ok("export", tmp_path / "root", "--out", tmp_path / "out-root")
    assert "not complete yet" in out.text  # nobody signed: written as staged, nothing lost
    pub = tmp_path / "out-root" / "metadata"
    assert (pub / "root.json").read_bytes() == (md / "root.json").read_bytes()
    assert (pub / "root_history" / "1.root.json").read_bytes() == (md / "root.json").read_bytes()

    ok("import", tmp_path / "targets", md / "targets.json", "--root", md / "root.json")
    ok("export", tmp_path / "targets", "--out", tmp_path / "out-targets")
    targets = (tmp_path / "out-targets" / "metadata" / "targets.json").read_bytes()
    assert targets == (md / "targets.json").read_bytes()


def test_draft_refuses_to_remake_an_imported_role(tmp_path: Path) -> None:
    d = tmp_path / "root"
    ok("import", d, FIXTURES / "tuf-on-ci-0.21.0" / "metadata" / "root.json")
    before = tree(d)
    res = ceremony("draft", d, "root")
    assert res.code == 2 and "never made from the plan" in res.text
    assert tree(d) == before


# --- RSTUF: the real payloads through import, add-signature and export ---------------------


@pytest.mark.parametrize("directory", fixture_dirs(), ids=lambda p: p.name)
def test_real_rstuf_payloads_round_trip(directory: Path, tmp_path: Path) -> None:
    # A complete bootstrap payload comes back byte for byte.
    ok("import", tmp_path / "boot", directory / "bootstrap.json")
    ok("export", tmp_path / "boot", "--out", tmp_path / "boot.json")
    assert (tmp_path / "boot.json").read_bytes() == (directory / "bootstrap.json").read_bytes()

    # The DAS bootstrap (1 of 2) plus bob's sign payload made by `rstuf admin metadata sign`.
    ok("import", tmp_path / "das", directory / "bootstrap-das.json")
    early = ceremony("export", tmp_path / "das", "--out", tmp_path / "early.json")
    assert early.code == 1 and "threshold" in early.text and not (tmp_path / "early.json").exists()
    ok("export", tmp_path / "das", "--allow-partial", "--out", tmp_path / "partial.json")
    assert (tmp_path / "partial.json").read_bytes() == (
        directory / "bootstrap-das.json"
    ).read_bytes()
    add = ok(
        "add-signature", tmp_path / "das", "root", "--key", "bob",
        "--signature", directory / "sign.json", stdin=["Yes"],
    )  # fmt: skip
    assert "external signature of 'bob'" in add.text and "(json)" in add.text
    ok("export", tmp_path / "das", "--out", tmp_path / "das-done.json")
    done = rstuf.parse_bootstrap_payload((tmp_path / "das-done.json").read_bytes())
    das = rstuf.parse_bootstrap_payload((directory / "bootstrap-das.json").read_bytes())
    assert done.root.signed_bytes == das.root.signed_bytes and done.settings == das.settings
    assert (
        rstuf.bootstrap_payload_bytes(done.root, done.settings)
        == (tmp_path / "das-done.json").read_bytes()
    )  # RSTUF's worker takes it: every signature verifies, threshold met

    # The metadata-update payload, against the root RSTUF published.
    ok("import", tmp_path / "upd", directory / "update.json",
       "--previous-root", directory / "1.root.json")  # fmt: skip
    ok("export", tmp_path / "upd", "--out", tmp_path / "update.json")
    assert (tmp_path / "update.json").read_bytes() == (directory / "update.json").read_bytes()

    # The sign request: bob's signature goes back as RSTUF's own sign payload, byte for byte.
    ok("import", tmp_path / "pend", directory / "pending-sign.json")
    keyid = json.loads((directory / "sign.json").read_bytes())["signature"]["keyid"]
    ok("add-signature", tmp_path / "pend", "root", "--key", keyid,
       "--signature", directory / "sign.json", stdin=["Yes"])  # fmt: skip
    ok("export", tmp_path / "pend", "--key", keyid, "--out", tmp_path / "sign.json")
    assert (tmp_path / "sign.json").read_bytes() == (directory / "sign.json").read_bytes()


def test_merge_between_copies_of_an_imported_directory(tmp_path: Path) -> None:
    import shutil

    rstuf_dir = FIXTURES / "rstuf-1.0.0b1"
    d = tmp_path / "das"
    ok("import", d, rstuf_dir / "bootstrap-das.json")
    shutil.copytree(d, tmp_path / "stick", ignore=shutil.ignore_patterns(".ceremony.lock"))
    ok("add-signature", tmp_path / "stick", "root", "--key", "bob",
       "--signature", rstuf_dir / "sign.json", stdin=["Yes"])  # fmt: skip
    res = ok("merge", d, tmp_path / "stick")
    assert "1 added" in res.text and "bob" in res.text
    st = json.loads(ok("status", d, "--json").text)["roles"]["root"]
    assert st["complete"] and st["external"] == ["bob"]


def test_rstuf_options_that_do_not_apply_are_refused(tmp_path: Path) -> None:
    d = tmp_path / "boot"
    ok("import", d, FIXTURES / "rstuf-1.0.0b1" / "bootstrap.json")
    before = tree(d)
    for args, words in (
        (["--key", "alice"], "--key does not apply"),
        (["--format", "rstuf-sign"], "name it with --key"),
        (["--format", "rstuf-update"], "no previous root"),
        (["--format", "tuf-on-ci"], "not to metadata drafted here"),
        (["--out-of-band"], "--out-of-band does not apply"),
    ):
        res = ceremony("export", d, *args)
        assert res.code == 2 and words in res.text, (args, res.text)
    assert tree(d) == before


# --- hostile imports: refused clearly, nothing written ------------------------------------


def _write(path: Path, md: Metadata[Root] | Metadata[Timestamp]) -> Path:
    path.write_bytes(staging.pretty(md))
    return path


@pytest.fixture
def staged(tmp_path: Path) -> staging.PythonTufStage:
    stage = staging.python_tuf_stage(CryptoSigner.generate_ed25519().public_key)
    stage.write(tmp_path / "stick")
    return stage


def hostile_cases(tmp: Path, stage: staging.PythonTufStage) -> list[tuple[list[str | Path], str]]:
    stick = tmp / "stick"
    cases: list[tuple[list[str | Path], str]] = []
    # wrong role type
    ts = _write(tmp / "timestamp.json", Metadata(Timestamp()))
    cases.append(([ts], "signs timestamp online"))
    cases.append(([stick / "4.root.json", "--previous-root", stick / "targets.json"], "not a root"))
    cases.append(([stick / "targets.json", "--root", stick / "targets.json"], "not a root"))
    cases.append(([stick / "4.root.json", "--format", "rstuf-bootstrap"], "settings"))
    # unknown keyids: a signature by a key that may not sign, a role naming no key
    md = Metadata[Root].from_bytes((stick / "4.root.json").read_bytes())
    md.signatures["ab" * 32] = Signature("ab" * 32, "cd" * 64)
    cases.append(([_write(tmp / "stranger.json", md), "--previous-root", stick / "3.root.json"],
                  "not a key that may sign"))  # fmt: skip
    md = Metadata[Root].from_bytes((stick / "4.root.json").read_bytes())
    md.signed.roles["snapshot"].keyids.append("ef" * 32)
    cases.append(([_write(tmp / "nokey.json", md), "--previous-root", stick / "3.root.json"],
                  "with no key in `keys`"))  # fmt: skip
    # non-canonical values: a float, a key given twice, a lone surrogate
    text = (stick / "4.root.json").read_text()
    (tmp / "float.json").write_text(text.replace('"ticket": 4821', '"ticket": 48.21'))
    cases.append(([tmp / "float.json", "--previous-root", stick / "3.root.json"], "fraction"))
    (tmp / "twice.json").write_text(text.replace('"ticket": 4821', '"ticket": 1, "ticket": 2'))
    cases.append(([tmp / "twice.json", "--previous-root", stick / "3.root.json"], "appears twice"))
    (tmp / "surrogate.json").write_text(text.replace('"ops"', '"\\ud800"'))
    cases.append(([tmp / "surrogate.json", "--previous-root", stick / "3.root.json"], "Unicode"))
    # a previous root that does not authorise it: the wrong version, or none given
    wrong = Metadata[Root].from_bytes((stick / "3.root.json").read_bytes())
    wrong.signed.version = 2
    wrong.signatures.clear()
    wrong.sign(stage.pre, append=True)
    wrong.sign(stage.cold, append=True)  # a good root by itself, of the wrong version
    cases.append(([stick / "4.root.json", "--previous-root", _write(tmp / "2.root.json", wrong)],
                  "root that authorises it is version 3"))  # fmt: skip
    cases.append(([stick / "4.root.json"], "--previous-root 3.root.json"))
    unsigned = Metadata[Root].from_bytes((stick / "3.root.json").read_bytes())
    unsigned.signatures.pop(stage.cold.public_key.keyid)
    cases.append(([stick / "4.root.json", "--previous-root", _write(tmp / "3.half.json", unsigned)],
                  "does not verify by its own threshold"))  # fmt: skip
    # options that cannot apply
    cases.append(([stick / "4.root.json", "--previous-root", stick / "3.root.json", "--root",
                   stick / "3.root.json"], "--root does not apply"))  # fmt: skip
    cases.append(([stick / "targets.json"], "give that root with --root"))
    (tmp / "bins.json").write_bytes((stick / "targets.json").read_bytes())
    cases.append(([tmp / "bins.json", "--root", stick / "4.root.json"], "the role is 'bins'"))
    cases.append(([stick / "3.root.json", "--format", "nonsense"], "not one of"))
    # expired
    old = Metadata[Root].from_bytes((stick / "4.root.json").read_bytes())
    old.signed.expires = staging.expiry(-2)
    cases.append(([_write(tmp / "expired.json", old), "--previous-root", stick / "3.root.json"],
                  "expired"))  # fmt: skip
    return cases


def test_hostile_imports_are_refused_with_nothing_written(
    tmp_path: Path, staged: staging.PythonTufStage
) -> None:
    cases = hostile_cases(tmp_path, staged)
    before = tree(tmp_path)
    for i, (args, words) in enumerate(cases):
        target = tmp_path / f"dir-{i}"
        res = ceremony("import", target, *args)
        assert res.code == 2, (args, res.text)
        assert words in " ".join(res.text.split()), (args, res.text)
        assert not target.exists(), args
        assert tree(tmp_path) == before, args  # not even a temporary folder is left


def test_import_into_a_used_directory_is_refused(tmp_path: Path) -> None:
    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("mine")
    res = ceremony("import", used, FIXTURES / "rstuf-1.0.0b1" / "bootstrap.json")
    assert res.code == 2 and "not empty" in res.text
    assert tree(tmp_path) == {"used/notes.txt": hashlib.sha256(b"mine").hexdigest()}


def test_a_bad_external_signature_exits_1_with_nothing_written(tmp_path: Path) -> None:
    d = tmp_path / "das"
    ok("import", d, FIXTURES / "rstuf-1.0.0b1" / "bootstrap-das.json")
    wrong = CryptoSigner.generate_ecdsa().sign(b"something else")
    bad = tmp_path / "bad.sig"
    bad.write_text(wrong.signature)
    before = tree(d)
    res = ceremony("add-signature", d, "root", "--key", "bob", "--signature", bad, stdin=["Yes"])
    assert res.code == 1 and "does not verify" in res.text and "Nothing was written" in res.text
    assert tree(d) == before
    res = ceremony("add-signature", d, "root", "--key", "nobody", "--signature", bad)
    assert res.code == 2 and "not an enrolled key" in res.text
    assert tree(d) == before
