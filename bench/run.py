"""The benchmark of issue 12: ours against a baseline, pair by pair, whole processes.

    python bench/run.py --runs 5                  # everything (about 3 minutes on 2 cores)
    python bench/run.py --runs 5 --only verify    # or: bins, help (comma-separated)

Figures (each one a pair of processes, ours and the baseline, run back to back):

- ``verify``: ``ceremony verify`` over the 1,000-root chain that
  ``tests/rotation/test_long_chain.Chain`` builds (Ed25519, 3 keys, threshold 2, a key
  rotated every 50 versions) against ``bench/baseline_verify.py``: a plain python-tuf loop
  doing what a client does (parse each root, ``verify_delegate`` by the previous root and
  by itself).
- ``bins/STEP`` for draft, show, sign, status, export: the ``ceremony`` command on the PEP 458
  ``bins`` role with 16,384 hash bins on SoftHSM2 against python-tuf doing the same work
  (``bench/bench_bins.py``: set-up and baselines).
- ``help``: ``ceremony --help`` against ``tuf-on-ci-sign --help``, installed from PyPI into
  its own venv (``build/tuf-on-ci-venv``, never into this project's dependencies).

Each child is started with ``subprocess.Popen`` and reaped with ``os.wait4``, which gives
its own CPU time (user + system, ``ru_utime + ru_stime``, children it waited for
included) and peak RSS (``ru_maxrss``); wall time is ``time.perf_counter`` around it.
Run 0 warms the bytecode and page caches and is not counted; in the counted runs the
order within a pair alternates (ours first, then the baseline first) so that drift on a
shared machine falls on both. Per figure the table gives the median of ours, the median of
the baseline and the median of the per-pair ratios (min-max in the JSON).

``ceremony`` is whatever is installed in this interpreter's venv (its console script next
to ``sys.executable``, else ``python -m ceremony``), so the same harness measures the code
before and after a refactor. Results: a table on stdout and JSON in ``--json`` (default
``build/bench/latest.json``). Not a test: figures go in bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

import bench_bins  # noqa: E402

TUF_ON_CI_VENV = REPO / "build" / "tuf-on-ci-venv"
TUF_ON_CI_SPEC = "tuf-on-ci-sign==0.21.0"
KINDS = ("verify", "bins", "help")
BIN_STEPS = bench_bins.STEPS

# Targets of issue 12 (ratios are CPU ours / CPU baseline).
TARGETS: dict[str, dict[str, float]] = {
    "verify": {"cpu_ratio": 0.6},
    "help": {"cpu_ratio": 0.10},
    **{f"bins/{s}": {"cpu_ratio": 1.1, "wall_s": 1.0, "rss_mib": 200.0} for s in BIN_STEPS},
}


@dataclass(frozen=True)
class Sample:
    """One child process: CPU (user + system) and wall in seconds, peak RSS in MiB."""

    cpu: float
    wall: float
    rss: float


@dataclass
class Figure:
    name: str
    ours_cmd: str
    baseline_cmd: str
    ours: list[Sample] = field(default_factory=list)
    baseline: list[Sample] = field(default_factory=list)

    def ratios(self, what: str) -> list[float]:
        return [
            getattr(o, what) / getattr(b, what)
            for o, b in zip(self.ours, self.baseline, strict=True)
        ]

    def median(self, side: str, what: str) -> float:
        return statistics.median(getattr(s, what) for s in getattr(self, side))

    def summary(self) -> dict[str, object]:
        out: dict[str, object] = {
            "name": self.name,
            "ours_cmd": self.ours_cmd,
            "baseline_cmd": self.baseline_cmd,
        }
        for what in ("cpu", "wall", "rss"):
            r = self.ratios(what)
            out[what] = {
                "ours_median": self.median("ours", what),
                "baseline_median": self.median("baseline", what),
                "ratio_median": statistics.median(r),
                "ratio_min": min(r),
                "ratio_max": max(r),
            }
        out["targets"] = TARGETS.get(self.name, {})
        out["met"] = self.met()
        out["samples"] = {
            "ours": [asdict(s) for s in self.ours],
            "baseline": [asdict(s) for s in self.baseline],
        }
        return out

    def met(self) -> dict[str, bool]:
        t = TARGETS.get(self.name, {})
        out = {}
        if "cpu_ratio" in t:
            out["cpu_ratio"] = statistics.median(self.ratios("cpu")) <= t["cpu_ratio"]
        if "wall_s" in t:
            out["wall_s"] = self.median("ours", "wall") <= t["wall_s"]
        if "rss_mib" in t:
            out["rss_mib"] = max(s.rss for s in self.ours) <= t["rss_mib"]
        return out


def run_child(cmd: list[str], env: dict[str, str], stdin: str = "", cwd: Path = REPO) -> Sample:
    """Run one process to completion; its own rusage from wait4. Raises on a non-zero exit."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=cwd,
    )
    assert proc.stdin is not None and proc.stdout is not None
    if stdin:
        proc.stdin.write(stdin.encode())
    proc.stdin.close()
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    if proc.returncode != 0:
        text = out.decode(errors="replace")
        raise SystemExit(f"{' '.join(cmd[:6])} ... failed ({proc.returncode}):\n{text[-3000:]}")
    return Sample(usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024)


