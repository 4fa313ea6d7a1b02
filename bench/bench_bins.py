"""Benchmark: the PEP 458 `bins` role with 16,384 hash bins, on SoftHSM2.

Each step is run as its own process, twice: once as the `ceremony` command a key holder
types, once as a small script doing the same work directly with python-tuf (the baseline,
`python bench/bench_bins.py --baseline STEP DIR`). Wall time and peak RSS (ru_maxrss of the
child) are measured for each; the median of --runs runs is reported.

Steps (what the baseline does for the same step):
- draft:  build targets-type metadata with 16,384 DelegatedRoles, canonical bytes + SHA-256,
          write the file;
- show:   load the file, canonical bytes + SHA-256, count the roles and their prefixes;
- sign:   load, sign the canonical bytes with the key on SoftHSM (one key), write;
- status: load bins and targets, `verify_delegate` (python-tuf's threshold check);
- export: load both, `verify_delegate`, serialise, write.

Usage: python bench/bench_bins.py [--runs 5] [--count 16384] (wall and RSS only; bench/run.py
measures CPU too, pair by pair, and reuses this module's set-up and baselines).
Needs SoftHSM2 (softhsm2-util, libsofthsm2.so). Not a test: figures go in bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PIN = "bench-user-pin-5531"
SO_PIN = "bench-so-pin-8820"
STEPS = ("draft", "show", "sign", "status", "export")


# --- the baseline: the same work with python-tuf directly --------------------------------


def baseline(step: str, d: Path, count: int) -> None:
    from tuf.api.metadata import DelegatedRole, Delegations, Metadata, Targets
    from tuf.api.serialization.json import JSONSerializer

    base = d / "baseline"
    base.mkdir(exist_ok=True)
    bins_file = base / "bins.json"
    if step == "draft":
        import json

        online = json.loads((d / "c" / "keys" / "online.json").read_text())
        from securesystemslib.signer import SSlibKey

        key = SSlibKey.from_dict(online["keyid"], dict(online["key"]))
        digits = len(f"{count - 1:x}")
        per_bin = 16**digits // count
        roles = {}
        for i in range(count):
            name = f"bin-{i:0{digits}x}"
            prefixes = [f"{p:0{digits}x}" for p in range(i * per_bin, (i + 1) * per_bin)]
            roles[name] = DelegatedRole(name, [key.keyid], 1, False, path_hash_prefixes=prefixes)
        expires = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=365)
        md = Metadata(Targets(1, expires=expires, delegations=Delegations({key.keyid: key}, roles)))
        hashlib.sha256(md.signed_bytes).hexdigest()
        bins_file.write_bytes(md.to_bytes(JSONSerializer(compact=True)))
    elif step == "show":
        md = Metadata[Targets].from_bytes(bins_file.read_bytes())
        digest = hashlib.sha256(md.signed_bytes).hexdigest()
        dele = md.signed.delegations
        assert dele is not None and dele.roles is not None
        n = sum(len(r.path_hash_prefixes or []) for r in dele.roles.values())
        print(f"{len(dele.roles)} roles, {n} prefixes, digest {digest}")
    elif step == "sign":
        from ceremony.tokens.pkcs11 import open_signer

        md = Metadata[Targets].from_bytes(bins_file.read_bytes())
        import json

        rec = json.loads((d / "c" / "keys" / "bins-alice.json").read_text())
        from securesystemslib.signer import SSlibKey

        pub = SSlibKey.from_dict(rec["keyid"], dict(rec["key"]))
        with open_signer(
            rec["provenance"]["uri"],
            module=os.environ["BENCH_MODULE"],
            public_key=pub,
            pin_provider=lambda _req: PIN,
            notify=lambda _m: None,
            purpose="baseline sign",
        ) as signer:
            md.sign(signer)
        bins_file.write_bytes(md.to_bytes(JSONSerializer(compact=True)))
        (base / "bins.signed.json").write_bytes(bins_file.read_bytes())
    elif step in ("status", "export"):
        bins = Metadata[Targets].from_bytes((base / "bins.signed.json").read_bytes())
        targets = _baseline_targets(d)
        targets.verify_delegate("bins", bins)
        if step == "export":
            out = base / "export"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            (out / f"{bins.signed.version}.bins.json").write_bytes(
                bins.to_bytes(JSONSerializer(compact=True))
            )
    else:
        raise SystemExit(f"unknown step {step}")


def _baseline_targets(d: Path) -> object:
    """The ceremony's exported-to-be targets (drafted and signed in the setup)."""
    import json

    from tuf.api.metadata import Metadata, Signature

    md = Metadata.from_bytes((d / "c" / "drafts" / "targets.json").read_bytes())
    for p in (d / "c" / "signatures" / "targets").glob("*.json"):
        rec = json.loads(p.read_text())
        md.signatures[rec["keyid"]] = Signature(rec["keyid"], rec["sig"])
    return md


