"""`export --out-of-band` only when the previous root's threshold cannot be met from its keys
that the plan does not mark lost or compromised; the refusal names who could still sign."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.cli.conftest import snapshot_tree
from tests.cli.test_bad_inputs import PIN, ready, run

__all__ = ["ready"]


def _ok(*args: str | Path, stdin: list[str] | None = None) -> str:
    r = run(*args, stdin=stdin)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


@pytest.fixture(scope="module")
def rotation(ready: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Root v1 signed by root-a and root-b (2 of 3), exported; then a rotation to v2 prepared
    with `init --previous-ceremony` (the keys carried over, `rehearsal: true` too)."""
    base = tmp_path_factory.mktemp("oob")
    first = base / "one"
    shutil.copytree(ready, first)
    for key in ("root-a", "root-b"):
        _ok("sign", first, "root", "--key", key, stdin=["Yes", PIN])
    _ok("export", first)
    second = base / "two"
    _ok("init", second, "--previous-root", first / "published" / "1.root.json",
        "--previous-ceremony", first)  # fmt: skip
    plan = yaml.safe_load((second / "ceremony.yaml").read_text())
    assert plan["rehearsal"] is True  # a rotation of a rehearsal is a rehearsal
    return second


def _plan(d: Path, lost: tuple[str, ...], root_keys: list[str], threshold: int) -> None:
    plan = yaml.safe_load((d / "ceremony.yaml").read_text())
    plan["roles"]["root"] = {"threshold": threshold, "keys": root_keys}
    for name in lost:
        plan["keys"][name]["status"] = "lost"
    (d / "ceremony.yaml").write_text(yaml.safe_dump(plan, sort_keys=False))


def test_out_of_band_is_refused_while_the_previous_threshold_can_be_met(
    rotation: Path, tmp_path: Path
) -> None:
    d = tmp_path / "two"
    shutil.copytree(rotation, d)
    _ok("draft", d)
    before = snapshot_tree(d)
    r = run("export", d, "--out-of-band")
    assert r.returncode == 2, r.stdout + r.stderr
    para = [line for line in r.stderr.splitlines() if line.strip()]
    assert para[0].startswith("Invalid input: --out-of-band is refused: the previous root needs 2")
    assert "3 are not marked lost or compromised" in para[0]
    assert "can still be met by root-a (A), root-b (B), root-c (C)" in para[0]
    assert para[1].startswith("Next: If one of those keys is really lost or compromised")
    assert snapshot_tree(d) == before
    assert not (d / "published").exists()
    # One key lost: two can still sign, still refused, naming the two.
    _plan(d, ("root-c",), ["root-a", "root-b"], 2)
    _ok("draft", d)
    r = run("export", d, "--out-of-band")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "can still be met by root-a (A), root-b (B)." in r.stderr


def test_out_of_band_export_when_the_previous_threshold_is_lost(
    rotation: Path, tmp_path: Path
) -> None:
    d = tmp_path / "two"
    shutil.copytree(rotation, d)
    _plan(d, ("root-b", "root-c"), ["root-a"], 1)
    _ok("draft", d)
    _ok("sign", d, "root", "--key", "root-a", stdin=["Yes", PIN])
    r = run("export", d)  # without --out-of-band: the previous threshold is not met
    assert r.returncode == 1 and "previous root" in r.stdout + r.stderr
    out = _ok("export", d, "--out-of-band")
    assert "OUT OF BAND:" in out
    record = (d / "published" / "ceremony-record.md").read_text()
    assert "## OUT OF BAND" in record
    last = json.loads((d / "transcript.jsonl").read_text().splitlines()[-1])
    assert last["command"] == "export" and last["args"]["out_of_band"] is True
