"""What a holder sees: the draft screen (show, draft, sign), the enrolment lines, status.

Renders the values the use cases return; computes nothing about the ceremony.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ceremony import digest as digests
from ceremony.cli import ui

if TYPE_CHECKING:  # the use cases (python-tuf, securesystemslib) load when a command runs
    from ceremony.review import KeyLine
    from ceremony.services.copies import CopyState
    from ceremony.services.drafts import DraftView
    from ceremony.services.enroll import EnrollResult
    from ceremony.services.status import StatusReport


def render_view(v: DraftView) -> None:
    """The draft screen a holder checks before signing: every value whole at any width
    from 80 columns up (a list, not a table), through a pager on a terminal when it is
    taller than the screen."""
    ui.long_listing(lambda: _render_view(v))


def _render_view(v: DraftView) -> None:
    out = ui.console()
    if v.rehearsal or v.rehearsal_plan:
        ui.rehearsal_banner(plan_only=not v.rehearsal)
    out.rule()
    ui.say(f"{v.role} version {v.version} for {v.repository}", style="bold")
    cs = v.consistent_snapshot
    ui.say(
        f"Version {v.version}, expires {v.expires:%Y-%m-%d %H:%M} UTC"
        + (f", consistent_snapshot {str(cs).lower()}" if cs is not None else "")
    )
    ui.say("Roles and keys:", style="bold")
    for rl in v.roles:
        n = len(rl.keys)
        ui.say(f"{rl.role}: {rl.threshold} of {n} key{'s' if n != 1 else ''} must sign", 2)
        for k in rl.keys:
            _key_lines(k, 4)
    if v.previous is not None:
        listed = {k.keyid for rl in v.roles for k in rl.keys}
        p = v.previous
        ui.say(
            f"Previous root (version {v.previous_version}): {p.threshold} of its "
            f"{len(p.keys)} root keys must also sign this one",
            style="bold",
        )
        for k in p.keys:
            if k.keyid not in listed:
                _key_lines(k, 4)
        both = [k.name for k in p.keys if k.keyid in listed]
        if both:
            ui.say(f"and {', '.join(both)} (listed above)", 4)
    for name, line in sorted(v.attestations.items()):
        ui.say(f"attested {name}: {line}", 2)
    if v.imported:
        ui.say("Imported:", style="bold")
        for line in v.imported:
            ui.say(line, 2, 4)
    if v.details or v.problems:
        ui.say("Delegations:", style="bold")
        for line in v.details:
            ui.say(f"- {line}", 2, 4)
        for line in v.problems:
            ui.say(f"PROBLEM {line}", 2, 4, style="red")
    if v.full is not None:
        out.print(f"[bold]Every delegated role ({len(v.full):,}):[/bold]")
        out.file.write(
            "".join(f"  {ui.shown(line)}\n" for line in v.full)
        )  # fast: no rich rendering
        out.file.flush()
    if v.role == "root":
        ui.say("Changes from the previous root:", style="bold")
    for c in v.changes:
        ui.say(f"- {c.text}", 2, 4)
    for s in v.swaps:
        ui.say(f"! {s}", 2, 4, style="cyan")
    for w in v.warnings:
        ui.say(f"warning {w.line()}", 2, 4, style="yellow")
    for line in ui.digest_block(v.digest):
        ui.say(line, 0, 9)
    ui.say("Signatures so far:", style="bold")
    ui.render_status_block(v.status)
    ui.say(
        "Check before signing: the version, expiry, keys and holders above are what was agreed, "
        "and the digest matches the one the administrator read out and printed when the draft "
        "was made."
    )


def _key_lines(k: KeyLine, indent: int) -> None:
    """One key, whole: name and holder, type and the 16-hex keyid, the device and serial."""
    status = "" if k.status == "active" else f" [{k.status}]"
    device = k.device + (" (REHEARSAL)" if k.rehearsal and "REHEARSAL" not in k.device else "")
    ui.say(f"{k.name} ({k.holder}){status}", indent)
    ui.say(f"{k.key_type}, keyid {k.keyid[:16]}", indent + 2)
    ui.say(device, indent + 2)


def print_enrolled(res: EnrollResult) -> None:
    """What enroll and keygen print about the key recorded."""
    rec = res.record
    out = ui.console()
    if rec.is_rehearsal_only:
        ui.rehearsal_banner()
    verb = "Enrolled" if res.new else "Already enrolled (same key, nothing changed):"
    out.print(
        f"{verb} '{ui.value(rec.name)}': {ui.value(rec.key.scheme)}, keyid "
        f"{ui.value(rec.keyid[:16])}…, {ui.value(rec.device())}."
    )
    if rec.uri:
        out.print(f"  URI: {rec.uri}", markup=False, highlight=False, soft_wrap=True)
    if res.attested is not None:
        out.print(f"  Attested: {ui.value(res.attested)}.")
        for advisory in res.advisories:
            out.print(f"  [yellow]WARNING:[/yellow] {ui.value(advisory)}.")
    if rec.allow_imported:
        out.print(
            "  [yellow]Accepted with --allow-imported-key: the token does not prove on-device generation.[/yellow]"
        )
    if res.softhsm_refused_later:
        ui.say(
            f"WARNING: '{rec.name}' is on SoftHSM2, a rehearsal token (its keys are files on this "
            "disk). This plan does not say `rehearsal: true`, so `validate` and `draft` refuse "
            "it (CER-KEY-SOFTHSM). For a practice run add the top-level line `rehearsal: true` "
            "to ceremony.yaml; a real ceremony needs hardware tokens.",
            2,
            4,
            style="yellow",
        )
    if res.still_to_enrol:
        n = len(res.still_to_enrol)
        ui.say(
            f"Next: enrol the other key{'s' if n != 1 else ''} of the plan ({n} left: "
            f"{', '.join(res.still_to_enrol)}), then `ceremony validate DIR`."
        )
    else:
        ui.say("Next: every key of the plan is enrolled: `ceremony validate DIR`, then draft.")


def copy_note(copy: CopyState | None) -> None:
    """The last line of `sign` and `status` in a holder's copy: bring it back for merge."""
    if copy is None:
        return
    if copy.certain:
        text = (
            f"This is a copy of the administrator's directory {copy.origin} (made {copy.since} "
            f"on {copy.host}): bring this copy back to the administrator for `ceremony merge`."
        )
    else:
        text = (
            f"This directory was created as {copy.origin} on {copy.host}, not at this path: if "
            "it is a copy, bring this copy back to the administrator for `ceremony merge`; if it "
            "was moved, or the administrator's stick is mounted elsewhere, nothing to do."
        )
    ui.say(text, style="bold cyan")


