"""Files: atomic and write-once writes, the JSON form the tool writes, and reading inputs.

Every write goes to a temporary file in the same folder, is fsynced, then renamed (and
the folder fsynced), so a crash leaves the old file or the new one, never half of one.
Write-once files (signatures, published files) are linked into place, so an existing file
is never replaced. Used by the ceremony directory (`store`) and the software token.

Every file is read by `read_bounded` (issue 9, rule 11): a regular file of at most a
known size, or a refusal naming the path and the limit. A device (`/dev/zero`), a FIFO or
a folder is refused before a byte is read, so nothing can make a command read without end.
JSON from any file goes through `parse_json`: bounded nesting, no floats (canonical JSON,
which TUF signs, has none), a message naming the file instead of a Python exception.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any

from ceremony.errors import CeremonyError, InputError, StoreError

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


# --- reading ------------------------------------------------------------------------------

KIB = 1024
MIB = 1024 * KIB
# The largest files read, by kind. Each is far above what a real file of the kind needs
# and far below what would exhaust memory.
MAX_SMALL_FILE_BYTES = 64 * KIB  # a public key (PEM, TUF key JSON), a certificate
MAX_INPUT_BYTES = 1 * MIB  # a plan, a key record, a signature file: short text files
# A root: python-tuf's and tuf-js's clients download at most 512,000 bytes of root
# (`tuf.ngclient.UpdaterConfig.max_root_length`, tuf-js `config.maxRootLength`), so a
# larger root is one no client would fetch.
MAX_ROOT_BYTES = 512_000
# Drafts and other metadata in a ceremony directory (16,384 hash bins are about 3 MB).
MAX_METADATA_BYTES = 64 * MIB
# JSON nesting: TUF metadata nests 6 levels (signed.delegations.roles[i].keyids[j]), a key
# record 5; deeper input is refused before anything walks it (Python's JSON parser and
# every walker of the tree recurse).
MAX_JSON_DEPTH = 32


def file_kind(mode: int) -> str:
    """What a file of `st_mode` `mode` is, for messages: 'a folder', 'a named pipe (FIFO)'."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a regular file"


