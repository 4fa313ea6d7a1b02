"""`ceremony preflight`: is this machine fit for a ceremony? One screen (80 columns), a digest
of the report for the paper record, exit 0 (fit) or 1 (not)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ceremony.cli import guarded, recorded, ui
from ceremony.clock import now_utc as now
from ceremony.errors import EXIT_CHECK_FAILED

if TYPE_CHECKING:
    from ceremony.services.preflight import PreflightReport
    from ceremony.store import CeremonyDir
    from ceremony.tokens.types import TokenListing

WIDTH = 80
LABEL = 11  # the longest topic, "Wheelhouse", and a space


def register(app: typer.Typer) -> None:
    app.command(name="preflight")(preflight)


def report_lines(report: PreflightReport) -> list[str]:
    """The report as plain lines of at most 80 characters (what the digest covers)."""
    head = f"tuf-ceremony preflight {report.now:%Y-%m-%d %H:%M:%S} UTC, host {report.host}"
    lines = [head[:WIDTH]]
    if report.rehearsal:
        lines.append("REHEARSAL (--rehearsal): a network and a development install are allowed")
    for s in report.sections:
        mark = "ok  " if s.ok and not s.warn else ("WARN" if s.ok else "FAIL")
        first = f"{mark} {s.topic:<{LABEL}}"
        body = [s.summary, *[f"- {d}" for d in s.details[:4]]]
        if len(s.details) > 4:
            body.append(f"- ... and {len(s.details) - 4} more")
        for i, text in enumerate(body):
            indent = first if i == 0 else " " * len(first)
            wrapped = textwrap.wrap(
                text,
                WIDTH - len(first),
                subsequent_indent="  " if i else "",
                break_on_hyphens=False,  # a path (x86_64-linux-gnu) stays whole where it fits
            ) or [""]
            lines.append(indent + wrapped[0])
            lines += [" " * len(first) + w for w in wrapped[1:]]
    fit = "a rehearsal" if report.rehearsal else "a ceremony"
    verdict = f"PASS: fit for {fit}" if report.ok else f"FAIL: {', '.join(report.failed)}"
    lines.append(f"Result: {verdict}")
    return lines


def preflight(
    directory: Path | None = typer.Argument(
        None, help="The ceremony directory (to check the clock against its previous root and plan)."
    ),
    rehearsal: bool = typer.Option(
        False,
        "--rehearsal",
        help="A practice run: a network and a development install are reported, not failed.",
    ),
    wheelhouse: Path | None = typer.Option(
        None,
        "--wheelhouse",
        help="The wheelhouse the tool was installed from: its SHA256SUMS and wheels are checked.",
    ),
) -> None:
    """Check this machine before a ceremony: network, clock, installed files, versions, tokens."""
    from ceremony.services import preflight as checks
    from ceremony.tokens import select
    from ceremony.tokens.modules import present_default_modules

    def list_tokens(module: str) -> list[TokenListing]:
        return select.list_tokens(module, pin_provider=None, login=False)[1]

    def check(cdir: CeremonyDir | None) -> tuple[PreflightReport, list[str], str]:
        from ceremony import digest as digests  # (securesystemslib: not for --help)

        report = checks.preflight(
            now(),
            rehearsal=rehearsal,
            directory=cdir,
            wheelhouse=wheelhouse,
            modules=present_default_modules(),
            list_tokens=list_tokens,
        )
        lines = report_lines(report)
        return report, lines, digests.sha256_hex("\n".join(lines).encode())

    with guarded():
        if directory is None:
            report, lines, sha = check(None)
        else:
            args = {"rehearsal": rehearsal, "wheelhouse": str(wheelhouse) if wheelhouse else None}
            with recorded(directory, "preflight", args, write=False) as (cdir, entry):
                report, lines, sha = check(cdir)
                entry.notes.append(f"preflight {'PASS' if report.ok else 'FAIL'} digest {sha}")
        from ceremony import digest as digests

        out = ui.console()
        for line in lines:
            out.print(line, markup=False, highlight=False, soft_wrap=True)
        out.print("SHA-256 of the report above (for the paper record):", markup=False)
        groups = digests.grouped_hex(sha).split()
        out.print("  " + " ".join(groups[:8]), markup=False)
        out.print("  " + " ".join(groups[8:]), markup=False)
        words = digests.pgp_words(sha)
        for i in range(0, len(words), 8):
            out.print("  " + " ".join(words[i : i + 8]), markup=False)
        if not report.ok:
            raise typer.Exit(EXIT_CHECK_FAILED)
