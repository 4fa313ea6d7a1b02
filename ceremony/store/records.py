"""The record formats: enrolled keys (`keys/NAME.json` and its evidence files) and
signatures (`signatures/ROLE/KEYID.json`, one per file, and `signatures/stale/`).

A record is read and written here and nowhere else. A key record's fields are
`ceremony.keys.EnrolledKey.to_dict`; a signature record's are
`ceremony.thresholds.SignatureRecord.to_dict` (docs/adr/0004-one-file-per-signature.md).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from securesystemslib.signer import Key

from ceremony import digest as digests
from ceremony.errors import StoreError
from ceremony.files import MAX_INPUT_BYTES, json_bytes, parse_json
from ceremony.keys import EnrolledKey
from ceremony.review import People
from ceremony.store.directory import CeremonyDir
from ceremony.thresholds import SignatureRecord, claim_problem, verify_record

# --- keys -------------------------------------------------------------------------------


def load_keys(
    cdir: CeremonyDir, files_read: MutableMapping[str, str] | None = None
) -> dict[str, EnrolledKey]:
    """Every enrolled key, by name; each file's SHA-256 goes into `files_read`.

    Raises StoreError for a file that is not JSON, not a key record, or whose key name
    is not its file name.
    """
    keys: dict[str, EnrolledKey] = {}
    for path in cdir.list_json("keys"):
        rel = cdir.rel(path)
        data = cdir.read_bytes(path, max_bytes=MAX_INPUT_BYTES)
        if files_read is not None:
            files_read[rel] = digests.sha256_hex(data)
        raw = parse_json(data, rel, error=StoreError)
        rec = EnrolledKey.from_dict(raw, rel)
        if f"{rec.name}.json" != path.name:
            raise StoreError(
                f"{rel} holds key '{rec.name}', which does not match its file name. Rename it or "
                "enrol the key again."
            )
        keys[rec.name] = rec
    return keys


def write_key(
    cdir: CeremonyDir,
    rec: EnrolledKey,
    evidence: Mapping[str, bytes],
    files_written: MutableMapping[str, str],
) -> None:
    """Write keys/NAME.{suffix} for each evidence file, then keys/NAME.json (write-once).

    The key file is written last, so a session that dies in between leaves at most an
    unused evidence file. Raises StoreError when keys/NAME.json already exists.
    """
    data = json_bytes(rec.to_dict())
    path = cdir.key_path(rec.name)
    for suffix, blob in sorted(evidence.items()):
        ev = cdir.path(f"keys/{rec.name}.{suffix}")
        cdir.write(ev, blob)
        files_written[cdir.rel(ev)] = digests.sha256_hex(blob)
    cdir.write_new(path, data)
    files_written[cdir.rel(path)] = digests.sha256_hex(data)


# --- signatures -------------------------------------------------------------------------


def parse_signature_record(data: Any, where: str) -> SignatureRecord:
    """A signature record from its JSON value; StoreError naming `where` when it is not one.

    Only the role, keyid, signature and digest are facts (checked against the draft and
    the enrolled key); key_name, holder and device are the file's claims, compared with
    the enrolled key (`thresholds.claim_problem`) and never shown."""
    try:
        return SignatureRecord(
            role=str(data["role"]),
            keyid=str(data["keyid"]),
            signature=str(data["sig"]),
            digest=str(data["digest"]),
            key_name=str(data.get("key_name", "")),
            holder=str(data.get("holder", "")),
            signed_at=str(data.get("signed_at", "")),
            file=where,
            extra={
                k: v
                for k, v in data.items()
                if k not in {"role", "keyid", "sig", "digest", "key_name", "holder", "signed_at"}
            },
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise StoreError(f"{where} is not a signature file (missing {exc}).") from None


def load_signatures(cdir: CeremonyDir, role: str) -> list[SignatureRecord]:
    """Every signature file of `role`. A damaged one is returned with digest "damaged", so
    that status reports it as invalid; it never counts."""
    out = []
    for path in cdir.list_json(f"signatures/{role}"):
        rel = cdir.rel(path)
        try:
            rec = parse_signature_record(cdir.read_json(path), rel)
        except StoreError:
            rec = SignatureRecord(role, path.stem, "", "damaged", "", "", "", rel)
        out.append(rec)
    return out


def counting_signature(
    cdir: CeremonyDir,
    role: str,
    keyid: str,
    key: Key,
    digest: str,
    payload: bytes,
    people: People | None = None,
) -> SignatureRecord | None:
    """The signature by `keyid` already here, if it still counts: it signs `digest`,
    verifies over `payload` with `key` and (with `people`) names the enrolled key of its
    keyid. A stale, damaged, bad or mismatched one: None."""
    path = cdir.signature_path(role, keyid)
    if not path.exists():
        return None
    try:
        rec = parse_signature_record(cdir.read_json(path), cdir.rel(path))
    except StoreError:
        return None
    if rec.digest != digest or not verify_record(rec, key, payload):
        return None
    if people is not None and claim_problem(rec, people) is not None:
        return None
    return rec


def put_signature(cdir: CeremonyDir, role: str, keyid: str, data: bytes) -> Path:
    """Write signatures/ROLE/KEYID.json (write-once). A stale or damaged signature by the
    same key is first kept aside in signatures/stale/ROLE/ (for the record)."""
    path = cdir.signature_path(role, keyid)
    if path.exists():
        old = cdir.read_bytes(path)
        aside = cdir.path(f"signatures/stale/{role}/{keyid}.{digests.sha256_hex(old)[:12]}.json")
        if not aside.exists():
            cdir.write(aside, old)
        path.unlink()
    cdir.write_new(path, data)
    return path
