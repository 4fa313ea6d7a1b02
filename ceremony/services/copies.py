"""Copies of a ceremony directory: `ceremony copy` makes a holder's copy that knows it is
one, and `copy_state` tells whether a directory is a copy.

A holder signs in a copy on another machine and brings it back to the administrator, who
merges it (`ceremony merge`). A copy must never be drafted in: a new draft has a different
digest, so its signatures could never be merged.

How a directory knows:
- `copy-of.json` (written by `ceremony copy`): a copy, for certain;
- otherwise the transcript's first line (`ceremony init`) names the directory and machine it
  was created as: a directory elsewhere is probably a copy made with `cp` (or the one stick
  that travels), and the screens say so with an "if".
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ceremony import digest as digests
from ceremony.clock import iso
from ceremony.errors import InputError, StoreError
from ceremony.files import atomic_write, fsync_dir, json_bytes
from ceremony.store import LOCK_FILE, CeremonyDir
from ceremony.store.drafts import drafted_roles, load_draft
from ceremony.store.marks import COPY_FILE, CopyMark, load_copy_mark
from ceremony.transcript import Entry, read_entries


@dataclass(frozen=True)
class CopyState:
    """A directory that is (`certain`) or seems to be a copy: the administrator's
    directory it came from (path, machine), and when it was copied (or created)."""

    certain: bool
    origin: str
    host: str
    since: str
    drafts: dict[str, str]


def copy_state(cdir: CeremonyDir) -> CopyState | None:
    """Whether `cdir` is a holder's copy (`sign` and `status` end by saying so).

    Args:
        cdir: the ceremony directory (read only).

    Returns:
        A `CopyState` (`certain` when copy-of.json says so), or None when it is, as far as
        can be told, the directory the ceremony was created in.

    Raises:
        StoreError (exit 2): copy-of.json is damaged.
    """
    mark = load_copy_mark(cdir)
    if mark is not None:
        return CopyState(True, mark.copy_of, mark.host, mark.copied_at, mark.drafts)
    entries = read_entries(cdir.root)
    first = entries[0] if entries else {}
    args = first.get("args")
    if not isinstance(args, dict):
        return None
    created = args.get("directory") if first.get("command") == "init" else None
    host = str(first.get("host", ""))
    if not isinstance(created, str):
        return None
    if created == str(cdir.root) and host == socket.gethostname():
        return None
    return CopyState(False, created, host, str(first.get("time", "")), {})


@dataclass(frozen=True)
class CopyResult:
    """The copy made, the number of files copied, and the digest of each draft in it."""

    path: Path
    files: int
    drafts: dict[str, str]


def copy(cdir: CeremonyDir, dest: Path, now: dt.datetime, entry: Entry) -> CopyResult:
    """Copy the ceremony directory to `dest` (e.g. a holder's USB stick), marked as a copy
    (`ceremony copy`). Every file is written atomically and synced; the lock file is not
    copied; nothing is written to `dest` unless the whole copy succeeds.

    Args:
        cdir: the ceremony directory (the caller holds its lock).
        dest: a folder that does not exist yet, or an empty one.
        now: the time of the copy (recorded in the mark).
        entry: the transcript entry; receives the destination and the drafts' digests.

    Returns:
        A `CopyResult`.

    Raises:
        InputError (exit 2): `dest` exists and is not empty, or is inside the directory.
        StoreError (exit 2): a symbolic link in the directory, or a file cannot be copied.
    """
    dest = dest.absolute()
    if dest == cdir.root or cdir.root in dest.parents:
        raise InputError(f"{dest} is inside the ceremony directory; copy it somewhere else.")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InputError(
            f"{dest} already exists and is not an empty folder; a copy goes to a new folder "
            "(nothing was written)."
        )
    drafts = {role: d.digest for role in drafted_roles(cdir) if (d := load_draft(cdir, role))}
    mark = CopyMark(str(cdir.root), iso(now), socket.gethostname(), drafts)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-copying-", dir=dest.parent))
    count = 0
    try:
        for path in sorted(cdir.root.rglob("*")):
            rel = path.relative_to(cdir.root)
            if path.is_symlink():
                raise StoreError(
                    f"{rel} is a symbolic link; a ceremony directory holds only real files "
                    "(nothing was copied)."
                )
            if rel.parts in ((LOCK_FILE,), (COPY_FILE,)) or path.is_dir():
                continue
            atomic_write(tmp / rel, path.read_bytes())
            count += 1
        atomic_write(tmp / COPY_FILE, json_bytes(mark.to_dict()))
        if dest.exists():
            dest.rmdir()
        os.rename(tmp, dest)
        fsync_dir(dest.parent)
    except OSError as exc:
        raise StoreError(
            f"could not copy to {dest}: {exc.strerror}; nothing was written."
        ) from None
    finally:
        if tmp.exists():
            with contextlib.suppress(OSError):
                shutil.rmtree(tmp)
    entry.notes.append(f"copied to {dest} ({count} files)")
    entry.files_written[str(dest / COPY_FILE)] = digests.sha256_hex(json_bytes(mark.to_dict()))
    return CopyResult(dest, count, drafts)
