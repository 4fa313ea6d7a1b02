"""Every input is bounded (issue 9, rule 11), through the CLI.

A file the tool reads from outside (a public key, metadata for `verify` and `init`, the
roots of --trusted-chain, attestation certificates, the plan, the previous root in the
directory, the signature files of a merged copy) must be a regular file of bounded size. A
device (`/dev/zero`), a named pipe, a folder or an oversized file is refused at once (exit
2) with its path and the limit, the directory unchanged byte for byte. A subprocess timeout
guards every run: a read without end fails the test instead of hanging it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ceremony.files import MAX_INPUT_BYTES, MAX_ROOT_BYTES, MAX_SMALL_FILE_BYTES
from tests.cli.foreign_roots import ceremony, make_root, tree_hashes
from tests.cli.test_bad_inputs import ready  # noqa: F401 - the drafted ceremony fixture

KINDS = ("fifo", "device", "folder", "oversized")


def _bad_file(tmp_path: Path, kind: str, limit: int) -> tuple[Path, str]:
    """A path of the given kind, and what the refusal must say about it."""
    if kind == "fifo":
        path = tmp_path / "pipe.json"
        os.mkfifo(path)
        return path, "is a named pipe (FIFO), not a regular file"
    if kind == "device":
        return Path("/dev/zero"), "is a character device, not a regular file"
    if kind == "folder":
        path = tmp_path / "folder.json"
        path.mkdir()
        return path, "is a folder"
    path = tmp_path / "big.json"
    path.write_bytes(b"{" + b" " * limit + b"}")
    return path, f"more than the {limit:,} bytes accepted"


@pytest.fixture
def copy(ready: Path, tmp_path: Path) -> Iterator[Path]:  # noqa: F811 - the fixture above
    d = tmp_path / "c"
    shutil.copytree(ready, d)
    yield d


@pytest.mark.parametrize("kind", KINDS)
def test_enroll_public_key(copy: Path, tmp_path: Path, kind: str) -> None:
    bad, says = _bad_file(tmp_path, kind, MAX_SMALL_FILE_BYTES)
    (copy / "keys" / "online.json").unlink()
    before = tree_hashes(copy)
    r = ceremony("enroll", copy, "online", "--public-key", bad)
    assert r.code == 2 and str(bad) in r.out and says in r.out, r.out
    assert tree_hashes(copy) == before


@pytest.mark.parametrize("kind", KINDS)
def test_verify_and_init_previous_root(tmp_path: Path, kind: str) -> None:
    bad, says = _bad_file(tmp_path, kind, MAX_ROOT_BYTES)
    r = ceremony("verify", bad)
    assert r.code == 2 and str(bad) in r.out and says in r.out, r.out
    before = tree_hashes(tmp_path)
    r = ceremony("init", tmp_path / "c2", "--previous-root", bad)
    assert r.code == 2 and str(bad) in r.out and says in r.out, r.out
    good = make_root(version=2).write(tmp_path / "2.root.json")
    r = ceremony("init", tmp_path / "c3", "--previous-root", good, "--trusted-chain", bad)
    assert r.code == 2 and str(bad) in r.out and says in r.out, r.out
    assert tree_hashes(tmp_path) == {**before, "2.root.json": tree_hashes(tmp_path)["2.root.json"]}
    assert not (tmp_path / "c2").exists() and not (tmp_path / "c3").exists()


@pytest.mark.parametrize("kind", KINDS)
def test_attestation_files(copy: Path, tmp_path: Path, kind: str) -> None:
    bad, says = _bad_file(tmp_path, kind, MAX_INPUT_BYTES)
    before = tree_hashes(copy)
    r = ceremony("attestation", "verify", copy, "--attestation-ca", bad)
    assert r.code == 2 and str(bad) in r.out and says in r.out, r.out
    assert tree_hashes(copy) == before


@pytest.mark.parametrize("kind", ["fifo", "oversized"])
def test_the_plan_inside_the_directory(copy: Path, tmp_path: Path, kind: str) -> None:
    plan = copy / "ceremony.yaml"
    plan.unlink()
    if kind == "fifo":
        os.mkfifo(plan)
    else:
        plan.write_bytes(b"#" * (MAX_INPUT_BYTES + 1))
    before = tree_hashes(copy)
    for command in ("validate", "status", "draft"):
        r = ceremony(command, copy)
        assert r.code == 2 and "ceremony.yaml" in r.out, (command, r.out)
        assert "named pipe" in r.out or f"{MAX_INPUT_BYTES:,} bytes" in r.out, r.out
    assert tree_hashes(copy) == before


@pytest.mark.parametrize("kind", ["fifo", "folder", "oversized"])
def test_the_previous_root_inside_the_directory(tmp_path: Path, kind: str) -> None:
    d = tmp_path / "c2"
    root = make_root().write(tmp_path / "1.root.json")
    assert ceremony("init", d, "--previous-root", root).code == 0
    prev = d / "previous" / "1.root.json"
    prev.unlink()
    if kind == "fifo":
        os.mkfifo(prev)
    elif kind == "folder":
        prev.mkdir()
    else:
        prev.write_bytes(b"{" + b" " * MAX_ROOT_BYTES + b"}")
    before = tree_hashes(d)
    r = ceremony("validate", d)
    assert r.code == 2 and "previous/1.root.json" in r.out, r.out
    assert re.search(r"named pipe|is a folder|more than the 512,000 bytes", r.out), r.out
    assert tree_hashes(d) == before


def test_a_merged_copys_oversized_signature_file_is_refused(
    copy: Path,
    ready: Path,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    other = tmp_path / "other"
    shutil.copytree(ready, other)
    kid = json.loads((other / "keys" / "root-a.json").read_text())["keyid"]
    sig = other / "signatures" / "root" / f"{kid}.json"
    sig.parent.mkdir(parents=True, exist_ok=True)
    sig.write_bytes(b"{" + b" " * MAX_INPUT_BYTES + b"}")
    before, other_before = tree_hashes(copy), tree_hashes(other)
    r = ceremony("merge", copy, other)
    # Each file of the other copy is judged alone: this one is refused, and said so. Since
    # issue 11 a refusal makes merge exit 1 and write nothing, the transcript included.
    assert r.code == 1
    assert "0 would add" in r.out and f"more than the {MAX_INPUT_BYTES:,} bytes accepted" in r.out
    assert tree_hashes(other) == other_before
    assert tree_hashes(copy) == before
