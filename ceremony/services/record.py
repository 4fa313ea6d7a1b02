"""The ceremony record (`ceremony-record.md`): what witnesses print and sign after an export.

Who signed is named from the enrolled key of each signature's keyid, never from what the
signature file says (issue 9 rule 6).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from ceremony import digest as digests
from ceremony.attestation import summary
from ceremony.clock import iso
from ceremony.keys import key_type_of
from ceremony.services.state import Loaded
from ceremony.services.status import RoleReport
from ceremony.thresholds import claim_time_ok, signature_origin


def ceremony_record(
    loaded: Loaded,
    reports: list[RoleReport],
    files: Mapping[str, bytes],
    now: dt.datetime,
    hashes: Mapping[str, str] | None = None,
) -> str:
    """The Markdown record of an export (ceremony-record.md): each role's version, expiry,
    digest (hex and PGP words), thresholds and signers (named from the enrolled key of each
    signature's keyid, never from the signature file), every key with its device and
    attestation, and the SHA-256 of every file exported (`hashes`: name -> SHA-256 hex, when
    the caller has them already)."""
    plan, people = loaded.plan, loaded.people
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
            # Who signed is the enrolled key of the keyid; the file's own names are claims.
            key = people.name(rec.keyid)
            spec = plan.keys.get(key)
            if spec is not None and spec.status != "active":
                # Still counts toward the previous root (the spec requires it): say so.
                key += f" ({spec.status}: counts toward the previous root only)"
            # The enrolled key's device, or how the signature came (a file, an import).
            device = signature_origin(rec) or people.devices.get(rec.keyid, "not enrolled here")
            when = rec.signed_at if claim_time_ok(rec.signed_at) else "(not a time)"
            lines.append(f"| {key} | {people.holder(rec.keyid)} | {when} | {device} |")
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
        # Names and keyids as code: this table lists every key, the one above who signed.
        lines.append(
            f"| `{name}` | {plan.holder(name)} | {key_type_of(k.key)} | `{k.keyid[:16]}` | "
            f"{device} | {att} |"
        )
    lines += ["", "## Files", ""]
    for name, data in sorted(files.items()):
        sha = (hashes or {}).get(name) or digests.sha256_hex(data)
        lines.append(f"- `{name}` SHA-256 {sha}")
    return "\n".join(lines) + "\n"
