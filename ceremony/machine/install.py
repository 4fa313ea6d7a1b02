"""Is the installed tool the one the wheelhouse pinned? Its files against their RECORD, and
a wheelhouse against its SHA256SUMS and its wheels.

A wheel's RECORD (PEP 376/PEP 627; the binary distribution format spec) lists every file
with `sha256=` and its urlsafe-base64 digest without padding; pip copies it into the
installed `*.dist-info/RECORD` with the files it wrote (scripts and `.pyc` files it made get
no hash). `scripts/wheelhouse.sh` writes `SHA256SUMS` (`sha256sum` format) for the wheels it
gathered; `scripts/install-offline.sh` installs from them.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as md
import json
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

TOOL = "tuf-ceremony"
_NAME_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalize(name: str) -> str:
    """The normalized project name (PEP 503): lower case, runs of -_. as one '-'."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Installed:
    """One installed distribution: its name, version, files checked against the RECORD,
    files that differ or are missing, whether it is an editable (development) install, and
    whether it has a RECORD at all (a source checkout's egg-info has none)."""

    name: str
    version: str
    checked: int
    bad: list[str] = field(default_factory=list)
    editable: bool = False
    has_record: bool = True


def _record_digest(data: bytes, mode: str) -> str:
    return base64.urlsafe_b64encode(hashlib.new(mode, data).digest()).rstrip(b"=").decode()


def _editable(dist: md.Distribution) -> bool:
    """An editable install (`pip install -e`, PEP 610 direct_url.json): its files are the
    source tree's, not a wheel's."""
    try:
        info = json.loads(dist.read_text("direct_url.json") or "{}")
    except json.JSONDecodeError:
        return False
    return isinstance(info, dict) and bool((info.get("dir_info") or {}).get("editable"))


def check_installed(dist: md.Distribution) -> Installed:
    """Every file of `dist` that its RECORD gives a hash for, hashed again and compared."""
    bad: list[str] = []
    checked = 0
    for f in dist.files or []:
        if f.hash is None:
            continue
        checked += 1
        try:
            data = Path(str(f.locate())).read_bytes()
        except OSError:
            bad.append(f"{f} (missing)")
            continue
        if f.hash.mode not in hashlib.algorithms_available:
            bad.append(f"{f} (unknown hash {f.hash.mode})")
        elif _record_digest(data, f.hash.mode) != f.hash.value:
            bad.append(str(f))
    name = str(dist.metadata["Name"])
    has_record = dist.read_text("RECORD") is not None
    return Installed(name, dist.version, checked, bad, _editable(dist), has_record)


def requirement_names(dist: md.Distribution) -> list[str]:
    """The names of the runtime requirements of `dist` (extras' requirements left out)."""
    out = []
    for req in dist.requires or []:
        if re.search(r"\bextra\s*==", req):
            continue
        m = _NAME_RE.match(req)
        if m:
            out.append(normalize(m.group(1)))
    return out


def closure(root: str = TOOL) -> list[md.Distribution]:
    """`root` and every distribution it needs at run time, installed here (by name)."""
    seen: dict[str, md.Distribution] = {}
    todo = [normalize(root)]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue  # an optional or platform-specific requirement not installed
        seen[name] = dist
        todo += requirement_names(dist)
    return [seen[n] for n in sorted(seen, key=lambda n: (n != normalize(root), n))]


@dataclass(frozen=True)
class WheelhouseState:
    """A wheelhouse: files checked against SHA256SUMS and the problems found (a file that
    differs or is missing; an installed distribution with no wheel there, or whose files are
    not the wheel's)."""

    folder: Path
    checked: int
    problems: list[str]


def _sums(folder: Path) -> dict[str, str]:
    text = (folder / "SHA256SUMS").read_text(encoding="utf-8", errors="replace")
    out = {}
    for line in text.splitlines():
        parts = line.strip().split(None, 1)
        if len(parts) == 2:
            out[parts[1].lstrip("*").removeprefix("./")] = parts[0].lower()
    return out


def _wheel_record(path: Path) -> tuple[str, str, dict[str, str]]:
    """(normalized name, version, path -> 'mode=digest') of a wheel, from its RECORD."""
    with zipfile.ZipFile(path) as z:
        record_name = next(n for n in z.namelist() if n.endswith(".dist-info/RECORD"))
        meta = z.read(record_name.rsplit("/", 1)[0] + "/METADATA").decode("utf-8", "replace")
        record = z.read(record_name).decode("utf-8", "replace")
    name = re.search(r"^Name: *(.+)$", meta, re.M)
    version = re.search(r"^Version: *(.+)$", meta, re.M)
    entries = {}
    for line in record.splitlines():
        parts = line.rsplit(",", 2)
        if len(parts) == 3 and parts[1]:
            entries[parts[0]] = parts[1]
    return (
        normalize(name.group(1).strip()) if name else "",
        version.group(1).strip() if version else "",
        entries,
    )


def check_wheelhouse(folder: Path, installed: Iterable[md.Distribution]) -> WheelhouseState:
    """Check `folder` against its SHA256SUMS, and that each installed distribution is the
    wheel there (same name and version, every file the wheel's RECORD lists with that hash).
    A missing SHA256SUMS is a problem, not an exception."""
    problems: list[str] = []
    if not (folder / "SHA256SUMS").is_file():
        return WheelhouseState(folder, 0, [f"{folder}/SHA256SUMS is missing"])
    sums = _sums(folder)
    for name, want in sorted(sums.items()):
        try:
            got = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        except OSError:
            problems.append(f"{name} is listed in SHA256SUMS but missing")
            continue
        if got != want:
            problems.append(f"{name} does not match SHA256SUMS")
    wheels: dict[tuple[str, str], dict[str, str]] = {}
    for name in sums:
        if name.endswith(".whl") and (folder / name).is_file():
            try:
                wname, wversion, entries = _wheel_record(folder / name)
            except (OSError, KeyError, StopIteration, zipfile.BadZipFile):
                problems.append(f"{name} is not a readable wheel")
                continue
            wheels[(wname, wversion)] = entries
    for dist in installed:
        key = (normalize(str(dist.metadata["Name"])), dist.version)
        found = wheels.get(key)
        if found is None:
            problems.append(f"{key[0]} {key[1]} is installed but not in the wheelhouse")
            continue
        entries = found
        mine = {str(f): f"{f.hash.mode}={f.hash.value}" for f in dist.files or [] if f.hash}
        differ = [p for p, h in entries.items() if ".data/" not in p and mine.get(p) != h]
        if differ:
            problems.append(
                f"{key[0]} {key[1]}: {len(differ)} installed file(s) are not the wheel's "
                f"(e.g. {differ[0]})"
            )
    return WheelhouseState(folder, len(sums), problems)