# --- running and measuring ---------------------------------------------------------------


def measure(cmd: list[str], env: dict[str, str], stdin: str = "") -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB, output) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=REPO,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(stdin.encode())
    proc.stdin.close()
    out = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out}")
    return wall, usage.ru_maxrss / 1024, out


# How `ceremony` is started (bench/run.py sets the venv's console script, as holders run it).
CEREMONY_CMD = [sys.executable, "-m", "ceremony"]


def ceremony(*args: str) -> list[str]:
    return [*CEREMONY_CMD, *args]


def find_module() -> str:
    """The SoftHSM2 PKCS#11 module on this machine."""
    from ceremony.tokens.softhsm import softhsm_module

    module = softhsm_module()
    if module is None:
        raise SystemExit("bench_bins.py needs SoftHSM2 (libsofthsm2.so)")
    return module


def step_commands(d: Path, module: str) -> dict[str, tuple[list[str], str]]:
    """The timed `ceremony` command of each step, with what it reads on standard input."""
    return {
        "draft": (ceremony("draft", str(d), "bins"), ""),
        "show": (ceremony("show", str(d), "bins"), ""),
        "sign": (
            ceremony("sign", str(d), "bins", "--key", "bins-alice", "--module", module),
            f"Yes\n{PIN}\n",
        ),
        "status": (ceremony("status", str(d)), ""),
        "export": (ceremony("export", str(d)), ""),
    }


def baseline_command(step: str, work: Path, count: int) -> list[str]:
    """The baseline process of `step` (python-tuf doing the same work; see `baseline`)."""
    return [
        sys.executable,
        str(Path(__file__)),
        "--count",
        str(count),
        "--baseline",
        step,
        str(work),
    ]