def ceremony_cmd() -> list[str]:
    script = Path(sys.executable).parent / "ceremony"
    return [str(script)] if script.exists() else [sys.executable, "-m", "ceremony"]


def tuf_on_ci_sign(install: bool) -> Path:
    """tuf-on-ci-sign in its own venv under build/ (installed from PyPI on first use)."""
    exe = TUF_ON_CI_VENV / "bin" / "tuf-on-ci-sign"
    if exe.exists():
        return exe
    if not install:
        raise SystemExit(f"{exe} is missing; run without --no-install to create it")
    print(f"installing {TUF_ON_CI_SPEC} into {TUF_ON_CI_VENV} (the help baseline) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(TUF_ON_CI_VENV)], check=True)
    subprocess.run(
        [str(TUF_ON_CI_VENV / "bin" / "pip"), "install", "-q", TUF_ON_CI_SPEC], check=True
    )
    return exe


def pairs(
    figures: list[Figure],
    runs: int,
    cases: list[tuple[Figure, Callable[[], Sample], Callable[[], Sample]]],
    before_run: Callable[[], None] | None = None,
) -> None:
    """Run each (figure, ours, baseline) case runs + 1 times, alternating the order."""
    for run in range(runs + 1):
        if before_run is not None:
            before_run()
        for fig, ours, base in cases:
            if run % 2:
                o = ours()
                b = base()
            else:
                b = base()
                o = ours()
            if run:
                fig.ours.append(o)
                fig.baseline.append(b)
                print(
                    f"  run {run}/{runs} {fig.name}: ours {o.cpu:.3f} s CPU, "
                    f"baseline {b.cpu:.3f} s CPU",
                    flush=True,
                )
    figures.extend(fig for fig, _, _ in cases)


def bench_verify(
    runs: int, roots: int, env: dict[str, str], cer: list[str], figures: list[Figure]
) -> None:
    from tests.rotation.test_long_chain import Chain

    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        files = [str(p) for p in Chain(roots).write(Path(tmp))]
        ours = [*cer, "verify", *files]
        base = [sys.executable, str(HERE / "baseline_verify.py"), *files]
        fig = Figure(
            "verify",
            f"ceremony verify <{roots} roots>",
            f"python bench/baseline_verify.py <{roots} roots>",
        )
        pairs(figures, runs, [(fig, lambda: run_child(ours, env), lambda: run_child(base, env))])


def bench_help(
    runs: int, env: dict[str, str], cer: list[str], install: bool, figures: list[Figure]
) -> None:
    toc = tuf_on_ci_sign(install)
    ours = [*cer, "--help"]
    base = [str(toc), "--help"]
    fig = Figure("help", "ceremony --help", "tuf-on-ci-sign --help")
    pairs(figures, runs, [(fig, lambda: run_child(ours, env), lambda: run_child(base, env))])


def bench_bins_steps(
    runs: int, count: int, env: dict[str, str], cer: list[str], figures: list[Figure]
) -> None:
    bench_bins.CEREMONY_CMD = cer
    module = bench_bins.find_module()
    env = dict(env, BENCH_MODULE=module)
    with tempfile.TemporaryDirectory(prefix="bench-bins-") as tmp:
        work = Path(tmp)
        print(f"setting up {count:,} bins on SoftHSM2 ...", flush=True)
        d = bench_bins.setup(work, count, env, module)  # sets SOFTHSM2_CONF in env
        cmds = bench_bins.step_commands(d, module)
        cases = []
        for step in BIN_STEPS:
            cmd, stdin = cmds[step]
            base = bench_bins.baseline_command(step, work, count)
            fig = Figure(
                f"bins/{step}",
                " ".join(["ceremony", *cmd[len(cer) :]]).replace(tmp, "$D"),
                f"python bench/bench_bins.py --baseline {step}",
            )
            cases.append(
                (
                    fig,
                    (lambda c=cmd, i=stdin: run_child(c, env, i)),
                    (lambda c=base: run_child(c, env)),
                )
            )
        pairs(figures, runs, cases, before_run=lambda: bench_bins.reset_bins(d))


def machine() -> dict[str, object]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for dist in ("tuf-ceremony", "tuf", "securesystemslib", "cryptography", "typer", "rich"):
        try:
            from importlib.metadata import version

            versions[dist] = version(dist)
        except Exception:  # noqa: BLE001 - a missing distribution is just not reported
            versions[dist] = None
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": versions,
        "loadavg_start": os.getloadavg(),
    }


