"""Write ceremony/_help.py: the text of `ceremony --help` as typer renders it, so that the
`ceremony` command can answer `--help` without importing typer (docs/adr/0008-startup.md).

    python scripts/help_text.py          # after changing a command's name or short help

tests/unit/test_startup.py fails, naming this script, whenever the stored text and typer's
rendering differ.
"""

from __future__ import annotations

import io
import os
import sys
from contextlib import redirect_stdout
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = REPO / "ceremony" / "_help.py"
USAGE_TAIL = " [OPTIONS] COMMAND [ARGS]..."

TEMPLATE = '''"""The text of `ceremony --help`, as typer renders it: the `ceremony` command answers
`--help` from here without importing typer or the command modules (0.02 s instead of 0.07 s
of CPU; docs/adr/0008-startup.md). Written by scripts/help_text.py; tests/unit/test_startup.py
checks it is typer's own output, byte for byte. Only typer's layout at its widest (a terminal
of 80 columns or more: click wraps at 78) and the two program names are answered here;
anything else goes to typer.
"""

from __future__ import annotations

import os
import sys

HELP_OPTIONS = {help_options!r}
PROGRAMS = ("ceremony", "python -m ceremony")
MIN_COLUMNS = 80
USAGE_TAIL = {usage_tail!r}
BODY = (
{body}
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
    module = package if name == "__main__" else f"{{package}}.{{name}}"
    return f"python -m {{module.lstrip('.')}}"


def text(argv: list[str]) -> str | None:
    """The help screen for `argv` (the arguments after the program name) when it is exactly
    one help option and typer would render it as stored; None: let typer answer."""
    if len(argv) != 1 or argv[0] not in HELP_OPTIONS or _columns() < MIN_COLUMNS:
        return None
    program = _program()
    if program not in PROGRAMS:
        return None
    return f"Usage: {{program}}{{USAGE_TAIL}}\\n{{BODY}}"
'''


def render() -> str:
    """typer's `ceremony --help` (program name `ceremony`, 80 columns)."""
    os.environ["COLUMNS"] = "80"
    sys.argv = ["ceremony", "--help"]
    from ceremony.cli import app

    buf = io.StringIO()
    with redirect_stdout(buf):
        try:
            app(prog_name="ceremony")
        except SystemExit as exc:
            assert not exc.code, exc.code
    return buf.getvalue()


def help_options() -> tuple[str, ...]:
    import typer.main

    from ceremony.cli import app

    group = typer.main.get_command(app)
    ctx = group.context_class(group, info_name="ceremony", **group.context_settings)
    return tuple(sorted(ctx.help_option_names))


def main() -> None:
    out = render()
    first, body = out.split("\n", 1)
    assert first == "Usage: ceremony" + USAGE_TAIL, first
    TARGET.write_text(
        TEMPLATE.format(
            help_options=help_options(),
            usage_tail=USAGE_TAIL,
            body="\n".join(f"    {line!r}" for line in body.splitlines(keepends=True)),
        )
    )
    # The project's formatter, so that `ruff format --check` (CI) passes on the written file.
    import subprocess

    subprocess.run([sys.executable, "-m", "ruff", "format", "-q", str(TARGET)], check=True)
    print(f"wrote {TARGET.relative_to(REPO)} ({len(out)} characters of help)")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
