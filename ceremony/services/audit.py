"""Does the transcript still say what happened? (`status`, `merge` and `export` ask.)

The hash chain shows an edited or removed line in the middle. The heads that signature files
and the export record carry show the rest: a transcript cut short (a head beyond its last
line) or rewritten with a fresh chain (a head whose line is now different), and a signature
file no entry of the transcript wrote. A signature brought in by `merge` carries the head of
the copy it was made in, and one `import` kept came with the imported file, so only the
files `sign` and `add-signature` wrote here are held to their heads.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from ceremony import digest as digests
from ceremony.errors import CheckFailed, InputError
from ceremony.store import CeremonyDir
from ceremony.transcript import (
    Anchor,
    Entry,
    Head,
    check_anchors,
    head,
    read_entries,
    verify_hash_chain,
    writers,
)

RECORD = "published/ceremony-record.md"
MADE_BY = ("init", "import")  # the first transcript entry of every ceremony directory
RECORD_HEAD_RE = re.compile(r"transcript head at export: line (\d+), SHA-256 ([0-9a-f]{64})")


def record_head_line(h: Head) -> str:
    """The line of ceremony-record.md that carries the head (read back by `transcript_state`)."""
    return f"- transcript head at export: line {h.seq}, SHA-256 {h.sha256}"


@dataclass(frozen=True)
class TranscriptState:
    """The transcript now: its head (for the paper record), the problems found (a damaged
    line, a broken chain, a cut or rewritten transcript, a signature file it does not know),
    and notes (files from an older tuf-ceremony that carry no head)."""

    head: Head
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _signature_files(cdir: CeremonyDir) -> list[str]:
    sig = cdir.path("signatures")
    if not sig.is_dir():
        return []
    roles = sorted(p.name for p in sig.iterdir() if p.is_dir() and p.name != "stale")
    return [cdir.rel(p) for role in roles for p in cdir.list_json(f"signatures/{role}")]


def transcript_state(cdir: CeremonyDir) -> TranscriptState:
    """Check the transcript of `cdir` against itself and the heads its files carry.

    Args:
        cdir: the ceremony directory (read only).

    Returns:
        A `TranscriptState`; problems are reported, not raised (the caller decides: status
        shows them, merge reports them, export refuses).
    """
    root = cdir.root
    problems = verify_hash_chain(root)
    entries = read_entries(root)
    if cdir.path("ceremony.yaml").is_file():
        if not entries:
            problems.append(
                "the transcript (transcript.jsonl) is missing or empty, yet every command that "
                "made or changed this directory appends to it: it was deleted or cut to nothing"
            )
        elif entries[0].get("command") not in MADE_BY:
            problems.append(
                f"the transcript starts with `{entries[0].get('command')}`, not with the command "
                "that made this directory (init or import): its beginning was cut, or it was "
                "deleted and begun again"
            )
    notes: list[str] = []
    wrote = writers(root)
    anchors: list[Anchor] = []
    for rel in _signature_files(cdir):
        data = cdir.read_bytes(rel)
        entry = wrote.get((rel, digests.sha256_hex(data)))
        if entry is None:
            problems.append(
                f"{rel} is in no transcript entry: the transcript was cut short or rewritten, "
                "or the file was put there by hand"
            )
            continue
        if entry.get("command") not in ("sign", "add-signature"):
            continue  # merged (its head is the copy's it was signed in) or imported
        try:
            stored = json.loads(data)
        except json.JSONDecodeError:
            continue  # a damaged signature file: status reports it as invalid
        h = Head.from_value(stored.get("transcript_head") if isinstance(stored, dict) else None)
        if h is None:
            notes.append(
                f"{rel} carries no transcript head: it was written by an older tuf-ceremony, so "
                "it cannot show a cut or rewritten transcript"
            )
            continue
        anchors.append(Anchor(rel, h))
        if (entry.get("seq"), entry.get("prev")) != (h.seq + 1, h.sha256):
            problems.append(
                f"{rel} says it was signed after transcript line {h.seq}, but the entry that "
                f"wrote it is line {entry.get('seq')} and follows another line: the transcript "
                "was rewritten"
            )
    record = cdir.path(RECORD)
    if record.is_file():
        m = RECORD_HEAD_RE.search(record.read_text(encoding="utf-8", errors="replace"))
        if m is None:
            notes.append(f"{RECORD} carries no transcript head (an older tuf-ceremony)")
        else:
            anchors.append(Anchor(RECORD, Head(int(m.group(1)), m.group(2))))
    problems += check_anchors(root, anchors)
    return TranscriptState(head(root), problems, notes)


def record_section(audit: TranscriptState, reason: str | None) -> str:
    """The export record's transcript part: the head at export and any problems accepted
    (`reason`, the operator's)."""
    text = f"\n## Transcript\n\n{record_head_line(audit.head)}\n"
    if audit.problems:
        text += (
            "\n## TRANSCRIPT PROBLEMS ACCEPTED\n\n"
            + "".join(f"- {p}\n" for p in audit.problems)
            + f"\nExported anyway; the operator's reason: {reason}\n"
        )
    return text


def checked_for_export(cdir: CeremonyDir, reason: str | None, entry: Entry) -> TranscriptState:
    """The transcript's state for `export`: refuses (CheckFailed, exit 1) a damaged, cut or
    rewritten transcript unless the operator gives a `reason` (then noted in `entry`), and
    refuses a reason (InputError, exit 2) when nothing is wrong."""
    audit = transcript_state(cdir)
    if reason is not None and not audit.problems:
        raise InputError(
            "--accept-transcript-problems cannot apply: the transcript is intact (its chain and "
            "the heads in the signature files agree). Export without it. Nothing was written."
        )
    if audit.problems and reason is None:
        raise CheckFailed(
            "the transcript does not say what happened to this directory, so export stops "
            "(nothing was written):\n  - " + "\n  - ".join(audit.problems),
            hint="Compare the transcript with the other copies and the paper record. Only if "
            "the cause is understood, export again with --accept-transcript-problems 'REASON' "
            "(the problems and the reason go into the ceremony record).",
        )
    if audit.problems:
        entry.notes += [f"transcript problem accepted: {p}" for p in audit.problems]
        entry.notes.append(f"transcript problems accepted because: {reason}")
    return audit