def table(figures: list[Figure]) -> str:
    head = (
        "| figure | ours CPU (s) | baseline CPU (s) | CPU ratio | target | ours wall (s) | "
        "baseline wall (s) | ours RSS (MiB) | baseline RSS (MiB) | met |"
    )
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for f in figures:
        r = f.ratios("cpu")
        t = TARGETS.get(f.name, {})
        target = f"≤ {t['cpu_ratio']:g}" if "cpu_ratio" in t else ""
        met = f.met()
        verdict = (
            "yes"
            if all(met.values())
            else "no (" + ", ".join(k for k, v in met.items() if not v) + ")"
        )
        lines.append(
            f"| {f.name} | {f.median('ours', 'cpu'):.3f} | {f.median('baseline', 'cpu'):.3f} | "
            f"{statistics.median(r):.2f} ({min(r):.2f}–{max(r):.2f}) | {target} | "
            f"{f.median('ours', 'wall'):.2f} | {f.median('baseline', 'wall'):.2f} | "
            f"{max(s.rss for s in f.ours):.0f} | {max(s.rss for s in f.baseline):.0f} | {verdict} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--runs", type=int, default=5, help="counted pairs per figure (after 1 warm-up)"
    )
    ap.add_argument(
        "--only", default=",".join(KINDS), help="comma-separated: verify, bins, help (default: all)"
    )
    ap.add_argument("--roots", type=int, default=1000, help="roots in the verify chain")
    ap.add_argument("--count", type=int, default=16384, help="hash bins for the bins steps")
    ap.add_argument("--json", type=Path, default=REPO / "build" / "bench" / "latest.json")
    ap.add_argument(
        "--no-install",
        action="store_true",
        help="do not install tuf-on-ci-sign into build/ if it is missing",
    )
    args = ap.parse_args()
    kinds = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = set(kinds) - set(KINDS)
    if unknown or args.runs < 1:
        ap.error(f"--only takes {', '.join(KINDS)}; --runs at least 1")

    env = dict(os.environ, COLUMNS="120")
    env.pop("CEREMONY_DEBUG", None)
    # As installed (pip compiles .pyc files at install time): both sides run from bytecode.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    cer = ceremony_cmd()
    info = machine()
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    print(
        f"ceremony: {' '.join(cer)}; {info['cpu']}, {info['cores']} cores, "
        f"load {info['loadavg_start']}",
        flush=True,
    )
    figures: list[Figure] = []
    t0 = time.monotonic()
    if "verify" in kinds:
        bench_verify(args.runs, args.roots, env, cer, figures)
    if "bins" in kinds:
        if shutil.which("softhsm2-util") is None:
            raise SystemExit("the bins figures need SoftHSM2 (softhsm2-util)")
        bench_bins_steps(args.runs, args.count, env, cer, figures)
    if "help" in kinds:
        bench_help(args.runs, env, cer, not args.no_install, figures)
    info["loadavg_end"] = os.getloadavg()
    info["seconds"] = round(time.monotonic() - t0, 1)

    print()
    print(
        f"{started:%Y-%m-%d %H:%M} UTC, {info['cpu']}, {info['cores']} cores, Python "
        f"{info['python']}; {args.runs} counted pairs per figure (medians; ratio = median of "
        f"per-pair ratios, min–max); load average {info['loadavg_start'][0]:.1f} → "
        f"{info['loadavg_end'][0]:.1f}"
    )
    print(f"verify: {args.roots:,} roots; bins: {args.count:,} hash bins")
    print()
    print(table(figures))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "date": started.isoformat(),
        "machine": info,
        "runs": args.runs,
        "roots": args.roots,
        "count": args.count,
        "figures": [f.summary() for f in figures],
    }
    args.json.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nJSON: {args.json}")


if __name__ == "__main__":
    main()
