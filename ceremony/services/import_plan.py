"""The plan, key records and signature records `ceremony import` writes around a file made
by another tool: pure values from the file's roots and keys.

The plan describes the imported metadata in the plan's own terms (roles, thresholds, key
names, holders) so that `validate`, `status` and `show` read it like any plan; its
`imported:` section says that the role is the file's signed part, never drafted from the
plan (docs/adr/0007-imported-metadata.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from securesystemslib.signer import Key, SSlibKey
from tuf.api.metadata import Root

from ceremony.clock import iso
from ceremony.errors import InputError
from ceremony.foreign.names import readable_key_names
from ceremony.foreign.rstuf import KEY_NAME, ONLINE_KEY_URI
from ceremony.foreign.tuf_on_ci import key_owner, online_uri
from ceremony.keys import SOURCE_IMPORTED, EnrolledKey, short
from ceremony.plan import TOP_LEVEL_ROLES, ImportedSpec, PreviousRoot
from ceremony.plan.template import imported_section, plan_template
from ceremony.thresholds import SignatureRecord


def holder_of(key: Key, source_name: str) -> str:
    """Who holds `key`, as far as the imported file says: tuf-on-ci's key owner, RSTUF's key
    name, an online signer's URI; else that the file does not say."""
    owner = key_owner(key)
    if owner:
        return owner
    name = key.unrecognized_fields.get(KEY_NAME)
    uri = online_uri(key) or key.unrecognized_fields.get(ONLINE_KEY_URI)
    if isinstance(name, str) and name.strip():
        return f"{name.strip()} (online signer {uri})" if isinstance(uri, str) else name.strip()
    if isinstance(uri, str) and uri:
        return f"online signer {uri}"
    return f"not named in {source_name} (key {short(key.keyid)})"


def enrolled_keys(
    keys: Mapping[str, Key], source_name: str, now: dt.datetime
) -> tuple[dict[str, EnrolledKey], dict[str, str]]:
    """The key records (name -> EnrolledKey) of the imported keys (keyid -> Key), each with
    its foreign keyid and fields unchanged, and keyid -> holder.

    Raises InputError (exit 2) for a key this tool cannot verify signatures with.
    """
    names = readable_key_names(keys)
    records: dict[str, EnrolledKey] = {}
    holders: dict[str, str] = {}
    for keyid, key in keys.items():
        try:
            ssl = SSlibKey.from_dict(keyid, key.to_dict())
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"key {short(keyid)} of {source_name} ({key.keytype}, {key.scheme}) is not a key "
                f"tuf-ceremony can verify signatures with ({exc}). Nothing was written."
            ) from None
        records[names[keyid]] = EnrolledKey(
            name=names[keyid],
            key=ssl,
            source=SOURCE_IMPORTED,
            enrolled_at=iso(now),
            extra={"imported_from": source_name},
        )
        holders[keyid] = holder_of(key, source_name)
    return records, holders


def plan_text(
    source_name: str,
    root: Root,
    *,
    version: int | None,
    previous: tuple[str, str] | None,
    records: Mapping[str, EnrolledKey],
    holders: Mapping[str, str],
    spec: ImportedSpec,
) -> str:
    """The plan of an imported ceremony: `root`'s roles and keys (the imported root, or the
    root that says who signs an imported targets role), its expiry date and
    consistent_snapshot, every enrolled key with its holder, and the `imported:` section."""
    by_id = {rec.keyid: name for name, rec in records.items()}
    roles = {
        role: (root.roles[role].threshold, [by_id[k] for k in root.roles[role].keyids])
        for role in TOP_LEVEL_ROLES
    }
    keys = {name: {"holder": holders[rec.keyid]} for name, rec in records.items()}
    text = plan_template(
        f"imported {source_name}",
        previous,
        version,
        f"{root.expires:%Y-%m-%d}",
        bool(root.consistent_snapshot),
        roles,
        keys,
    )
    return text + imported_section(spec)


def imported_spec(
    role: str, fmt: str, sha256: str, delegator: tuple[str, str] | None
) -> ImportedSpec:
    """The plan's `imported:` entry for the file kept at `imported/source.json`."""
    pin = PreviousRoot(*delegator) if delegator is not None else None
    return ImportedSpec(role, "imported/source.json", sha256, fmt, pin)


def kept_record(
    role: str,
    keyid: str,
    sig: str,
    digest: str,
    rec: EnrolledKey,
    holder: str,
    version: int,
    source_name: str,
) -> SignatureRecord:
    """The signature file of a signature that was already in the imported file (verified)."""
    return SignatureRecord(
        role=role,
        keyid=keyid,
        signature=sig,
        digest=digest,
        key_name=rec.name,
        holder=holder,
        signed_at="",
        extra={
            "version": version,
            "device": f"signature found in {source_name} at import",
            "imported": True,
        },
    )
