"""tuf-on-ci signing events: the fields and files tuf-on-ci reads and writes.

Source: tuf-on-ci-sign 0.21.0 (PyPI), `tuf_on_ci_sign/_signer_repository.py`; the
repository side is theupdateframework/tuf-on-ci `repo/src/tuf_on_ci/_repository.py`.

- A signing event is a git branch `sign/<name>`; its metadata lives in `metadata/`:
  `metadata/<role>.json`, and for root also `metadata/root_history/<N>.root.json`
  (`_signer_repository.py:207-211`, `_write` at 319-331).
- Files are written by python-tuf's `JSONSerializer()` (not compact): `json.dumps(d, indent=1,
  separators=(",", ": "), sort_keys=True)`, UTF-8, no trailing newline
  (`_signer_repository.py:324`; python-tuf 7 `tuf/api/serialization/json.py:65-72`).
- When a role is staged, every signature is replaced by a placeholder
  `{"keyid": KEYID, "sig": ""}` for each key that may sign it: for root the keys of the
  known-good (previous) root and of the new root (`close`, `_signer_repository.py:374-405`;
  repository side `_repository.py:248-256`). A signer's `tuf-on-ci-sign` fills in its own
  entry (`Metadata.sign(signer, append=True)`, line 287) and commits `metadata/` (`sign.py:73`).
  Published metadata may keep empty placeholders of keys that never signed (Sigstore's root
  versions 12 to 14 do): TUF clients skip signatures that do not verify.
- Key fields: `x-tuf-on-ci-keyowner` (the signer's name, e.g. a GitHub handle `@alice`) on
  offline keys, `x-tuf-on-ci-online-uri` (a securesystemslib signer URI such as `gcpkms:...`)
  on online keys (`_signer_repository.py:54-55`). Since tuf-on-ci 0.13 the keyid is the
  SHA-256 of the key's canonical JSON including these fields (`set_key_field`, line 116-119).
- Role fields: `x-tuf-on-ci-expiry-period` and `x-tuf-on-ci-signing-period` (days, integers)
  in the `signed` of root, targets and delegated targets, and in root's `roles.timestamp` and
  `roles.snapshot` entries for the online roles (`get_online_config`, line 421-448); delegated
  roles may also carry them in their delegation entry.
- `.signing-event-state` (JSON `{"invites": {"<signer>": ["<role>", ...]}}`, line 147-152)
  lists open invitations; it is not metadata and is never signed.

Pure: bytes in, bytes or values out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from securesystemslib.signer import Key, Signature

from ceremony.errors import InputError
from ceremony.foreign._json import MIB, load_json, require_keys, require_object

KEYOWNER = "x-tuf-on-ci-keyowner"
ONLINE_URI = "x-tuf-on-ci-online-uri"
EXPIRY_PERIOD = "x-tuf-on-ci-expiry-period"
SIGNING_PERIOD = "x-tuf-on-ci-signing-period"
SIGNING_EVENT_STATE = ".signing-event-state"
METADATA_DIR = "metadata"


def is_placeholder(signature: Signature | Mapping[str, Any]) -> bool:
    """True for a tuf-on-ci signature placeholder: an entry whose `sig` is the empty string."""
    sig = signature.signature if isinstance(signature, Signature) else signature.get("sig")
    return sig == ""


def key_owner(key: Key) -> str | None:
    """The `x-tuf-on-ci-keyowner` of `key` (e.g. "@alice"), or None (not a string: None)."""
    owner = key.unrecognized_fields.get(KEYOWNER)
    return owner if isinstance(owner, str) and owner else None


def online_uri(key: Key) -> str | None:
    """The `x-tuf-on-ci-online-uri` of `key` (an online signer's URI), or None."""
    uri = key.unrecognized_fields.get(ONLINE_URI)
    return uri if isinstance(uri, str) and uri else None


@dataclass(frozen=True)
class Periods:
    """tuf-on-ci's expiry and signing periods of a role, in days (None where not set)."""

    expiry_days: int | None
    signing_days: int | None


def periods(fields: Mapping[str, Any]) -> Periods:
    """The periods in a `signed` dict or a role/delegation entry (its unrecognized fields).

    Values that are not whole numbers of days are reported as None (tuf-on-ci itself would
    fail on them); they are kept unchanged in the metadata either way.
    """

    def days(name: str) -> int | None:
        value = fields.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    return Periods(days(EXPIRY_PERIOD), days(SIGNING_PERIOD))


def metadata_paths(role: str, version: int) -> tuple[str, ...]:
    """The paths, relative to the repository checkout, tuf-on-ci keeps `role` at.

    root: ("metadata/root.json", "metadata/root_history/N.root.json"); any other role:
    ("metadata/ROLE.json",). Raises `InputError` for a role name that is not a plain file name.
    """
    if not role or "/" in role or "\\" in role or role in (".", "..") or "\0" in role:
        raise InputError(f"the role name {role!r} cannot be a file name in metadata/.")
    if role == "root":
        return (f"{METADATA_DIR}/root.json", f"{METADATA_DIR}/root_history/{version}.root.json")
    return (f"{METADATA_DIR}/{role}.json",)


def serialize(metadata: Mapping[str, Any]) -> bytes:
    """Metadata (`{"signatures": [...], "signed": {...}}`) as tuf-on-ci writes its files."""
    return json.dumps(metadata, indent=1, separators=(",", ": "), sort_keys=True).encode("utf-8")


def fill_signatures(staged: bytes, signatures: Mapping[str, str], *, source: str) -> bytes:
    """The staged file `staged` with the signatures a signer adds, as tuf-on-ci-sign commits it.

    `signatures` maps keyid to `sig` (hex). Each fills that keyid's entry in place (a
    placeholder or an older signature); a keyid with no entry is appended, in keyid order.
    Other entries, placeholders included, stay where they are, so the commit's diff shows only
    the new signatures. The `signed` part is not touched: the result is re-parsed and its
    `signed` compared with the input's.

    Raises `InputError` if `staged` is not a metadata file or `signatures` holds an empty sig.
    """
    doc = require_object(load_json(staged, source=source, limit=256 * MIB), what=source)
    require_keys(doc, what=source, required={"signatures", "signed"})
    entries = doc["signatures"]
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InputError(f'{source}: "signatures" must be an array of objects.')
    for keyid, sig in signatures.items():
        if not sig:
            raise InputError(f"the signature for {keyid[:8]}… is empty: nothing to add.")
    remaining = dict(signatures)
    filled: list[dict[str, Any]] = []
    for entry in entries:
        keyid = entry.get("keyid")
        if isinstance(keyid, str) and keyid in remaining:
            entry = {**entry, "sig": remaining.pop(keyid)}
        filled.append(entry)
    filled.extend({"keyid": k, "sig": remaining[k]} for k in sorted(remaining))
    out = serialize({**doc, "signatures": filled})
    if json.loads(out)["signed"] != doc["signed"]:  # pragma: no cover - json round trip
        raise InputError(f"{source}: its signed part would change; nothing was written.")
    return out


def signing_event_invites(data: bytes, *, source: str) -> dict[str, list[str]]:
    """The open invitations in a `.signing-event-state` file: signer name -> role names."""
    doc = require_object(load_json(data, source=source, limit=MIB), what=source)
    invites = require_object(doc.get("invites", {}), what=f'{source} "invites"')
    out: dict[str, list[str]] = {}
    for signer, roles in invites.items():
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise InputError(f"{source}: the invitations of {signer!r} must be a list of roles.")
        out[signer] = list(roles)
    return out