def read_bounded(
    path: Path,
    limit: int,
    what: str = "",
    *,
    follow_symlinks: bool = True,
    error: type[CeremonyError] = InputError,
    shown: str | None = None,
    advice: str = "Give the file itself; nothing was read and nothing was written.",
) -> bytes:
    """The bytes of the regular file `path`, at most `limit` bytes, read without blocking.

    The path is checked (stat) before it is opened, so a device is never opened; it is
    opened with O_NONBLOCK (a FIFO cannot hang the open) and, with `follow_symlinks`
    False, O_NOFOLLOW; the open file is checked again (fstat: S_ISREG, size) and read in
    chunks up to `limit` + 1 bytes. `what` names the file in messages ("the previous root "),
    `shown` is the path as messages show it (default: `path`); `advice` ends the message
    about a file that is not a regular one.

    Raises `error` (InputError, exit 2, unless the caller says otherwise) when the file is
    missing or unreadable, is not a regular file (a folder, FIFO, device, socket, or a
    symbolic link where none is allowed), or holds more than `limit` bytes.
    """
    name = f"{what}{shown if shown is not None else path}"
    try:
        st = os.stat(path) if follow_symlinks else os.lstat(path)
    except OSError as exc:
        raise error(f"cannot read {name}: {exc.strerror}.") from None
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{name} is {file_kind(st.st_mode)}, not a regular file. {advice}")
    if st.st_size > limit:
        raise error(
            f"{name} is {st.st_size:,} bytes, more than the {limit:,} bytes accepted for "
            "it. Check that you gave the right file; nothing was written."
        )
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise error(f"cannot read {name}: {exc.strerror}.") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # replaced between the stat and the open
            raise error(f"{name} is {file_kind(st.st_mode)}, not a regular file. {advice}")
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, min(MIB, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise error(
                f"{name} holds more than the {limit:,} bytes accepted for it (it grew while "
                "being read). Check that you gave the right file; nothing was written."
            )
        return b"".join(chunks)
    except OSError as exc:
        raise error(f"cannot read {name}: {exc.strerror}.") from None
    finally:
        os.close(fd)


def read_input(path: Path, what: str = "", limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of a file named on the command line (outside the ceremony directory).

    The one way the tool reads an outside file: `read_bounded` (a regular file of at most
    `limit` bytes; symbolic links given by the user are followed). `what` names it in the
    message (e.g. "the previous root "). Raises InputError (exit 2) "cannot read WHAT PATH:
    REASON.", or names the kind of file or its size and the limit.
    """
    return read_bounded(path, limit, what)


class _Fraction:
    """A JSON number with a fraction or exponent, kept as written until it is reported."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _refuse_constant(text: str) -> Any:
    raise ValueError(f"{text} is not a JSON number")


class _Repeated(ValueError):
    """A key given twice in one JSON object."""


def _one_value_per_key(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Repeated(key)
            seen.add(key)
    return out


def _path_text(parts: list[str | int]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "the top level"


def _tree_is_plain(value: Any, max_depth: int) -> bool:
    """True when `value` nests at most `max_depth` levels and holds no float: one pass over
    the containers with no paths kept (a root of 1,000 in a chain: 0.01 s instead of 0.03 s);
    the paths are made only to name a problem (`_tree_problem`)."""
    if type(value) is _Fraction:
        return False
    if type(value) is not dict and type(value) is not list:
        return True
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth >= max_depth:
            return False
        for v in node.values() if type(node) is dict else node:
            t = type(v)
            if t is dict or t is list:
                stack.append((v, depth + 1))
            elif t is _Fraction:
                return False
    return True


def _tree_problem(value: Any, max_depth: int) -> str | None:
    """Nesting deeper than `max_depth`, or a float, with where it is (walked iteratively)."""
    if _tree_is_plain(value, max_depth):
        return None
    stack: list[tuple[Any, list[str | int]]] = [(value, [])]
    while stack:
        node, where = stack.pop()
        if isinstance(node, _Fraction):
            return (
                f"holds a float ({node.text}) at {_path_text(where)}: a float cannot be canonical "
                "JSON (TUF signs canonical JSON, which has integers only), so no signature over "
                "it can ever be checked"
            )
        if isinstance(node, dict | list):
            if len(where) >= max_depth:
                return (
                    f"nests more than {max_depth} levels deep (at {_path_text(where[:3])}…), "
                    "where TUF metadata and key files nest a few levels"
                )
            items = node.items() if isinstance(node, dict) else enumerate(node)
            stack.extend((v, [*where, k]) for k, v in items)
    return None


def json_problem(data: bytes, max_depth: int = MAX_JSON_DEPTH) -> tuple[Any, str | None]:
    """(the JSON value of `data`, None), or (None, what is wrong) as a phrase that follows
    the file's name: "is not valid JSON: ...", "holds a float (1.5) at signed.x-ratio: ...".

    Refused: bytes that are not UTF-8 (with the byte offset), text that is not JSON (line
    and column), NaN / Infinity, a key given twice in one object (RFC 8259 section 4: names
    SHOULD be unique; readers then differ), nesting deeper than `max_depth`, any number with
    a fraction or exponent. Python's parser is never let to recurse out of its stack.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, (
            f"is not UTF-8 text (byte {exc.start:,} is 0x{data[exc.start]:02x}), and JSON files "
            "are UTF-8"
        )
    try:
        value = json.loads(
            text,
            parse_float=_Fraction,
            parse_constant=_refuse_constant,
            object_pairs_hook=_one_value_per_key,
        )
    except _Repeated as exc:
        # json.loads would keep the last value; other parsers (and the signers' tools) may
        # keep the first: two readers, two documents from the same bytes.
        return None, (
            f'gives the key "{exc}" twice in one object, which JSON readers take differently '
            "(a client could read other values than the signers saw)"
        )
    except RecursionError:
        return None, f"nests more than {max_depth} levels deep, where TUF metadata nests a few"
    except json.JSONDecodeError as exc:
        return None, f"is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
    except ValueError as exc:
        return None, f"is not valid JSON ({exc})"
    problem = _tree_problem(value, max_depth)
    return (None, problem) if problem else (value, None)


def parse_json(
    data: bytes,
    source: str,
    *,
    max_depth: int = MAX_JSON_DEPTH,
    error: type[CeremonyError] = InputError,
) -> Any:
    """The JSON value in `data` (a whole file), checked before anyone walks it
    (`json_problem`). Raises `error` (InputError, exit 2, unless the caller says otherwise)
    naming `source` and what is wrong."""
    value, problem = json_problem(data, max_depth)
    if problem is not None:
        raise error(
            f"{source} {problem}. Check that it is the right file, as its tool wrote it; nothing "
            "was written."
        )
    return value
