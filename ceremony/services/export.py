"""Export: the signed metadata, checked as a client would, with SHA256SUMS and a record.

Each drafted role is written as TUF metadata with every valid signature, once every
threshold is met and python-tuf's client logic accepts the chain (`clientcheck`). Files
are written once: an export never replaces a file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from ceremony import digest as digests
from ceremony.checks import previous_root_signers
from ceremony.clientcheck import check_delegation_chain, client_check_root
from ceremony.clock import iso
from ceremony.errors import InputError, StoreError, ThresholdNotMet, VerificationFailed
from ceremony.files import write_once
from ceremony.foreign.metadata_file import published_file_names
from ceremony.services.audit import checked_for_export, record_head_line, record_section
from ceremony.services.copies import copy_state
from ceremony.services.export_files import (
    compare_with_exports,
    consistent_snapshot_of,
    expiry_problems,
    exported_bytes,
)
from ceremony.services.export_foreign import ExportOptions, export_foreign, resolve_format
from ceremony.services.record import (
    RecordNote,
    html_record,
    markdown_record,
    out_of_band_text,
    warning_lines,
)
from ceremony.services.state import Loaded, draft_is_current, load
from ceremony.services.status import RoleReport, role_reports
from ceremony.store import CeremonyDir
from ceremony.store.marks import ExportedRole, ExportRecord, add_export, load_exports
from ceremony.transcript import Entry
from ceremony.tufread import judge_root

PUBLISHED_MODE = 0o644  # published files are world-readable: a web server must serve them
RECORD_FILES = ("ceremony-record.md", "ceremony-record.html")


@dataclass(frozen=True)
class ExportResult:
    """Where the files went, name -> SHA-256 of each file written, every role's report,
    whether the keys are rehearsal keys (every screen says so), the root's consistent_snapshot
    (which file names clients fetch), the format written and its notes (`export_foreign`),
    the warnings every screen repeats, and how the files compare with earlier exports
    (`same`: identical bytes; `differ`: a different file for a version exported before,
    written only with `--reopen`)."""

    out_dir: Path
    files: dict[str, str]
    roles: list[RoleReport]
    rehearsal: bool = False
    consistent_snapshot: bool = True  # the root's: which names clients fetch
    format: str = "metadata"  # `--format` written (export_foreign for the others)
    notes: list[str] = field(default_factory=list)  # e.g. thresholds still open (partial)
    warnings: list[str] = field(default_factory=list)
    same: list[str] = field(default_factory=list)
    differ: list[str] = field(default_factory=list)
    already: str | None = None  # the folder holds this export already: nothing was written


def _refuse_needless_out_of_band(loaded: Loaded) -> None:
    """--out-of-band only when the previous root's threshold cannot be met from its keys
    that are not marked lost or compromised in the plan (InputError, exit 2, naming them)."""
    assert loaded.previous is not None and loaded.previous_root is not None
    dropped = judge_root(loaded.previous).dropped()
    s = previous_root_signers(loaded.plan, loaded.keys, loaded.previous_root, dropped)
    if s.clean < s.threshold:
        return
    raise InputError(
        f"--out-of-band is refused: the previous root needs {s.threshold} of its keys, and "
        f"{s.clean} are not marked lost or compromised in the plan, so its threshold can still "
        f"be met by {', '.join(s.active)}. Existing clients then follow the new root: collect "
        "their signatures (`ceremony sign DIR root --key NAME`) and export without "
        "--out-of-band. Nothing was written.",
        hint="If one of those keys is really lost or compromised, mark it in the plan "
        "(keys.NAME.status: lost, or compromised), have the plan reviewed, and draft again.",
    )


def export(
    cdir: CeremonyDir,
    out: Path | None,
    now: dt.datetime,
    entry: Entry,
    *,
    out_of_band: bool = False,
    unverified_for_tests: bool = False,
    accept_transcript_problems: str | None = None,
    reopen: bool = False,
    fmt: str = "auto",
    key: str | None = None,
    allow_partial: bool = False,
) -> ExportResult:
    """Write the signed metadata once every threshold is met and python-tuf accepts it
    (`ceremony export`), checked as a client would before anything is written, with
    SHA256SUMS and the ceremony record (ceremony-record.md, and ceremony-record.html for
    paper). File names are the ones clients fetch, and the versioned copy beside them
    (`metadata_file.published_file_names`): N.root.json and root.json; N.ROLE.json and
    ROLE.json (clients fetch the first when the root says consistent_snapshot, else the
    second). An imported role, and the other formats, are written by `export_foreign`.

    Args:
        cdir: the ceremony directory (the caller holds its lock).
        out: where to write (default: DIR/published); existing files are never replaced.
        now: the export time (recorded); expiry is judged by it.
        entry: the transcript entry; receives the files read and written and notes.
        out_of_band: the previous root's threshold cannot be met (lost keys); the new root
            is checked only against its own threshold and the record says clients must
            receive it directly. Refused while that threshold can still be met by keys the
            plan does not mark lost or compromised.
        unverified_for_tests: write even what clients must reject (client test suites
            only; the CLI allows it only with CEREMONY_TEST_MODE=1).
        accept_transcript_problems: the operator's recorded reason to export although the
            transcript is damaged, cut short or rewritten (`services.audit`); the problems
            and the reason go into the record and the transcript.
        reopen: write even a file that differs from one of the same name (the same
            version) exported before (`--reopen`: recorded, and said in the record).
        fmt: auto (an imported file's own kind, else metadata), metadata, tuf-on-ci,
            rstuf-bootstrap, rstuf-update or rstuf-sign (`export_foreign`).
        key: the key whose RSTUF sign payload to write (rstuf-sign only).
        allow_partial: write a partly signed RSTUF bootstrap or update payload (RSTUF's
            distributed signing then waits for the rest).

    Returns:
        An `ExportResult`: the folder, name -> SHA-256 of every file written (0644), each
        role's report, whether the keys are rehearsal keys, and how the files compare with
        earlier exports. The export is recorded in exports.json.

    Raises:
        InputError (exit 2): the directory is a holder's copy (made by `ceremony copy`),
            nothing is drafted, --out-of-band without a previous root or while the
            previous root's threshold can still be met (the refusal names who), a
            reason to accept transcript problems when there are none, a file differs from
            one exported before without `reopen`, `reopen` where nothing would differ, or
            an option that does not apply to the format.
        CheckFailed (exit 1): the transcript is damaged, cut short or rewritten, and no
            reason to accept it was given.
        ThresholdNotMet (exit 1): a threshold is not met or a draft is out of date.
        VerificationFailed (exit 1): a role has expired or expires within
            `PUBLISH_MARGIN`, or python-tuf's client logic rejects the result.
        StoreError (exit 2): an output file exists already.
        PlanError (exit 2): the plan fails a check.
    """
    loaded = load(
        cdir,
        now,
        require_enrolled=True,
        files_read=entry.files_read,
        enforce=not unverified_for_tests,
    )
    copy = copy_state(cdir)
    if copy is not None and copy.certain:
        raise InputError(
            f"{cdir.root} is a holder's copy of {copy.origin} (made {copy.since} on "
            f"{copy.host}), and a copy never exports: two exports of one version could differ, "
            "and clients must never meet two different files for one version. Nothing was "
            "written.",
            hint=f"Bring the copy back to the administrator: `ceremony merge {copy.origin} "
            f"{cdir.root}`, then export there.",
        )
    options = ExportOptions(fmt, key, allow_partial, out_of_band)
    resolved = resolve_format(loaded, options, unverified=unverified_for_tests)
    reports = role_reports(loaded)
    if not any(r.draft for r in reports):
        raise InputError(f"nothing is drafted yet. Next: `ceremony draft {cdir.root}`.")
    if out_of_band and loaded.previous is None:
        raise InputError("--out-of-band is only for a rotation (a plan with previous_root).")
    if out_of_band:
        _refuse_needless_out_of_band(loaded)
    expired = expiry_problems(reports, now)
    if expired and not unverified_for_tests:
        raise VerificationFailed(
            "a client would refuse this at its next refresh, so nothing was written: "
            + "; ".join(expired)
            + ".",
            hint="Draft the role again (`ceremony draft DIR ROLE`: a new expiry from the plan) "
            "and collect its signatures again.",
        )
    if resolved != "metadata" or loaded.imported is not None:
        if reopen:
            raise InputError("--reopen applies only to an export of TUF metadata made here.")
        checked = checked_for_export(cdir, accept_transcript_problems, entry)
        done = export_foreign(
            loaded,
            reports,
            resolved,
            options,
            out,
            now,
            entry,
            record=lambda files: (
                markdown_record(loaded, reports, files, now)
                + record_section(checked, accept_transcript_problems)
            ),
        )
        return ExportResult(
            done.out_dir,
            done.files,
            reports,
            loaded.rehearsal,
            consistent_snapshot_of(loaded, reports),
            done.format,
            done.notes,
        )
    problems = []
    for r in reports:
        if r.draft is None or r.status is None:
            continue
        if r.draft_outdated or not draft_is_current(loaded, r.draft, thorough=True):
            problems.append(f"{r.role}: the plan changed since drafting; draft and sign again")
        elif not r.status.complete:
            for t in r.status.thresholds:
                if out_of_band and t.of == "previous":
                    entry.notes.append(
                        f"out-of-band export: {t.label} has {t.count} of {t.threshold}"
                    )
                    continue
                if not t.met:
                    who = ", ".join(f"{n} ({t.holders.get(n, '?')})" for n in t.missing)
                    problems.append(
                        f"{r.role}: {t.label} has {t.count} of {t.threshold} signatures; missing: {who}"
                    )
    if unverified_for_tests:
        entry.notes.append(
            "TEST-ONLY unverified export: " + "; ".join(problems or ["checks skipped"])
        )
        problems = []
    if problems:
        raise ThresholdNotMet(
            "cannot export yet, nothing was written:\n  - " + "\n  - ".join(problems),
            hint="Collect the missing signatures (`ceremony sign`, or `ceremony merge` other copies).",
        )
    audit = checked_for_export(cdir, accept_transcript_problems, entry)
    files: dict[str, bytes] = {}
    exported: dict[str, bytes] = {}
    consistent = consistent_snapshot_of(loaded, reports)
    for r in reports:
        if r.draft is None or r.status is None:
            continue
        data = exported_bytes(r.draft, r.status)
        if r.role == "root" and not unverified_for_tests:
            client_check_root(None if out_of_band else loaded.previous_bytes, data)
        for name in published_file_names(r.role, r.draft.version, consistent_snapshot=consistent):
            files[name] = data
        exported[r.role] = data
    if not unverified_for_tests:
        known = {
            r.role: (r.draft.payload, content)
            for r in reports
            if r.draft is not None and (content := r.draft.derived_content) is not None
        }
        entry.notes += check_delegation_chain(
            loaded.plan, loaded.keys, loaded.previous, exported, now, known
        )
    exports = load_exports(cdir)
    same, differ = compare_with_exports(exports, files)
    if differ and not reopen:
        raise InputError(
            "this export would make a different file for a version that was exported before:\n"
            "  - "
            + "\n  - ".join(differ)
            + "\nClients must never meet two different files for one version (signatures made "
            "after the first export, or a new draft, change the bytes). Nothing was written.",
            hint="Publish the earlier files as they are. Only if they were never published and "
            "you mean to replace them: run again with --reopen (recorded), then destroy the "
            "earlier files.",
        )
    if reopen and not differ:
        raise InputError(
            "--reopen is for exporting a different file for a version exported before, and "
            "this export would not make one"
            + (f" ({'; '.join(same)})" if same else " (nothing was exported before)")
            + ". Run it without --reopen."
        )
    out_dir = out if out is not None else cdir.path("published")
    out_dir.mkdir(parents=True, exist_ok=True)
    clash = [n for n in [*files, "SHA256SUMS", *RECORD_FILES] if (out_dir / n).exists()]
    if clash:
        earlier = [e for e in exports if cdir.root / e.out == out_dir.absolute()]
        on_disk = all(
            (out_dir / n).is_file() and (out_dir / n).read_bytes() == data
            for n, data in files.items()
        )
        if earlier and same and not differ and on_disk:  # done already: the same bytes are there
            return ExportResult(
                out_dir,
                {},
                reports,
                loaded.rehearsal,
                consistent,
                warnings=warning_lines(loaded),
                same=same,
                already=f"{out_dir} already holds these files, exported {earlier[-1].at}, and "
                f"this export would make the same bytes: {cdir.root} is exported and finished; "
                "nothing was written, nothing to do.",
            )
        raise StoreError(
            f"{out_dir} already holds {', '.join(clash)}; export never overwrites a file. Was "
            "this already exported? Choose another --out folder to export again."
        )
    notes: list[RecordNote] = []
    if out_of_band:
        note = out_of_band_text(reports)
        notes.append(RecordNote("OUT OF BAND", f"{note[0].upper()}{note[1:]}"))
    if differ:
        notes.append(
            RecordNote(
                "RE-OPENED",
                "Exported again with --reopen after an earlier export: "
                + "; ".join(differ)
                + ". Only one of the two may ever be published; destroy the other.",
            )
        )
        entry.notes.append("re-opened export: " + "; ".join(differ))
    if unverified_for_tests:
        notes.append(
            RecordNote("TEST-ONLY UNVERIFIED EXPORT", "Not checked: for client test suites only.")
        )
    transcript_section = record_section(audit, accept_transcript_problems)
    hashes = {n: digests.sha256_hex(b) for n, b in files.items()}  # once per file (3 MB bins)
    sums = "".join(f"{hashes[n]}  {n}\n" for n in sorted(files))
    files_out = dict(files)
    files_out["ceremony-record.md"] = (
        markdown_record(loaded, reports, files, now, notes, hashes) + transcript_section
    ).encode()
    html_notes = [*notes, RecordNote("Transcript", record_head_line(audit.head))]
    if audit.problems:
        html_notes.append(
            RecordNote(
                "TRANSCRIPT PROBLEMS ACCEPTED",
                "; ".join(audit.problems)
                + f". Exported anyway; the operator's reason: {accept_transcript_problems}",
            )
        )
    files_out["ceremony-record.html"] = html_record(
        loaded, reports, files, now, html_notes, hashes
    ).encode()
    files_out["SHA256SUMS"] = sums.encode()
    written: dict[str, str] = {}
    for name in sorted(files_out, key=lambda n: (n == "SHA256SUMS", n)):
        write_once(out_dir / name, files_out[name], mode=PUBLISHED_MODE)
        written[name] = hashes.get(name) or digests.sha256_hex(files_out[name])
        entry.files_written[str(out_dir / name)] = written[name]
    record = ExportRecord(
        iso(now),
        cdir.rel(out_dir.absolute()),
        written,
        {
            r.role: ExportedRole(
                r.draft.version, r.draft.digest, tuple(sorted(v.keyid for v in r.status.valid))
            )
            for r in reports
            if r.draft is not None and r.status is not None
        },
        bool(differ),
    )
    entry.files_written["exports.json"] = digests.sha256_hex(add_export(cdir, record))
    return ExportResult(
        out_dir,
        written,
        reports,
        loaded.rehearsal,
        consistent,
        warnings=warning_lines(loaded),
        same=same,
        differ=differ,
    )


def next_text(fmt: str) -> str:
    """What to do with the files an export of `fmt` wrote, as a sentence."""
    if fmt == "tuf-on-ci":
        return (
            "copy metadata/ into the checkout of the signing event's branch, check that "
            '`git diff` shows only "sig" lines, then `git add metadata && git commit --signoff '
            '-m "Signature from NAME"` and push, as tuf-on-ci-sign does.'
        )
    if fmt.startswith("rstuf-"):
        verb = {"rstuf-bootstrap": "bootstrap", "rstuf-update": "update", "rstuf-sign": "sign"}
        return (
            f"on the connected machine, `rstuf --api-server URL admin send {verb[fmt]} FILE` with "
            "the file written above."
        )
    return (
        "copy these files to the repository (the .md and .html record are for the archive and "
        "the printer). Publish the new root BEFORE any online metadata (snapshot, timestamp) "
        "that depends on it; keep every N.root.json forever."
    )
