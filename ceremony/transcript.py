"""The transcript: an append-only, hash-chained log of every command run on a directory.

Each line is one JSON object: what ran, when, by whom (the OS user and the key holder
involved), the tool version, the digests of the files read and written, and the outcome
("ok", or "refused"/"interrupted"/"error" for a command that failed once it held the
directory). Each entry carries the SHA-256 of the previous line, so a removed or edited line
shows. The head (the last line's number and SHA-256) is copied into every signature file and
export record when they are written (`Head`); `check_anchors` then shows a truncated tail or
a rewritten chain (docs/adr/0005-transcript.md). A PIN is never passed to this module;
arguments are recorded only as the CLI sanitised them.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import platform
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ceremony import __version__
from ceremony.clock import iso, now_utc
from ceremony.errors import StoreError

TRANSCRIPT_FILE = "transcript.jsonl"
GENESIS = "0" * 64


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass(frozen=True)
class Head:
    """The transcript's head: how many complete lines it has (`seq` of the last line; 0 for
    none) and the SHA-256 of the last line (64 zeros for none). Stored in signature files and
    export records as {"seq": N, "sha256": "..."}."""

    seq: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "sha256": self.sha256}

    @classmethod
    def from_value(cls, value: Any) -> Head | None:
        """A head from its stored form; None when it is absent or malformed."""
        if not isinstance(value, dict):
            return None
        seq, sha = value.get("seq"), value.get("sha256")
        if isinstance(seq, bool) or not isinstance(seq, int) or not isinstance(sha, str):
            return None
        return cls(seq, sha)


@dataclass(frozen=True)
class Anchor:
    """A head copied into a file (`where`, e.g. "signatures/root/KEYID.json") at its time."""

    where: str
    head: Head


@dataclass
class Entry:
    command: str
    args: dict[str, Any] = field(default_factory=dict)
    files_read: dict[str, str] = field(default_factory=dict)  # rel path -> sha256
    files_written: dict[str, str] = field(default_factory=dict)
    holder: str | None = None
    notes: list[str] = field(default_factory=list)


def last_hash(path: Path) -> tuple[str, int]:
    """SHA-256 of the last complete line, and the number of complete lines."""
    if not path.exists():
        return GENESIS, 0
    data = path.read_bytes()
    lines = [ln for ln in data.split(b"\n") if ln.strip()]
    if not lines:
        return GENESIS, 0
    if not data.endswith(b"\n"):
        # A session died mid-append. A complete record that only lacks its newline counts
        # (verify_hash_chain counts it too); a cut-off line is ignored and reported by it.
        try:
            json.loads(lines[-1])
        except json.JSONDecodeError:
            lines = lines[:-1]
    if not lines:
        return GENESIS, 0
    return hashlib.sha256(lines[-1]).hexdigest(), len(lines)


def head(root: Path) -> Head:
    """The transcript's head now (what a file written now carries)."""
    sha, count = last_hash(root / TRANSCRIPT_FILE)
    return Head(count, sha)


def _complete_lines(root: Path) -> list[tuple[bytes, dict[str, Any] | None]]:
    """Every non-empty line with its parsed record (None: damaged), in order."""
    path = root / TRANSCRIPT_FILE
    if not path.exists():
        return []
    out: list[tuple[bytes, dict[str, Any] | None]] = []
    for raw in path.read_bytes().split(b"\n"):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except json.JSONDecodeError:
            rec = None
        out.append((raw, rec if isinstance(rec, dict) else None))
    return out


def check_anchors(root: Path, anchors: list[Anchor]) -> list[str]:
    """Problems found by comparing heads stored in files with the transcript (empty: each
    head is the line it names). A head beyond the last line means the transcript was cut
    short; a different hash, that lines up to it were rewritten."""
    lines = [(raw, rec) for raw, rec in _complete_lines(root) if rec is not None]
    problems: list[str] = []
    for a in anchors:
        if a.head.seq == 0:
            if a.head.sha256 != GENESIS:
                problems.append(f"{a.where} names an empty transcript with a non-zero hash")
            continue
        if a.head.seq > len(lines):
            problems.append(
                f"{a.where} was written when the transcript had {a.head.seq} lines, but it now "
                f"has {len(lines)}: the transcript was cut short (lines removed at its end)"
            )
            continue
        raw, rec = lines[a.head.seq - 1]
        if hashlib.sha256(raw).hexdigest() != a.head.sha256 or rec.get("seq") != a.head.seq:
            problems.append(
                f"{a.where} was written after transcript line {a.head.seq} with SHA-256 "
                f"{a.head.sha256[:16]}…, but that line is now different: the transcript was "
                "rewritten up to there"
            )
    return problems


def writers(root: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(file, SHA-256) -> the transcript entry that wrote that file with those bytes (the
    last one, for a file written again)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for _raw, rec in _complete_lines(root):
        if rec is None:
            continue
        written = rec.get("files_written")
        if isinstance(written, dict):
            for name, sha in written.items():
                out[(str(name), str(sha))] = rec
    return out


def append(root: Path, entry: Entry, outcome: str, exit_code: int) -> None:
    """Append one entry (O_APPEND + fsync). Never raises for a full disk silently."""
    path = root / TRANSCRIPT_FILE
    prev, count = last_hash(path)
    record = {
        "seq": count + 1,
        "time": iso(now_utc()),
        "command": entry.command,
        "args": entry.args,
        "os_user": _user(),
        "host": socket.gethostname(),
        "holder": entry.holder,
        "tool": f"tuf-ceremony {__version__}",
        "python": platform.python_version(),
        "files_read": entry.files_read,
        "files_written": entry.files_written,
        "notes": entry.notes,
        "outcome": outcome,
        "exit_code": exit_code,
        "prev": prev,
    }
    line = json.dumps(record, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n"
    data = path.read_bytes() if path.exists() else b""
    prefix = b"" if not data or data.endswith(b"\n") else b"\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, prefix + line)
        os.fsync(fd)
    finally:
        os.close(fd)


def verify_hash_chain(root: Path) -> list[str]:
    """Problems with the transcript's hash chain (empty list: intact)."""
    path = root / TRANSCRIPT_FILE
    if not path.exists():
        return []
    problems: list[str] = []
    prev = GENESIS
    for i, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except json.JSONDecodeError:
            problems.append(f"line {i} is damaged (a session may have died while writing it)")
            continue
        if rec.get("prev") != prev:
            problems.append(
                f"line {i} does not chain to the line before it (edited or removed lines)"
            )
        prev = hashlib.sha256(raw).hexdigest()
    return problems


def read_entries(root: Path) -> list[dict[str, Any]]:
    path = root / TRANSCRIPT_FILE
    if not path.exists():
        return []
    out = []
    for raw in path.read_bytes().split(b"\n"):
        if raw.strip():
            try:
                out.append(json.loads(raw))
            except json.JSONDecodeError:
                continue
    return out


def ensure_writable(root: Path) -> None:
    if not os.access(root, os.W_OK):
        raise StoreError(f"{root} is not writable (a read-only USB stick?); nothing was written.")
