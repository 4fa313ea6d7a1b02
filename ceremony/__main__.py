"""`python -m ceremony` and the `ceremony` command (pyproject's `[project.scripts]`).

`ceremony --help` is answered from the stored text (`ceremony._help`, checked against typer's
own rendering by tests/unit/test_startup.py) without importing typer, rich or any command
module; everything else goes to the typer app (`ceremony.cli.main`), which imports only the
module of the command that runs (docs/adr/0008-startup.md).
"""

from __future__ import annotations

import sys

# A command is one short process that builds what it checks (16,384 delegated roles: some
# 10^5-10^6 objects) and keeps it to the end, so full (oldest-generation) collections find
# nothing to free: they ran several times per bins command, and once more at interpreter
# exit, 0.05-0.12 s of CPU in all (docs/performance.md). Young generations are still
# collected while the command runs; at the end, everything left is frozen (`gc.freeze`), so
# the exit does not traverse it all again (every object is still released, atexit runs).
GC_THRESHOLDS = (10_000, 100, 1_000)


def main() -> None:
    """Run the `ceremony` command line with `sys.argv`."""
    import gc

    gc.set_threshold(*GC_THRESHOLDS)
    from ceremony import _help

    screen = _help.text(sys.argv[1:])
    if screen is not None:
        sys.stdout.write(screen)
        sys.stdout.flush()
        return
    from ceremony.cli import main as cli_main

    try:
        cli_main()
    finally:
        gc.freeze()


if __name__ == "__main__":
    main()
