"""Files: atomic and write-once writes, the JSON form the tool writes, and reading an input.

Every write goes to a temporary file in the same folder, is fsynced, then renamed (and
the folder fsynced), so a crash leaves the old file or the new one, never half of one.
Write-once files (signatures, published files) are linked into place, so an existing file
is never replaced. Used by the ceremony directory (`store`) and the software token.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from ceremony.errors import InputError, StoreError

# A name that becomes a file name (keys/NAME.json, drafts/ROLE.json): key names, role names.
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}\Z")


def fsync_dir(path: Path) -> None:
    """fsync the folder `path`, so a rename in it survives a power cut."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _tmp_write(folder: Path, data: bytes) -> str:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically (temp file, fsync, rename, fsync folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_write(path.parent, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def write_once(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Create `path` with `data` atomically; refuse (StoreError) if it already exists.
    `mode`: its permission bits (default: readable by its owner only, as mkstemp makes it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_write(path.parent, data)
    try:
        if mode is not None:
            os.chmod(tmp, mode)
        os.link(tmp, path)
    except FileExistsError:
        raise StoreError(
            f"{path} already exists and is never overwritten. Move it away first if you really "
            "mean to replace it."
        ) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    fsync_dir(path.parent)


def json_bytes(data: Any) -> bytes:
    """The JSON the tool writes for people to read: indented, sorted keys, UTF-8, a newline."""
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def read_input(path: Path, what: str = "") -> bytes:
    """The bytes of a file named on the command line (outside the ceremony directory).

    `what` names it in the message (e.g. "the previous root "). Raises InputError (exit 2)
    "cannot read WHAT PATH: REASON." when it cannot be read.
    """
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {what}{path}: {exc.strerror}.") from None
