"""The rotation guard rails as `ceremony validate` shows them: one plan edit per row, starting
from the plan `ceremony init --previous-root` generates (the named checks' logic has unit tests in
tests/unit/test_checks.py; these rows check what a ceremony administrator sees and the exit code).

ERROR rows (clients would break, or the key policy forbids it) stop `validate` and `draft` with
exit 2; WARNING rows (a legitimate but risky choice) pass with the warning shown.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.rotation.conftest import Suite
from tests.rotation.runbook import merge_plan

pytestmark = pytest.mark.softhsm

ALL = ["root-alice", "root-bob", "root-carol"]
ROWS: dict[str, tuple[dict[str, Any], str, str, str]] = {
    # name: (plan edit, check id, level, words of the message)
    "compromised-key-kept": (
        {"keys": {"root-carol": {"holder": "Carol Example", "status": "compromised"}}},
        "CER-KEY-COMPROMISED-KEPT",
        "ERROR",
        "is marked compromised but is still used by root",
    ),
    "lost-key-kept": (
        {"keys": {"online": {"holder": "Online signing service", "status": "lost"}}},
        "CER-KEY-COMPROMISED-KEPT",
        "ERROR",
        "is marked lost but is still used by snapshot, timestamp",
    ),
    "online-key-in-root": (
        {"roles": {"root": {"threshold": 2, "keys": [*ALL, "online"]}}},
        "CER-KEY-OFFLINE-ONLINE",
        "ERROR",
        "a server compromise becomes a root compromise",
    ),
    "version-skip": (
        {"root": {"version": 3}},
        "CER-VERSION",
        "ERROR",
        "clients only accept version 2 next",
    ),
    "version-back": (
        {"root": {"version": 1}},
        "CER-VERSION",
        "ERROR",
        "no skipping, no going back",
    ),
    "expiry-past": (
        {"root": {"expires": "2020-01-01"}},
        "CER-EXPIRY-PAST",
        "ERROR",
        "clients would reject root at once",
    ),
    "expiry-beyond-policy": (
        {"root": {"expires": "3000d"}},
        "CER-EXPIRY-MAX",
        "ERROR",
        "beyond the policy maximum",
    ),
    "threshold-all-keys": (
        {"roles": {"root": {"threshold": 3, "keys": ALL}}},
        "CER-THRESHOLD-ALL-KEYS",
        "WARNING",
        "if one more root key is lost, no new root can ever be signed",
    ),
    "root-threshold-one": (
        {"roles": {"root": {"threshold": 1, "keys": ALL}}},
        "CER-THRESHOLD-ROOT-ONE",
        "WARNING",
        "any single root key holder",
    ),
    "previous-threshold-only-with-compromised": (
        {
            "roles": {"root": {"threshold": 2, "keys": ["root-carol", "root-dave"]}},
            "keys": {
                "root-alice": {"holder": "Alice Example", "status": "compromised"},
                "root-bob": {"holder": "Bob Example", "status": "compromised"},
                "root-dave": {"holder": "Dave Example"},
            },
        },
        "CER-ROTATION-COMPROMISED-THRESHOLD",
        "WARNING",
        "can only be reached with keys marked compromised",
    ),
    "previous-threshold-lost": (
        {
            "roles": {"root": {"threshold": 1, "keys": ["root-alice"]}},
            "keys": {
                "root-bob": {"holder": "Bob Example", "status": "lost"},
                "root-carol": {"holder": "Carol Example", "status": "lost"},
            },
        },
        "CER-ROTATION-OUT-OF-BAND",
        "WARNING",
        "existing clients can never accept this new root",
    ),
}


@pytest.fixture(scope="module")
def generated(suite: Suite) -> Path:
    cwd = suite.base / "guard-rails"
    shutil.copytree(suite.first_root("plain", "ed25519") / "ceremony-1", cwd / "ceremony-1")
    suite.runner(cwd).run(
        ["init", "ceremony-2", "--previous-root", "ceremony-1/published/1.root.json",
         "--previous-ceremony", "ceremony-1"]
    )  # fmt: skip
    return cwd


@pytest.mark.parametrize("row", ROWS)
def test_guard_rail(suite: Suite, generated: Path, row: str, tmp_path: Path) -> None:
    edit, check, level, words = ROWS[row]
    shutil.copytree(generated, tmp_path / "w")
    cwd = tmp_path / "w"
    plan_path = cwd / "ceremony-2" / "ceremony.yaml"
    plan_path.write_text(
        yaml.safe_dump(merge_plan(yaml.safe_load(plan_path.read_text()), edit), sort_keys=False)
    )
    res = suite.runner(cwd).run(["validate", "ceremony-2"], expect=2 if level == "ERROR" else 0)
    lines = [" ".join(ln.split()) for ln in res.text.splitlines()]
    hit = [ln for ln in lines if ln.startswith(f"{level} {check}:")]
    assert hit, res.text
    assert any(words in ln for ln in hit), hit
    if level == "ERROR":
        assert "check failed" in res.text or "checks failed" in res.text
