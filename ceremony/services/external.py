"""Signatures made outside tuf-ceremony: `ceremony payload` writes the exact bytes a key in
cold storage signs, `ceremony add-signature` takes the signature back (go-tuf #205,
python-tuf #1109).

Both work on any current draft, imported or drafted here. The signature brought back is
decoded (`foreign.signatures`: hex, base64, raw, JSON; ECDSA DER or r||s), verified with the
enrolled key over the draft's canonical bytes, shown to the operator with the draft, and
stored like a token signature (signatures/ROLE/KEYID.json), marked as external.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from ceremony import digest as digests
from ceremony import transcript
from ceremony.clock import iso
from ceremony.errors import Declined, InputError
from ceremony.files import json_bytes, read_input, write_once
from ceremony.foreign.signatures import (
    MAX_SIGNATURE_FILE_BYTES,
    decode_signature,
    verify_external,
)
from ceremony.services.drafts import view
from ceremony.services.signing import Confirm, SignOutcome
from ceremony.services.state import current_draft, load
from ceremony.services.status import approving_key, next_step, role_status
from ceremony.store import CeremonyDir
from ceremony.store.records import counting_signature, put_signature
from ceremony.thresholds import SignatureRecord
from ceremony.transcript import Entry

ENCODINGS = ("auto", "hex", "base64", "raw", "json")
EXTERNAL_DEVICE = "external signature (made outside tuf-ceremony, verified when added)"


@dataclass(frozen=True)
class PayloadResult:
    """The payload written: the role and version, its SHA-256 (the draft's digest), the file
    and its size in bytes."""

    role: str
    version: int
    digest: str
    path: Path
    size: int


def payload(
    cdir: CeremonyDir, role: str, out: Path, now: dt.datetime, entry: Entry
) -> PayloadResult:
    """Write the exact bytes every key signs for `role` to `out` (`ceremony payload`): the
    canonical JSON of the current draft's signed part.

    Args:
        cdir: the ceremony directory (read; the caller holds its lock for the transcript).
        role: root, targets, or another drafted role.
        out: the file to write; never replaced.
        now: the time the plan's checks judge expiry by.
        entry: the transcript entry; receives the files read and written.

    Returns:
        A `PayloadResult` with the SHA-256 to compare on both machines.

    Raises:
        InputError (exit 2): no current draft of `role`.
        StoreError (exit 2): `out` exists already, or the draft was edited after drafting.
        PlanError (exit 2): the plan fails a check.
    """
    loaded = load(cdir, now, require_enrolled=True, files_read=entry.files_read)
    d = current_draft(loaded, role, entry.files_read)
    d.check_canonical(f"drafts/{role}.json")
    write_once(out, d.payload)
    entry.files_written[str(out)] = d.digest
    entry.notes.append(f"payload of {role} digest {d.digest}")
    return PayloadResult(role, d.version, d.digest, out, len(d.payload))


def add_signature(
    cdir: CeremonyDir,
    role: str,
    key: str,
    signature_file: Path,
    confirm: Confirm,
    now: dt.datetime,
    entry: Entry,
    *,
    encoding: str = "auto",
) -> SignOutcome:
    """Add a signature made outside the tool to `role` (`ceremony add-signature`).

    The file is decoded for the enrolled key, verified over the current draft's canonical
    bytes, then (after the operator's typed Yes on the draft screen) written like a token
    signature, recorded as external.

    Args:
        cdir: the ceremony directory (the caller holds its lock).
        role: root, targets, or another drafted role.
        key: the enrolled key that made it: its plan name or its full keyid.
        signature_file: hex, base64, raw bytes, or JSON (`{"keyid", "sig"}`, go-tuf's list,
            an RSTUF sign payload); ECDSA as DER or r||s.
        confirm: shows the `DraftView` and returns True only for a typed Yes.
        now: the time recorded; entry: the transcript entry.
        encoding: "auto" or one of hex, base64, raw, json.

    Returns:
        A `SignOutcome`; `already_signed` when that key's signature here already counts
        (nothing is written).

    Raises:
        InputError (exit 2): no current draft, an unknown key or one that does not approve
            `role`, an unreadable or malformed signature file, an unknown encoding.
        VerificationFailed (exit 1): the signature does not verify; nothing is written.
        Declined (exit 1): the operator did not confirm; nothing is written.
    """
    if encoding not in ENCODINGS:
        raise InputError(f"--encoding {encoding} is not one of {', '.join(ENCODINGS)}.")
    loaded = load(cdir, now, require_enrolled=True, files_read=entry.files_read)
    d = current_draft(loaded, role, entry.files_read)
    d.check_canonical(f"drafts/{role}.json")
    chosen = approving_key(loaded, role, d, key)
    name, rec_key, holder, auths = chosen.name, chosen.key, chosen.holder, chosen.auths
    entry.holder = holder
    if signature_file.is_file() and signature_file.stat().st_size > MAX_SIGNATURE_FILE_BYTES:
        raise InputError(
            f"{signature_file} is larger than any signature ({MAX_SIGNATURE_FILE_BYTES:,} bytes "
            "at most): check that you gave the signature file, not the payload."
        )
    data = read_input(signature_file, "the signature file ")
    entry.files_read[str(signature_file)] = digests.sha256_hex(data)
    decoded = decode_signature(data, rec_key.key, source=str(signature_file), encoding=encoding)  # type: ignore[arg-type]
    sig = verify_external(decoded, rec_key.key, d.payload, key_name=name, role=role)
    v = view(loaded, d, auths=auths)
    mine = counting_signature(cdir, role, rec_key.keyid, rec_key.key, d.digest, d.payload)
    if mine is not None:
        st = role_status(loaded, role, d, auths)
        return SignOutcome(mine, st, True, v, next_step(cdir, role, st, False))
    if not confirm(v):
        raise Declined(f"the signature of {name} ({holder}) was not added; nothing was written.")
    record = SignatureRecord(
        role=role,
        keyid=rec_key.keyid,
        signature=sig.signature,
        digest=d.digest,
        key_name=name,
        holder=holder,
        signed_at=iso(now),
        extra={
            "version": d.version,
            "device": EXTERNAL_DEVICE,
            # The transcript's head before this command's own entry (docs/adr/0005).
            "transcript_head": transcript.head(cdir.root).to_dict(),
            "external": {
                "file": signature_file.name,
                "file_sha256": digests.sha256_hex(data),
                "encoding": decoded.encoding,
                **({"note": decoded.note} if decoded.note else {}),
            },
        },
    )
    out = json_bytes(record.to_dict())
    path = put_signature(cdir, role, rec_key.keyid, out)
    entry.files_written[cdir.rel(path)] = digests.sha256_hex(out)
    entry.notes.append(f"external signature of {name} added to {role} digest {d.digest}")
    st = role_status(loaded, role, d, auths)
    return SignOutcome(record, st, False, v, next_step(cdir, role, st, False))
