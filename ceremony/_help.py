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

HELP_OPTIONS = ("--help",)
PROGRAMS = ("ceremony", "python -m ceremony")
MIN_COLUMNS = 80
USAGE_TAIL = " [OPTIONS] COMMAND [ARGS]..."
BODY = (
    "\n"
    "  Offline key ceremonies for TUF repositories: plan, enrol, draft, sign over\n"
    "  many sessions, export and verify root (and targets) metadata signed on\n"
    "  PKCS#11 tokens.\n"
    "\n"
    "Options:\n"
    "  --version  Show the version.\n"
    "  --help     Show this message and exit.\n"
    "\n"
    "Commands:\n"
    "  init           Create a new ceremony directory with a commented plan...\n"
    "  validate       Check the whole plan with no token attached.\n"
    "  enroll         Record a key's PUBLIC part (read from a token, or from a...\n"
    "  keygen         Generate a key pair ON the token (non-extractable,...\n"
    "  draft          Build the unsigned draft of ROLE from the plan, enrolled...\n"
    "  show           What a key holder checks before signing: summary, diff,...\n"
    "  sign           Check the draft, confirm with a typed Yes, enter the...\n"
    "  status         Per role: digest, each threshold with who signed and who...\n"
    "  merge          Bring signature files from other copies into DIR,...\n"
    "  import         Make a ceremony directory around metadata another tool...\n"
    "  payload        Write the exact bytes every key signs for ROLE...\n"
    "  add-signature  Add a signature made outside the tool: verified with the...\n"
    "  export         Write the signed metadata, checked as a client would,...\n"
    "  verify         Verify a chain of roots like a TUF client: each version...\n"
    "  rehearse       Run a complete 3-holder, threshold-2 rehearsal: a first...\n"
    "  tokens         List every slot and token of a PKCS#11 module, and the...\n"
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
