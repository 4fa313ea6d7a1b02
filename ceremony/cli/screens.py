"""What a holder sees: the draft screen (show, draft, sign), the enrolment lines, status.

Renders the values the use cases return; computes nothing about the ceremony.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ceremony import digest as digests
from ceremony.cli import ui

if TYPE_CHECKING:  # the use cases (python-tuf, securesystemslib) load when a command runs
    from ceremony.review import RoleLine
    from ceremony.services.drafts import DraftView
    from ceremony.services.enroll import EnrollResult
    from ceremony.services.status import StatusReport


def render_view(v: DraftView) -> None:
    """The draft screen a holder checks before signing."""
    out = ui.console()
    if v.rehearsal:
        ui.rehearsal_banner()
    out.rule(f"{ui.value(v.role)} version {v.version} for {ui.value(v.repository)}")
    out.print(
        f"Version {v.version}, expires {v.expires:%Y-%m-%d %H:%M} UTC"
        + (
            f", consistent_snapshot {str(v.consistent_snapshot).lower()}"
            if v.consistent_snapshot is not None
            else ""
        )
    )
    rows: list[list[Any]] = []
    for rl in v.roles:
        rows += _role_rows(rl)
    out.print(
        ui.table(
            "Roles and keys",
            ["role", "threshold", "key", "holder", "type", "keyid", "device"],
            rows,
        )
    )
    for name, line in sorted(v.attestations.items()):
        out.print(f"  attested {ui.value(name)}: {ui.value(line)}")
    if v.imported:
        out.print("[bold]Imported:[/bold]")
        for line in v.imported:
            out.print(f"  {ui.value(line)}")
    if v.details or v.problems:
        out.print("[bold]Delegations:[/bold]")
        for line in v.details:
            out.print(f"  - {line}", markup=False)
        for line in v.problems:
            out.print(f"  [red]PROBLEM[/red] {ui.value(line)}")
    if v.full is not None:
        out.print(f"[bold]Every delegated role ({len(v.full):,}):[/bold]")
        out.file.write(
            "".join(f"  {ui.shown(line)}\n" for line in v.full)
        )  # fast: no rich rendering
        out.file.flush()
    if v.role == "root":
        out.print("[bold]Changes from the previous root:[/bold]")
    for c in v.changes:
        out.print(f"  - {ui.value(c.text)}")
    for s in v.swaps:
        out.print(f"  [cyan]! {ui.value(s)}[/cyan]")
    for w in v.warnings:
        out.print(f"  [yellow]warning[/yellow] {ui.value(w.line())}")
    for line in ui.digest_block(v.digest):
        out.print(line)
    out.print("[bold]Signatures so far:[/bold]")
    ui.render_status_block(v.status)
    out.print(
        "Check before signing: the version, expiry, keys and holders above are what was agreed, and "
        "the digest matches the one read out by the administrator and printed on the ceremony record."
    )


def _role_rows(rl: RoleLine) -> list[list[Any]]:
    rows = []
    for i, k in enumerate(rl.keys):
        device = k.device + (" (REHEARSAL)" if k.rehearsal and "REHEARSAL" not in k.device else "")
        status = "" if k.status == "active" else f" [{k.status}]"
        rows.append(
            [
                rl.role if i == 0 else "",
                f"{rl.threshold} of {len(rl.keys)}" if i == 0 else "",
                k.name + status,
                k.holder,
                k.key_type,
                k.keyid[:8],
                device,
            ]
        )
    return rows


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
        out.print(f"  URI: {ui.value(rec.uri)}")
    if res.attested is not None:
        out.print(f"  Attested: {ui.value(res.attested)}.")
        for advisory in res.advisories:
            out.print(f"  [yellow]WARNING:[/yellow] {ui.value(advisory)}.")
    if rec.allow_imported:
        out.print(
            "  [yellow]Accepted with --allow-imported-key: the token does not prove on-device generation.[/yellow]"
        )
    out.print("Next: enrol the other keys, then `ceremony validate DIR` and `ceremony draft DIR`.")


def render_status(report: StatusReport) -> None:
    """The status screen: every role's digest, thresholds and next step, then warnings."""
    out = ui.console()
    if report.rehearsal:
        ui.rehearsal_banner()
    out.print(
        f"Ceremony for [bold]{ui.value(report.repository)}[/bold] in "
        f"{ui.value(report.loaded.cdir.root)}"
    )
    for r in report.roles:
        if r.draft is None or r.status is None:
            out.print(
                f"[bold]{ui.value(r.role)}[/bold]: not drafted yet. Next: {ui.value(r.next_step)}."
            )
            continue
        state = (
            "[green]COMPLETE[/green]"
            if r.status.complete
            else "[yellow]collecting signatures[/yellow]"
        )
        out.print(f"[bold]{ui.value(r.role)}[/bold] version {r.draft.version}: {state}")
        out.print(f"  digest {digests.grouped_hex(r.draft.digest)}")
        out.print(f"  words  {' '.join(digests.pgp_words(r.draft.digest)[:8])} …")
        if r.draft_outdated:
            out.print("  [red]the plan or keys changed since this draft was made[/red]")
        ui.render_status_block(r.status)
        out.print(f"  Next: {ui.value(r.next_step)}.")
    for w in report.warnings:
        out.print(f"[yellow]warning[/yellow] {ui.value(w)}")
    head = report.transcript_head
    out.print(
        f"Transcript: {head.seq} entries; head SHA-256 {digests.grouped_hex(head.sha256)} "
        "(for the paper record)."
    )
    for problem in report.transcript_problems:
        out.print(f"[red]transcript:[/red] {ui.value(problem)}")
    for note in report.transcript_notes:
        out.print(f"transcript note: {ui.value(note)}")


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
            "next_step": r.next_step,
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
    }
