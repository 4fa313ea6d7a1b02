"""Merging: `ceremony merge` takes the signature files of other copies of the directory.

A signature is its own file, bound to the digest it signs, so copies made on different
machines merge by union. Nothing is written that does not verify with the enrolled key, and
a merge that refuses anything writes nothing (all or nothing).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from securesystemslib.signer import Key

from ceremony import digest as digests
from ceremony import transcript
from ceremony.drafting import Draft
from ceremony.errors import InputError, StoreError
from ceremony.files import MAX_INPUT_BYTES, json_bytes
from ceremony.keys import short
from ceremony.services.audit import transcript_state
from ceremony.services.state import Loaded, load
from ceremony.services.status import authorities
from ceremony.store import CeremonyDir, check_name
from ceremony.store.drafts import drafted_roles, load_draft
from ceremony.store.records import counting_signature, parse_signature_record, put_signature
from ceremony.thresholds import (
    SignatureRecord,
    claim_problem,
    claim_time_ok,
    verify_record,
)
from ceremony.transcript import Entry


@dataclass
class MergeReport:
    """One line per entry of the other copies: added (or, when `written` is False, that
    would be added), skipped (already here, or not a signature file) or refused (why).
    `names_refused`: of those added, the files whose own names (key_name, holder, device)
    disagree with the enrolled key: the signature is recorded under the enrolled key's
    names and the file is not copied (why, in words). `transcript_problems`: what is wrong
    with the transcript here or in a copy (a cut or rewritten transcript)."""

    added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    transcript_problems: list[str] = field(default_factory=list)
    names_refused: list[str] = field(default_factory=list)
    written: bool = True  # False: something was refused, so nothing was written


def _as_enrolled(rec: SignatureRecord, loaded: Loaded, version: int) -> bytes:
    """A signature file holding what `rec` proves (role, keyid, signature, digest) and the
    enrolled key's names for its keyid, never the names `rec`'s file gave."""
    people = loaded.people
    fresh = SignatureRecord(
        role=rec.role,
        keyid=rec.keyid,
        signature=rec.signature,
        digest=rec.digest,
        key_name=people.names.get(rec.keyid, ""),
        holder=people.holders.get(rec.keyid, ""),
        signed_at=rec.signed_at if claim_time_ok(rec.signed_at) else "",
        extra={
            "version": version,
            "device": people.devices.get(rec.keyid, ""),
            "rehearsal_only": rec.keyid in people.rehearsal,
        }
        | (
            {"transcript_head": rec.extra["transcript_head"]}
            if "transcript_head" in rec.extra
            else {}
        ),
    )
    return json_bytes(fresh.to_dict())


def _approving_keys(loaded: Loaded, role: str, d: Draft) -> dict[str, Key]:
    keys: dict[str, Key] = {}
    for a in authorities(loaded, role, d):
        keys.update(a.keys)
    return keys


def _archived(cdir: CeremonyDir, role: str, digest: str) -> bool:
    """Is `digest` that of an earlier draft of `role` in this directory (drafts/archive/)?"""
    if len(digest) < 16 or not all(c in "0123456789abcdef" for c in digest[:16]):
        return False
    return cdir.path(f"drafts/archive/{role}.{digest[:16]}.json").exists()


def _made(cdir: CeremonyDir) -> dict[str, Any] | None:
    """The transcript's first entry: the `init` or `import` that made the directory, which
    every copy of it carries unchanged (None without a transcript)."""
    entries = transcript.read_entries(cdir.root)
    return entries[0] if entries else None


def _when(entry: dict[str, Any]) -> str:
    return f"`{entry.get('command')}` ({entry.get('time', '?')} on {entry.get('host', '?')})"


def merge(cdir: CeremonyDir, others: Sequence[Path], now: dt.datetime, entry: Entry) -> MergeReport:
    """Bring the signature files of other copies of this ceremony into `cdir`, each checked
    (its role's draft is here, the digest is the draft's, its key approves the role, it
    verifies); never overwrite a signature that still counts (`ceremony merge`). The report
    names each signer from the enrolled key of its keyid, never from the file; a file whose
    own names (key_name, holder, device) disagree with that key is not copied: its
    signature is recorded under the enrolled key's names and the file's names are refused
    with the reason (`MergeReport.names_refused`).

    Args:
        cdir: the ceremony directory (the caller holds its lock).
        others: other copies of the ceremony directory (e.g. other machines' USB sticks).
        now: the time the plan's checks judge expiry by; entry: the transcript entry.

    Returns:
        A `MergeReport`; a file that does not qualify is refused with the reason, not
        raised; every entry not merged is listed with why (symbolic links included). All
        or nothing: when anything is refused, nothing is written (`written` False). Every
        refused file, every added one (with the transcript head it carries) and the
        transcript problems of this directory and of each copy go into `entry.notes`.

    Raises:
        InputError (exit 2): an `others` path is this directory itself, or a role's signers
            cannot be known.
        StoreError (exit 2): an `others` path is not a ceremony directory.
    """
    loaded = load(cdir, now, files_read=entry.files_read, enforce=False)
    people = loaded.people
    report = MergeReport()
    report.transcript_problems += [f"here: {p}" for p in transcript_state(cdir).problems]
    drafts = {role: load_draft(cdir, role) for role in drafted_roles(cdir)}
    approving: dict[str, dict[str, Key]] = {}  # role -> keys that approve it, made once
    pending: dict[tuple[str, str], bytes] = {}  # (role, keyid) -> the file to add
    merged_notes: list[str] = []
    mine_made = _made(cdir)
    for other_path in others:
        other = CeremonyDir(other_path)
        if other.root == cdir.root:
            raise InputError(
                f"{other_path} is this ceremony directory itself; name the other copies."
            )
        # A symbolic link in that copy stops reading it here; the scan below refuses it by name.
        with contextlib.suppress(StoreError):
            report.transcript_problems += [
                f"{other_path}: {p}" for p in transcript_state(other).problems
            ]
        other_made = _made(other)
        if mine_made is not None and other_made is not None and other_made != mine_made:
            report.refused.append(
                f"{other_path}: not a copy of this ceremony: its transcript begins with another "
                f"{_when(other_made)} than this directory's ({_when(mine_made)}); nothing is "
                "taken from it"
            )
            continue
        sig_root = other.root / "signatures"
        if sig_root.is_symlink():
            report.refused.append(f"{other_path.name}/signatures: a symbolic link (never followed)")
            continue
        for role_dir in sorted(sig_root.iterdir()) if sig_root.is_dir() else []:
            role = role_dir.name
            where = f"{other_path.name}/signatures/{role}"
            if role_dir.is_symlink():
                report.refused.append(f"{where}: a symbolic link (never followed)")
                continue
            if not role_dir.is_dir():
                report.skipped.append(f"{where}: not a folder of signatures")
                continue
            if role == "stale":
                report.skipped.append(
                    f"{where}: signatures of earlier drafts (kept in that copy, never merged)"
                )
                continue
            try:
                check_name("role", role)
            except StoreError:
                report.refused.append(f"{where}: not a role name")
                continue
            for entry_path in sorted(role_dir.iterdir()):
                label = f"{where}/{entry_path.name}"
                if entry_path.is_symlink():
                    report.refused.append(f"{label}: a symbolic link (never followed)")
                elif entry_path.name.startswith(".") or entry_path.suffix != ".json":
                    report.skipped.append(f"{label}: not a signature file (KEYID.json)")
                elif not entry_path.is_file():
                    report.refused.append(f"{label}: not a regular file")
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
                if rec.digest != d.digest and _archived(cdir, role, rec.digest):
                    report.skipped.append(
                        f"{label}: stale: it signs an earlier draft of {role} "
                        f"({rec.digest[:16]}…, archived here); only the current draft counts"
                    )
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
                # The names shown are the enrolled key's; the file's own are only claims.
                who = f"{people.name(rec.keyid)} ({people.holder(rec.keyid)})"
                if (role, rec.keyid) in pending or counting_signature(
                    cdir, role, rec.keyid, key, d.digest, d.payload, people
                ):
                    report.skipped.append(
                        f"{label}: duplicate ({people.name(rec.keyid)} already signed here)"
                    )
                    continue
                wrong = claim_problem(rec, people)
                if wrong is None:
                    data = other.read_bytes(path, max_bytes=MAX_INPUT_BYTES)
                else:  # the signature is valid; the file's own names are refused, not copied
                    data = _as_enrolled(rec, loaded, d.metadata.signed.version)
                    report.names_refused.append(
                        f"{label}: {wrong}. The signature itself is valid and is {who}'s: it was "
                        "recorded under the enrolled key's names and the file was not copied. "
                        "Someone edited that file or it comes from another ceremony: ask who "
                        "handled that copy"
                    )
                pending[(role, rec.keyid)] = data
                report.added.append(f"{label}: {who}")
                head = transcript.Head.from_value(rec.extra.get("transcript_head"))
                merged_notes.append(
                    f"merged {label}"
                    + (f" (transcript head there: line {head.seq}, {head.sha256})" if head else "")
                )
    entry.notes += [f"refused {line}" for line in report.refused]
    entry.notes += [f"transcript problem: {p}" for p in report.transcript_problems]
    if report.refused:  # all or nothing: a refused file stops the whole merge
        report.written = False
        return report
    entry.notes += merged_notes
    # The evidence of an edited file stays in the transcript (the file itself is not copied).
    entry.notes += [f"names refused {line}" for line in report.names_refused]
    for (role, keyid), data in pending.items():
        target = put_signature(cdir, role, keyid, data)
        entry.files_written[cdir.rel(target)] = digests.sha256_hex(data)
    return report
