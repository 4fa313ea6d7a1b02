"""The ceremony record an export writes: `ceremony-record.md` (Markdown, for the archive)
and `ceremony-record.html` (for paper: one printed page per role, with lines for the
witnesses' initials). What witnesses print and sign after an export.

Who signed is named from the enrolled key of each signature's keyid, never from what the
signature file says (issue 9 rule 6).

Both say, for each role exported: the version and expiry, the digest every key signed (hex
and PGP words), each threshold with how many signed, who signed with which device and when,
and the SHA-256 of the files exported; and, when it applies, that the keys are rehearsal or
SoftHSM keys (never to be published), and any out-of-band or re-opened export.

The HTML is made with the standard library (`html.escape` on every value): no script, no
network, no external file; its print style sheet is inline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

from ceremony import digest as digests
from ceremony.attestation import summary
from ceremony.clock import iso
from ceremony.keys import key_type_of
from ceremony.keysource import is_softhsm_token
from ceremony.services.state import Loaded
from ceremony.services.status import RoleReport, status_warnings
from ceremony.thresholds import (
    RoleStatus,
    SignatureRecord,
    ThresholdStatus,
    claim_time_ok,
    signature_origin,
)


@dataclass(frozen=True)
class RecordNote:
    """A section the record must carry: OUT OF BAND, RE-OPENED, TEST-ONLY ..."""

    title: str
    text: str


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


def threshold_text(t: ThresholdStatus) -> str:
    """`new root (version 1): 3 signatures, 2 required (met)`."""
    n = t.count
    state = "met" if t.met else f"NOT met: {t.still_needed} more needed"
    return f"{t.label}: {n} signature{'s' if n != 1 else ''}, {t.threshold} required ({state})"


def warning_lines(loaded: Loaded) -> list[str]:
    """The warnings a record must carry: rehearsal keys, a rehearsal plan, SoftHSM keys,
    imported keys, firmware advisories (the check lines every status repeats)."""
    lines = []
    repeated = status_warnings(loaded)
    if loaded.rehearsal:
        tokens = loaded.rehearsal_tokens
        why = (
            f"signed with keys on rehearsal tokens ({', '.join(tokens)}: keys kept in files)"
            if tokens
            else "the plan says rehearsal: true"
        )
        lines.append(f"REHEARSAL: {why}. Never publish these files.")
    softhsm = sorted(name for name, k in loaded.keys.items() if is_softhsm_token(k.token))
    if softhsm and not any(w.startswith("CER-KEY-SOFTHSM") for w in repeated):
        lines.append(
            f"SoftHSM2 keys ({', '.join(softhsm)}): their private keys are files on the "
            "ceremony machine's disk. For rehearsals and tests only."
        )
    return lines + repeated


def _signer_key(loaded: Loaded, rec: SignatureRecord) -> tuple[str, str, str, str, str]:
    """Who signed, from the enrolled key of the keyid (the file's own names are claims):
    the key's name (with its status when not active), its holder, keyid (16 hex), the
    device (or how the signature came: a file, an import) and when."""
    people = loaded.people
    name = people.name(rec.keyid)
    spec = loaded.plan.keys.get(name)
    if spec is not None and spec.status != "active":
        # Still counts toward the previous root (the spec requires it): say so.
        name += f" ({spec.status}: counts toward the previous root only)"
    device = signature_origin(rec) or people.devices.get(rec.keyid, "not enrolled here")
    if rec.extra.get("allow_imported_key"):
        device += " (signed with --allow-imported-key)"
    when = rec.signed_at if claim_time_ok(rec.signed_at) else "(not a time)"
    return name, people.holder(rec.keyid), rec.keyid[:16], device, when


def markdown_record(
    loaded: Loaded,
    reports: list[RoleReport],
    files: Mapping[str, bytes],
    now: dt.datetime,
    notes: Sequence[RecordNote] = (),
    hashes: Mapping[str, str] | None = None,
) -> str:
    """The Markdown record of an export (ceremony-record.md): each role's version, expiry,
    digest (hex and PGP words), thresholds and signers (named from the enrolled key of each
    signature's keyid, never from the signature file), every key with its device and
    attestation, the SHA-256 of every file exported (`hashes`: name -> SHA-256 hex, when the
    caller has them already), and the warnings and notes."""
    plan = loaded.plan
    lines = [f"# Ceremony record: {plan.repository}", "", f"Exported {iso(now)} by tuf-ceremony."]
    for w in warning_lines(loaded):
        lines += ["", f"**{w}**"]
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
        lines += [f"- {threshold_text(t)}" for t in r.status.thresholds]
        lines += ["", "| key | holder | signed at | device |", "|---|---|---|---|"]
        for rec in r.status.valid:
            name, holder, _keyid, device, when = _signer_key(loaded, rec)
            lines.append(f"| {name} | {holder} | {when} | {device} |")
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
        # Names and keyids as code: this table lists every key, the one above who signed.
        lines.append(
            f"| `{name}` | {plan.holder(name)} | {key_type_of(k.key)} | `{k.keyid[:16]}` | "
            f"{device} | {att} |"
        )
    lines += ["", "## Files", ""]
    for name, data in sorted(files.items()):
        sha = (hashes or {}).get(name) or digests.sha256_hex(data)
        lines.append(f"- `{name}` SHA-256 {sha}")
    for note in notes:
        lines += ["", f"## {note.title}", "", note.text]
    return "\n".join(lines) + "\n"


CSS = """
@page { size: A4; margin: 11mm 12mm; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 9.5pt;
  color: #000; margin: 0; }
section.page { page-break-after: always; break-after: page; page-break-inside: avoid; }
section.page:last-of-type { page-break-after: auto; break-after: auto; }
h1 { font-size: 14pt; margin: 0 0 1mm 0; }
h2 { font-size: 11pt; margin: 3mm 0 1mm 0; border-bottom: 1px solid #000; }
p { margin: 1mm 0; }
ul { margin: 1mm 0; }
.warning { border: 2.5px solid #b00; color: #b00; font-weight: bold; padding: 1.5mm 3mm;
  margin: 1.5mm 0; }
.note { border: 2px solid #000; padding: 1.5mm 3mm; margin: 1.5mm 0; }
.hex { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 13pt;
  letter-spacing: 0.5pt; line-height: 1.4; }
table { border-collapse: collapse; width: 100%; margin: 1mm 0; }
th, td { border: 1px solid #000; padding: 0.7mm 1.3mm; text-align: left; vertical-align: top; }
th { background: #eee; }
table.words td { border: 1px solid #999; font-size: 10pt; width: 25%; }
table.words .n { color: #555; font-size: 7.5pt; display: inline-block; width: 6mm; }
td.initials { width: 20mm; }
td.key, td.when, td.keyid { white-space: nowrap; }
code, .mono { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 8.5pt;
  word-break: break-all; }
.witness td { height: 8mm; }
@media screen { body { max-width: 210mm; margin: 0 auto; padding: 0 6mm; }
  section.page { border-bottom: 2px dashed #999; margin-bottom: 8mm; padding-bottom: 4mm; } }
"""


def _words_table(digest_hex: str) -> str:
    words = digests.pgp_words(digest_hex)
    rows = []
    for i in range(0, len(words), 4):
        cells = "".join(
            f'<td><span class="n">{j + 1}</span>{escape(words[j])}</td>'
            for j in range(i, min(i + 4, len(words)))
        )
        rows.append(f"<tr>{cells}</tr>")
    return '<table class="words">' + "".join(rows) + "</table>"


def _counts(st: RoleStatus, rec: SignatureRecord) -> str:
    """The thresholds a signature counts for: `previous root, new root`."""
    return ", ".join(t.label.split(" (")[0] for t in st.thresholds if rec.keyid in t.signed_keyids)


def _name_html(name: str) -> str:
    """A key's name on one line, its status note (if any) small below it."""
    key, sep, note = name.partition(" (")
    return escape(key) + (f"<br><small>({escape(note)}</small>" if sep else "")


def _role_page(
    loaded: Loaded,
    r: RoleReport,
    files: Mapping[str, bytes],
    now: dt.datetime,
    warnings: list[str],
    notes: Sequence[RecordNote],
    hashes: Mapping[str, str],
) -> str:
    assert r.draft is not None and r.status is not None
    d, st = r.draft, r.status
    two = len(st.thresholds) > 1  # a rotation: which threshold each signature counts for
    hex_lines = digests.grouped_hex_lines(d.digest)  # as on the holders' screens
    out = [
        '<section class="page">',
        f"<h1>Ceremony record: {escape(loaded.plan.repository)}</h1>",
        f'<p class="meta"><b>{escape(r.role)} version {d.version}</b>, expires '
        f"{escape(d.expires)}. Exported {escape(iso(now))} by tuf-ceremony.</p>",
    ]
    out += [f'<div class="warning">{escape(w)}</div>' for w in warnings]
    out += [f'<div class="note"><b>{escape(n.title)}:</b> {escape(n.text)}</div>' for n in notes]
    out += [
        "<h2>Digest: SHA-256 of the exact bytes every key signed</h2>",
        '<div class="hex">' + "<br>".join(escape(line) for line in hex_lines) + "</div>",
        "<h2>The same digest as words (PGP word list)</h2>",
        _words_table(d.digest),
        "<h2>Thresholds</h2>",
        "<ul>" + "".join(f"<li>{escape(threshold_text(t))}</li>" for t in st.thresholds) + "</ul>",
        "<h2>Signatures</h2>",
        "<table><tr><th>key</th><th>holder</th><th>keyid</th><th>device</th>"
        "<th>signed at (UTC)</th>"
        + ("<th>counts for</th>" if two else "")
        + "<th>witness initials</th></tr>",
    ]
    for rec in st.valid:
        name, holder, keyid, device, when = _signer_key(loaded, rec)
        out.append(
            f'<tr><td class="key">{_name_html(name)}</td><td>{escape(holder)}</td>'
            f'<td class="mono keyid">{escape(keyid)}</td><td>{escape(device)}</td>'
            f'<td class="when">{escape(when)}</td>'
            + (f"<td>{escape(_counts(st, rec))}</td>" if two else "")
            + '<td class="initials"></td></tr>'
        )
    out.append("</table>")
    mine = sorted(n for n in files if n.split(".")[1:2] == [r.role] or n == f"{r.role}.json")
    out.append("<h2>Files exported</h2><table><tr><th>file</th><th>SHA-256</th></tr>")
    for name in mine:
        sha = hashes.get(name) or digests.sha256_hex(files[name])
        out.append(
            f'<tr><td class="mono">{escape(name)}</td><td class="mono">{escape(sha)}</td></tr>'
        )
    out += [
        "</table>",
        "<h2>Witnesses</h2>",
        "<p>I watched the digest above read aloud and compared on each signer's screen.</p>",
        '<table class="witness"><tr><th>name</th><th>signature</th><th>date</th></tr>',
        *["<tr><td></td><td></td><td></td></tr>"] * 3,
        "</table>",
        "</section>",
    ]
    return "\n".join(out)


def html_record(
    loaded: Loaded,
    reports: list[RoleReport],
    files: Mapping[str, bytes],
    now: dt.datetime,
    notes: Sequence[RecordNote] = (),
    hashes: Mapping[str, str] | None = None,
) -> str:
    """The printable record (ceremony-record.html): one page per role exported (`hashes`:
    name -> SHA-256 hex of `files`, when the caller has them already)."""
    warnings = warning_lines(loaded)
    pages = [
        _role_page(loaded, r, files, now, warnings, notes, hashes or {})
        for r in reports
        if r.draft is not None and r.status is not None
    ]
    title = escape(f"Ceremony record: {loaded.plan.repository}")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{CSS}</style></head><body>\n"
        + "\n".join(pages)
        + "\n</body></html>\n"
    )
