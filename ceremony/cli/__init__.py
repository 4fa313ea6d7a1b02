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
from ceremony.cli import help_style, ui
from ceremony.errors import EXIT_INTERRUPTED, CeremonyError, LockedError, StoreError

if TYPE_CHECKING:  # the store and transcript load when a command runs
    from ceremony.store import CeremonyDir
    from ceremony.transcript import Entry

help_style.install()

DIR_ARG = typer.Argument(
    ...,
    metavar="DIR",
    help="The ceremony directory (the folder that holds ceremony.yaml).",
    show_default=False,
)
ROLE_ARG = typer.Argument(
    "root",
    metavar="ROLE",
    help="The role: root (default), targets, or a delegated role of the plan (bins).",
)

_app = typer.Typer(
    name="ceremony",
    help=(
        "Offline key ceremonies for TUF repositories: plan, enrol, draft, sign over many "
        "sessions, export and verify root (and targets) metadata signed on PKCS#11 tokens.\n\n"
        "Exit codes: 0 done, 1 a check failed or a holder declined, 2 bad input (nothing "
        "written), 3 a token problem (nothing written), 130 interrupted."
    ),
    invoke_without_command=True,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish)
    context_settings={"help_option_names": ["-h", "--help"]},
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


# The libraries whose versions decide what is signed and verified, by distribution name.
LIBRARIES = ("tuf", "securesystemslib", "python-pkcs11")


def versions() -> str:
    """`tuf-ceremony X (python-tuf A, securesystemslib B, python-pkcs11 C; Python D)`, read
    from the installed distributions' metadata (nothing is imported: --version stays fast)."""
    import platform
    from importlib import metadata

    def version_of(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    libs = ", ".join(f"{'python-tuf' if d == 'tuf' else d} {version_of(d)}" for d in LIBRARIES)
    return f"tuf-ceremony {__version__} ({libs}; Python {platform.python_version()})"


def version_callback(value: bool) -> None:
    if value:
        typer.echo(versions())
        raise typer.Exit()


@_app.callback()
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False,
        "--version",
        callback=version_callback,
        is_eager=True,
        help="Show the version, and those of python-tuf, securesystemslib and python-pkcs11.",
    ),
) -> None:
    """Offline TUF key ceremonies on PKCS#11 tokens."""
    if ctx.invoked_subcommand is None:  # `ceremony` alone: the help, and success
        typer.echo(ctx.get_help())
        raise typer.Exit(0)


# One line each in `ceremony --help` (Typer would cut the docstrings' first sentences).
SHORT_HELP = {
    "preflight": "Check this machine before a ceremony.",
    "init": "Create a ceremony directory and its plan.",
    "validate": "Check the plan, with no token attached.",
    "enroll": "Record a key's public part under its name.",
    "keygen": "Make a key ON a token and enrol it.",
    "draft": "Freeze the unsigned metadata of a role.",
    "show": "What a holder checks before signing.",
    "copy": "Copy DIR for a holder who signs elsewhere.",
    "sign": "Check, type Yes, enter the PIN, sign.",
    "status": "Who signed, who is missing, what next.",
    "merge": "Bring signatures back from other copies.",
    "import": "Start a ceremony around another tool's file.",
    "payload": "Write the bytes a key signs, for cold keys.",
    "add-signature": "Add a signature made outside the tool.",
    "export": "Write the signed metadata and the record.",
    "verify": "Check a chain of roots as a client would.",
    "rehearse": "A complete practice ceremony.",
    "tokens": "List tokens, their URIs and their keys.",
}


# command name -> the module that registers it, in the order of `ceremony --help`.
COMMAND_MODULES = {
    "preflight": "preflight_cmd",
    "init": "setup_cmds",
    "validate": "setup_cmds",
    "enroll": "setup_cmds",
    "keygen": "setup_cmds",
    "attestation": "setup_cmds",
    "draft": "draft_cmds",
    "show": "draft_cmds",
    "copy": "draft_cmds",
    "sign": "signing_cmds",
    "status": "signing_cmds",
    "merge": "signing_cmds",
    "import": "foreign_cmds",
    "payload": "foreign_cmds",
    "add-signature": "foreign_cmds",
    "export": "publish_cmds",
    "verify": "publish_cmds",
    "rehearse": "rehearse_cmd",
    "tokens": "token_cmds",
}
_registered: set[str] = set()


def _register(command: str | None = None) -> typer.Typer:
    """Register the command modules on the app: only the one that defines `command` when
    it is a command name (a run imports what it uses, not the other commands' modules),
    else all of them (the group's help, an unknown command, tests using `app`)."""
    import importlib

    wanted = [COMMAND_MODULES[command]] if command in COMMAND_MODULES else COMMAND_MODULES.values()
    for name in dict.fromkeys(wanted):
        if name not in _registered:
            _registered.add(name)
            # The command modules import `guarded`, `recorded` and the arguments from here.
            importlib.import_module(f"ceremony.cli.{name}").register(_app)
    for info in _app.registered_commands:
        if info.name in SHORT_HELP and info.short_help is None:
            info.short_help = SHORT_HELP[info.name]
    return _app


def __getattr__(name: str) -> typer.Typer:
    """`ceremony.cli.app`: the typer app with every command registered (tests, tools)."""
    if name == "app":
        return _register()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    _register(sys.argv[1] if len(sys.argv) > 1 else None)
    try:
        _app()
    except KeyboardInterrupt:  # pragma: no cover - interrupt outside a command
        sys.exit(EXIT_INTERRUPTED)
