"""The transcript: an append-only, hash-chained log of every command run on a directory.

Each line is one JSON object: what ran, when, by whom (the OS user and the key holder
involved), the tool version, the digests of the files read and written, and the outcome.
Each entry carries the SHA-256 of the previous line, so a removed or edited line shows.
A PIN is never passed to this module; arguments are recorded only as the CLI sanitised them.
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
