"""The fuzz contract, checked on every input: the `ceremony` CLI, given outside input it did
not expect, either succeeds or refuses with a message and an exit code, and writes nothing
when it refuses.

* the exit code is 0, 1, 2 or 3 (never a crash, never 130 without an interrupt);
* the output holds no Python traceback and no "Internal error" (the catch-all of
  ``ceremony.cli.guarded``, which marks an exception nobody turned into a message);
* a non-zero exit leaves every watched directory byte-for-byte as it was (every file hashed,
  every directory listed; the empty ``.ceremony.lock`` a writer opens is ignored).

Commands run in this process through ``typer.testing.CliRunner`` on ``ceremony.cli:app``
(fast enough for Hypothesis), with ``CEREMONY_DEBUG`` unset so the CLI's own guard is what
is tested.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from ceremony.cli import app

ALLOWED_EXIT_CODES = frozenset({0, 1, 2, 3})
LOCK_FILE = ".ceremony.lock"
_RUNNER = CliRunner()


class Crash(AssertionError):
    """The contract was broken: the message says how, with the command and its output."""


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    output: str


def _ok_lines(data: bytes) -> bytes:
    """A transcript without the entries of refused commands: a refusal writes nothing but
    its own entry (docs/adr/0005-transcript.md). Damaged lines are kept."""
    kept = []
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            refused = json.loads(line).get("outcome") != "ok"
        except (ValueError, AttributeError):
            refused = False
        if not refused:
            kept.append(line + b"\n")
    return b"".join(kept)


def tree_state(root: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file, "<dir>" for every directory under ``root``
    (a transcript without its refusal entries)."""
    if not root.exists():
        return {}
    out = {".": "<dir>" if root.is_dir() else hashlib.sha256(root.read_bytes()).hexdigest()}
    if root.is_dir():
        for p in sorted(root.rglob("*")):
            if p.name == LOCK_FILE:
                continue
            rel = str(p.relative_to(root))
            if p.is_dir():
                out[rel] = "<dir>"
                continue
            data = p.read_bytes()
            if p.name == "transcript.jsonl":
                data = _ok_lines(data)
            out[rel] = hashlib.sha256(data).hexdigest()
    return out


def _changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    keys = sorted(set(before) | set(after))
    return [
        f"{k}: {'added' if k not in before else 'removed' if k not in after else 'changed'}"
        for k in keys
        if before.get(k) != after.get(k)
    ]


def run_cli(
    args: Sequence[str | Path],
    *,
    watch: Sequence[Path] = (),
    always_unchanged: Sequence[Path] = (),
    stdin: str | None = None,
) -> Outcome:
    """Run ``ceremony ARGS`` and check the contract; raise :class:`Crash` when it is broken.

    ``watch``: directories that must be unchanged when the exit code is not 0.
    ``always_unchanged``: directories that must be unchanged whatever the exit code (inputs
    the command only reads, e.g. the other copy given to ``merge``).
    """
    before = {p: tree_state(p) for p in (*watch, *always_unchanged)}
    result = _RUNNER.invoke(
        app,
        [str(a) for a in args],
        input=stdin,
        env={"CEREMONY_DEBUG": None, "COLUMNS": "200", "NO_COLOR": "1"},
        catch_exceptions=True,
    )
    out = result.output
    command = "ceremony " + " ".join(str(a) for a in args)
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        raise Crash(f"{command}: raised {type(exc).__name__}: {exc}\n{out}")
    if result.exit_code not in ALLOWED_EXIT_CODES:
        raise Crash(f"{command}: exit code {result.exit_code}\n{out}")
    for marker in ("Traceback", "Internal error"):
        if marker in out:
            raise Crash(f"{command}: {marker} in the output (exit {result.exit_code})\n{out}")
    for path in always_unchanged:
        changed = _changes(before[path], tree_state(path))
        if changed:
            raise Crash(f"{command}: wrote into {path}, which it only reads: {changed}\n{out}")
    if result.exit_code != 0:
        for path in watch:
            changed = _changes(before[path], tree_state(path))
            if changed:
                raise Crash(
                    f"{command}: exit {result.exit_code} but {path} changed: {changed}\n{out}"
                )
        if not out.strip():
            raise Crash(f"{command}: exit {result.exit_code} with no message at all")
    return Outcome(result.exit_code, out)


def fresh_copy(template: Path, into: Path) -> Path:
    """A private copy of a template ceremony directory (``into`` must not exist)."""
    shutil.copytree(template, into, symlinks=True)
    lock = into / LOCK_FILE
    if lock.exists():
        os.unlink(lock)
    return into
