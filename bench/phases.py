"""Where a command's CPU goes, function by function, without a profiler's overhead.

    python bench/phases.py [--only verify,bins] [--roots 1000] [--count 16384]

Runs each command IN this process (``ceremony.cli.main`` with its argv), after wrapping a
list of named functions (``ceremony.services.state.load``, ``ceremony.rootchain.parse_root``,
``tuf.api.metadata.Metadata.from_bytes`` ...) with a timer: CPU seconds (process time)
inclusive of callees, and calls. Only the outermost call of a function is timed, so
recursion is not counted twice; the rows overlap (a row's time includes the wrapped
functions it calls). Names that do not exist (after a refactor) are listed as missing.
Import time is measured separately (``import ceremony.cli`` and every module the command
loads, first run only). The bins commands run on a 16,384-bin ceremony set up as in
bench/bench_bins.py (SoftHSM2). Not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import inspect
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

WRAP = [
    # CLI and terminal
    "ceremony.cli.screens.render_view",
    "ceremony.cli.publish_cmds.verify",
    "ceremony.cli._register",
    "rich.console.Console.print",
    "typer.main.get_command",
    "typer.core._main",
    # loading and checks
    "ceremony.services.state.load",
    "ceremony.plan.parse.parse_plan",
    "ceremony.checks.run_checks",
    "ceremony.store.records.load_keys",
    "ceremony.store.drafts.load_draft",
    "ceremony.services.state.current_draft",
    "ceremony.services.state.draft_is_current",
    "ceremony.services.state.draft_inputs",
    "ceremony.drafting.expected_draft",
    "ceremony.drafting.Draft.adopt",
    "ceremony.drafting.build",
    "ceremony.drafting.Draft.check_canonical",
    "ceremony.store.records.load_signatures",
    "ceremony.services.status.authorities",
    "ceremony.services.status.role_status",
    "ceremony.services.status.role_reports",
    "ceremony.thresholds.evaluate",
    "ceremony.thresholds.verify_record",
    # commands
    "ceremony.services.drafts.draft",
    "ceremony.services.drafts.show",
    "ceremony.services.drafts.view",
    "ceremony.services.signing.sign",
    "ceremony.services.status.status",
    "ceremony.services.export.export",
    "ceremony.services.export_files.exported_bytes",
    "ceremony.services.record.markdown_record",
    "ceremony.clientcheck.check_delegation_chain",
    "ceremony.clientcheck.client_check_root",
    "ceremony.files.write_once",
    "ceremony.store.CeremonyDir.write",
    # delegations
    "ceremony.drafting.delegated_signed",
    "ceremony.drafting.draft_delegated",
    "ceremony.drafting.new_draft",
    "ceremony.delegations.all_hex",
    "ceremony.delegations.check_partition",
    "ceremony.delegations.delegation_problems",
    "ceremony.review.summarize",
    # canonical JSON and digests
    "ceremony.digest.canonical_bytes",
    "ceremony.digest.canonical_from_json",
    "ceremony.digest.json_text",
    "ceremony.digest.parse_metadata_json",
    "ceremony.digest.is_canonical_text",
    "ceremony.files.json_problem",
    "ceremony.tufread.read_root",
    "securesystemslib.formats.encode_canonical",
    "json.loads",
    # python-tuf
    "tuf.api.metadata.Metadata.from_bytes",
    "tuf.api.metadata.Metadata.from_dict",
    "tuf.api.metadata.Metadata.to_bytes",
    "tuf.api.metadata.Metadata.sign",
    "tuf.api.metadata.DelegatedRole.__init__",
    "tuf.api.serialization.json.JSONSerializer.serialize",
    "tuf.api.serialization.json.JSONDeserializer.deserialize",
    "tuf.api.metadata.Targets.from_dict",
    "tuf.api.metadata.Targets.to_dict",
    "tuf.api.metadata.Root.get_root_verification_result",
    "tuf.api.metadata.Root.get_verification_result",
    "tuf.api.metadata.Targets.verify_delegate",
    "tuf.api.metadata.Root.verify_delegate",
    "securesystemslib.signer.SSlibKey.verify_signature",
    # verify (ceremony/rootchain.py)
    "ceremony.rootchain.verify_chain",
    "ceremony.rootchain.parse_root",
    "ceremony.rootchain.judge_link",
    "ceremony.rootchain._double_counted",
    "ceremony.rootchain._keyid_warnings",
    "ceremony.keys.content_keyid",
    "ceremony.keys.public_identity",
]
PROPERTIES = ["tuf.api.metadata.Metadata.signed_bytes", "ceremony.drafting.Draft.metadata"]


class Timer:
    def __init__(self) -> None:
        self.cpu: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.active: dict[str, int] = {}

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            if self.active.get(name):
                return fn(*args, **kwargs)
            self.active[name] = 1
            t0 = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - t0
                self.active[name] = 0

        return timed

    def reset(self) -> None:
        self.cpu.clear()
        self.calls.clear()


def _resolve(dotted: str) -> tuple[Any, str, Any] | None:
    parts = dotted.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:-1]:
                obj = getattr(obj, attr)
            return obj, parts[-1], inspect.getattr_static(obj, parts[-1])
        except (AttributeError, KeyError):
            return None
    return None


def install(timer: Timer) -> list[str]:
    """Wrap every name in WRAP and PROPERTIES; also rebind names imported elsewhere."""
    missing = []
    for dotted in WRAP:
        found = _resolve(dotted)
        if found is None:
            missing.append(dotted)
            continue
        owner, attr, fn = found
        if isinstance(fn, staticmethod | classmethod):
            kind = type(fn)
            setattr(owner, attr, kind(timer.wrap(dotted, fn.__func__)))
            continue
        wrapped = timer.wrap(dotted, fn)
        setattr(owner, attr, wrapped)
        if not isinstance(owner, type):  # module-level function: rebind `from x import f`
            for mod in list(sys.modules.values()):
                with contextlib.suppress(Exception):
                    for k, v in list(vars(mod).items()):
                        if v is fn:
                            setattr(mod, k, wrapped)
    for dotted in PROPERTIES:
        found = _resolve(dotted)
        if found is None or not isinstance(found[2], property):
            missing.append(dotted)
            continue
        owner, attr, prop = found
        setattr(owner, attr, property(timer.wrap(dotted, prop.fget)))
    return missing


def run_cli(argv: list[str], stdin: str = "") -> float:
    """Run `ceremony ARGV` in-process; returns its CPU seconds (output discarded)."""
    from ceremony.cli import main

    old = sys.argv, sys.stdin, sys.stdout
    sys.argv = ["ceremony", *argv]
    sys.stdin = io.StringIO(stdin)
    sys.stdout = io.StringIO()
    t0 = time.process_time()
    try:
        main()
    except SystemExit as exc:
        if exc.code not in (0, None):
            sys.stdout, out = old[2], sys.stdout
            text = out.getvalue()[-2000:]
            raise SystemExit(f"ceremony {argv[0]} exited {exc.code}:\n{text}") from None
    finally:
        cpu = time.process_time() - t0
        sys.argv, sys.stdin, sys.stdout = old
    return cpu


def report(title: str, total: float, timer: Timer) -> None:
    print(f"\n### {title}: {total:.3f} s CPU in-process (imports excluded)\n")
    print("| function | CPU (s) | share | calls |\n|---|---:|---:|---:|")
    for name, cpu in sorted(timer.cpu.items(), key=lambda kv: -kv[1]):
        if cpu < 0.002 and timer.calls[name] < 100:
            continue
        print(f"| `{name}` | {cpu:.3f} | {100 * cpu / total:.0f}% | {timer.calls[name]:,} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="verify,bins")
    ap.add_argument("--roots", type=int, default=1000)
    ap.add_argument("--count", type=int, default=16384)
    args = ap.parse_args()
    kinds = args.only.split(",")
    os.environ.setdefault("COLUMNS", "120")
    t0 = time.process_time()
    import ceremony.cli

    ceremony.cli._register()  # every command module, so that their names can be wrapped
    for name in ("ceremony.services.state", "ceremony.services.drafts", "ceremony.services.signing",
                 "ceremony.services.status", "ceremony.services.export", "ceremony.rootchain",
                 "ceremony.clientcheck", "ceremony.cli.screens"):  # fmt: skip
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    print(f"imports (ceremony.cli, services, rootchain): {time.process_time() - t0:.3f} s CPU")
    timer = Timer()
    missing = install(timer)
    if missing:
        print("missing (renamed?):", ", ".join(missing))
    if "verify" in kinds:
        from tests.rotation.test_long_chain import Chain

        with tempfile.TemporaryDirectory(prefix="phases-verify-") as tmp:
            files = [str(p) for p in Chain(args.roots).write(Path(tmp))]
            run_cli(["verify", *files[:3]])  # first-use costs out of the way
            timer.reset()
            total = run_cli(["verify", *files])
            report(f"ceremony verify, {args.roots:,} roots", total, timer)
    if "bins" in kinds:
        import bench_bins

        bench_bins.CEREMONY_CMD = [sys.executable, "-m", "ceremony"]
        module = bench_bins.find_module()
        env = dict(os.environ, COLUMNS="120")
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        with tempfile.TemporaryDirectory(prefix="phases-bins-") as tmp:
            d = bench_bins.setup(Path(tmp), args.count, env, module)
            os.environ["SOFTHSM2_CONF"] = env["SOFTHSM2_CONF"]
            cmds = bench_bins.step_commands(d, module)
            for step in bench_bins.STEPS:
                cmd, stdin = cmds[step]
                argv = cmd[len(bench_bins.CEREMONY_CMD) :]
                timer.reset()
                total = run_cli(argv, stdin)
                report(f"ceremony {step} (bins, {args.count:,} hash bins)", total, timer)
                # The baseline of the step, in-process too (bench_bins.baseline).
                os.environ["BENCH_MODULE"] = module
                timer.reset()
                t0 = time.process_time()
                with contextlib.redirect_stdout(io.StringIO()):
                    bench_bins.baseline(step, Path(tmp), args.count)
                total = time.process_time() - t0
                report(f"baseline {step} (python-tuf, {args.count:,} hash bins)", total, timer)


if __name__ == "__main__":
    main()
