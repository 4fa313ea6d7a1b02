"""`python -m ceremony` and the `ceremony` command (pyproject's `[project.scripts]`).

`ceremony --help` is answered from the stored text (`ceremony._help`, checked against typer's
own rendering by tests/unit/test_startup.py) without importing typer, rich or any command
module; everything else goes to the typer app (`ceremony.cli.main`), which imports only the
module of the command that runs (docs/adr/0008-startup.md).
"""

from __future__ import annotations

import sys


def main() -> None:
    """Run the `ceremony` command line with `sys.argv`."""
    from ceremony import _help

    screen = _help.text(sys.argv[1:])
    if screen is not None:
        sys.stdout.write(screen)
        sys.stdout.flush()
        return
    from ceremony.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
