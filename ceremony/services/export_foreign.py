"""Export in the form another tool reads back (`ceremony export --format ...`).

- `metadata`, for an imported role: the file under the name its repository expects
  (`N.root.json` and `root.json`; `targets.json`, and `N.targets.json` with consistent
  snapshots), every collected signature in the file's own order, its `signed` part
  unchanged, checked first by python-tuf's client logic;
- `tuf-on-ci`: the signing event's `metadata/` files (`metadata/root.json` and
  `metadata/root_history/N.root.json`), the staged bytes with the collected signatures
  filled in place (`foreign.tuf_on_ci.fill_signatures`): the commit's diff is only `sig`
  lines. A signer contributes what they have; the repository merges the event once its
  thresholds are met, so a partial file is written (and checked as a client would once
  complete);
- `rstuf-bootstrap`, `rstuf-update`, `rstuf-sign`: the payloads `rstuf admin send
  bootstrap`, `send update` and `send sign` post (`foreign.rstuf`).

Nothing is written unless every check passes; files are write-once.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuf.api.metadata import Metadata, Root, Signature
from tuf.api.serialization.json import JSONSerializer

from ceremony import digest as digests
from ceremony.clientcheck import client_check_delegate, client_check_root
from ceremony.errors import InputError, StoreError, ThresholdNotMet
from ceremony.files import write_once
from ceremony.foreign import rstuf, tuf_on_ci
from ceremony.foreign.metadata_file import published_file_names
from ceremony.services.imported import Imported, signature_order
from ceremony.services.state import Loaded, draft_is_current, resolve_key
from ceremony.services.status import RoleReport
from ceremony.transcript import Entry

EXPORT_FORMATS = ("auto", "metadata", "tuf-on-ci", "rstuf-bootstrap", "rstuf-update", "rstuf-sign")
# What an imported file is written back as by default.
COUNTERPART = {
    "metadata": "metadata",
    "tuf-on-ci": "tuf-on-ci",
    "rstuf-bootstrap": "rstuf-bootstrap",
    "rstuf-update": "rstuf-update",
    "rstuf-sign-request": "rstuf-sign",
}
RSTUF_FILES = {
    "rstuf-bootstrap": rstuf.BOOTSTRAP_FILE,
    "rstuf-update": rstuf.UPDATE_FILE,
    "rstuf-sign": rstuf.SIGN_FILE,
}


@dataclass(frozen=True)
class ExportOptions:
    """`export`'s options: the format, the key of an RSTUF sign payload, whether a partly
    signed RSTUF payload may be written (distributed signing), and --out-of-band."""

    format: str = "auto"
    key: str | None = None
    allow_partial: bool = False
    out_of_band: bool = False


@dataclass(frozen=True)
class Written:
    """Where an export went: the folder (or the payload file's folder), name -> SHA-256 of
    each file written, the format, and what the operator must know (thresholds still open)."""

    out_dir: Path
    files: dict[str, str]
    format: str
    notes: list[str] = field(default_factory=list)


def write_folder(
    out_dir: Path, files: Mapping[str, bytes], record: str, entry: Entry
) -> dict[str, str]:
    """Write `files` (paths relative to `out_dir`), ceremony-record.md and SHA256SUMS (last),
    write-once; returns name -> SHA-256. Raises StoreError (exit 2), before writing
    anything, when one of them exists already (the same rule as `export.export`)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    clash = [n for n in [*files, "SHA256SUMS", "ceremony-record.md"] if (out_dir / n).exists()]
    if clash:
        raise StoreError(
            f"{out_dir} already holds {', '.join(clash)}; export never overwrites a file. Was this "
            "already exported? Choose another --out folder to export again."
        )
    sums = "".join(f"{digests.sha256_hex(b)}  {n}\n" for n, b in sorted(files.items()))
    out = {**files, "ceremony-record.md": record.encode(), "SHA256SUMS": sums.encode()}
    written: dict[str, str] = {}
    for name in sorted(out, key=lambda n: (n == "SHA256SUMS", n)):
        write_once(out_dir / name, out[name], mode=0o644)  # published: world-readable
        written[name] = digests.sha256_hex(out[name])
        entry.files_written[str(out_dir / name)] = written[name]
    return written


def resolve_format(loaded: Loaded, options: ExportOptions, *, unverified: bool) -> str:
    """The format to write: `auto` is the imported file's own kind (its counterpart), else
    `metadata`. Raises InputError (exit 2) for an unknown format or an option that does not
    apply to it (options are refused, never ignored)."""
    fmt = options.format
    imp = loaded.imported
    if fmt not in EXPORT_FORMATS:
        raise InputError(f"--format {fmt} is not one of {', '.join(EXPORT_FORMATS)}.")
    if fmt == "auto":
        fmt = COUNTERPART[imp.format] if imp is not None else "metadata"
    refusals = {
        "--key": options.key is not None and fmt != "rstuf-sign",
        "--allow-partial": options.allow_partial and fmt not in ("rstuf-bootstrap", "rstuf-update"),
        "--out-of-band": options.out_of_band and fmt != "metadata",
        "--test-only-unverified": unverified and (fmt != "metadata" or imp is not None),
    }
    for option, refused in refusals.items():
        if refused:
            raise InputError(f"{option} does not apply to --format {fmt}. Nothing was written.")
    if fmt == "rstuf-sign" and options.key is None:
        raise InputError("--format rstuf-sign writes one key's signature: name it with --key.")
    if fmt == "tuf-on-ci" and (imp is None or imp.format not in ("metadata", "tuf-on-ci")):
        raise InputError(
            "--format tuf-on-ci writes the staged files of a signing event back with the new "
            "signatures: it applies to a file imported with `ceremony import` (metadata/ROLE.json "
            "of the event), not to metadata drafted here."
        )
    if fmt == "rstuf-bootstrap" and (imp is None or imp.format != "rstuf-bootstrap"):
        raise InputError(
            "--format rstuf-bootstrap needs RSTUF's settings (expiry days, hash bins), which come "
            "from the payload `rstuf admin ceremony --dry-run --out` writes: import that payload "
            "(`ceremony import DIR ceremony-payload.json`) and export it back."
        )
    if fmt == "rstuf-update" and loaded.previous is None:
        raise InputError(
            "--format rstuf-update hands RSTUF a root N+1 to check against its trusted root N: "
            "this ceremony has no previous root (import the update payload with --previous-root)."
        )
    return fmt


def _report(loaded: Loaded, reports: list[RoleReport], fmt: str) -> RoleReport:
    role = loaded.imported.role if loaded.imported is not None else "root"
    r = next((r for r in reports if r.role == role and r.draft is not None), None)
    if r is None or r.draft is None or r.status is None:
        raise InputError(f"there is no {role} draft to export as {fmt}.")
    if r.draft_outdated or not draft_is_current(loaded, r.draft):
        raise ThresholdNotMet(f"{role}: the plan changed since drafting; draft and sign again.")
    if fmt.startswith("rstuf-") and role != "root":
        raise InputError(f"--format {fmt} writes RSTUF's root payloads; {role} is not root.")
    return r


def _missing(r: RoleReport, *, skip_previous: bool) -> list[str]:
    assert r.status is not None
    out = []
    for t in r.status.thresholds:
        if t.met or (skip_previous and t.of == "previous"):
            continue
        who = ", ".join(f"{n} ({t.holders.get(n, '?')})" for n in t.missing)
        out.append(f"{r.role}: {t.label} has {t.count} of {t.threshold} signatures; missing: {who}")
    return out


def _signatures(loaded: Loaded, r: RoleReport) -> list[Signature]:
    assert r.status is not None
    sigs = {rec.keyid: rec.signature for rec in r.status.valid}
    order = (
        signature_order(loaded.imported, list(sigs))
        if loaded.imported is not None
        else sorted(sigs)
    )
    return [Signature(k, sigs[k]) for k in order]


def _metadata(signed: dict[str, Any], sigs: list[Signature]) -> Metadata[Any]:
    return Metadata.from_dict(
        copy.deepcopy({"signatures": [s.to_dict() for s in sigs], "signed": signed})
    )


def _plain_bytes(imp: Imported, sigs: list[Signature]) -> bytes:
    """The imported file written back as python-tuf writes metadata (sorted keys, indent 1),
    top-level extra fields kept; its signed part read back must be the imported one."""
    doc = {**imp.source.extra, "signatures": [s.to_dict() for s in sigs]}
    md: Metadata[Any] = Metadata.from_dict(copy.deepcopy({**doc, "signed": imp.source.signed}))
    out = bytes(md.to_bytes(JSONSerializer(compact=False)))
    if Metadata.from_bytes(out).signed.to_dict() != imp.source.signed:  # pragma: no cover
        raise InputError(f"{imp.role}: python-tuf would not write its signed part back unchanged.")
    return out


def _client_check(loaded: Loaded, role: str, data: bytes, now: dt.datetime, oob: bool) -> None:
    if role == "root":
        client_check_root(None if oob else loaded.previous_bytes, data)
    elif loaded.imported is not None and loaded.imported.delegator is not None:
        client_check_delegate(loaded.imported.delegator, role, data, now)


def _filled(imp: Imported, sigs: list[Signature]) -> bytes:
    """tuf-on-ci: the staged bytes with `sigs` filled in; a staged signature that does not
    verify (so not among `sigs`) becomes an empty placeholder again."""
    staged = imp.data
    have = {s.keyid for s in sigs}
    bad = [k for k in imp.source.order if k not in have]
    if bad:
        doc = json.loads(staged)
        for e in doc["signatures"]:
            if e.get("keyid") in bad:
                e["sig"] = ""
        staged = tuf_on_ci.serialize(doc)
    return tuf_on_ci.fill_signatures(
        staged, {s.keyid: s.signature for s in sigs}, source=imp.spec.path
    )


def _write_file(path: Path, data: bytes, entry: Entry) -> dict[str, str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_once(path, data, mode=0o644)  # published: world-readable
    sha = digests.sha256_hex(data)
    entry.files_written[str(path)] = sha
    return {path.name: sha}


def export_foreign(
    loaded: Loaded,
    reports: list[RoleReport],
    fmt: str,
    options: ExportOptions,
    out: Path | None,
    now: dt.datetime,
    entry: Entry,
    *,
    record: Callable[[Mapping[str, bytes]], str],
) -> Written:
    """Write `fmt` (already resolved by `resolve_format`) for the imported role, or for root
    drafted here (`rstuf-update`, `rstuf-sign`). `out`: a folder for metadata and
    tuf-on-ci, the payload file for RSTUF (default: DIR/published/RSTUF's file name);
    `record` makes ceremony-record.md for the files of a folder.

    Raises ThresholdNotMet (exit 1) when a threshold the format needs is not met,
    VerificationFailed (exit 1) when a client would reject the result, InputError (exit 2)
    when RSTUF would refuse or alter the root, StoreError (exit 2) when a file exists.
    """
    r = _report(loaded, reports, fmt)
    assert r.draft is not None and r.status is not None
    sigs = _signatures(loaded, r)
    imp0 = loaded.imported
    # the imported file's own field order (RSTUF writes insertion order), else the draft's
    signed = imp0.source.signed if imp0 is not None else json.loads(r.draft.text)
    notes: list[str] = []
    default_dir = loaded.cdir.path("published")
    if fmt in ("metadata", "tuf-on-ci"):
        imp = loaded.imported
        assert imp is not None
        missing = _missing(r, skip_previous=options.out_of_band)
        if fmt == "metadata":
            if missing:
                raise ThresholdNotMet(
                    "cannot export yet, nothing was written:\n  - " + "\n  - ".join(missing),
                    hint="Collect the missing signatures (`ceremony sign`, `ceremony "
                    "add-signature`, or `ceremony merge` other copies).",
                )
            data = _plain_bytes(imp, sigs)
            _client_check(loaded, r.role, data, now, options.out_of_band)
            root_md = imp.delegator.signed if imp.delegator is not None else None
            cs = bool((root_md or r.draft.metadata.signed).consistent_snapshot)
            names = published_file_names(r.role, r.draft.version, consistent_snapshot=cs)
        else:
            data = _filled(imp, sigs)
            if missing:
                notes += [
                    f"not complete yet (tuf-on-ci merges it when it is): {m}" for m in missing
                ]
            else:
                _client_check(loaded, r.role, data, now, False)
            names = tuf_on_ci.metadata_paths(r.role, r.draft.version)
        files = dict.fromkeys(names, data)
        out_dir = out if out is not None else default_dir
        return Written(out_dir, write_folder(out_dir, files, record(files), entry), fmt, notes)
    target = out if out is not None else default_dir / RSTUF_FILES[fmt]
    if fmt == "rstuf-sign":
        assert options.key is not None
        name = resolve_key(loaded, options.key)
        keyid = loaded.keys[name].keyid
        mine = [s for s in sigs if s.keyid == keyid]
        if not mine:
            raise ThresholdNotMet(
                f"{name} has not signed {r.role} here yet: `ceremony sign` or `ceremony "
                "add-signature` first. Nothing was written."
            )
        imp = loaded.imported
        role = imp.source.pending_role if imp is not None and imp.source.pending_role else r.role
        payload = rstuf.sign_payload_bytes(role, mine[0])
    else:
        root: Metadata[Root] = _metadata(signed, sigs)
        partial = options.allow_partial
        if fmt == "rstuf-bootstrap":
            assert loaded.imported is not None and loaded.imported.source.bootstrap is not None
            boot = loaded.imported.source.bootstrap
            payload = rstuf.bootstrap_payload_bytes(
                root, boot.settings, timeout=boot.timeout, allow_partial=partial
            )
        else:
            assert loaded.previous is not None
            payload = rstuf.update_payload_bytes(root, loaded.previous, allow_partial=partial)
        missing = _missing(r, skip_previous=False)
        if missing:
            notes += [f"partly signed: RSTUF waits for sign payloads: {m}" for m in missing]
        else:
            client_check_root(loaded.previous_bytes, bytes(root.to_bytes()))
    return Written(target.parent, _write_file(target, payload, entry), fmt, notes)
