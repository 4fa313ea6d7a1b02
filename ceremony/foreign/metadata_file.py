"""Plain TUF metadata files written by other tools, read strictly and written back.

The file format is the TUF specification's (section 4.2, "File formats: general principles"):
`{"signatures": [{"keyid": KEYID, "sig": HEX}, ...], "signed": {...}}`, where every key signs
the OLPC canonical JSON of `signed`. python-tuf repository scripts (`Metadata.to_file`,
`JSONSerializer(compact=False)`), go-tuf and tuf-on-ci all write it; they differ only in
whitespace and in keeping empty placeholder signatures (tuf-on-ci, see `tuf_on_ci`).

`signed` is never re-modelled: python-tuf (`Metadata.from_dict`) validates it, and it must
come back from python-tuf's `to_dict()` equal to what was read, unrecognized fields at every
level included; the canonical bytes are computed from the JSON as read.

Pure: bytes in, values out.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from tuf.api.metadata import Metadata, Signature

from ceremony.errors import InputError
from ceremony.foreign._json import MIB, canonical_bytes, load_json, require_object
from ceremony.foreign.tuf_on_ci import is_placeholder

MAX_METADATA_BYTES = 256 * MIB  # 16,384 hash bins with many targets stay far below this
ROLE_TYPES = ("root", "targets", "snapshot", "timestamp")


@dataclass(frozen=True)
class ForeignMetadata:
    """A metadata file as read.

    `metadata`: python-tuf `Metadata` (its `signatures` without placeholders);
    `signed`: the `signed` dict exactly as read; `canonical`: its canonical JSON bytes (what
    every key signs); `digest`: their SHA-256 (hex); `placeholders`: keyids whose entry had an
    empty `sig`; `top_level_extra`: fields beside "signatures" and "signed", kept as read.
    """

    metadata: Metadata[Any]
    signed: dict[str, Any]
    canonical: bytes
    digest: str
    placeholders: tuple[str, ...]
    top_level_extra: dict[str, Any]

    @property
    def role_type(self) -> str:
        return str(self.metadata.signed.type)

    @property
    def version(self) -> int:
        return int(self.metadata.signed.version)


def parse_metadata_file(
    data: bytes, *, source: str, expected_type: str | None = None
) -> ForeignMetadata:
    """Parse a TUF metadata file strictly.

    Refused with `InputError` (nothing is written by the caller): not strict JSON (see
    `_json`), not an object with "signatures" (array) and "signed" (object), a role type
    other than `expected_type` (when given) or outside the four TUF types, what python-tuf's
    `Metadata.from_dict` refuses (including two signatures by one keyid), a `signed` python-tuf
    would not write back unchanged, and a signature entry without a string `keyid` and `sig`.
    """
    doc = require_object(load_json(data, source=source, limit=MAX_METADATA_BYTES), what=source)
    if "signed" not in doc or "signatures" not in doc:
        raise InputError(f'{source} is not TUF metadata: it needs "signatures" and "signed".')
    signed = require_object(doc["signed"], what=f'{source} "signed"')
    entries = doc["signatures"]
    if not isinstance(entries, list):
        raise InputError(f'{source}: "signatures" must be an array.')
    for i, entry in enumerate(entries):
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("keyid"), str)
            and isinstance(entry.get("sig"), str)
        ):
            raise InputError(f'{source}: signature {i + 1} needs a string "keyid" and "sig".')
    role_type = signed.get("_type")
    if role_type not in ROLE_TYPES:
        raise InputError(f'{source}: "_type" is {role_type!r}, not a TUF role type.')
    if expected_type is not None and role_type != expected_type:
        raise InputError(
            f"{source} is {role_type} metadata, but {expected_type} was expected. Check the "
            "role you named and the file you gave."
        )
    canonical = canonical_bytes(signed, source=f'{source} "signed"')
    placeholders = tuple(e["keyid"] for e in entries if is_placeholder(e))
    real = [e for e in entries if not is_placeholder(e)]
    try:
        md: Metadata[Any] = Metadata.from_dict(
            copy.deepcopy({**doc, "signatures": real, "signed": signed})
        )
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(f"{source} is not valid {role_type} metadata: {e}.") from None
    if md.signed.to_dict() != signed:
        raise InputError(
            f"{source}: python-tuf would not write its signed part back unchanged (a field of "
            "the wrong type?), so its signatures could not be checked. Nothing was written."
        )
    extra = {k: v for k, v in doc.items() if k not in ("signatures", "signed")}
    return ForeignMetadata(
        md, signed, canonical, hashlib.sha256(canonical).hexdigest(), placeholders, extra
    )


def published_file_names(role: str, version: int, *, consistent_snapshot: bool) -> tuple[str, ...]:
    """The files an export writes for `role` (a top-level or delegated role name): first the
    one clients fetch, then its copy under the other name (issue 9 rule 7).

    root: ("N.root.json", "root.json") (TUF spec 5.3.4 fetches N.root.json; "root.json" is the
    trusted copy clients ship). Other roles: ("N.ROLE.json", "ROLE.json") when the root sets
    consistent_snapshot (clients fetch N.ROLE.json, TUF spec 5.5.5, 5.6.2), else
    ("ROLE.json", "N.ROLE.json") (clients fetch ROLE.json; the versioned copy is for the
    archive, like N.root.json). Delegated names are percent-encoded as python-tuf's client
    requests them (`ngclient/updater.py`, `parse.quote(role, "")`).
    """
    if version < 1:
        raise InputError(f"version {version} is not a metadata version.")
    if role == "root":
        return (f"{version}.root.json", "root.json")
    name = quote(role, safe="")
    if consistent_snapshot:
        return (f"{version}.{name}.json", f"{name}.json")
    return (f"{name}.json", f"{version}.{name}.json")


def metadata_bytes(signed: dict[str, Any], signatures: list[Signature]) -> bytes:
    """A metadata file for `signed` with `signatures`, as python-tuf writes it by default
    (`JSONSerializer(compact=False)`: sorted keys, indent 1); checked to give `signed` back."""
    md: Metadata[Any] = Metadata.from_dict(
        copy.deepcopy({"signatures": [s.to_dict() for s in signatures], "signed": signed})
    )
    out = md.to_bytes()
    if Metadata.from_bytes(out).signed.to_dict() != signed:  # pragma: no cover - python-tuf
        raise InputError("the written metadata would not hold the same signed part.")
    return out
