"""The air gap: the tool never opens a network socket, and installs from a hash-pinned
wheelhouse with no package index."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

GUARD = """
import socket
_real = socket.socket
class _NoNetwork(_real):
    def __init__(self, family=-1, *args, **kwargs):
        if family in (socket.AF_INET, socket.AF_INET6):
            raise RuntimeError("AIR-GAP VIOLATION: a network socket was opened")
        super().__init__(family, *args, **kwargs)
socket.socket = _NoNetwork
def _no_dns(*args, **kwargs):
    raise RuntimeError("AIR-GAP VIOLATION: a name lookup was made")
socket.getaddrinfo = _no_dns
"""


def test_a_full_rehearsal_opens_no_network_socket(tmp_path: Path) -> None:
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(GUARD)
    env = dict(os.environ, PYTHONPATH=f"{guard}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    # The guard itself works (so this test can fail):
    probe = subprocess.run(
        [sys.executable, "-c", "import socket; socket.create_connection(('127.0.0.1', 9))"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "AIR-GAP VIOLATION" in probe.stderr
    # Every step of the rehearsal runs in a child process that inherits the guard.
    proc = subprocess.run(
        [sys.executable, "-m", "ceremony", "rehearse", str(tmp_path / "r")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "AIR-GAP VIOLATION" not in proc.stdout + proc.stderr
    assert "The chain is valid up to root version 2" in proc.stdout


def test_lock_pins_every_runtime_dependency_with_hashes() -> None:
    lock = (REPO / "requirements" / "runtime.lock").read_text()
    pinned = {
        m.group(1).lower().replace("_", "-")
        for m in re.finditer(r"^([A-Za-z0-9_.-]+)==", lock, re.M)
    }
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    for dep in deps:
        name = re.split(r"[<>=!~ \[]", dep, maxsplit=1)[0].lower().replace("_", "-")
        assert name in pinned, f"{name} is not pinned in requirements/runtime.lock"
    entries = re.split(
        r"\n(?=[A-Za-z0-9_.-]+==)", lock.split("\n", 1)[1] if lock.startswith("#") else lock
    )
    for entry in entries:
        if "==" in entry:
            assert "--hash=sha256:" in entry, entry.splitlines()[0]


def test_offline_install_from_the_wheelhouse(tmp_path: Path) -> None:
    wheels = REPO / "build" / "wheelhouse"
    if not (wheels / "SHA256SUMS").exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI must build build/wheelhouse (scripts/test.sh does)")
        pytest.skip("no wheelhouse: run `bash scripts/wheelhouse.sh build/wheelhouse` first")
    venv = tmp_path / "venv"
    env = dict(os.environ, PIP_NO_INDEX="1", PIP_CONFIG_FILE=os.devnull)
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "install-offline.sh"), str(wheels), str(venv)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "tuf-ceremony" in proc.stdout
    res = subprocess.run(
        [str(venv / "bin" / "ceremony"), "--help"], capture_output=True, text=True, check=False
    )
    assert res.returncode == 0 and "rehearse" in res.stdout
