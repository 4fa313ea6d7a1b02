"""Publishing: export (the signed metadata, checked as a client would) and verify (a chain
of roots, as a client would walk it)."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from ceremony.cli import DIR_ARG, guarded, recorded, ui
from ceremony.clock import now_utc as now
from ceremony.errors import InputError, VerificationFailed


def register(app: typer.Typer) -> None:
    app.command(name="export")(export)
    app.command(name="verify")(verify)


def export(
    directory: Path = DIR_ARG,
    out_dir: Path | None = typer.Option(
        None,
        "--out",
        help="Where to write (default: DIR/published): a folder; for the rstuf-* formats, the "
        "payload file. Never overwrites.",
    ),
    fmt: str = typer.Option(
        "auto",
        "--format",
        help="metadata, tuf-on-ci, rstuf-bootstrap, rstuf-update or rstuf-sign (auto: an "
        "imported file's own kind, else metadata).",
    ),
    key: str | None = typer.Option(
        None, "--key", help="rstuf-sign: whose signature (a plan name or a full keyid)."
    ),
    allow_partial: bool = typer.Option(
        False,
        "--allow-partial",
        help="rstuf-bootstrap/rstuf-update: write a payload below threshold (RSTUF then waits "
        "for sign payloads).",
    ),
    out_of_band: bool = typer.Option(
        False,
        "--out-of-band",
        help="Rotation whose previous threshold cannot be met: check the new root by its own "
        "threshold only; clients must receive it directly.",
    ),
    accept_transcript_problems: str | None = typer.Option(
        None,
        "--accept-transcript-problems",
        metavar="REASON",
        help="Export although the transcript is damaged, cut short or rewritten (as `status` "
        "shows), for this recorded reason; the problems and the reason go into the record.",
    ),
    test_only_unverified: bool = typer.Option(
        False,
        "--test-only-unverified",
        hidden=True,
        help="Client test suites only (CEREMONY_TEST_MODE=1).",
    ),
) -> None:
    """Write the signed metadata, checked as a client would, with SHA256SUMS and a record."""
    from ceremony.services import export as publishing

    args: dict[str, object] = {
        "out": str(out_dir) if out_dir else None,
        "out_of_band": out_of_band,
    }
    if accept_transcript_problems is not None:
        args["accept_transcript_problems"] = accept_transcript_problems
    if fmt != "auto" or key or allow_partial:
        args.update(format=fmt, key=key, allow_partial=allow_partial)
    if test_only_unverified:
        args["test_only_unverified"] = True
    with guarded(), recorded(directory, "export", args) as (cdir, entry):
        if test_only_unverified and os.environ.get("CEREMONY_TEST_MODE") != "1":
            raise InputError(
                "--test-only-unverified writes metadata that clients must reject; it exists only "
                "for client test suites (CEREMONY_TEST_MODE=1)."
            )
        res = publishing.export(
            cdir,
            out_dir,
            now(),
            entry,
            out_of_band=out_of_band,
            unverified_for_tests=test_only_unverified,
            accept_transcript_problems=accept_transcript_problems,
            fmt=fmt,
            key=key,
            allow_partial=allow_partial,
        )
        out = ui.console()
        if res.rehearsal:
            ui.rehearsal_banner()
        if res.notes:
            out.print(
                f"Exported to {res.out_dir} (every signature verified; not every threshold is met "
                "yet, see below):"
            )
        else:
            out.print(
                f"Exported to {res.out_dir} (each file verified as a TUF client would, before writing):"
            )
        for name, sha in res.files.items():
            size = (res.out_dir / name).stat().st_size
            out.print(f"  {sha}  {ui.value(name)}  ({size:,} bytes)")
        if out_of_band:
            out.print(
                f"[red bold]OUT OF BAND:[/red bold] {ui.value(publishing.out_of_band_text(res.roles))}"
            )
        if accept_transcript_problems is not None:
            out.print(
                "[red bold]TRANSCRIPT PROBLEMS ACCEPTED[/red bold] (listed in "
                f"ceremony-record.md): {ui.value(accept_transcript_problems)}"
            )
        for note in res.notes:
            out.print(note, style="yellow", markup=False)
        if res.rehearsal:
            ui.rehearsal_banner()
        out.print(f"Next: {publishing.next_text(res.format)}")


def verify(
    root_files: list[Path] = typer.Argument(
        ..., help="Root files, e.g. published/*.root.json (any order)."
    ),
    trusted: Path | None = typer.Option(
        None, "--trusted", help="The root you already trust (default: the lowest version given)."
    ),
) -> None:
    """Verify a chain of roots like a TUF client: each version N+1 signed by a threshold of
    version N's root keys and of its own."""
    with guarded():
        from ceremony.clientcheck import verify_chain

        report = verify_chain(root_files, trusted, now())
        out = ui.console()
        for step in report.steps:
            mark = "[green]ok  [/green]" if step.ok else "[red]FAIL[/red]"
            out.print(f"{mark} {ui.value(step.file)}: {ui.value(step.detail)}")
        for w in report.warnings:
            out.print(f"[yellow]warning[/yellow] {ui.value(w)}")
        failure = report.failure
        if failure is not None:
            raise VerificationFailed(
                f"the chain breaks at version {failure.version} ({failure.file}): {failure.detail}. "
                "A client that trusts the earlier roots will refuse it."
            )
        last = report.steps[-1]
        out.print(
            f"The chain is valid up to root version {last.version} ({len(report.steps)} roots checked)."
        )
