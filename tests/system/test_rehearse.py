"""`ceremony rehearse`: the README's main job, on the built-in software token and on SoftHSM2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def rehearse(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ceremony", "rehearse", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=dict(os.environ, COLUMNS="120"),
    )


def test_rehearsal_on_softhsm(tmp_path: Path) -> None:
    if shutil.which("softhsm2-util") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must install softhsm2")
        pytest.skip("SoftHSM2 is not installed")
    d = tmp_path / "r"
    proc = rehearse(str(d), "--softhsm")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "Traceback" not in out + proc.stderr
    assert "REHEARSAL" in out
    assert "on the SoftHSM2 token" in out
    # Every holder's session, both thresholds, the merge and the final verify are shown.
    for line in (
        "Session 2 - Bob signs on his own machine",
        "Merge into",
        "previous root (version 1): 1 signed, 2 needed",
        "new root (version 2): 2 signed, 2 needed",
        "The chain is valid up to root version 2",
    ):
        assert line in out, line
    keys = json.loads((d / "1-first-root" / "keys" / "root-bob.json").read_text())
    assert keys["provenance"]["source"] == "pkcs11"  # real PKCS#11 keys, generated on the token
    assert keys["provenance"]["attributes"]["extractable"] is False
    record = (d / "2-rotation" / "published" / "ceremony-record.md").read_text()
    assert "## root version 2" in record


def test_rehearsal_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "something").write_text("x")
    proc = rehearse(str(tmp_path))
    assert proc.returncode == 2
    assert "not empty" in proc.stdout + proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["something"]
