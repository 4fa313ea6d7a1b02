"""The text of `ceremony --help`, as typer renders it: the `ceremony` command answers
`--help` from here without importing typer or the command modules (0.02 s instead of 0.07 s
of CPU; docs/adr/0008-startup.md). Written by scripts/help_text.py; tests/unit/test_startup.py
checks it is typer's own output, byte for byte. Only typer's layout at its widest (a terminal
of 80 columns or more: click wraps at 78) and the two program names are answered here;
anything else goes to typer.
"""

from __future__ import annotations

import os
import sys

HELP_OPTIONS = ("--help", "-h")
PROGRAMS = ("ceremony", "python -m ceremony")
MIN_COLUMNS = 80
USAGE_TAIL = " [OPTIONS] COMMAND [ARGS]..."
BODY = (
    "\n"
    "  Offline key ceremonies for TUF repositories: plan, enrol, draft, sign over\n"
    "  many sessions, export and verify root (and targets) metadata signed on\n"
    "  PKCS#11 tokens.\n"
    "\n"
    "  Exit codes: 0 done, 1 a check failed or a holder declined, 2 bad input\n"
    "  (nothing written), 3 a token problem (nothing written), 130 interrupted.\n"
    "\n"
    "Options:\n"
    "  --version             Show the version, and those of python-tuf,\n"
    "                        securesystemslib and python-pkcs11.\n"
    "  --install-completion  Install completion for the current shell.\n"
    "  --show-completion     Show completion for the current shell, to copy it or\n"
    "                        customize the installation.\n"
    "  -h, --help            Show this message and exit.\n"
    "\n"
    "Commands:\n"
    "  preflight      Check this machine before a ceremony.\n"
    "  init           Create a ceremony directory and its plan.\n"
    "  validate       Check the plan, with no token attached.\n"
    "  enroll         Record a key's public part under its name.\n"
    "  keygen         Make a key ON a token and enrol it.\n"
    "  draft          Freeze the unsigned metadata of a role.\n"
    "  show           What a holder checks before signing.\n"
    "  copy           Copy DIR for a holder who signs elsewhere.\n"
    "  sign           Check, type Yes, enter the PIN, sign.\n"
    "  status         Who signed, who is missing, what next.\n"
    "  merge          Bring signatures back from other copies.\n"
    "  import         Start a ceremony around another tool's file.\n"
    "  payload        Write the bytes a key signs, for cold keys.\n"
    "  add-signature  Add a signature made outside the tool.\n"
    "  export         Write the signed metadata and the record.\n"
    "  verify         Check a chain of roots as a client would.\n"
    "  rehearse       A complete practice ceremony.\n"
    "  tokens         List tokens, their URIs and their keys.\n"
    "  attestation    YubiKey PIV attestation of enrolled keys.\n"
)


def _columns() -> int:
    """Terminal width as click measures it (`shutil.get_terminal_size`, without importing
    shutil): $COLUMNS, else the terminal of standard output, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def _program() -> str:
    """The program name click shows in "Usage:" (its `_detect_program_name`)."""
    main = sys.modules.get("__main__")
    package = getattr(main, "__package__", None)
    if package in (None, ""):
        return os.path.basename(sys.argv[0])
    name = os.path.splitext(os.path.basename(sys.argv[0]))[0]
    module = package if name == "__main__" else f"{package}.{name}"
    return f"python -m {module.lstrip('.')}"


def text(argv: list[str]) -> str | None:
    """The help screen for `argv` (the arguments after the program name) when it is exactly
    one help option and typer would render it as stored; None: let typer answer."""
    if len(argv) != 1 or argv[0] not in HELP_OPTIONS or _columns() < MIN_COLUMNS:
        return None
    program = _program()
    if program not in PROGRAMS:
        return None
    return f"Usage: {program}{USAGE_TAIL}\n{BODY}"
