"""`ceremony verify`: walk a chain of roots as a client would."""

from __future__ import annotations

from pathlib import Path

import typer

from ceremony.cli import guarded, ui
from ceremony.clock import now_utc as now
from ceremony.errors import VerificationFailed


def register(app: typer.Typer) -> None:
    app.command(name="verify")(verify)


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
        from ceremony.chain import verify_chain

        report = verify_chain(root_files, trusted, now())
        out = ui.console()
        for step in report.steps:
            mark = "[green]ok  [/green]" if step.ok else "[red]FAIL[/red]"
            out.print(f"{mark} {step.file}: {step.detail}")
        for w in report.warnings:
            out.print(f"[yellow]warning[/yellow] {w}")
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
