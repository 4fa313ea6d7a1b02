"""Run every fuzz target of tests/fuzz for a while and print what crashed.

usage: python fuzz/run.py [--minutes 10] [--targets plan,merge] [--seed N] [--chunk 25]

The time is shared equally between the targets (tests/fuzz/targets.py). Each target runs
Hypothesis in chunks of --chunk examples, each chunk with a new seed, until its share of the
time is spent; a chunk that finds a crash shrinks it to a minimal input, which is recorded, and
the target goes on with the next chunk. The summary gives, per target: examples run,
crashing chunks, distinct crash kinds, and the first minimal crash.

Exit code: 0 no crash, 1 at least one crash.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.errors import HypothesisWarning  # noqa: E402

from tests.fuzz.harness import Crash  # noqa: E402
from tests.fuzz.known_crashes import known_crash  # noqa: E402
from tests.fuzz.targets import TARGETS, FuzzEnv, Target, build_env  # noqa: E402


@dataclass
class Result:
    name: str
    examples: int = 0
    chunks: int = 0
    crashes: int = 0
    kinds: dict[str, str] = field(default_factory=dict)  # crash kind -> minimal input
    harness_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def crash_kind(target: str, text: str) -> str:
    """A short, stable name for a crash: the command and what broke, without paths; known
    crashes (tests/fuzz/known_crashes.py) carry their id."""
    known = known_crash(target, text)
    if known is not None:
        return f"known:{known.id}"
    m = re.match(r"ceremony (attestation verify|\S+)", text)
    command = m.group(1) if m else "parser"
    for pattern in (
        r"Internal error:\s*(\w+)",
        r"raised (\w+)",
        r"(exit code \d+)",
        r"(wrote into|changed)",
        r"(empty message|does not parse back|does not)",
    ):
        m = re.search(pattern, text)
        if m:
            return f"NEW {command}: {m.group(1)}"
    return f"NEW {command}: {text.splitlines()[0][:60] if text else '?'}"


def shown(value: object, limit: int = 240) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def run_chunk(target: Target, env: FuzzEnv, result: Result, n: int, chunk_seed: int) -> None:
    failing: list[object] = []

    @seed(chunk_seed)
    @settings(
        max_examples=n,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate, Phase.shrink],
        report_multiple_bugs=False,
        print_blob=False,
    )
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        value = data.draw(target.strategy(env), label="input")
        result.examples += 1
        try:
            target.run(env, value)
        except Crash:
            failing.append(value)  # the last one is Hypothesis's final, shrunk, replay
            raise

    result.chunks += 1
    try:
        fuzz()
    except Crash as exc:
        result.crashes += 1
        kind = crash_kind(target.name, str(exc))
        first_line = str(exc).splitlines()[0][:160]
        internal = re.search(r"Internal error: [^\n]{0,160}", str(exc))
        detail = internal.group(0) if internal else first_line
        result.kinds.setdefault(kind, f"{shown(failing[-1] if failing else None)} -> {detail}")
    except Exception as exc:  # noqa: BLE001 - a failure of the fuzzing itself, reported apart
        result.harness_errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--chunk", type=int, default=25)
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        ap.error(f"unknown target(s) {unknown}; known: {', '.join(TARGETS)}")
    rng = random.Random(args.seed)  # noqa: S311 - seeds for Hypothesis, not for secrets
    started = time.monotonic()
    results = []
    warnings.simplefilter("ignore", HypothesisWarning)
    with tempfile.TemporaryDirectory(prefix="ceremony-fuzz-") as tmp:
        env = build_env(Path(tmp))
        setup_s = time.monotonic() - started
        budget = args.minutes * 60 / len(names)
        for name in names:
            result = Result(name)
            t0 = time.monotonic()
            while time.monotonic() - t0 < budget:
                run_chunk(TARGETS[name], env, result, args.chunk, rng.getrandbits(64))
            result.seconds = time.monotonic() - t0
            results.append(result)
            print(
                f"{name}: {result.examples} examples, {result.crashes} crashing chunks "
                f"({len(result.kinds)} kinds) in {result.seconds:.0f} s",
                flush=True,
            )
    total = time.monotonic() - started
    print()
    print(
        f"fuzz/run.py: {args.minutes:g} minutes requested, {total / 60:.1f} run "
        f"(set-up {setup_s:.0f} s), seed {args.seed}"
    )
    print("| target | examples | crashing chunks | crash kinds (new / known) | first crash |")
    print("|---|---:|---:|---|---|")
    for r in results:
        new = [k for k in r.kinds if k.startswith("NEW")]
        first = next(iter(r.kinds), None)
        print(
            f"| {r.name} | {r.examples} | {r.crashes} | {len(new)} / {len(r.kinds) - len(new)} "
            f"| {first or 'none'} |"
        )
    kinds = {(r.name, k): v for r in results for k, v in r.kinds.items()}
    if kinds:
        print("\nCrash kinds, each with its minimal input:")
        for (name, k), v in sorted(kinds.items()):
            print(f"- [{name}] {k}\n    {v}")
    errors = [(r.name, e) for r in results for e in r.harness_errors]
    if errors:
        print("\nErrors of the fuzzing itself (not of tuf-ceremony):")
        for name, e in errors:
            print(f"- [{name}] {e}")
    new_total = sum(1 for (_, k) in kinds if k.startswith("NEW"))
    print(f"\n{new_total} new crash kinds, {len(kinds) - new_total} known.")
    return 1 if kinds or errors else 0


if __name__ == "__main__":
    sys.exit(main())
