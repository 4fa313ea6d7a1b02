"""`ceremony preflight`: the air gap (in network namespaces: `unshare -n` gives a loopback-only
one; a veth pair brought up breaks it), the clock against the previous root, the plan and the
directory's records, the installed files against their wheel RECORD and the wheelhouse's
SHA256SUMS, in one 80-column screen with a digest for the paper record; exit 0 or 1."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata, Root

from ceremony import digest as digests

REPO = Path(__file__).resolve().parents[2]
WHEELS = REPO / "build" / "wheelhouse"


def _unshare_net() -> bool:
    if shutil.which("unshare") is None:
        return False
    r = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    return r.returncode == 0


def _need(ok: bool, why: str) -> None:
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """tuf-ceremony installed from the wheelhouse into a new venv, as on the air-gapped machine."""
    _need((WHEELS / "SHA256SUMS").exists(), "no wheelhouse: run scripts/wheelhouse.sh first")
    venv = tmp_path_factory.mktemp("preflight") / "venv"
    env = dict(os.environ, PIP_NO_INDEX="1", PIP_CONFIG_FILE=os.devnull)
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "install-offline.sh"), str(WHEELS), str(venv)],
        capture_output=True, text=True, timeout=900, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    yield venv


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CEREMONY_DEBUG")}
    return {**env, "COLUMNS": "80"}


def _preflight(
    venv: Path | None, *args: str | Path, netns: str | None = None, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """`ceremony preflight ARGS`: the venv's (from elsewhere than the source tree), or the
    development one; `netns`: a shell prelude run in a new network namespace first."""
    exe = [str(venv / "bin" / "ceremony")] if venv else [sys.executable, "-m", "ceremony"]
    cmd = [*exe, "preflight", *map(str, args)]
    if netns is not None:
        script = f'{netns} && exec "$@"'
        cmd = ["unshare", "-n", "sh", "-c", script, "sh", *cmd]
    env = _env() if venv else dict(_env(), PYTHONPATH=str(REPO))
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=300, env=env, cwd=cwd, check=False
    )
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return proc


def _check_screen(out: str) -> None:
    """At most 80 columns, and the digest printed is that of the report lines above it."""
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines), [ln for ln in lines if len(ln) > 80]
    assert len(lines) <= 40, len(lines)
    i = lines.index("SHA-256 of the report above (for the paper record):")
    sha = hashlib.sha256("\n".join(lines[:i]).encode()).hexdigest()
    assert " ".join(lines[i + 1 : i + 3]).split() == digests.grouped_hex(sha).split()
    assert " ".join(lines[i + 3 : i + 7]).split() == digests.pgp_words(sha)


LOOPBACK_ONLY = "true"
VETH_UP = "ip link add v0 type veth peer name v1 && ip link set v0 up && ip link set v1 up"


def test_an_air_gapped_machine_with_the_pinned_install_passes(
    installed: Path, tmp_path: Path
) -> None:
    _need(_unshare_net(), "unshare -n is not available (run as root)")
    r = _preflight(installed, "--wheelhouse", WHEELS, netns=LOOPBACK_ONLY, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok   Network    air-gapped: only loopback" in r.stdout
    assert "ok   Installed  match their RECORD: tuf-ceremony and" in r.stdout
    assert "ok   Wheelhouse" in r.stdout and "match SHA256SUMS" in r.stdout
    assert "ok   Versions   tuf-ceremony 0.1.0, Python" in r.stdout
    assert "Result: PASS: fit for a ceremony" in r.stdout
    _check_screen(r.stdout)


def test_an_interface_up_fails_unless_rehearsing(installed: Path, tmp_path: Path) -> None:
    _need(_unshare_net(), "unshare -n is not available (run as root)")
    _need(shutil.which("ip") is not None, "iproute2 (ip) is not installed")
    r = _preflight(installed, netns=VETH_UP, cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAIL Network    NOT air-gapped: disconnect every interface" in r.stdout
    assert "- up: v0" in r.stdout and "v1" in r.stdout
    assert "Result: FAIL: Network" in r.stdout
    _check_screen(r.stdout)
    r = _preflight(installed, "--rehearsal", netns=VETH_UP, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "WARN Network    NOT air-gapped (allowed: --rehearsal)" in r.stdout
    assert "Result: PASS: fit for a rehearsal" in r.stdout


def test_an_altered_installed_file_fails(installed: Path, tmp_path: Path) -> None:
    _need(_unshare_net(), "unshare -n is not available (run as root)")
    (clock,) = installed.glob("lib/python*/site-packages/ceremony/clock.py")
    original = clock.read_bytes()
    try:
        clock.write_bytes(original + b"# altered\n")
        r = _preflight(installed, netns=LOOPBACK_ONLY, cwd=tmp_path)
    finally:
        clock.write_bytes(original)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAIL Installed  FAILED" in r.stdout
    assert "- tuf-ceremony: ceremony/clock.py differs from its RECORD" in r.stdout


def test_a_wheelhouse_that_is_not_the_installed_one_fails(installed: Path, tmp_path: Path) -> None:
    _need(_unshare_net(), "unshare -n is not available (run as root)")
    other = tmp_path / "wheelhouse"
    shutil.copytree(WHEELS, other)
    (tool,) = other.glob("tuf_ceremony-*.whl")
    with tool.open("ab") as f:
        f.write(b"\0")
    r = _preflight(installed, "--wheelhouse", other, netns=LOOPBACK_ONLY, cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAIL Wheelhouse" in r.stdout
    assert f"- ./{tool.name} does not match SHA256SUMS" in r.stdout or (
        f"- {tool.name} does not match SHA256SUMS" in r.stdout
    ), r.stdout
    tool.unlink()
    r = _preflight(installed, "--wheelhouse", other, netns=LOOPBACK_ONLY, cwd=tmp_path)
    assert "tuf-ceremony 0.1.0 is installed but not in the wheelhouse" in r.stdout


def test_a_development_install_fails_unless_rehearsing(tmp_path: Path) -> None:
    _need(_unshare_net(), "unshare -n is not available (run as root)")
    r = _preflight(None, netns=LOOPBACK_ONLY, cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAIL Installed" in r.stdout
    r = _preflight(None, "--rehearsal", netns=LOOPBACK_ONLY, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "WARN Installed  not from a wheel (allowed: --rehearsal)" in r.stdout


# --- the clock --------------------------------------------------------------------------------


def _ceremony(tmp_path: Path, *, prev_expires: dt.datetime, root_expires: str = "365d") -> Path:
    """A rotation directory whose previous root expires `prev_expires`."""
    d = tmp_path / "c"
    (d / "previous").mkdir(parents=True)
    root = Root(expires=prev_expires)
    data = Metadata(root).to_bytes()
    (d / "previous" / "1.root.json").write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    (d / "ceremony.yaml").write_text(
        'repository: "clock.example.org"\n'
        f'previous_root: {{path: previous/1.root.json, sha256: "{sha}"}}\n'
        f"root: {{expires: {root_expires}}}\n"
        "roles:\n"
        "  root: {threshold: 1, keys: [a]}\n  targets: {threshold: 1, keys: [a]}\n"
        "  snapshot: {threshold: 1, keys: [b]}\n  timestamp: {threshold: 1, keys: [b]}\n"
        "keys:\n  a: {holder: A}\n  b: {holder: B}\n"
        "rehearsal: true\n"
    )
    return d


NOW = dt.datetime.now(dt.UTC)


@pytest.mark.parametrize(
    ("prev_expires", "root_expires", "words"),
    [
        (NOW - dt.timedelta(days=3), "365d", "after the previous root's expiry"),
        (NOW + dt.timedelta(days=2000), "365d", "the earliest the previous root can have been"),
        (NOW + dt.timedelta(days=200), (NOW - dt.timedelta(days=1)).date().isoformat(),
         "on or after the plan's root.expires date"),
    ],
)  # fmt: skip
def test_a_suspicious_clock_fails(
    tmp_path: Path, prev_expires: dt.datetime, root_expires: str, words: str
) -> None:
    d = _ceremony(tmp_path, prev_expires=prev_expires, root_expires=root_expires)
    r = _preflight(None, d, "--rehearsal", cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAIL Clock" in r.stdout and "SUSPICIOUS" in r.stdout
    assert words in " ".join(r.stdout.split()), r.stdout
    assert "Result: FAIL: Clock" in r.stdout


def test_a_clock_behind_the_directorys_records_fails(tmp_path: Path) -> None:
    d = _ceremony(tmp_path, prev_expires=NOW + dt.timedelta(days=200))
    r = _preflight(None, d, "--rehearsal", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok   Clock" in r.stdout and "previous root v1 expires" in r.stdout
    # A record from the future (a clock that was right then, or is wrong now).
    future = (NOW + dt.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    entry = {"seq": 1, "time": future, "command": "init", "prev": "0" * 64, "outcome": "ok"}
    (d / "transcript.jsonl").write_text(json.dumps(entry) + "\n")
    r = _preflight(None, d, "--rehearsal", cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "before the directory's last record" in r.stdout


@pytest.mark.softhsm
def test_many_visible_tokens_still_fit_one_screen(tmp_path: Path) -> None:
    """The tokens a module shows are counted and the first three named, so the report keeps
    to one screen however many tokens there are."""
    from tests.softhsm import require_softhsm

    hsm = require_softhsm()
    labels = [f"preflight-{i}" for i in range(6)]
    for label in labels:
        hsm.init_token(label=label)
    env_conf = str(hsm.conf)
    r = subprocess.run(
        [sys.executable, "-m", "ceremony", "preflight", "--rehearsal"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False,
        env=dict(_env(), PYTHONPATH=str(REPO), SOFTHSM2_CONF=env_conf),
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    tokens = [ln for ln in r.stdout.splitlines() if "SoftHSM2:" in ln]
    # The module's tokens (this one and whatever other tests of the session made): counted,
    # the first three named, the rest as "N more".
    m = re.search(r"SoftHSM2: (\d+) tokens: '", tokens[0]) if tokens else None
    assert m is not None and int(m.group(1)) >= len(labels), r.stdout
    assert len(re.findall(r"' serial\s", r.stdout)) >= 3 and " more" in r.stdout, r.stdout
    _check_screen(r.stdout)
