"""Export: the signed metadata, checked as a client would, with SHA256SUMS and a record.

Each drafted role is written as TUF metadata with every valid signature, once every
threshold is met and python-tuf's client logic accepts the chain (`clientcheck`). Files
are written once: an export never replaces a file.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuf.api.metadata import Metadata, Signature
from tuf.api.serialization.json import JSONSerializer

from ceremony import digest as digests
from ceremony.attestation import summary
from ceremony.checks import previous_root_signers
from ceremony.clientcheck import check_delegation_chain, client_check_root
from ceremony.clock import iso
from ceremony.drafting import Draft
from ceremony.errors import InputError, StoreError, ThresholdNotMet
from ceremony.files import write_once
from ceremony.keys import key_type_of
from ceremony.services.audit import checked_for_export, record_section
from ceremony.services.export_foreign import ExportOptions, export_foreign, resolve_format
from ceremony.services.state import Loaded, draft_is_current, load
from ceremony.services.status import RoleReport, role_reports
from ceremony.store import CeremonyDir
from ceremony.thresholds import RoleStatus
from ceremony.transcript import Entry
from ceremony.tufread import judge_root


@dataclass(frozen=True)
class ExportResult:
    """Where the files went, name -> SHA-256 of each file written, every role's report,
    and whether the keys are rehearsal keys (every screen says so)."""

    out_dir: Path
    files: dict[str, str]
    roles: list[RoleReport]
    rehearsal: bool = False
    format: str = "metadata"  # `--format` written (export_foreign for the others)
    notes: list[str] = field(default_factory=list)  # e.g. thresholds still open (partial)


COMPACT_ABOVE_ROLES = 256


def serializer_for(md: Metadata[Any]) -> JSONSerializer:
    """Indented JSON, except for roles with many delegations (16,384 hash bins): compact.

    Indenting runs Python's pure-Python JSON encoder (the C one cannot indent): 4.5 MB in
    0.35 s for 16,384 bins instead of 3 MB in 0.05 s. Nobody reads such a file by eye;
    `ceremony show` summarises it.
    """
    dele = getattr(md.signed, "delegations", None)
    if dele is not None and dele.roles is not None and len(dele.roles) > COMPACT_ABOVE_ROLES:
        return JSONSerializer(compact=True)
    return JSONSerializer(compact=False)


def signed_metadata(d: Draft, st: RoleStatus) -> Metadata[Any]:
    """The draft's metadata with every valid signature, by keyid."""
    sigs = {
        rec.keyid: Signature(rec.keyid, rec.signature)
        for rec in sorted(st.valid, key=lambda r: r.keyid)
    }
    # The draft was parsed from its file and is never modified: share its signed part.
    return Metadata(d.metadata.signed, sigs, dict(d.metadata.unrecognized_fields))


LARGE_PAYLOAD = 256 * 1024


def exported_bytes(d: Draft, st: RoleStatus) -> bytes:
    """The published file: the draft's exact signed bytes with every valid signature.

    Small roles (root, targets) are written indented for people to read. A large one (16,384
    hash bins: 3 MB) is written around the canonical payload as it is, compact, without a
    second parse; either way the bytes are parsed and verified by python-tuf before writing.
    """
    if len(d.payload) <= LARGE_PAYLOAD:
        md = signed_metadata(d, st)
        return bytes(md.to_bytes(serializer_for(md)))
    sigs = [
        {"keyid": rec.keyid, "sig": rec.signature}
        for rec in sorted(st.valid, key=lambda r: r.keyid)
    ]
    head = json.dumps(sigs, separators=(",", ":"), sort_keys=True).encode()
    return b'{"signatures":' + head + b',"signed":' + d.text + b"}"


