"""Start-up cost: what importing each layer costs, and a help screen per CLI framework.

    python bench/startup.py [--other-python PY ...]

Each line is the CPU (user + sys, ``os.wait4``) of a fresh interpreter that imports a set of
modules (each set includes the ones above it), median of 9, in this venv. Then a minimal
12-command app (one argument and one flag per command) in typer, click and argparse, run as
``--help`` and as one command: with this venv's interpreter, and with each ``--other-python``
(e.g. a venv with typer 0.28, or tuf-on-ci-sign's venv, which has click); and, in the same
run, `tuf-on-ci-sign --help` (bench/run.py's venv) and `ceremony --help`. Figures for
docs/performance.md. Not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

LAYERS = [
    ("interpreter (python -c pass)", ""),
    ("+ typer", "import typer"),
    ("+ rich.console, rich.table", "import typer, rich.console, rich.table"),
    ("ceremony.cli (what --help loads)", "import ceremony.cli"),
    ("+ typer._adapters (pydantic)", "import ceremony.cli, typer._adapters"),
    ("+ tuf.api.metadata", "import ceremony.cli, typer._adapters, tuf.api.metadata"),
    ("+ ceremony.service", "import ceremony.cli, typer._adapters, tuf.api.metadata, ceremony.service"),
    ("+ tuf.ngclient TrustedMetadataSet",
     "import ceremony.cli, typer._adapters, tuf.api.metadata, ceremony.service, "
     "tuf.ngclient._internal.trusted_metadata_set"),
    ("python-tuf baseline: tuf.api.metadata alone", "import tuf.api.metadata"),
    ("click alone", "import click"),
    ("argparse alone", "import argparse"),
]  # fmt: skip

APPS = {
    "typer": """import typer
app = typer.Typer(add_completion=False, rich_markup_mode=None, help="x")
for i in range(12):
    def f(directory: str = typer.Argument(..., help="d"), flag: bool = typer.Option(False, help="f")) -> None:
        '''Do a thing.'''
    app.command(name=f"cmd{i}")(f)
app()
""",
    "click": """import click
@click.group(help="x")
def cli(): pass
for i in range(12):
    @cli.command(name=f"cmd{i}", help="Do a thing.")
    @click.argument("directory")
    @click.option("--flag", is_flag=True)
    def f(directory, flag): pass
cli()
""",
    "argparse": """import argparse
ap = argparse.ArgumentParser(prog="x", description="x")
sub = ap.add_subparsers()
for i in range(12):
    p = sub.add_parser(f"cmd{i}", help="Do a thing.")
    p.add_argument("directory"); p.add_argument("--flag", action="store_true")
ap.parse_args()
""",
}


def cpu(cmd: list[str], env: dict[str, str], n: int = 9) -> float | None:
    xs = []
    for _ in range(n):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            return None
        xs.append(usage.ru_utime + usage.ru_stime)
    return statistics.median(xs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--other-python", nargs="*", default=[])
    args = ap.parse_args()
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    print("| imported | CPU (s) |\n|---|---:|")
    for label, stmt in LAYERS:
        t = cpu([sys.executable, "-c", stmt or "pass"], env)
        print(f"| {label} | {'n/a' if t is None else f'{t:.3f}'} |")
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        print("\n| interpreter | app | --help CPU (s) | one command CPU (s) |\n|---|---|---:|---:|")
        for py in [sys.executable, *args.other_python]:
            for name, code in APPS.items():
                path = Path(tmp, f"{name}_app.py")
                path.write_text(code)
                h = cpu([py, str(path), "--help"], env)
                c = cpu([py, str(path), "cmd0", "x", "--flag"], env)
                if h is None:
                    continue  # framework not installed for this interpreter
                print(f"| {py} | {name} | {h:.3f} | {'n/a' if c is None else f'{c:.3f}'} |")
    toc = Path(__file__).resolve().parent.parent / "build/tuf-on-ci-venv/bin/tuf-on-ci-sign"
    cer = Path(sys.executable).parent / "ceremony"
    for exe in (toc, cer):
        if exe.exists():
            t = cpu([str(exe), "--help"], env)
            print(f"| {exe} | (reference) | {'n/a' if t is None else f'{t:.3f}'} | |")


if __name__ == "__main__":
    main()
