"""Start-up: what each option of docs/adr/0008-startup.md costs, measured in one run.

    python bench/startup.py [--runs 9] [--before-python build/before-src/.venv/bin/python]

Each line is the CPU (user + sys, ``os.wait4``) of a fresh process, median of --runs,
the variants interleaved round by round so that drift on a shared machine falls on all of
them. The variants, for ``ceremony --help`` and for one command (``verify`` of one root):

- today's code as installed in this venv (typer 0.28, rich imported where a screen needs
  it, one command module registered per run, ``--help`` answered from the stored text);
- today's code through typer (``ceremony.cli.main``: what ``--help`` costs without the
  stored text), with every command module registered, with rich imported up front;
- with ``--before-python`` (a venv with typer 0.29 and pydantic, e.g. the one bench/run.py
  users keep for the code before issue 12): the same code on typer 0.29 (``PYTHONPATH``),
  and that venv's own ``ceremony`` (the code before issue 12, ``--before-src``);
- the references: ``tuf-on-ci-sign --help`` (bench/run.py's venv) and the python-tuf
  baseline of ``verify`` on the same root. Not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

VIA_TYPER = (
    "import sys; sys.argv = ['ceremony', *sys.argv[1:]]\n{pre}from ceremony.cli import main; main()"
)


def cpu_once(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd
    )
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)[:200]} failed")
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--before-python", type=Path)
    ap.add_argument("--before-src", type=Path, default=REPO / "build" / "before-src")
    args = ap.parse_args()
    env = dict(os.environ, COLUMNS="120")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    py = sys.executable
    cer = str(Path(py).parent / "ceremony")
    toc = REPO / "build" / "tuf-on-ci-venv" / "bin" / "tuf-on-ci-sign"
    from tests.rotation.test_long_chain import Chain

    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        root = str(Chain(1).write(Path(tmp))[0])
        typer_path = VIA_TYPER.format(pre="")
        all_modules = VIA_TYPER.format(pre="import ceremony.cli as c; c._register()\n")
        with_rich = VIA_TYPER.format(pre="import rich.console, rich.table, rich.markup\n")
        variants: list[tuple[str, list[str], dict[str, str], Path]] = [
            ("help: ceremony --help (stored text)", [cer, "--help"], env, REPO),
            ("help: through typer 0.28 (every module)", [py, "-c", typer_path, "--help"], env, REPO),
            ("verify 1 root: today (typer 0.28, one module)", [cer, "verify", root], env, REPO),
            ("verify 1 root: + every command module", [py, "-c", all_modules, "verify", root], env, REPO),
            ("verify 1 root: + rich imported", [py, "-c", with_rich, "verify", root], env, REPO),
            ("verify 1 root: python-tuf baseline", [py, str(HERE / "baseline_verify.py"), root], env, REPO),
        ]  # fmt: skip
        if args.before_python is not None:
            bp = str(args.before_python.absolute())
            env29 = dict(env, PYTHONPATH=str(REPO))
            before = str(args.before_python.absolute().parent / "ceremony")
            variants += [
                ("help: through typer 0.29 (every module)", [bp, "-c", typer_path, "--help"], env29, REPO),
                ("help: before issue 12 (typer 0.29)", [before, "--help"], env, args.before_src),
                ("verify 1 root: today's code on typer 0.29", [bp, "-m", "ceremony", "verify", root], env29, REPO),
                ("verify 1 root: before issue 12 (typer 0.29)", [before, "verify", root], env, args.before_src),
            ]  # fmt: skip
        if toc.exists():
            variants.append(
                ("help: tuf-on-ci-sign --help (reference)", [str(toc), "--help"], env, REPO)
            )
        samples: dict[str, list[float]] = {name: [] for name, *_ in variants}
        for _ in range(args.runs + 1):
            for name, cmd, e, cwd in variants:
                samples[name].append(cpu_once(cmd, e, cwd))
    print(f"| variant | CPU (s), median of {args.runs} |\n|---|---:|")
    for name in sorted(samples):
        print(f"| {name} | {statistics.median(samples[name][1:]):.3f} |")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
