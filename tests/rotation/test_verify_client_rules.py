"""`ceremony verify` is a client (issue 9 rule 8, issue 12): the file `N.root.json` must hold
version N, two different files of one version are a conflict, an expired newest root is an
error, and a later root given alone is not called a valid chain. Through the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.rotation.test_long_chain import Chain


def verify(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ceremony", "verify", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "400"},
        timeout=120,
        check=False,
    )


def text(res: subprocess.CompletedProcess[str]) -> str:
    return " ".join((res.stdout + res.stderr).split())


def test_a_good_chain_is_one_line(tmp_path: Path) -> None:
    files = Chain(3).write(tmp_path)
    res = verify(*files)
    assert res.returncode == 0, text(res)
    assert res.stdout == "The chain is valid up to root version 3 (3 roots checked).\n"


def test_file_name_must_hold_its_version(tmp_path: Path) -> None:
    files = Chain(3).write(tmp_path / "c")
    wrong = tmp_path / "5.root.json"  # holds version 3
    wrong.write_bytes(files[2].read_bytes())
    res = verify(files[0], files[1], wrong)
    assert res.returncode == 1, text(res)
    assert "5.root.json holds root version 3" in text(res)
    assert "expects version 5" in text(res)
    assert "The chain is valid" not in text(res)
    # Any other name is not a client's file name: judged by content only.
    other = tmp_path / "candidate.json"
    other.write_bytes(files[2].read_bytes())
    assert verify(files[0], files[1], other).returncode == 0


def test_two_different_files_of_one_version_conflict(tmp_path: Path) -> None:
    c = Chain(3)
    files = c.write(tmp_path / "a")
    c.mds[1].signed.expires += timedelta(days=1)  # another version 2, validly signed
    other = c.write(tmp_path / "b")[1]
    res = verify(*files, other)
    assert res.returncode == 1, text(res)
    assert "two different roots that both claim version 2" in text(res)
    assert str(other) in text(res) and str(files[1]) in text(res)
    # Against the trusted root of that version, too.
    res = verify("--trusted", files[1], other, files[2])
    assert res.returncode == 1, text(res)
    assert "the trusted root" in text(res) and "claim version 2" in text(res)
    # The same file given twice is one root, not a conflict.
    res = verify(*files, files[1])
    assert res.returncode == 0, text(res)
    assert "The chain is valid up to root version 3 (3 roots checked)." in res.stdout


def test_expired_newest_root_is_an_error(tmp_path: Path) -> None:
    c = Chain(3)
    c.mds[2].signed.expires = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    files = c.write(tmp_path / "expired-last")
    res = verify(*files)
    assert res.returncode == 1, text(res)
    assert "expired on" in text(res) and "version 3" in text(res)
    assert "The chain is valid" not in text(res)
    # An expired root on the way is fine: clients check expiry of the newest only.
    c = Chain(3)
    c.mds[1].signed.expires = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    res = verify(*c.write(tmp_path / "expired-middle"))
    assert res.returncode == 0, text(res)


def test_a_later_root_alone_is_not_called_a_valid_chain(tmp_path: Path) -> None:
    files = Chain(4).write(tmp_path)
    res = verify(files[2])
    assert res.returncode == 0, text(res)
    out = text(res)
    assert "The chain is valid" not in out
    assert "root version 3 is signed by its own threshold (2 of 3)" in out
    assert "predecessor (version 2) was not given" in out and "NOT checked" in out
    res = verify(files[2], files[3])
    assert res.returncode == 0, text(res)
    assert "The chain from root version 3 is valid up to root version 4" in text(res)
    assert "predecessor (version 2) was not given" in text(res)
    # With the trusted root, or from version 1, it is a chain.
    res = verify("--trusted", files[1], files[2])
    assert res.stdout == "The chain is valid up to root version 3 (2 roots checked).\n"
    assert verify(files[0]).stdout == "The chain is valid up to root version 1 (1 root checked).\n"


def test_verbose_lists_every_root(tmp_path: Path) -> None:
    files = Chain(3).write(tmp_path)
    res = verify("--verbose", *files)
    lines = res.stdout.splitlines()
    assert [line.split()[0] for line in lines[:3]] == ["ok", "ok", "ok"]
    assert "trusted start: version 1" in lines[0]
    assert "version 2 -> 3: previous root 2/2, new root 2/2" in lines[2]
    assert lines[3] == "The chain is valid up to root version 3 (3 roots checked)."


def test_a_root_with_no_canonical_form_fails_cleanly(tmp_path: Path) -> None:
    """A float in a root (case 09's kind): no canonical JSON, so no client can verify it."""
    c = Chain(2)
    c.mds[1].signed.unrecognized_fields["x-ratio"] = 1.5
    c.mds[1].signatures.clear()
    files = c.write(tmp_path / "c", {2: []})  # unsigned: nothing can sign it canonically
    res = verify(*files)
    assert res.returncode == 2, text(res)  # refused when read (issue 9 rule 2), with where
    assert "holds a float (1.5) at signed.x-ratio" in text(res)
    assert "Internal error" not in text(res)


def test_a_key_given_twice_in_one_object_is_refused(tmp_path: Path) -> None:
    """`{"signed": {...}, "signed": {...}}`: json.loads keeps the last, other readers the first;
    verify refuses the file instead of choosing (exit 2, the key named)."""
    files = Chain(2).write(tmp_path)
    body = files[1].read_text()
    assert body.lstrip().startswith("{")
    twice = tmp_path / "dup" / "2.root.json"
    twice.parent.mkdir()
    twice.write_text('{"signed": {"_type": "root"},' + body.lstrip()[1:])
    res = verify(files[0], twice)
    assert res.returncode == 2, text(res)
    assert 'gives the key "signed" twice in one object' in " ".join(text(res).split())


def test_verbose_lines_fit_an_80_column_terminal(tmp_path: Path) -> None:
    """On a terminal every line is wrapped at spaces (never inside a word); in a pipe or a
    log each root stays one line (test_verbose_lists_every_root)."""
    from tests.cli.pty_run import run_on_tty

    files = Chain(3).write(tmp_path)
    screen = run_on_tty(["verify", "--verbose", *files[1:]], cols=80)
    assert screen.code == 0, screen.text
    assert all(len(line) <= 80 for line in screen.lines), screen.text
    said = " ".join(screen.text.split())
    assert "version 2 -> 3: previous root 2/2, new root 2/2" in said
    assert "was checked by its own threshold only" in said


def test_a_root_that_publishes_a_private_key_is_refused(tmp_path: Path) -> None:
    """A root whose key object carries keyval.private (the key is compromised) is never
    taken as a root to verify or to build on (exit 2, the key named)."""
    import json

    files = Chain(2).write(tmp_path)
    doc = json.loads(files[1].read_text())
    kid, key = next(iter(doc["signed"]["keys"].items()))
    key["keyval"]["private"] = "00" * 32
    leaked = tmp_path / "leak" / "2.root.json"
    leaked.parent.mkdir()
    leaked.write_text(json.dumps(doc))
    res = verify(files[0], leaked)
    assert res.returncode == 2, text(res)
    assert f"publishes the PRIVATE part of key {kid[:16]}" in " ".join(text(res).split())
