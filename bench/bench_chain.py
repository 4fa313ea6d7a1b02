"""Benchmark: `ceremony verify` over a chain of N roots (default 1,000), in time linear in N.

Builds the chain in-process with python-tuf (a key rotated every 50 versions, each root
signed by a threshold of the previous and the new keys), then times `ceremony verify` as a
separate process for N/4, N/2 and N roots, and prints the time per root, which stays flat
when the verification is linear.

Usage: python bench/bench_chain.py [--roots 1000]. Not a test: figures go in bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.rotation.test_long_chain import Chain  # noqa: E402  (the test suite's builder)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--roots", type=int, default=1000)
    args = ap.parse_args()
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory(prefix="bench-chain-") as tmp:
        chain = Chain(args.roots)
        files = chain.write(Path(tmp))
        print("| roots | `ceremony verify` (s) | per root (ms) |\n|---:|---:|---:|")
        for n in (args.roots // 4, args.roots // 2, args.roots):
            cmd = [sys.executable, "-m", "ceremony", "verify", *map(str, files[:n])]
            subprocess.run(cmd, capture_output=True, env=env, check=True)  # warm-up
            start = time.monotonic()
            subprocess.run(cmd, capture_output=True, env=env, check=True)
            wall = time.monotonic() - start
            print(f"| {n:,} | {wall:.2f} | {1000 * wall / n:.2f} |")


if __name__ == "__main__":
    main()