def out_of_band_text(reports: Sequence[RoleReport]) -> str:
    """What an out-of-band export means: it depends on whether the previous threshold was met."""
    met = any(
        t.of == "previous" and t.met
        for r in reports
        if r.role == "root" and r.status is not None
        for t in r.status.thresholds
    )
    if met:
        return (
            "the previous root's threshold was met, so clients that trust it will follow the chain, "
            "but a competing root signed with the compromised keys may exist: this root must ALSO "
            "be given to every client directly (shipped with the client as its new trusted root), "
            "as PEP 458 says for a compromise of a threshold of root keys."
        )
    return (
        "the previous root's threshold was NOT met, so existing clients will refuse this root: it "
        "must be given to every client directly (shipped with the client as its new trusted root), "
        "as PEP 458 says when a threshold of root keys is compromised or lost."
    )


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
    fmt: str = "auto",
    key: str | None = None,
    allow_partial: bool = False,
) -> ExportResult:
    """Write the signed metadata once every threshold is met and python-tuf accepts it
    (`ceremony export`): N.ROLE.json for each drafted role (and root.json), checked as a
    client would before anything is written, with SHA256SUMS and ceremony-record.md. An
    imported role, and the other formats, are written by `export_foreign`.

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
        fmt: auto (an imported file's own kind, else metadata), metadata, tuf-on-ci,
            rstuf-bootstrap, rstuf-update or rstuf-sign (`export_foreign`).
        key: the key whose RSTUF sign payload to write (rstuf-sign only).
        allow_partial: write a partly signed RSTUF bootstrap or update payload (RSTUF's
            distributed signing then waits for the rest).

    Returns:
        An `ExportResult`: the folder, name -> SHA-256 of every file written, each role's
        report, and whether the keys are rehearsal keys.

    Raises:
        InputError (exit 2): nothing is drafted, --out-of-band without a previous root or
            while the previous root's threshold can still be met (the refusal names who), a
            reason to accept transcript problems when there are none, or an option that does
            not apply to the format.
        CheckFailed (exit 1): the transcript is damaged, cut short or rewritten, and no
            reason to accept it was given.
        ThresholdNotMet (exit 1): a threshold is not met or a draft is out of date.
        VerificationFailed (exit 1): python-tuf's client logic rejects the result.
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
    options = ExportOptions(fmt, key, allow_partial, out_of_band)
    resolved = resolve_format(loaded, options, unverified=unverified_for_tests)
    reports = role_reports(loaded)
    if not any(r.draft for r in reports):
        raise InputError(f"nothing is drafted yet. Next: `ceremony draft {cdir.root}`.")
    if out_of_band and loaded.previous is None:
        raise InputError("--out-of-band is only for a rotation (a plan with previous_root).")
    if out_of_band:
        _refuse_needless_out_of_band(loaded)
    if resolved != "metadata" or loaded.imported is not None:
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
                ceremony_record(loaded, reports, files, now)
                + record_section(checked, accept_transcript_problems)
            ),
        )
        return ExportResult(
            done.out_dir, done.files, reports, loaded.rehearsal, done.format, done.notes
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
    for r in reports:
        if r.draft is None or r.status is None:
            continue
        data = exported_bytes(r.draft, r.status)
        if r.role == "root":
            if not unverified_for_tests:
                client_check_root(None if out_of_band else loaded.previous_bytes, data)
            files[f"{r.draft.version}.root.json"] = data
            files["root.json"] = data
        else:
            # Consistent-snapshot name: clients fetch VERSION.ROLE.json.
            files[f"{r.draft.version}.{r.role}.json"] = data
        exported[r.role] = data
    if not unverified_for_tests:
        entry.notes += check_delegation_chain(
            loaded.plan, loaded.keys, loaded.previous, exported, now
        )
    out_dir = out if out is not None else cdir.path("published")
    out_dir.mkdir(parents=True, exist_ok=True)
    clash = [n for n in [*files, "SHA256SUMS", "ceremony-record.md"] if (out_dir / n).exists()]
    if clash:
        raise StoreError(
            f"{out_dir} already holds {', '.join(clash)}; export never overwrites a file. Was this "
            "already exported? Choose another --out folder to export again."
        )
    sums = "".join(f"{digests.sha256_hex(b)}  {n}\n" for n, b in sorted(files.items()))
    files_out = dict(files)
    record = ceremony_record(loaded, reports, files, now)
    record += record_section(audit, accept_transcript_problems)
    if out_of_band:
        note = out_of_band_text(reports)
        record += f"\n## OUT OF BAND\n\n{note[0].upper()}{note[1:]}\n"
    if unverified_for_tests:
        record += "\n## TEST-ONLY UNVERIFIED EXPORT\n\nNot checked: for client test suites only.\n"
    files_out["ceremony-record.md"] = record.encode()
    files_out["SHA256SUMS"] = sums.encode()
    written: dict[str, str] = {}
    for name in sorted(files_out, key=lambda n: (n == "SHA256SUMS", n)):
        write_once(out_dir / name, files_out[name])
        written[name] = digests.sha256_hex(files_out[name])
        entry.files_written[str(out_dir / name)] = written[name]
    return ExportResult(out_dir, written, reports, loaded.rehearsal)


def ceremony_record(
    loaded: Loaded, reports: list[RoleReport], files: Mapping[str, bytes], now: dt.datetime
) -> str:
    """The Markdown record of an export (ceremony-record.md): each role's version, expiry,
    digest (hex and PGP words), thresholds and signers, every key with its device and
    attestation, and the SHA-256 of every file exported."""
    plan = loaded.plan
    lines = [
        f"# Ceremony record: {plan.repository}",
        "",
        f"Exported {iso(now)} by tuf-ceremony.",
    ]
    if loaded.rehearsal:
        tokens = loaded.rehearsal_tokens
        why = (
            f"signed with keys on rehearsal tokens ({', '.join(tokens)}: keys kept in files)"
            if tokens
            else "the plan says rehearsal: true"
        )
        lines += ["", f"**REHEARSAL: {why}. Never publish these files.**"]
    for r in reports:
        if r.draft is None or r.status is None:
            continue
        lines += [
            "",
            f"## {r.role} version {r.draft.version}",
            "",
            f"- expires: {r.draft.expires}",
            f"- digest (SHA-256 of the canonical signed bytes): {r.draft.digest}",
            "- digest words: " + " ".join(digests.pgp_words(r.draft.digest)),
        ]
        for t in r.status.thresholds:
            lines.append(f"- {t.label}: {t.count} of {t.threshold} required")
        lines += ["", "| key | holder | signed at | device |", "|---|---|---|---|"]
        for rec in r.status.valid:
            spec = plan.keys.get(rec.key_name)
            key = rec.key_name
            if spec is not None and spec.status != "active":
                # Still counts toward the previous root (the spec requires it): say so.
                key += f" ({spec.status}: counts toward the previous root only)"
            device = str(rec.extra.get("device", ""))
            if rec.extra.get("allow_imported_key"):
                device += " (signed with --allow-imported-key)"
            lines.append(f"| {key} | {rec.holder} | {rec.signed_at} | {device} |")
    lines += [
        "",
        "## Keys",
        "",
        "| key | holder | type | keyid | device | attestation |",
        "|---|---|---|---|---|---|",
    ]
    for name, k in sorted(loaded.keys.items()):
        att = summary(k.attestation, "table") if k.attestation else "none"
        if not k.attestation and k.attestation_waived is not None:
            att = f"WAIVED by the plan: {k.attestation_waived}"
        device = k.device() + (" (accepted with --allow-imported-key)" if k.allow_imported else "")
        if k.is_rehearsal_only and not k.is_software:
            device += " (REHEARSAL token: keys in files)"
        lines.append(
            f"| {name} | {plan.holder(name)} | {key_type_of(k.key)} | {k.keyid[:16]} | {device} | {att} |"
        )
    lines += ["", "## Files", ""]
    for name, data in sorted(files.items()):
        lines.append(f"- `{name}` SHA-256 {digests.sha256_hex(data)}")
    return "\n".join(lines) + "\n"


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
        "copy these files to the repository. Publish the new root BEFORE any online "
        "metadata (snapshot, timestamp) that depends on it; keep every N.root.json forever."
    )
