"""What every export writes beside the metadata: SHA256SUMS and ceremony-record.md, all
write-once into the output folder, and the value an export returns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ceremony import digest as digests
from ceremony.attestation import summary
from ceremony.clock import iso
from ceremony.errors import StoreError
from ceremony.files import write_once
from ceremony.keys import key_type_of
from ceremony.services.state import Loaded
from ceremony.services.status import RoleReport
from ceremony.transcript import Entry


@dataclass(frozen=True)
class ExportResult:
    """Where the files went, name -> SHA-256 of each file written, every role's report,
    whether the keys are rehearsal keys (every screen says so), the format written
    (`ceremony export --format`) and what the operator must know about it (`notes`)."""

    out_dir: Path
    files: dict[str, str]
    roles: list[RoleReport]
    rehearsal: bool = False
    format: str = "metadata"
    notes: list[str] = field(default_factory=list)


def write_published(
    out_dir: Path, files: Mapping[str, bytes], record: str, entry: Entry
) -> dict[str, str]:
    """Write `files` (name relative to `out_dir` -> bytes), ceremony-record.md and SHA256SUMS
    (last) into `out_dir`, never replacing a file; returns name -> SHA-256 of each written.
    Raises StoreError (exit 2), before writing anything, when one of them exists already."""
    out_dir.mkdir(parents=True, exist_ok=True)
    clash = [n for n in [*files, "SHA256SUMS", "ceremony-record.md"] if (out_dir / n).exists()]
    if clash:
        raise StoreError(
            f"{out_dir} already holds {', '.join(clash)}; export never overwrites a file. Was this "
            "already exported? Choose another --out folder to export again."
        )
    sums = "".join(f"{digests.sha256_hex(b)}  {n}\n" for n, b in sorted(files.items()))
    files_out = dict(files)
    files_out["ceremony-record.md"] = record.encode()
    files_out["SHA256SUMS"] = sums.encode()
    written: dict[str, str] = {}
    for name in sorted(files_out, key=lambda n: (n == "SHA256SUMS", n)):
        write_once(out_dir / name, files_out[name])
        written[name] = digests.sha256_hex(files_out[name])
        entry.files_written[str(out_dir / name)] = written[name]
    return written


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
        lines += ["", "**REHEARSAL: signed with software keys. Never publish these files.**"]
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
            lines.append(
                f"| {key} | {rec.holder} | {rec.signed_at} | {rec.extra.get('device', '')} |"
            )
    lines += [
        "",
        "## Keys",
        "",
        "| key | holder | type | keyid | device | attestation |",
        "|---|---|---|---|---|---|",
    ]
    for name, k in sorted(loaded.keys.items()):
        att = summary(k.attestation, "table") if k.attestation else "none"
        device = k.device() + (" (accepted with --allow-imported-key)" if k.allow_imported else "")
        lines.append(
            f"| {name} | {plan.holder(name)} | {key_type_of(k.key)} | {k.keyid[:16]} | {device} | {att} |"
        )
    lines += ["", "## Files", ""]
    for name, data in sorted(files.items()):
        lines.append(f"- `{name}` SHA-256 {digests.sha256_hex(data)}")
    return "\n".join(lines) + "\n"