def setup(work: Path, count: int, env: dict[str, str], module: str) -> Path:
    from ceremony.tokens.softhsm import CONF_ENV, set_up

    hsm = set_up(work / "softhsm", module=module)
    env[CONF_ENV] = str(hsm.conf)
    hsm.init_token("bench", pin=PIN, so_pin=SO_PIN, env=env)
    d = work / "c"
    measure(ceremony("init", str(d)), env)
    (d / "ceremony.yaml").write_text(
        f"""repository: "bench.example.org/simple"
root: {{expires: 365d, consistent_snapshot: true}}
roles:
  root: {{threshold: 1, keys: [root-alice]}}
  targets: {{threshold: 1, keys: [targets-alice]}}
  snapshot: {{threshold: 1, keys: [online]}}
  timestamp: {{threshold: 1, keys: [online]}}
keys:
  root-alice: {{holder: "Alice Example"}}
  targets-alice: {{holder: "Alice Example"}}
  bins-alice: {{holder: "Alice Example"}}
  online: {{holder: "Online signing service"}}
rehearsal: true  # the keys are on SoftHSM, a rehearsal token
targets:
  expires: 365d
  delegations:
    - name: bins
      paths: ["*"]
      threshold: 1
      keys: [bins-alice]
      expires: 365d
      hash_bins: {{count: {count}, prefix: bin, threshold: 1, keys: [online]}}
"""
    )
    for name in ("root-alice", "targets-alice", "bins-alice"):
        measure(
            ceremony(
                "keygen",
                str(d),
                name,
                "--uri",
                f"pkcs11:token=bench;object={name}",
                "--type",
                "ed25519",
                "--module",
                module,
            ),
            env,
            PIN + "\n",
        )
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    pem = work / "online.pem"
    pem.write_bytes(
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    measure(ceremony("enroll", str(d), "online", "--public-key", str(pem)), env)
    for role, key in (("root", "root-alice"), ("targets", "targets-alice")):
        measure(ceremony("draft", str(d), role), env)
        measure(
            ceremony("sign", str(d), role, "--key", key, "--module", module), env, f"Yes\n{PIN}\n"
        )
    return d


def reset_bins(d: Path) -> None:
    """Undo the timed bins steps so the next run starts from the same state."""
    for p in (d / "drafts" / "bins.json", d / "drafts" / "bins.meta.json"):
        p.unlink(missing_ok=True)
    shutil.rmtree(d / "drafts" / "archive", ignore_errors=True)
    shutil.rmtree(d / "signatures" / "bins", ignore_errors=True)
    shutil.rmtree(d / "published", ignore_errors=True)
    (d / "exports.json").unlink(missing_ok=True)  # a fresh export each run (issue 11's record)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--count", type=int, default=16384)
    ap.add_argument("--baseline", nargs=2, metavar=("STEP", "DIR"))
    args = ap.parse_args()
    if args.baseline:
        baseline(args.baseline[0], Path(args.baseline[1]), args.count)
        return
    from ceremony.tokens.softhsm import missing

    if missing() is not None:
        raise SystemExit(f"bench_bins.py needs SoftHSM2: {missing()}")
    module = find_module()
    env = dict(os.environ, COLUMNS="120", BENCH_MODULE=module)
    env.pop("CEREMONY_DEBUG", None)
    # As installed (pip compiles .pyc files at install time): both sides run from bytecode.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory(prefix="bench-bins-") as tmp:
        work = Path(tmp)
        d = setup(work, args.count, env, module)
        ours: dict[str, list[tuple[float, float]]] = {s: [] for s in STEPS}
        theirs: dict[str, list[tuple[float, float]]] = {s: [] for s in STEPS}
        sizes: dict[str, int] = {}
        for run in range(args.runs + 1):  # run 0 warms the bytecode caches; not counted
            reset_bins(d)
            cmds = step_commands(d, module)
            for step in STEPS:
                cmd, stdin = cmds[step]
                wall, rss, _ = measure(cmd, env, stdin)
                if run:
                    ours[step].append((wall, rss))
                wall, rss, _ = measure(baseline_command(step, work, args.count), env)
                if run:
                    theirs[step].append((wall, rss))
            for p in (d / "published").glob("*.bins.json"):
                sizes[p.name] = p.stat().st_size
        report(ours, theirs, sizes, args)


def report(
    ours: dict[str, list[tuple[float, float]]],
    theirs: dict[str, list[tuple[float, float]]],
    sizes: dict[str, int],
    args: argparse.Namespace,
) -> None:
    print(
        f"bins with {args.count:,} hash bins, SoftHSM2, median of {args.runs} runs, "
        f"Python {sys.version.split()[0]}"
    )
    print()
    print(
        "| step | ceremony (s) | python-tuf (s) | ratio | ceremony peak RSS (MiB) | python-tuf peak RSS (MiB) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for step in STEPS:
        ow = statistics.median(w for w, _ in ours[step])
        orss = max(r for _, r in ours[step])
        tw = statistics.median(w for w, _ in theirs[step])
        trss = max(r for _, r in theirs[step])
        print(f"| {step} | {ow:.2f} | {tw:.2f} | {ow / tw:.2f} | {orss:.0f} | {trss:.0f} |")
    for name, size in sizes.items():
        print(f"\nexported {name}: {size:,} bytes")


if __name__ == "__main__":
    main()
