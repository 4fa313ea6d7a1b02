"""Signing and merging: `ceremony sign` (one holder, one key, one session) and `ceremony
merge` (signature files from other copies of the directory).

A signature is its own file, bound to the digest it signs, so copies made on different
machines merge by union. Nothing is written that does not verify with the enrolled key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from securesystemslib.signer import Key, Signature

from ceremony import digest as digests
from ceremony import transcript
from ceremony.clock import iso
from ceremony.drafting import Draft
from ceremony.errors import BadTokenSignature, Declined, InputError, StoreError
from ceremony.files import MAX_INPUT_BYTES, json_bytes
from ceremony.keys import short
from ceremony.services.audit import transcript_state
from ceremony.services.drafts import DraftView, view
from ceremony.services.state import Loaded, current_draft, load, resolve_key
from ceremony.services.status import authorities, next_step, role_status
from ceremony.store import CeremonyDir
from ceremony.store.drafts import drafted_roles, load_draft
from ceremony.store.records import counting_signature, parse_signature_record, put_signature
from ceremony.thresholds import RoleStatus, SignatureRecord, verify_record
from ceremony.tokens.types import SignerFactory
from ceremony.transcript import Entry

# The holder's confirmation, after seeing the draft: True only for a typed "Yes".
Confirm = Callable[[DraftView], bool]


@dataclass(frozen=True)
class SignOutcome:
    """The signature (new, or the one already here), the role's status now, whether the
    key had already signed this draft, the view the holder confirmed, and the next step."""

    record: SignatureRecord
    status: RoleStatus
    already_signed: bool
    view: DraftView
    next_step: str


def sign(
    cdir: CeremonyDir,
    role: str,
    key_name: str,
    open_signer: SignerFactory,
    confirm: Confirm,
    now: dt.datetime,
    entry: Entry,
    *,
    allow_imported: bool = False,
) -> SignOutcome:
    """Sign the current draft of `role` with the enrolled key `key_name` (`ceremony sign`).

    The draft is checked (current, canonical), the holder confirms after seeing it (once
    the token is known to be present, right and unlocked), the token signs the canonical
    bytes, and the signature is verified with the enrolled public key before it is written
    to signatures/ROLE/KEYID.json. A stale or damaged signature by the key is kept aside.

    Args:
        cdir: the ceremony directory (the caller holds its lock).
        role: root, targets, or a delegated role of the plan.
        key_name: the enrolled key to sign with: its name in the plan, or its full keyid.
        open_signer: opens the key's signer (`tokens.select.signer_factory`; a fake in tests).
        confirm: shows the `DraftView` and returns True only for the holder's typed Yes.
        now: the signing time (recorded; timezone-aware UTC).
        entry: the transcript entry; receives the files read and written and the holder.
        allow_imported: --allow-imported-key was given (`open_signer` accepts a key that
            may have been imported); recorded in the signature file and the transcript.

    Returns:
        A `SignOutcome`; `already_signed` when the key's signature here still counts
        (then nothing is asked, signed or written).

    Raises:
        InputError (exit 2): no current draft, or the key is not enrolled or does not
            approve `role`.
        Declined (exit 1): the holder did not confirm; nothing was signed or written.
        BadTokenSignature (exit 3): the token's signature does not verify (not written).
        TokenError (exit 3): the token, the key or the PIN is not right.
    """
    loaded = load(cdir, now, require_enrolled=True, files_read=entry.files_read)
    d = current_draft(loaded, role, entry.files_read)
    d.check_canonical(f"drafts/{role}.json")
    key_name = resolve_key(loaded, key_name)
    key = loaded.keys[key_name]
    holder = loaded.plan.holder(key_name)
    entry.holder = holder
    auths = authorities(loaded, role, d)
    if not any(key.keyid in a.keys for a in auths):
        raise InputError(
            f"key '{key_name}' ({holder}) is not one of the keys that approve "
            f"{role}: it is in neither "
            + " nor ".join(a.label for a in auths)
            + ". Nothing to sign with it."
        )
    v = view(loaded, d, auths=auths)
    mine = counting_signature(cdir, role, key.keyid, key.key, d.digest, d.payload)
    if mine is not None:
        st = role_status(loaded, role, d, auths)
        return SignOutcome(mine, st, True, v, next_step(cdir, role, st, False))
    confirmed = False

    def gate() -> None:
        """The holder confirms once the token is known to be present, right, and unlocked."""
        nonlocal confirmed
        if confirmed:
            return
        if not confirm(v):
            raise Declined(f"{key_name} ({holder}) did not confirm; nothing was signed or written.")
        confirmed = True

    purpose = f"sign {role} v{d.metadata.signed.version} (digest {d.digest[:16]}…) as {key_name}"
    spec = loaded.plan.keys.get(key_name)
    if key.uri is None and spec is not None and spec.uri:
        key = replace(key, uri=spec.uri)  # where the plan says the key lives
    with open_signer(key, purpose, gate) as signer:
        gate()  # tokens that need no PIN: confirm before signing all the same
        sig = signer.sign(d.payload)
    if sig.keyid != key.keyid:
        sig = Signature(key.keyid, sig.signature)
    probe = SignatureRecord(role, key.keyid, sig.signature, d.digest, key_name, "", "")
    if not verify_record(probe, key.key, d.payload):
        raise BadTokenSignature(
            f"the token returned a signature for {key_name} that does not verify with the enrolled "
            "public key. It was NOT written. The device may be faulty or not the enrolled one; "
            "stop and investigate before signing again."
        )
    rec = SignatureRecord(
        role=role,
        keyid=key.keyid,
        signature=sig.signature,
        digest=d.digest,
        key_name=key_name,
        holder=holder,
        signed_at=iso(now),
        extra={
            "version": d.metadata.signed.version,
            "device": key.device(),
            "rehearsal_only": key.is_rehearsal_only,
            # The transcript's head before this command's own entry (docs/adr/0005).
            "transcript_head": transcript.head(cdir.root).to_dict(),
            **({"allow_imported_key": True} if allow_imported else {}),
        },
    )
    data = json_bytes(rec.to_dict())
    path = put_signature(cdir, role, key.keyid, data)
    entry.files_written[cdir.rel(path)] = digests.sha256_hex(data)
    entry.notes.append(f"{key_name} signed {role} digest {d.digest}")
    if allow_imported:
        entry.notes.append(f"--allow-imported-key used for {key_name} at sign")
    st = role_status(loaded, role, d, auths)  # read back from the files, the new one included
    return SignOutcome(rec, st, False, v, next_step(cdir, role, st, False))


@dataclass
class MergeReport:
    """One line per signature file seen: added, skipped (already here) or refused (why);
    and what is wrong with the transcript here or in a copy (a cut or rewritten transcript)."""

    added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    transcript_problems: list[str] = field(default_factory=list)


def _approving_keys(loaded: Loaded, role: str, d: Draft) -> dict[str, Key]:
    keys: dict[str, Key] = {}
    for a in authorities(loaded, role, d):
        keys.update(a.keys)
    return keys


def merge(cdir: CeremonyDir, others: Sequence[Path], now: dt.datetime, entry: Entry) -> MergeReport:
    """Bring the signature files of other copies of this ceremony into `cdir`, each checked
    (its role's draft is here, the digest is the draft's, its key approves the role, it
    verifies); never overwrite a signature that still counts (`ceremony merge`).

    Args:
        cdir: the ceremony directory (the caller holds its lock).
        others: other copies of the ceremony directory (e.g. other machines' USB sticks).
        now: the time the plan's checks judge expiry by; entry: the transcript entry.

    Returns:
        A `MergeReport`; a file that does not qualify is refused with the reason, not raised.
        Every refused file, every added one (with the transcript head it carries) and the
        transcript problems of this directory and of each copy go into `entry.notes`.

    Raises:
        InputError (exit 2): an `others` path is this directory itself, or a role's signers
            cannot be known.
        StoreError (exit 2): an `others` path is not a ceremony directory.
    """
    loaded = load(cdir, now, files_read=entry.files_read, enforce=False)
    report = MergeReport()
    report.transcript_problems += [f"here: {p}" for p in transcript_state(cdir).problems]
    drafts = {role: load_draft(cdir, role) for role in drafted_roles(cdir)}
    approving: dict[str, dict[str, Key]] = {}  # role -> keys that approve it, made once
    for other_path in others:
        other = CeremonyDir(other_path)
        if other.root == cdir.root:
            raise InputError(
                f"{other_path} is this ceremony directory itself; name the other copies."
            )
        report.transcript_problems += [
            f"{other_path}: {p}" for p in transcript_state(other).problems
        ]
        for role_dir in (
            sorted(p for p in other.path("signatures").glob("*") if p.is_dir())
            if other.path("signatures").is_dir()
            else []
        ):
            role = role_dir.name
            if role == "stale":
                continue
            for path in other.list_json(f"signatures/{role}"):
                label = f"{other_path.name}/{other.rel(path)}"
                try:
                    rec = parse_signature_record(other.read_json(path), label)
                except StoreError as exc:
                    report.refused.append(f"{label}: unreadable ({exc})")
                    continue
                d = drafts.get(role)
                if d is None:
                    report.refused.append(f"{label}: there is no {role} draft here to attach it to")
                    continue
                if rec.role != role or path.stem != rec.keyid:
                    report.refused.append(f"{label}: its role/keyid does not match its file name")
                    continue
                if rec.digest != d.digest:
                    report.refused.append(
                        f"{label}: wrong digest ({rec.digest[:16]}…, this draft is {d.digest[:16]}…): "
                        "stale or from another draft"
                    )
                    continue
                if role not in approving:
                    approving[role] = _approving_keys(loaded, role, d)
                key = approving[role].get(rec.keyid)
                if key is None:
                    report.refused.append(f"{label}: unknown key {short(rec.keyid)} for {role}")
                    continue
                if not verify_record(rec, key, d.payload):
                    report.refused.append(f"{label}: bad signature (does not verify)")
                    continue
                if counting_signature(cdir, role, rec.keyid, key, d.digest, d.payload):
                    report.skipped.append(
                        f"{label}: duplicate ({rec.key_name or short(rec.keyid)} already signed here)"
                    )
                    continue
                data = other.read_bytes(path, max_bytes=MAX_INPUT_BYTES)
                target = put_signature(cdir, role, rec.keyid, data)
                entry.files_written[cdir.rel(target)] = digests.sha256_hex(data)
                report.added.append(
                    f"{label}: {rec.key_name or short(rec.keyid)} ({rec.holder or 'unknown holder'})"
                )
                head = transcript.Head.from_value(rec.extra.get("transcript_head"))
                entry.notes.append(
                    f"merged {label}"
                    + (f" (transcript head there: line {head.seq}, {head.sha256})" if head else "")
                )
    entry.notes += [f"refused {line}" for line in report.refused]
    entry.notes += [f"transcript problem: {p}" for p in report.transcript_problems]
    return report
