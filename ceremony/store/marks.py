"""What a directory knows about itself: its exports (`exports.json`) and whether it is a
holder's copy (`copy-of.json`).

- `exports.json`: one entry per `ceremony export`: when, where to, the SHA-256 of every file
  written, and each role's version, digest and the keyids whose signatures it holds. A
  ceremony whose current drafts were exported is finished; a second export compares with it.
- `copy-of.json`: written by `ceremony copy` into the copy it makes: where it was copied
  from, when, and the digests of the drafts then. A directory with it is a holder's copy:
  signatures made in it go back to the administrator's directory with `ceremony merge`.

Both are JSON written atomically by the tool. Nothing here prompts or prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ceremony.errors import StoreError
from ceremony.files import json_bytes
from ceremony.store.directory import CeremonyDir

EXPORTS_FILE = "exports.json"
COPY_FILE = "copy-of.json"


@dataclass(frozen=True)
class ExportedRole:
    """One role as exported: its version, the digest of the signed bytes, and the keyids
    whose signatures the exported file holds."""

    version: int
    digest: str
    signers: tuple[str, ...]


@dataclass(frozen=True)
class ExportRecord:
    """One export: when (ISO 8601 UTC), where to (as given), name -> SHA-256 of each file
    written, each role exported, and whether it was a deliberate re-opening (`--reopen`)."""

    at: str
    out: str
    files: dict[str, str]
    roles: dict[str, ExportedRole]
    reopened: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "out": self.out,
            "files": dict(self.files),
            "roles": {
                r: {"version": e.version, "digest": e.digest, "signers": list(e.signers)}
                for r, e in self.roles.items()
            },
            "reopened": self.reopened,
        }


def _export_from(raw: Any) -> ExportRecord:
    try:
        roles = {
            str(r): ExportedRole(int(e["version"]), str(e["digest"]), tuple(map(str, e["signers"])))
            for r, e in raw["roles"].items()
        }
        files = {str(n): str(h) for n, h in raw["files"].items()}
        return ExportRecord(str(raw["at"]), str(raw["out"]), files, roles, bool(raw["reopened"]))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise StoreError(
            f"{EXPORTS_FILE} is damaged (an entry lacks at, out, files, roles or reopened). "
            "Take it again from another copy of the ceremony, or from the archive."
        ) from None


def load_exports(cdir: CeremonyDir) -> list[ExportRecord]:
    """Every export made from this directory, oldest first ([] before the first)."""
    if not cdir.path(EXPORTS_FILE).exists():
        return []
    raw = cdir.read_json(EXPORTS_FILE)
    if not isinstance(raw, dict) or not isinstance(raw.get("exports"), list):
        raise StoreError(f"{EXPORTS_FILE} is damaged (no list of exports).")
    return [_export_from(e) for e in raw["exports"]]


def add_export(cdir: CeremonyDir, record: ExportRecord) -> bytes:
    """Append `record` to exports.json (rewritten atomically); returns the bytes written."""
    data = json_bytes({"exports": [e.to_dict() for e in [*load_exports(cdir), record]]})
    cdir.write(EXPORTS_FILE, data)
    return data


@dataclass(frozen=True)
class CopyMark:
    """A holder's copy: the directory it was copied from, when, on which machine, and the
    digest of each draft it then held."""

    copy_of: str
    copied_at: str
    host: str
    drafts: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "copy_of": self.copy_of,
            "copied_at": self.copied_at,
            "host": self.host,
            "drafts": dict(self.drafts),
        }


def load_copy_mark(cdir: CeremonyDir) -> CopyMark | None:
    """The copy mark, if this directory is a copy made by `ceremony copy`."""
    if not cdir.path(COPY_FILE).exists():
        return None
    raw = cdir.read_json(COPY_FILE)
    try:
        return CopyMark(
            str(raw["copy_of"]),
            str(raw["copied_at"]),
            str(raw["host"]),
            {str(r): str(d) for r, d in raw["drafts"].items()},
        )
    except (KeyError, TypeError, AttributeError):
        raise StoreError(f"{COPY_FILE} is damaged; take a fresh copy (`ceremony copy`).") from None