def render_status(report: StatusReport) -> None:
    """The status screen: every role's digest, thresholds, export and next step; warnings;
    and in a holder's copy, to bring it back for merge."""
    if report.rehearsal or report.loaded.plan.rehearsal:
        ui.rehearsal_banner(plan_only=not report.rehearsal)
    ui.say(f"Ceremony for {report.repository} in {report.loaded.cdir.root}", style="bold")
    for r in report.roles:
        if r.draft is None or r.status is None:
            ui.say(f"{r.role}: not drafted yet. Next: {r.next_step}.")
            continue
        if r.exported is not None:
            state = "EXPORTED" + (": re-opened, signed since" if r.signed_since else "")
        elif r.status.complete:
            state = "COMPLETE: every threshold is met, ready to export"
        else:
            state = "collecting signatures"
        ui.say(f"{r.role} version {r.draft.version}: {state}", style="bold")
        hex_lines = digests.grouped_hex_lines(r.draft.digest)
        ui.say(f"digest {hex_lines[0]}", 2)
        for line in hex_lines[1:]:
            ui.say(f"       {line}", 2)
        words = " ".join(digests.pgp_words(r.draft.digest)[:8])
        ui.say(f"words  {words} …", 2, 9)
        if r.draft_outdated:
            ui.say("the plan or keys changed since this draft was made", 2, 4, style="red")
        ui.render_status_block(r.status)
        if r.exported is not None:
            e = r.exported
            ui.say(f"exported {e.at} to {e.out}:", 2, 4)
            for name, sha in e.files.items():
                ui.say(name, 4)
                ui.say(f"SHA-256 {sha}", 6)
            for x in report.exports:  # the same draft exported to other places before
                done = x.roles.get(r.role)
                same = (x.at, x.out) == (e.at, e.out)
                if not same and done is not None and done.digest == r.draft.digest:
                    ui.say(f"also exported {x.at} to {x.out}", 2, 4)
        ui.say(f"Next: {r.next_step}.", 2, 4)
    for w in report.warnings:
        ui.say(f"warning {w}", 0, 2, style="yellow")
    head = report.transcript_head
    ui.say(f"Transcript: {head.seq} entries; head SHA-256 (for the paper record):")
    for line in digests.grouped_hex_lines(head.sha256):
        ui.say(line, 2)
    for problem in report.transcript_problems:
        ui.say(f"transcript: {problem}", 0, 2, style="red")
    for note in report.transcript_notes:
        ui.say(f"transcript note: {note}", 0, 2)
    copy_note(report.copy)


def status_json(report: StatusReport) -> dict[str, Any]:
    """The `status --json` document (a contract for scripts: keep its keys)."""
    roles: dict[str, Any] = {}
    for r in report.roles:
        if r.draft is None or r.status is None:
            roles[r.role] = {
                "digest": None,
                "complete": False,
                "thresholds": [],
                "next_step": r.next_step,
            }
            continue
        roles[r.role] = {
            "digest": r.draft.digest,
            "version": r.draft.version,
            "complete": r.status.complete and not r.draft_outdated,
            "outdated": r.draft_outdated,
            "thresholds": [
                {
                    "of": t.of,
                    "label": t.label,
                    "threshold": t.threshold,
                    "signed": t.signed,
                    "missing": t.missing,
                    "holders": dict(t.holders),
                    "notes": dict(t.notes),
                }
                for t in r.status.thresholds
            ],
            "stale": [rj.record.file for rj in r.status.rejected if rj.reason == "stale"],
            "invalid": [
                f"{rj.record.file}: {rj.detail}" for rj in r.status.rejected if rj.reason != "stale"
            ],
            "names_refused": [f"{rj.record.file}: {rj.detail}" for rj in r.status.disputed],
            "next_step": r.next_step,
            "exported": (
                {"at": r.exported.at, "out": r.exported.out, "files": dict(r.exported.files)}
                if r.exported is not None
                else None
            ),
            "signed_since_export": list(r.signed_since),
            "external": [
                rec.key_name
                for rec in r.status.valid
                if isinstance(rec.extra.get("external"), dict)
            ],
        }
    imp = report.loaded.imported
    return {
        "imported": (
            {"role": imp.role, "format": imp.format, "path": imp.spec.path}
            if imp is not None
            else None
        ),
        "warnings": report.warnings,
        "transcript_problems": report.transcript_problems,
        "transcript_head": report.transcript_head.to_dict(),
        "transcript_notes": report.transcript_notes,
        "repository": report.repository,
        "rehearsal": report.rehearsal,
        "roles": roles,
        "copy_of": report.copy.origin if report.copy is not None else None,
    }
