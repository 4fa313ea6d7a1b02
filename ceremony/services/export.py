"""Export: the signed metadata, checked as a client would, with SHA256SUMS and a record.

Each drafted role is written as TUF metadata with every valid signature, once every
threshold is met and python-tuf's client logic accepts the chain (`clientcheck`). Files
are written once: an export never replaces a file.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuf.api.metadata import Metadata, Signature
from tuf.api.serialization.json import JSONSerializer

from ceremony import digest as digests
from ceremony.clientcheck import check_delegation_chain, client_check_root
from ceremony.clock import iso
from ceremony.drafting import Draft
from ceremony.errors import InputError, StoreError, ThresholdNotMet, VerificationFailed
from ceremony.files import write_once
from ceremony.foreign.metadata_file import published_file_names
from ceremony.services.export_foreign import ExportOptions, export_foreign, resolve_format
from ceremony.services.record import ceremony_record
from ceremony.services.state import Loaded, draft_is_current, load
from ceremony.services.status import RoleReport, role_reports
from ceremony.store import CeremonyDir
from ceremony.thresholds import RoleStatus
from ceremony.transcript import Entry


@dataclass(frozen=True)
class ExportResult:
    """Where the files went, name -> SHA-256 of each file written, every role's report,
    whether the keys are rehearsal keys (every screen says so), and the root's
    consistent_snapshot (which file names clients fetch)."""

    out_dir: Path
    files: dict[str, str]
    roles: list[RoleReport]
    rehearsal: bool = False
    consistent_snapshot: bool = True  # the root's: which names clients fetch
    format: str = "metadata"  # `--format` written (export_foreign for the others)
    notes: list[str] = field(default_factory=list)  # e.g. thresholds still open (partial)


COMPACT_ABOVE_ROLES = 256

# An exported role must stay valid at least this long after the export: the files still
# have to be carried to the repository, and a client refuses metadata that has expired by
# its next refresh (TUF specification 5.3.10, 5.4.4, 5.6.7). A draft that expires sooner
# was left too long: draft it again. (The plan's own bounds are CER-EXPIRY-*.)
PUBLISH_MARGIN = dt.timedelta(hours=1)


def consistent_snapshot_of(loaded: Loaded, reports: Sequence[RoleReport]) -> bool:
    """What the root clients will hold says about consistent snapshots: the root exported
    here, else the root an imported role came with, else the trusted previous root (a
    targets-only ceremony); True without any."""
    for r in reports:
        if r.role == "root" and r.draft is not None:
            return bool(r.draft.metadata.signed.consistent_snapshot)
    imp = loaded.imported
    if imp is not None and imp.delegator is not None:  # the root an imported role came with
        return bool(imp.delegator.signed.consistent_snapshot)
    prev = loaded.previous_root
    return bool(prev.consistent_snapshot) if prev is not None else True


def _expires(d: Draft) -> dt.datetime:
    """A draft's expiry. A large role (16,384 hash bins) is not parsed for it: its expiry
    recorded at drafting is used here, and the client check parses the exact bytes written
    and refuses them if expired (`check_delegation_chain`); a small role is read as parsed."""
    if len(d.payload) > LARGE_PAYLOAD:
        return dt.datetime.strptime(d.expires, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    expires: dt.datetime = d.metadata.signed.expires
    return expires


def expiry_problems(reports: Sequence[RoleReport], now: dt.datetime) -> list[str]:
    """Each exported role that has expired, or expires within `PUBLISH_MARGIN` of `now`."""
    out = []
    for r in reports:
        if r.draft is None:
            continue
        expires = _expires(r.draft)
        what = f"{r.role} version {r.draft.version} (drafts/{r.role}.json)"
        if expires <= now:
            out.append(f"{what} expired on {iso(expires)}")
        elif expires < now + PUBLISH_MARGIN:
            out.append(
                f"{what} expires at {iso(expires)}, less than an hour from now: it would "
                "expire before clients can fetch it"
            )
    return out


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


def export(
    cdir: CeremonyDir,
    out: Path | None,
    now: dt.datetime,
    entry: Entry,
    *,
    out_of_band: bool = False,
    unverified_for_tests: bool = False,
    fmt: str = "auto",
    key: str | None = None,
    allow_partial: bool = False,
) -> ExportResult:
    """Write the signed metadata once every threshold is met and python-tuf accepts it
    (`ceremony export`), checked as a client would before anything is written, with
    SHA256SUMS and ceremony-record.md. File names are the ones clients fetch, and the
    versioned copy beside them (`metadata_file.published_file_names`): N.root.json and
    root.json; N.ROLE.json and ROLE.json (clients fetch the first when the root says
    consistent_snapshot, else the second). An imported role, and the other formats, are
    written by `export_foreign`.

    Args:
        cdir: the ceremony directory (the caller holds its lock).
        out: where to write (default: DIR/published); existing files are never replaced.
        now: the export time (recorded); expiry is judged by it.
        entry: the transcript entry; receives the files read and written and notes.
        out_of_band: the previous root's threshold cannot be met (lost keys); the new root
            is checked only against its own threshold and the record says clients must
            receive it directly.
        unverified_for_tests: write even what clients must reject (client test suites
            only; the CLI allows it only with CEREMONY_TEST_MODE=1).
        fmt: auto (an imported file's own kind, else metadata), metadata, tuf-on-ci,
            rstuf-bootstrap, rstuf-update or rstuf-sign (`export_foreign`).
        key: the key whose RSTUF sign payload to write (rstuf-sign only).
        allow_partial: write a partly signed RSTUF bootstrap or update payload (RSTUF's
            distributed signing then waits for the rest).

    Returns:
        An `ExportResult`: the folder, name -> SHA-256 of every file written, each role's
        report, and whether the keys are rehearsal keys.

    Raises:
        InputError (exit 2): nothing is drafted, --out-of-band without a previous root, or
            an option that does not apply to the format.
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
    options = ExportOptions(fmt, key, allow_partial, out_of_band)
    resolved = resolve_format(loaded, options, unverified=unverified_for_tests)
    reports = role_reports(loaded)
    if not any(r.draft for r in reports):
        raise InputError(f"nothing is drafted yet. Next: `ceremony draft {cdir.root}`.")
    if out_of_band and loaded.previous is None:
        raise InputError("--out-of-band is only for a rotation (a plan with previous_root).")
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
        done = export_foreign(
            loaded,
            reports,
            resolved,
            options,
            out,
            now,
            entry,
            record=lambda files: ceremony_record(loaded, reports, files, now),
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
    out_dir = out if out is not None else cdir.path("published")
    out_dir.mkdir(parents=True, exist_ok=True)
    clash = [n for n in [*files, "SHA256SUMS", "ceremony-record.md"] if (out_dir / n).exists()]
    if clash:
        raise StoreError(
            f"{out_dir} already holds {', '.join(clash)}; export never overwrites a file. Was this "
            "already exported? Choose another --out folder to export again."
        )
    hashes = {n: digests.sha256_hex(b) for n, b in files.items()}  # once per file (3 MB bins)
    sums = "".join(f"{hashes[n]}  {n}\n" for n in sorted(files))
    files_out = dict(files)
    record = ceremony_record(loaded, reports, files, now, hashes)
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
        written[name] = hashes.get(name) or digests.sha256_hex(files_out[name])
        entry.files_written[str(out_dir / name)] = written[name]
    return ExportResult(out_dir, written, reports, loaded.rehearsal, consistent)


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
