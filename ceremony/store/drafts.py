"""The draft file format: `drafts/ROLE.json`, `drafts/ROLE.meta.json`, `drafts/archive/`.

A draft file is `{"signatures":[],"signed":` + the JSON text of signed (sorted keys, no
spaces: `digest.json_text`) + `}`: valid TUF metadata JSON from which the exact bytes every
key signs come out without parsing 3 MB of hash-bin delegations (`canonical_from_json`).
Its meta file records the digest, when it was drafted, its version and expiry, and the
fingerprint of the inputs it was drafted from (docs/adr/0003-draft-file-format.md).

A draft is read here and nowhere else; reading refuses a file that is not laid out as
written, whose meta file is damaged, or whose bytes no longer match the recorded digest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, MutableMapping
from typing import Any

from ceremony import digest as digests
from ceremony.clock import iso
from ceremony.drafting import Draft
from ceremony.errors import StoreError
from ceremony.files import json_bytes
from ceremony.store.directory import CeremonyDir

DRAFT_PREFIX = b'{"signatures":[],"signed":'
DRAFT_SUFFIX = b"}"
ROLE_ORDER = ("root", "targets")  # listed first, in this order; delegated roles after


def draft_file_bytes(text: bytes) -> bytes:
    """The draft file holding the JSON text `text` of a signed part."""
    return DRAFT_PREFIX + text + DRAFT_SUFFIX


def drafted_roles(cdir: CeremonyDir) -> list[str]:
    """The roles with a draft file: root, targets, then the others by name."""
    roles = [p.stem for p in cdir.list_json("drafts") if not p.name.endswith(".meta.json")]
    order = {r: i for i, r in enumerate(ROLE_ORDER)}
    return sorted(roles, key=lambda r: (order.get(r, 99), r))


def load_draft(
    cdir: CeremonyDir, role: str, files_read: MutableMapping[str, str] | None = None
) -> Draft | None:
    """The draft of `role` (None when there is none); its SHA-256 goes into `files_read`.

    Raises StoreError when the file is not a draft this tool wrote, its meta file is
    damaged, or it does not match the digest recorded when it was drafted.
    """
    path = cdir.draft_path(role)
    if not path.exists():
        return None
    data = cdir.read_bytes(path)
    meta = cdir.read_json(cdir.draft_meta_path(role))
    if files_read is not None:
        files_read[cdir.rel(path)] = digests.sha256_hex(data)
    if not (data.startswith(DRAFT_PREFIX) and data.endswith(DRAFT_SUFFIX)):
        raise StoreError(
            f"{cdir.rel(path)} is not a draft written by this tool (its layout is wrong). Run "
            f"`ceremony draft {cdir.root} {role}` again, or take the directory from a trusted copy."
        )
    try:
        drafted_at = dt.datetime.strptime(meta["drafted_at"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=dt.UTC
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise StoreError(
            f"{cdir.rel(cdir.draft_meta_path(role))} is damaged ({exc}). Run `ceremony draft` again."
        ) from None
    text = data[len(DRAFT_PREFIX) : -len(DRAFT_SUFFIX)]
    try:
        payload = digests.canonical_from_json(text)
    except (ValueError, TypeError) as exc:
        raise StoreError(f"{cdir.rel(path)} does not hold valid JSON ({exc}).") from None
    digest = digests.sha256_hex(payload)
    if meta.get("digest") != digest:
        raise StoreError(
            f"{cdir.rel(path)} does not match the digest recorded when it was drafted "
            f"({str(meta.get('digest'))[:16]}… vs {digest[:16]}…): it was changed after drafting. "
            "Do not sign it; take the ceremony directory again from a trusted copy."
        )
    version = meta.get("version")
    return Draft(
        role,
        text,
        payload,
        digest,
        drafted_at,
        meta.get("inputs"),
        version=version if isinstance(version, int) and not isinstance(version, bool) else None,
        expires=meta.get("expires") if isinstance(meta.get("expires"), str) else None,
    )


def archive_draft(cdir: CeremonyDir, existing: Draft) -> None:
    """Keep the current draft file of `existing.role` in drafts/archive/ (for the record)."""
    archive = cdir.path(f"drafts/archive/{existing.role}.{existing.digest[:16]}.json")
    if not archive.exists():
        cdir.write(archive, cdir.read_bytes(cdir.draft_path(existing.role)))


def write_draft(cdir: CeremonyDir, d: Draft, imported: Mapping[str, Any] | None = None) -> bytes:
    """Write the draft file and its meta file (atomically, each); returns the draft bytes.
    `imported`: where an imported draft came from, recorded in the meta file as "imported"
    (docs/adr/0007-imported-metadata.md)."""
    data = draft_file_bytes(d.text)
    signed = d.metadata.signed
    meta: dict[str, Any] = {
        "role": d.role,
        "digest": d.digest,
        "drafted_at": iso(d.drafted_at),
        "version": signed.version,
        "expires": iso(signed.expires),
        "inputs": d.inputs,
    }
    if imported is not None:
        meta["imported"] = dict(imported)
    cdir.write(cdir.draft_path(d.role), data)
    cdir.write(cdir.draft_meta_path(d.role), json_bytes(meta))
    return data
