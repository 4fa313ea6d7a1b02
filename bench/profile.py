"""Profiles behind docs/performance.md: cProfile of each command and of its baseline.

    python bench/profile.py [--only verify,bins,help] [--roots 1000] [--count 16384]

Runs, each as its own process under ``python -m cProfile``: ``ceremony verify`` on the
1,000-root chain and ``bench/baseline_verify.py``; each bins step (draft, show, sign,
status, export on 16,384 hash bins, SoftHSM2) and its python-tuf baseline; ``ceremony
--help``. Writes ``build/prof/NAME.prof`` and ``build/prof/NAME.txt`` (top functions by
own time and by cumulative time, with call counts), and prints each process's CPU time
without the profiler (one extra plain run) next to its profiled time. cProfile inflates
pure-Python code more than C code: use the shares and the call counts, and the plain CPU
times from bench/run.py for the absolute figures. Not a test.
"""

from __future__ import annotations

import argparse
import io
import os
import pstats
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

import bench_bins  # noqa: E402
from run import ceremony_cmd, run_child  # noqa: E402

OUT = REPO / "build" / "prof"


def profiled(
    name: str,
    cmd: list[str],
    env: dict[str, str],
    stdin: str = "",
    undo: Callable[[], None] | None = None,
) -> None:
    """Run cmd plainly (CPU), `undo` what it wrote, then run it under cProfile; write
    NAME.prof and NAME.txt."""
    plain = run_child(cmd, env, stdin)
    if undo is not None:
        undo()
    if Path(cmd[0]).name == "ceremony":  # the console script: profile the same entry point
        argv = ["-m", "ceremony", *cmd[1:]]
    elif cmd[0] == sys.executable:
        argv = cmd[1:]
    else:
        raise SystemExit(f"cannot profile {cmd[0]}")
    prof = OUT / f"{name}.prof"
    pcmd = [sys.executable, "-m", "cProfile", "-o", str(prof), *argv]
    under = run_child(pcmd, env, stdin)
    buf = io.StringIO()
    st = pstats.Stats(str(prof), stream=buf)
    st.strip_dirs()
    print(f"{name}: {plain.cpu:.3f} s CPU plain, {under.cpu:.3f} s under cProfile", file=buf)
    st.sort_stats("tottime").print_stats(30)
    st.sort_stats("cumulative").print_stats(60)
    (OUT / f"{name}.txt").write_text(buf.getvalue())
    print(f"{name}: {plain.cpu:.3f} s CPU plain, {under.cpu:.3f} s profiled -> {prof}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="verify,bins,help")
    ap.add_argument("--roots", type=int, default=1000)
    ap.add_argument("--count", type=int, default=16384)
    args = ap.parse_args()
    kinds = args.only.split(",")
    OUT.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, COLUMNS="120")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("CEREMONY_DEBUG", None)
    cer = ceremony_cmd()
    if "help" in kinds:
        profiled("help", [*cer, "--help"], env)
    if "verify" in kinds:
        from tests.rotation.test_long_chain import Chain

        with tempfile.TemporaryDirectory(prefix="prof-verify-") as tmp:
            files = [str(p) for p in Chain(args.roots).write(Path(tmp))]
            run_child([*cer, "verify", *files], env)  # warm the bytecode cache
            profiled("verify", [*cer, "verify", *files], env)
            profiled("verify-baseline", [sys.executable, str(HERE / "baseline_verify.py"), *files],
                     env)  # fmt: skip
    if "bins" in kinds:
        bench_bins.CEREMONY_CMD = cer
        module = bench_bins.find_module()
        env["BENCH_MODULE"] = module
        with tempfile.TemporaryDirectory(prefix="prof-bins-") as tmp:
            work = Path(tmp)
            d = bench_bins.setup(work, args.count, env, module)
            cmds = bench_bins.step_commands(d, module)
            for warm in (True, False):
                bench_bins.reset_bins(d)
                for step in bench_bins.STEPS:
                    cmd, stdin = cmds[step]
                    base = bench_bins.baseline_command(step, work, args.count)
                    if warm:
                        run_child(cmd, env, stdin)
                        run_child(base, env)
                        continue
                    # Profile from the same state as the timed run: reset what this step made.
                    profiled(f"bins-{step}", cmd, env, stdin, lambda s=step: _restore(d, s))
                    profiled(f"bins-{step}-baseline", base, env)


def _restore(d: Path, step: str) -> None:
    """Undo what a step wrote, so that its profiled run starts from the same state."""
    if step == "draft":
        for p in (d / "drafts" / "bins.json", d / "drafts" / "bins.meta.json"):
            p.unlink(missing_ok=True)
    elif step == "sign":
        for p in (d / "signatures" / "bins").glob("*.json"):
            p.unlink()
    elif step == "export":
        import shutil

        shutil.rmtree(d / "published", ignore_errors=True)


if __name__ == "__main__":
    main()
