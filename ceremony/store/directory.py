"""The ceremony directory: its layout, safe paths and reads, writes (atomic or write-once,
by `files`), the lock.

Layout (the unit that travels on a USB stick):

    ceremony.yaml                   the plan
    previous/N.root.json            the trusted previous root (for a rotation)
    keys/NAME.json                  enrolled public keys with provenance
    drafts/ROLE.json                unsigned metadata, frozen
    drafts/ROLE.meta.json           digest, when drafted, the plan's and keys' digests then
    drafts/archive/                 earlier drafts, kept for the record
    signatures/ROLE/KEYID.json      one signature per file
    signatures/stale/ROLE/          signatures replaced after a re-draft, kept for the record
    transcript.jsonl                append-only, hash-chained log
    published/                      what export writes
    exports.json                    every export: when, where, the files (store/marks.py)
    copy-of.json                    only in a holder's copy made by `ceremony copy`

Rules: every write goes to a temporary file in the same folder, is fsynced, then renamed
(and the folder fsynced). Write-once files (signatures, published files) are linked into
place so an existing file is never replaced. Paths from inputs are refused when they leave
the directory or pass through a symlink. Nothing here prompts or prints.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ceremony.errors import LockedError, StoreError
from ceremony.files import (
    MAX_INPUT_BYTES,
    MAX_METADATA_BYTES,
    NAME_RE,
    atomic_write,
    file_kind,
    parse_json,
    read_bounded,
    write_once,
)

PLAN_FILE = "ceremony.yaml"
LOCK_FILE = ".ceremony.lock"
MAX_JSON_BYTES = MAX_METADATA_BYTES  # a 16,384-bin delegation file is ~3 MB
KEYID_RE = re.compile(r"^[0-9a-f]{64}\Z")


def check_name(kind: str, name: str) -> str:
    if not NAME_RE.match(name):
        raise StoreError(
            f"'{name}' is not a valid {kind} name: use lowercase letters, digits, '.', '_' and '-' "
            "(up to 64, starting with a letter or digit). Names become file names."
        )
    return name


class CeremonyDir:
    """A ceremony directory. All paths it hands out are inside it, with no symlinks."""

    def __init__(self, path: Path | str, *, must_exist: bool = True) -> None:
        self.root = Path(path).absolute()
        if must_exist:
            if self.root.is_symlink():
                raise StoreError(
                    f"{self.root} is a symbolic link; give the real ceremony directory."
                )
            if not self.root.is_dir():
                raise StoreError(self._not_a_directory())
            plan = self.root / PLAN_FILE
            if plan.exists() and not plan.is_symlink() and not plan.is_file():
                raise StoreError(
                    f"{plan} is {file_kind(plan.stat().st_mode)}, not a regular file: the plan must be a plain file in the "
                    "ceremony directory. Take the directory again from a trusted copy."
                )
            if not plan.is_file():
                raise StoreError(self._no_plan())

    def _not_a_directory(self) -> str:
        """What was given instead of a ceremony directory, and what was expected."""
        expected = (
            f"a ceremony directory is expected: the folder that holds {PLAN_FILE}, keys/, "
            "drafts/ and signatures/"
        )
        if self.root.is_file() and self.root.name == PLAN_FILE:
            return f"{self.root} is the plan file; {expected}. Give its folder: {self.root.parent}"
        if self.root.exists():
            return f"{self.root} is a file, not a ceremony directory; {expected}."
        return (
            f"{self.root} does not exist, so it is not a ceremony directory; {expected}. Check "
            "the path for a typo, or whether the USB stick is mounted somewhere else."
        )

    def _no_plan(self) -> str:
        for parent in self.root.parents:
            if (parent / PLAN_FILE).is_file():
                return (
                    f"{self.root} is a folder inside the ceremony directory {parent}, not the "
                    f"ceremony directory itself (the folder that holds {PLAN_FILE}). Give {parent}"
                )
        return (
            f"{self.root} has no {PLAN_FILE}, so it is not a ceremony directory (the folder that "
            f"holds {PLAN_FILE}, keys/, drafts/ and signatures/). Check the path."
        )

    # --- paths -----------------------------------------------------------------------

    def path(self, rel: str | Path) -> Path:
        """`rel` inside the directory; refuses absolute paths, '..' and symlinks."""
        rel_path = Path(rel)
        if rel_path.is_absolute() or ".." in rel_path.parts or str(rel).startswith("~"):
            raise StoreError(
                f"'{rel}' leaves the ceremony directory; paths in a ceremony are relative to it and "
                "may not use '..'. Copy the file into the directory and name it relative to it."
            )
        current = self.root
        for part in rel_path.parts:
            current = current / part
            if current.is_symlink():
                raise StoreError(
                    f"'{rel}' goes through the symbolic link {current}; ceremony files must be real "
                    "files inside the directory (a link could point anywhere)."
                )
        return current

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    @property
    def plan_path(self) -> Path:
        return self.path(PLAN_FILE)

    def key_path(self, name: str) -> Path:
        return self.path(f"keys/{check_name('key', name)}.json")

    def draft_path(self, role: str) -> Path:
        return self.path(f"drafts/{check_name('role', role)}.json")

    def draft_meta_path(self, role: str) -> Path:
        return self.path(f"drafts/{check_name('role', role)}.meta.json")

    def signature_path(self, role: str, keyid: str) -> Path:
        if not KEYID_RE.match(keyid):
            raise StoreError(f"'{keyid}' is not a keyid (64 lowercase hex digits).")
        return self.path(f"signatures/{check_name('role', role)}/{keyid}.json")

    # --- reads -----------------------------------------------------------------------

    def _resolve(self, rel: str | Path) -> Path:
        """A path given relative to the directory, or an absolute one already inside it."""
        if isinstance(rel, Path) and rel.is_absolute():
            try:
                inner = rel.relative_to(self.root)
            except ValueError:
                raise StoreError(f"{rel} is outside the ceremony directory {self.root}.") from None
            return self.path(inner)
        return self.path(rel)

    def read_bytes(self, rel: str | Path, *, max_bytes: int = MAX_JSON_BYTES) -> bytes:
        """The bytes of a regular file of the directory, at most `max_bytes` (StoreError:
        missing, a folder, a FIFO or device, a symbolic link, or larger than that)."""
        p = self._resolve(rel)
        if not p.exists() and not p.is_symlink():
            raise StoreError(f"{self.rel(p)} is missing from the ceremony directory.")
        if p.is_dir() and not p.is_symlink():
            raise StoreError(f"{self.rel(p)} is a folder, expected a file.")
        return read_bounded(
            p,
            max_bytes,
            follow_symlinks=False,
            error=StoreError,
            shown=self.rel(p),
            advice="A ceremony directory holds regular files only: take it again from a "
            "trusted copy (nothing was written).",
        )

    def read_json(self, rel: str | Path, *, max_bytes: int = MAX_INPUT_BYTES) -> Any:
        """The JSON value of a small file of the directory (a meta or signature file), by
        `files.parse_json` (UTF-8, bounded nesting, no floats); StoreError naming the file
        when it is not, or is larger than `max_bytes`."""
        p = self._resolve(rel)
        data = self.read_bytes(p, max_bytes=max_bytes)
        return parse_json(data, self.rel(p), error=StoreError)

    def list_json(self, rel: str) -> list[Path]:
        folder = self.path(rel)
        if not folder.is_dir():
            return []
        out = []
        for p in sorted(folder.iterdir()):
            if p.name.startswith(".") or p.suffix != ".json" or not p.is_file() or p.is_symlink():
                continue
            out.append(p)
        return out

    # --- writes ----------------------------------------------------------------------

    def write(self, rel: str | Path, data: bytes) -> Path:
        p = self._resolve(rel)
        atomic_write(p, data)
        return p

    def write_new(self, rel: str | Path, data: bytes) -> Path:
        p = self._resolve(rel)
        write_once(p, data)
        return p

    # --- lock ------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive lock for a session that writes; a second session is told to wait."""
        fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise LockedError(
                        f"another ceremony command is running on {self.root} right now. Wait for it "
                        "to finish (two sessions must not write at once), then run this again."
                    ) from None
                raise
            yield
        finally:
            os.close(fd)
