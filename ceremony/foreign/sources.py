"""What `ceremony import` reads: one file from another tool, whatever its kind, as one value.

The kinds (`docs/foreign-formats.md`):

- `metadata`: a plain TUF metadata file (python-tuf repository scripts, go-tuf);
- `tuf-on-ci`: the same, from a tuf-on-ci signing event (`x-tuf-on-ci-*` fields, empty
  placeholder signatures); exported back with `tuf_on_ci.fill_signatures`;
- `rstuf-bootstrap`: the payload `rstuf admin ceremony --out` writes (root version 1);
- `rstuf-update`: the payload `rstuf admin metadata update --out` writes (root N+1);
- `rstuf-sign-request`: the GET /api/v1/metadata/sign response `rstuf admin metadata sign
  --in` reads (one root pending signatures, and the trusted root for N > 1).

`detect_format` tells them apart by their top-level fields; `parse_source` reads one
strictly (every refusal an `InputError` naming the file) into a `ForeignSource`.

Pure: bytes in, values out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tuf.api.metadata import Metadata, Root

from ceremony.errors import InputError
from ceremony.foreign import metadata_file, rstuf, tuf_on_ci
from ceremony.foreign._json import canonical_bytes, load_json, require_object

FORMATS = ("metadata", "tuf-on-ci", "rstuf-bootstrap", "rstuf-update", "rstuf-sign-request")
_TUF_ON_CI_FIELDS = (
    tuf_on_ci.KEYOWNER,
    tuf_on_ci.ONLINE_URI,
    tuf_on_ci.EXPIRY_PERIOD,
    tuf_on_ci.SIGNING_PERIOD,
)


@dataclass(frozen=True)
class ForeignSource:
    """One imported file.

    `metadata`: the role's python-tuf `Metadata`, its signatures without placeholders;
    `signed`: its `signed` dict exactly as read; `canonical`: the bytes every key signs;
    `placeholders`: keyids of empty `sig` entries; `order`: keyids of the other entries, in
    the file's order (export keeps it); `extra`: top-level fields beside signatures and
    signed (plain files); `bootstrap`: the RSTUF bootstrap settings and timeout;
    `trusted_root`: the trusted root an RSTUF sign request carries; `pending_role`: the name
    RSTUF gives the pending role.
    """

    format: str
    metadata: Metadata[Any]
    signed: dict[str, Any]
    canonical: bytes
    placeholders: tuple[str, ...]
    order: tuple[str, ...]
    extra: dict[str, Any] = field(default_factory=dict)
    bootstrap: rstuf.BootstrapPayload | None = None
    trusted_root: Metadata[Root] | None = None
    pending_role: str | None = None

    @property
    def role_type(self) -> str:
        return str(self.metadata.signed.type)

    @property
    def version(self) -> int:
        return int(self.metadata.signed.version)


def _mentions_tuf_on_ci(value: Any) -> bool:
    if isinstance(value, dict):
        return any(k in _TUF_ON_CI_FIELDS or _mentions_tuf_on_ci(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_mentions_tuf_on_ci(v) for v in value)
    return False


def detect_format(data: bytes, *, source: str) -> str:
    """The kind of `data`, from its top-level fields (`metadata` whose signed part carries
    tuf-on-ci's `x-tuf-on-ci-*` fields is `tuf-on-ci`; placeholders alone are not enough:
    python-tuf scripts stage them too). Raises `InputError` for a file that is none of them."""
    doc = require_object(
        load_json(data, source=source, limit=metadata_file.MAX_METADATA_BYTES), what=source
    )
    if "signed" in doc and "signatures" in doc:
        return "tuf-on-ci" if _mentions_tuf_on_ci(doc["signed"]) else "metadata"
    if "settings" in doc and "metadata" in doc:
        return "rstuf-bootstrap"
    if set(doc) == {"metadata"}:
        return "rstuf-update"
    if "data" in doc:
        return "rstuf-sign-request"
    raise InputError(
        f"{source} is neither TUF metadata (signatures, signed) nor an RSTUF payload "
        "(bootstrap, metadata update or sign request). Give the file the repository's tool "
        "staged, or name its kind with --format."
    )


def _from_metadata(md: Metadata[Any], *, source: str, fmt: str, **kw: Any) -> ForeignSource:
    """An RSTUF payload's metadata: empty signatures are placeholders, like tuf-on-ci's."""
    signed = md.signed.to_dict()
    placeholders = tuple(k for k, s in md.signatures.items() if not s.signature)
    for keyid in placeholders:
        del md.signatures[keyid]
    canonical = canonical_bytes(signed, source=f'{source} "signed"')
    return ForeignSource(fmt, md, signed, canonical, placeholders, tuple(md.signatures), **kw)


def parse_source(data: bytes, fmt: str, *, source: str) -> ForeignSource:
    """Read `data` (the whole file) as the kind `fmt` (one of `FORMATS`).

    Raises `InputError` for anything that kind's parser refuses (`metadata_file`, `rstuf`),
    and for an RSTUF sign request with other than exactly one role pending (import it once
    per role), or with a delegated role pending (not signed here yet).
    """
    if fmt in ("metadata", "tuf-on-ci"):
        parsed = metadata_file.parse_metadata_file(data, source=source)
        doc = json.loads(data)
        order = tuple(e["keyid"] for e in doc["signatures"] if not tuf_on_ci.is_placeholder(e))
        return ForeignSource(
            fmt,
            parsed.metadata,
            parsed.signed,
            parsed.canonical,
            parsed.placeholders,
            order,
            parsed.top_level_extra,
        )
    if fmt == "rstuf-bootstrap":
        payload = rstuf.parse_bootstrap_payload(data, source=source)
        return _from_metadata(payload.root, source=source, fmt=fmt, bootstrap=payload)
    if fmt == "rstuf-update":
        root = rstuf.parse_update_payload(data, source=source)
        return _from_metadata(root, source=source, fmt=fmt)
    if fmt == "rstuf-sign-request":
        request = rstuf.parse_sign_request(data, source=source)
        if len(request.pending) != 1:
            raise InputError(
                f"{source} has {len(request.pending)} roles pending signatures "
                f"({', '.join(sorted(request.pending))}); a ceremony directory signs one. "
                "Save the request of each role separately and import each into its own directory."
            )
        ((name, md),) = request.pending.items()
        if md.signed.type != "root":
            raise InputError(
                f"{source}: the pending role {name!r} is a delegated targets role; tuf-ceremony "
                "signs RSTUF's pending root only (sign delegated roles with `rstuf admin "
                "metadata sign`)."
            )
        return _from_metadata(
            md, source=source, fmt=fmt, trusted_root=request.trusted_root, pending_role=name
        )
    raise InputError(f"{fmt!r} is not a kind of file tuf-ceremony imports ({', '.join(FORMATS)}).")
