"""A transcript that proves itself: signature files and the export record carry the
transcript's head at their time, so `status`, `merge` and `export` see a transcript that was
cut short or rewritten (export refuses unless the operator records why); refused attempts are
logged too, never with a PIN; and signature files of an older version are read, not refused."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import refusals, snapshot_tree
from tests.cli.test_bad_inputs import PIN, ready, run

__all__ = ["ready"]

GENESIS = "0" * 64


def _ok(*args: str | Path, stdin: list[str] | None = None) -> str:
    r = run(*args, stdin=stdin)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def _lines(d: Path) -> list[bytes]:
    return [ln for ln in (d / "transcript.jsonl").read_bytes().split(b"\n") if ln.strip()]


def _entries(d: Path) -> list[dict[str, Any]]:
    return [json.loads(ln) for ln in _lines(d)]


def _write_chain(d: Path, entries: list[dict[str, Any]]) -> None:
    """Write `entries` as a consistent transcript: seq renumbered and every prev recomputed
    (what someone rewriting the transcript would do)."""
    prev, out = GENESIS, []
    for i, e in enumerate(entries, start=1):
        line = json.dumps({**e, "seq": i, "prev": prev}, sort_keys=True).encode()
        out.append(line)
        prev = hashlib.sha256(line).hexdigest()
    (d / "transcript.jsonl").write_bytes(b"".join(ln + b"\n" for ln in out))


@pytest.fixture
def signed(ready: Path, tmp_path: Path) -> Path:
    """root signed by root-a and root-b (threshold met), each in its own session."""
    d = tmp_path / "c"
    shutil.copytree(ready, d)
    for key in ("root-a", "root-b"):
        _ok("sign", d, "root", "--key", key, stdin=["Yes", PIN])
    return d


def _sig(d: Path, key: str) -> tuple[str, dict[str, Any]]:
    for path in (d / "signatures" / "root").glob("*.json"):
        data = json.loads(path.read_text())
        if data["key_name"] == key:
            return f"signatures/root/{path.name}", data
    raise AssertionError(f"no signature by {key}")


def test_each_signature_file_carries_the_head_before_its_own_entry(signed: Path) -> None:
    entries, lines = _entries(signed), _lines(signed)
    for key in ("root-a", "root-b"):
        rel, data = _sig(signed, key)
        head = data["transcript_head"]
        entry = entries[head["seq"]]  # the line after the head: the sign entry that wrote it
        assert entry["command"] == "sign" and rel in entry["files_written"]
        assert head["sha256"] == hashlib.sha256(lines[head["seq"] - 1]).hexdigest()
        assert entry["prev"] == head["sha256"]
    out = _ok("status", signed)
    assert "transcript:" not in out
    assert f"Transcript: {len(_lines(signed)) - 1} entries; head SHA-256" in out


def test_a_cut_transcript_is_seen_by_status_and_stops_export(signed: Path) -> None:
    # Remove the tail: the entry of root-b's signature and everything after it.
    rel, data = _sig(signed, "root-b")
    keep = data["transcript_head"]["seq"]
    (signed / "transcript.jsonl").write_bytes(b"".join(ln + b"\n" for ln in _lines(signed)[:keep]))
    st = json.loads(_ok("status", signed, "--json"))
    assert any(p.startswith(f"{rel} is in no transcript entry") for p in st["transcript_problems"])
    assert "transcript:" in _ok("status", signed)
    before = snapshot_tree(signed)
    r = run("export", signed)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Check failed: the transcript does not say what happened" in r.stderr
    assert "--accept-transcript-problems" in r.stderr
    assert snapshot_tree(signed) == before and not (signed / "published").exists()
    # The operator records why: exported, and the record lists the problems and the reason.
    out = _ok("export", signed, "--accept-transcript-problems", "copy restored from backup")
    assert "TRANSCRIPT PROBLEMS ACCEPTED" in out
    record = (signed / "published" / "ceremony-record.md").read_text()
    assert "## TRANSCRIPT PROBLEMS ACCEPTED" in record and f"- {rel} is in no" in record
    assert "the operator's reason: copy restored from backup" in record
    last = _entries(signed)[-1]
    assert last["command"] == "export"
    assert "transcript problems accepted because: copy restored from backup" in last["notes"]


def test_a_rewritten_transcript_with_a_fresh_chain_is_seen(signed: Path) -> None:
    entries = _entries(signed)
    del entries[1]  # drop an early line and re-chain: the chain itself is intact again
    _write_chain(signed, entries)
    st = json.loads(_ok("status", signed, "--json"))
    problems = st["transcript_problems"]
    assert not any("does not chain" in p for p in problems), problems
    assert any("the transcript was rewritten" in p for p in problems), problems
    assert run("export", signed).returncode == 1


def test_a_cut_export_record_head_is_seen(signed: Path) -> None:
    _ok("export", signed)
    record = (signed / "published" / "ceremony-record.md").read_text()
    head = next(ln for ln in record.splitlines() if "transcript head at export" in ln)
    n = len(_lines(signed)) - 1  # the head before the export's own entry
    sha = hashlib.sha256(_lines(signed)[n - 1]).hexdigest()
    assert head == f"- transcript head at export: line {n}, SHA-256 {sha}"
    (signed / "transcript.jsonl").write_bytes(
        b"".join(ln + b"\n" for ln in _lines(signed)[: n - 1])
    )
    st = json.loads(_ok("status", signed, "--json"))
    assert any(
        p.startswith("published/ceremony-record.md was written when the transcript had")
        and "cut short" in p
        for p in st["transcript_problems"]
    ), st["transcript_problems"]


def test_an_intact_transcript_needs_no_reason(signed: Path) -> None:
    before = snapshot_tree(signed)
    r = run("export", signed, "--accept-transcript-problems", "just in case")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "--accept-transcript-problems cannot apply: the transcript is intact" in r.stderr
    assert snapshot_tree(signed) == before


def test_merge_reports_a_cut_transcript_in_the_other_copy(
    ready: Path, signed: Path, tmp_path: Path
) -> None:
    here = tmp_path / "here"
    shutil.copytree(ready, here)
    _, data = _sig(signed, "root-b")
    keep = data["transcript_head"]["seq"]
    (signed / "transcript.jsonl").write_bytes(b"".join(ln + b"\n" for ln in _lines(signed)[:keep]))
    out = _ok("merge", here, signed)
    assert "2 added" in out
    assert f"transcript: {signed}: signatures/root/" in out and "is in no transcript entry" in out
    last = _entries(here)[-1]
    assert last["command"] == "merge"
    assert any(n.startswith("transcript problem: ") for n in last["notes"])
    # Each merged file keeps the head of the copy it was signed in, noted here.
    assert sum("(transcript head there: line" in n for n in last["notes"]) == 2
    # Merged signatures are anchored in that copy: here the transcript is intact.
    assert json.loads(_ok("status", here, "--json"))["transcript_problems"] == []


def test_refused_merge_entries_are_logged(ready: Path, signed: Path, tmp_path: Path) -> None:
    here = tmp_path / "here"
    shutil.copytree(ready, here)
    rel, _ = _sig(signed, "root-a")
    path = signed / rel
    path.write_text(path.read_text().replace('"sig": "', '"sig": "00'))
    r = run("merge", here, signed)
    assert r.returncode == 1, r.stdout + r.stderr  # a refused entry: nothing merged (issue 11)
    last = _entries(here)[-1]
    assert last["outcome"] == "refused", last
    notes = last["notes"]
    assert any(n.startswith("refused ") and "bad signature" in n for n in notes), notes


def test_older_signature_files_without_a_head_are_read_and_named(signed: Path) -> None:
    """A directory signed by a version that wrote no heads (and the transcript entries that
    wrote those files): status says so and carries on; export works."""
    entries = _entries(signed)
    rels = []
    for key in ("root-a", "root-b"):
        rel, data = _sig(signed, key)
        del data["transcript_head"]
        new = json.dumps(data, indent=2, sort_keys=True).encode() + b"\n"
        (signed / rel).write_bytes(new)
        for e in entries:
            if rel in e.get("files_written", {}):
                e["files_written"][rel] = hashlib.sha256(new).hexdigest()
        rels.append(rel)
    _write_chain(signed, entries)
    st = json.loads(_ok("status", signed, "--json"))
    assert st["transcript_problems"] == []
    assert sorted(st["transcript_notes"]) == sorted(
        f"{rel} carries no transcript head: it was written by an older tuf-ceremony, so it "
        "cannot show a cut or rewritten transcript"
        for rel in rels
    )
    assert "transcript note:" in _ok("status", signed)
    _ok("export", signed)


def test_refused_attempts_are_logged_without_the_pin(ready: Path, tmp_path: Path) -> None:
    d = tmp_path / "c"
    shutil.copytree(ready, d)
    run("sign", d, "root", "--key", "root-a", stdin=["no"])
    run("sign", d, "root", "--key", "root-a", stdin=["Yes", "wrong-pin-123"])
    run("enroll", d, "root-a", "--uri", "pkcs11:token=x;pin-value=Qz7wPx;object=k")
    got = refusals(d)
    assert [(e["command"], e["outcome"], e["exit_code"]) for e in got] == [
        ("sign", "refused", 1),
        ("sign", "refused", 3),
        ("enroll", "refused", 2),
    ]
    assert got[2]["args"]["uri"] == "pkcs11:token=x;pin-value=(removed);object=k"
    text = (d / "transcript.jsonl").read_text()
    for secret in (PIN, "wrong-pin-123", "Qz7wPx"):
        assert secret not in text
    # The refusal entries keep the chain.
    assert json.loads(_ok("status", d, "--json"))["transcript_problems"] == []


def test_a_deleted_or_emptied_transcript_is_seen_before_any_signature(
    ready: Path, tmp_path: Path
) -> None:
    """No signature file carries a head yet, but the directory's own plan says a command made
    it: a missing or empty transcript is a problem `status` shows (runbook D1's check)."""
    for how in ("delete", "empty"):
        d = tmp_path / how
        shutil.copytree(ready, d)
        if how == "delete":
            (d / "transcript.jsonl").unlink()
        else:
            (d / "transcript.jsonl").write_bytes(b"")
        st = json.loads(_ok("status", d, "--json"))
        assert any(
            "transcript (transcript.jsonl) is missing or empty" in p
            for p in st["transcript_problems"]
        ), st["transcript_problems"]
    st = json.loads(_ok("status", ready, "--json"))
    assert st["transcript_problems"] == []
