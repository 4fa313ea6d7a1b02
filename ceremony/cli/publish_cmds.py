"""Publishing: export (the signed metadata, checked as a client would) and verify (a chain
of roots, as a client would walk it)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from ceremony.rootchain import ChainReport

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
        metavar="DIR",
        help="Where to write (default: DIR/published): a folder; for the rstuf-* formats, the "
        "payload file. Never overwrites.",
    ),
    fmt: str = typer.Option(
        "auto",
        "--format",
        metavar="FORMAT",
        help="metadata, tuf-on-ci, rstuf-bootstrap, rstuf-update or rstuf-sign (auto: an "
        "imported file's own kind, else metadata).",
    ),
    key: str | None = typer.Option(
        None,
        "--key",
        metavar="NAME|KEYID",
        help="rstuf-sign: whose signature (a plan name or a full keyid).",
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
    reopen: bool = typer.Option(
        False,
        "--reopen",
        help="Export a DIFFERENT file for a version exported before (signatures added after "
        "the first export). Only if the earlier files were never published; recorded.",
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
    from ceremony.services.record import out_of_band_text

    args: dict[str, object] = {
        "out": str(out_dir) if out_dir else None,
        "out_of_band": out_of_band,
        "reopen": reopen,
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
            reopen=reopen,
            fmt=fmt,
            key=key,
            allow_partial=allow_partial,
        )
        if res.rehearsal:
            ui.rehearsal_banner()
        if res.already is not None:
            ui.say(res.already)
            ui.say(f"Next: {publishing.next_text(res.format)}")
            return
        if res.notes:
            ui.say(
                f"Exported to {res.out_dir} (every signature verified; not every threshold is met "
                "yet, see below):"
            )
        else:
            ui.say(
                f"Exported to {res.out_dir} (each file verified as a TUF client would, before "
                "writing):"
            )
        for name, sha in res.files.items():
            size = (res.out_dir / name).stat().st_size
            ui.say(f"{name}  ({size:,} bytes)", 2)
            ui.say(f"SHA-256 {sha}", 4)
        if res.format == "metadata" and any(r.role != "root" for r in res.roles if r.draft):
            ui.say(
                "The root says consistent_snapshot: true, so clients fetch VERSION.ROLE.json "
                "(e.g. 1.targets.json); ROLE.json is the same file."
                if res.consistent_snapshot
                else "The root says consistent_snapshot: false, so clients fetch ROLE.json (e.g. "
                "targets.json); VERSION.ROLE.json is the same file, versioned, for the archive."
            )
        for w in res.warnings:
            ui.say(f"warning {w}", 0, 2, style="yellow")
        for line in res.same:
            ui.say(f"identical: {line}", 0, 2, style="green")
        for line in res.differ:
            ui.say(
                f"RE-OPENED: {line}. Only one of the two may ever be published; destroy the other.",
                0,
                2,
                style="red bold",
            )
        if out_of_band:
            ui.say(f"OUT OF BAND: {out_of_band_text(res.roles)}", style="red bold")
        if accept_transcript_problems is not None:
            ui.say(
                "TRANSCRIPT PROBLEMS ACCEPTED (listed in ceremony-record.md): "
                f"{accept_transcript_problems}",
                style="red bold",
            )
        for note in res.notes:
            ui.say(note, 0, 2, style="yellow")
        ui.say(f"Next: {publishing.next_text(res.format)}")


def verify(
    root_files: list[Path] = typer.Argument(
        ..., metavar="FILE", help="Root files, e.g. published/*.root.json (any order)."
    ),
    trusted: Path | None = typer.Option(
        None,
        "--trusted",
        metavar="FILE",
        help="The root you already trust (default: the lowest version given).",
    ),
    verbose: bool = typer.Option(False, "--verbose", help="Also print one line per root."),
) -> None:
    """Verify a chain of roots like a TUF client: each version N+1 signed by a threshold of
    version N's root keys and of its own."""
    with guarded():
        from ceremony.rootchain import verify_chain

        report = verify_chain(root_files, trusted, now())
        # Plain lines (no rich): a chain of 1,000 roots is 1,000 lines with --verbose. Values
        # are escaped as on every screen (ui.plain_value: controls, bidi, separators).
        lines = [
            f"{'ok  ' if step.ok else 'FAIL'} {ui.plain_value(step.file)}: "
            f"{ui.plain_value(step.detail)}"
            for step in report.steps
            if verbose or not step.ok
        ]
        lines += [f"warning {ui.plain_value(w)}" for w in report.warnings]
        if lines:
            print("\n".join(_fit(lines)), flush=True)
        failure = report.failure
        if failure is not None:
            raise VerificationFailed(
                f"the chain breaks at version {failure.version} ({failure.file}): {failure.detail}. "
                "A client that trusts the earlier roots will refuse it."
            )
        if report.expired is not None:
            raise VerificationFailed(report.expired)
        print("\n".join(_fit([_summary(report)])))


def _fit(lines: list[str]) -> list[str]:
    """On a terminal, each line wrapped at spaces to its width (5 spaces under the first:
    after `ok  ` or `FAIL`), never in a word; elsewhere (logs, scripts) as they are."""
    if not sys.stdout.isatty():
        return lines
    import shutil
    import textwrap

    width = max(shutil.get_terminal_size().columns, 40)
    out: list[str] = []
    for line in lines:
        out += textwrap.wrap(line, width, subsequent_indent=" " * 5, break_on_hyphens=False) or [
            line
        ]
    return out


def _summary(report: ChainReport) -> str:
    """The one line `ceremony verify` prints when every root verifies and none expired."""
    first, last = report.steps[0].version, report.steps[-1].version
    n = len(report.steps)
    if report.unchecked_predecessor is None:
        return f"The chain is valid up to root version {last} ({n} root{'s' if n != 1 else ''} checked)."
    before = report.unchecked_predecessor
    if n == 1:
        return (
            f"Not a chain: root version {first} is signed by its own threshold "
            f"({report.own_threshold}), but its predecessor (version {before}) was not given, so "
            "whether clients that trust an earlier root accept it was NOT checked. Give the "
            "earlier roots too (or --trusted FILE)."
        )
    return (
        f"The chain from root version {first} is valid up to root version {last} ({n} roots "
        f"checked); version {first} was checked by its own threshold only: its predecessor "
        f"(version {before}) was not given."
    )
