"""What an export writes, as values: each role's published bytes, the names clients fetch
(from the root's `consistent_snapshot`), the expiry margin an export demands, and how the
files compare with earlier exports of the same directory (`exports.json`).

No file is read or written here; `services.export` does that.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from tuf.api.metadata import Metadata, Signature
from tuf.api.serialization.json import JSONSerializer

from ceremony import digest as digests
from ceremony.clock import iso
from ceremony.drafting import Draft
from ceremony.services.state import Loaded
from ceremony.services.status import RoleReport
from ceremony.store.marks import ExportRecord
from ceremony.thresholds import RoleStatus


def compare_with_exports(
    exports: Sequence[ExportRecord], files: Mapping[str, bytes]
) -> tuple[list[str], list[str]]:
    """Each metadata file against every earlier export of a file of the same name (same
    version): (identical, different), as lines naming the earlier export."""
    same: list[str] = []
    differ: list[str] = []
    for name, data in sorted(files.items()):
        if not name[:1].isdigit():  # root.json, ROLE.json: copies of a versioned file
            continue
        sha = digests.sha256_hex(data)
        for e in exports:
            old = e.files.get(name)
            if old is None:
                continue
            if old == sha:
                same.append(f"{name} is byte for byte the one exported {e.at} to {e.out}")
            else:
                differ.append(
                    f"{name} would DIFFER from the {name} exported {e.at} to {e.out} "
                    f"(SHA-256 {old[:16]}…, now {sha[:16]}…)"
                )
    return same, differ


COMPACT_ABOVE_ROLES = 256

# An exported role must stay valid at least this long after the export: the files still
# have to be carried to the repository, and a client refuses metadata that has expired by
# its next refresh (TUF specification 5.3.10, 5.4.4, 5.6.7). A draft that expires sooner
# was left too long: draft it again. (The plan's own bounds are CER-EXPIRY-*.)
PUBLISH_MARGIN = dt.timedelta(hours=1)


def consistent_snapshot_of(loaded: Loaded, reports: Sequence[RoleReport]) -> bool:
    """What the root clients will hold says about consistent snapshots: the root exported
    here, else the root an imported role came with, else the trusted previous root (a
    targets-only ceremony); True without any."""
    for r in reports:
        if r.role == "root" and r.draft is not None:
            return bool(r.draft.metadata.signed.consistent_snapshot)
    imp = loaded.imported
    if imp is not None and imp.delegator is not None:  # the root an imported role came with
        return bool(imp.delegator.signed.consistent_snapshot)
    prev = loaded.previous_root
    return bool(prev.consistent_snapshot) if prev is not None else True


def _expires(d: Draft) -> dt.datetime:
    """A draft's expiry. A large role (16,384 hash bins) is not parsed for it: its expiry
    recorded at drafting is used here, and the client check parses the exact bytes written
    and refuses them if expired (`check_delegation_chain`); a small role is read as parsed."""
    if len(d.payload) > LARGE_PAYLOAD:
        return dt.datetime.strptime(d.expires, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    expires: dt.datetime = d.metadata.signed.expires
    return expires


def expiry_problems(reports: Sequence[RoleReport], now: dt.datetime) -> list[str]:
    """Each exported role that has expired, or expires within `PUBLISH_MARGIN` of `now`."""
    out = []
    for r in reports:
        if r.draft is None:
            continue
        expires = _expires(r.draft)
        what = f"{r.role} version {r.draft.version} (drafts/{r.role}.json)"
        if expires <= now:
            out.append(f"{what} expired on {iso(expires)}")
        elif expires < now + PUBLISH_MARGIN:
            out.append(
                f"{what} expires at {iso(expires)}, less than an hour from now: it would "
                "expire before clients can fetch it"
            )
    return out


def serializer_for(md: Metadata[Any]) -> JSONSerializer:
    """Indented JSON, except for roles with many delegations (16,384 hash bins): compact.

    Indenting runs Python's pure-Python JSON encoder (the C one cannot indent): 4.5 MB in
    0.35 s for 16,384 bins instead of 3 MB in 0.05 s. Nobody reads such a file by eye;
    `ceremony show` summarises it.
    """
    dele = getattr(md.signed, "delegations", None)
    if dele is not None and dele.roles is not None and len(dele.roles) > COMPACT_ABOVE_ROLES:
        return JSONSerializer(compact=True)
    return JSONSerializer(compact=False)


def signed_metadata(d: Draft, st: RoleStatus) -> Metadata[Any]:
    """The draft's metadata with every valid signature, by keyid."""
    sigs = {
        rec.keyid: Signature(rec.keyid, rec.signature)
        for rec in sorted(st.valid, key=lambda r: r.keyid)
    }
    # The draft was parsed from its file and is never modified: share its signed part.
    return Metadata(d.metadata.signed, sigs, dict(d.metadata.unrecognized_fields))


LARGE_PAYLOAD = 256 * 1024


def exported_bytes(d: Draft, st: RoleStatus) -> bytes:
    """The published file: the draft's exact signed bytes with every valid signature.

    Small roles (root, targets) are written indented for people to read. A large one (16,384
    hash bins: 3 MB) is written around the canonical payload as it is, compact, without a
    second parse; either way the bytes are parsed and verified by python-tuf before writing.
    """
    if len(d.payload) <= LARGE_PAYLOAD:
        md = signed_metadata(d, st)
        return bytes(md.to_bytes(serializer_for(md)))
    sigs = [
        {"keyid": rec.keyid, "sig": rec.signature}
        for rec in sorted(st.valid, key=lambda r: r.keyid)
    ]
    head = json.dumps(sigs, separators=(",", ":"), sort_keys=True).encode()
    return b'{"signatures":' + head + b',"signed":' + d.text + b"}"
