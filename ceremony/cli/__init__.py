"""The `ceremony` command line. Parses, calls ONE use case (`ceremony.services`), renders.
No ceremony logic here. Commands are grouped by phase: `preflight_cmd` (the machine),
`setup_cmds` (init, validate, enroll, keygen, attestation verify), `draft_cmds` (draft,
show), `signing_cmds` (sign, status, merge), `foreign_cmds` (import, payload,
add-signature), `publish_cmds` (export, verify), `token_cmds` (tokens), `rehearse_cmd`;
`screens` renders what a holder sees, `ui` is the console and the prompts.

Every command runs inside `guarded()`, the ONE place where a CeremonyError becomes a
message and an exit code, an interrupt becomes exit 130, and anything unexpected becomes
a short message (a traceback only with CEREMONY_DEBUG=1).
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ceremony import __version__
from ceremony.cli import ui
from ceremony.errors import EXIT_INTERRUPTED, CeremonyError, LockedError, StoreError

if TYPE_CHECKING:  # the store and transcript load when a command runs
    from ceremony.store import CeremonyDir
    from ceremony.transcript import Entry

DIR_ARG = typer.Argument(..., help="The ceremony directory.", show_default=False)
ROLE_ARG = typer.Argument(
    "root", help="The role: root (default), targets, or a delegated role of the plan (bins)."
)

app = typer.Typer(
    name="ceremony",
    help=(
        "Offline key ceremonies for TUF repositories: plan, enrol, draft, sign over many "
        "sessions, export and verify root (and targets) metadata signed on PKCS#11 tokens."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@contextlib.contextmanager
def guarded() -> Iterator[None]:
    try:
        yield
    except typer.Exit:
        raise
    except CeremonyError as exc:
        ui.print_error(exc)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        ui.err_console().print(
            "\nInterrupted. Nothing more was written; earlier signatures are safe."
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception as exc:
        if ui.debug_enabled():
            raise
        ui.err_console().print(
            f"[red bold]Internal error:[/red bold] {type(exc).__name__}: {ui.value(exc)}. This is a bug in "
            "tuf-ceremony, not something you did. Nothing more was written. Run again with "
            "CEREMONY_DEBUG=1 to see the details, and report it."
        )
        raise typer.Exit(1) from None


@contextlib.contextmanager
def recorded(
    directory: Path, command: str, args: dict[str, Any], *, write: bool = True
) -> Iterator[tuple[CeremonyDir, Entry]]:
    """Open the ceremony directory (locked when the command writes) and, on success, append
    the command to the transcript. A writing command that fails once it holds the lock
    (a wrong PIN, a declined Yes, a refused key, Ctrl-C) writes nothing else but appends its
    refusal: outcome, exit code and the error's title and message (never a PIN)."""
    from ceremony import transcript
    from ceremony.store import CeremonyDir

    cdir = CeremonyDir(directory)
    entry = transcript.Entry(command, args)
    if write:
        transcript.ensure_writable(cdir.root)  # a write-protected stick: say so, before any work
        with cdir.lock():
            try:
                yield cdir, entry
            except BaseException as exc:
                _log_failure(cdir.root, entry, exc)
                raise
            try:
                transcript.append(cdir.root, entry, "ok", 0)
            except OSError as exc:
                raise StoreError(f"could not append to the transcript: {exc.strerror}.") from None
        return
    # Read-only commands work on a read-only copy and while another session writes; they
    # log themselves only when they can take the lock at once (never interleaving a line).
    yield cdir, entry
    with contextlib.suppress(OSError, LockedError), cdir.lock():
        transcript.append(cdir.root, entry, "ok", 0)


def _log_failure(root: Path, entry: Entry, exc: BaseException) -> None:
    """Append the refusal of a writing command (best effort: the error itself is reported)."""
    from ceremony import transcript

    if isinstance(exc, typer.Exit | SystemExit | GeneratorExit):
        return
    if isinstance(exc, KeyboardInterrupt):
        outcome, code, why = "interrupted", EXIT_INTERRUPTED, "interrupted (Ctrl-C)"
    elif isinstance(exc, CeremonyError):
        outcome = "interrupted" if exc.exit_code == EXIT_INTERRUPTED else "refused"
        code, why = exc.exit_code, f"{exc.title}: {exc.message}"
    else:
        outcome, code, why = "error", 1, f"internal error {type(exc).__name__}"
    entry.notes.append(why)
    # A refused argument may carry what must never be written (pkcs11:...;pin-value=...).
    entry.args = {k: _scrub(v) for k, v in entry.args.items()}
    with contextlib.suppress(OSError):
        transcript.append(root, entry, outcome, code)


_PIN_IN_URI = re.compile(r"(?i)(pin-value|pin-source)=[^;?&]*")


def _scrub(value: Any) -> Any:
    """`value` with any URI PIN attribute's value removed (lists scrubbed item by item)."""
    if isinstance(value, str):
        return _PIN_IN_URI.sub(r"\1=(removed)", value)
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"tuf-ceremony {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=version_callback, is_eager=True, help="Show the version."
    ),
) -> None:
    """Offline TUF key ceremonies on PKCS#11 tokens."""


def _register() -> None:
    # Imported here: the command modules import `guarded`, `recorded` and the arguments
    # from this module. The order is the order of `ceremony --help`.
    from ceremony.cli import (
        draft_cmds,
        foreign_cmds,
        preflight_cmd,
        publish_cmds,
        rehearse_cmd,
        setup_cmds,
        signing_cmds,
        token_cmds,
    )

    preflight_cmd.register(app)
    setup_cmds.register(app)
    draft_cmds.register(app)
    signing_cmds.register(app)
    foreign_cmds.register(app)
    publish_cmds.register(app)
    rehearse_cmd.register(app)
    token_cmds.register(app)


_register()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interrupt outside a command
        sys.exit(EXIT_INTERRUPTED)
