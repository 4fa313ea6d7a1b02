"""An imported role as every command sees it: the file another tool made, read again and
checked against the plan's pin each time, and who must sign it.

`ceremony import` keeps the file exactly as given (`imported/source.json`) and pins it in
the plan's `imported:` section by its SHA-256; for a role other than root, the metadata that
says who signs it (`--root`) is kept and pinned the same way (`imported/delegator.json`).
The draft of the imported role IS that file's signed part: it is current when its bytes are
the canonical bytes of the file's `signed`, and it is never rebuilt from the plan
(docs/adr/0007-imported-metadata.md).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from tuf.api.metadata import Metadata, Root

from ceremony import digest as digests
from ceremony.drafting import Draft
from ceremony.errors import InputError, StoreError
from ceremony.foreign.sources import ForeignSource, parse_source
from ceremony.plan import ImportedSpec, Plan, PreviousRoot
from ceremony.review import People
from ceremony.store import CeremonyDir
from ceremony.thresholds import Authority, authority
from ceremony.tufread import read_root

SOURCE_FILE = "imported/source.json"
DELEGATOR_FILE = "imported/delegator.json"


@dataclass(frozen=True)
class Imported:
    """The imported role: the plan's `imported:` entry, the file's bytes and what they say,
    and (a role other than root) the root that says who signs it."""

    spec: ImportedSpec
    data: bytes
    source: ForeignSource
    delegator: Metadata[Root] | None = None
    delegator_bytes: bytes | None = None

    @property
    def role(self) -> str:
        return self.spec.role

    @property
    def format(self) -> str:
        return self.spec.format

    def is_current(self, d: Draft) -> bool:
        """The draft says exactly what the imported file's `signed` says."""
        return d.role == self.role and d.payload == self.source.canonical


def _read_pinned(
    cdir: CeremonyDir,
    pin: PreviousRoot,
    what: str,
    files_read: MutableMapping[str, str] | None,
) -> bytes:
    data = cdir.read_bytes(pin.path)
    sha = digests.sha256_hex(data)
    if files_read is not None:
        files_read[pin.path] = sha
    if sha != pin.sha256:
        raise StoreError(
            f"{pin.path} ({what}) has SHA-256 {sha[:16]}…, but the plan pins {pin.sha256[:16]}…: "
            "it was changed after `ceremony import`. Do not sign; take the ceremony directory "
            "again from a trusted copy."
        )
    return data


def read_delegator(data: bytes, where: str) -> Metadata[Root]:
    """The root that says who signs an imported targets role, from its file's bytes.
    Raises StoreError (exit 2) naming `where` when it is not TUF root metadata."""
    return read_root(data, where, error=StoreError)


def read_imported(
    cdir: CeremonyDir, plan: Plan, files_read: MutableMapping[str, str] | None = None
) -> Imported | None:
    """The imported role of the plan (None when nothing is imported), read from its pinned
    file. Raises StoreError (exit 2) when a pinned file changed or no longer parses."""
    spec = plan.imported
    if spec is None:
        return None
    data = _read_pinned(cdir, PreviousRoot(spec.path, spec.sha256), "the imported file", files_read)
    try:
        source = parse_source(data, spec.format, source=spec.path)
    except InputError as exc:
        raise StoreError(f"{spec.path} no longer reads as {spec.format}: {exc}") from None
    delegator = delegator_bytes = None
    if spec.delegator is not None:
        delegator_bytes = _read_pinned(cdir, spec.delegator, "who signs it", files_read)
        delegator = read_delegator(delegator_bytes, spec.delegator.path)
    return Imported(spec, data, source, delegator, delegator_bytes)


def delegated_authority(imported: Imported, people: People) -> Authority:
    """Who signs an imported targets role: role 'targets' of the root given with --root.
    Raises InputError (exit 2) when the plan names no such root."""
    root_md = imported.delegator
    if root_md is None:
        raise InputError(
            f"the plan imports {imported.role} but names no root that says who signs it "
            "(imported.delegator); import it again with --root ROOT.json."
        )
    root = root_md.signed
    role = root.roles["targets"]
    return authority(
        "root",
        f"role 'targets' of the root given at import (version {root.version})",
        root.keys,
        role.keyids,
        role.threshold,
        people,
    )


def signature_order(imported: Imported, keyids: list[str]) -> list[str]:
    """`keyids` in the imported file's signature order, the others after it by keyid, so a
    file written back keeps its signatures where they were."""
    first = [k for k in imported.source.order if k in keyids]
    return first + sorted(k for k in keyids if k not in first)


def foreign_fields(signed: dict[str, Any]) -> list[str]:
    """The fields of `signed` outside the TUF specification (`x-...`, or python-tuf's
    unrecognized fields at any level), as "path: value" lines for the holder's screen."""
    known_top = {
        "_type", "version", "spec_version", "expires", "keys", "roles", "consistent_snapshot",
        "targets", "delegations",
    }  # fmt: skip
    key_fields = {"keytype", "scheme", "keyval", "keyid_hash_algorithms"}
    role_fields = {"keyids", "threshold"}
    out: list[str] = []
    for name, value in sorted(signed.items()):
        if name not in known_top:
            out.append(f"{name}: {value!r}")
    for keyid, key in sorted((signed.get("keys") or {}).items()):
        for name, value in sorted(key.items()):
            if name not in key_fields:
                out.append(f"keys.{keyid[:8]}….{name}: {value!r}")
    for role, entry in sorted((signed.get("roles") or {}).items()):
        for name, value in sorted(entry.items()):
            if name not in role_fields:
                out.append(f"roles.{role}.{name}: {value!r}")
    return out
