"""The root ceremony, the PEP 458 targets ceremony and the SoftHSM parts of token preparation,
run from their runbooks exactly as written (issue 11), with the machinery of the rotation
runbooks (`tests/rotation/runbook.py`): each `ceremony` command in its own process, each
`text expect` line checked, every scenario of these runbooks in the table below, and no
`ceremony` command of them outside a scenario.

Tokens are SoftHSM2 (`$MODULE`); `$ALICE_TOKEN`, ... are each holder's token URI as
`ceremony tokens` prints it; `$BOB_USB`, ... folders standing for USB sticks. `softhsm2-util`
runs on a pseudo-terminal (it reads PINs from the terminal only). The installation scenario
(root-ceremony.md A1) installs from the offline wheelhouse into `~/ceremony-venv` (HOME is
the scenario's folder) and proves the activated venv runs `ceremony`.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from securesystemslib.signer import CryptoSigner

from ceremony.tokens import softhsm as softhsm_setup
from tests.cli.pty_run import run_program_on_tty
from tests.rotation.runbook import RUNBOOKS, Outcome, Runner, read_scenarios
from tests.softhsm import SO_PIN, USER_PIN, create_imported_key, require_softhsm

pytestmark = pytest.mark.softhsm

REPO = RUNBOOKS.parent
ROOT, TARGETS, TOKENS = "root-ceremony.md", "targets-ceremony.md", "token-preparation.md"
SCENARIOS = {
    (ROOT, "install"),
    (ROOT, "rehearse"),
    (ROOT, "first-root"),
    (TARGETS, "pep458"),
    (TOKENS, "hsm"),
    (TOKENS, "imported-key"),
    (TOKENS, "close"),
}
PROGRAMS = ("ceremony", "softhsm2-util", "bash", ".")
# token-preparation.md: Part A is the YubiKey (ykman, and enrolment through ykcs11 with a
# real device); Parts B to D are the HSM and SoftHSM2 path, run here.
TESTED_PARTS = {ROOT: ("",), TARGETS: ("",), TOKENS: ("## Part B", "## Part C", "## Part D")}
HOLDERS = ("alice", "bob", "carol", "dave")


def _command_lines(text: str) -> list[tuple[int, str, bool]]:
    """(line, command, inside a scenario) for each `ceremony ...` line in a code block
    (fenced, or indented by 4 spaces)."""
    out = []
    in_scenario = False
    fenced = False
    for no, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if re.match(r"^<!--\s*scenario:", s):
            in_scenario = True
        elif re.match(r"^<!--\s*/scenario", s):
            in_scenario = False
        elif s.startswith("```"):
            fenced = not fenced
        elif (fenced or line.startswith("    ")) and s.startswith("ceremony "):
            out.append((no, s, in_scenario))
    return out


def test_every_command_of_these_runbooks_is_run() -> None:
    found = {(rb, n) for rb in (ROOT, TARGETS, TOKENS) for n in read_scenarios(RUNBOOKS / rb)}
    assert found == SCENARIOS
    for runbook, parts in TESTED_PARTS.items():
        text = (RUNBOOKS / runbook).read_text()
        if parts != ("",):
            text = text[text.index(parts[0]) :]
        outside = [f"{runbook}:{n}: {c}" for n, c, inside in _command_lines(text) if not inside]
        assert not outside, "commands no test runs:\n" + "\n".join(outside)


@dataclass
class Place:
    """Where a scenario runs: its folder, its runner, the tokens made for it."""

    cwd: Path
    runner: Runner
    env: dict[str, str]


def stdin_for(argv: list[str]) -> Sequence[str]:
    """What a holder types: Yes and the PIN for sign, the PIN for keygen/enroll/tokens --login."""
    if argv and argv[0] == "sign":
        return ["Yes", USER_PIN]
    if argv and (argv[0] in ("keygen", "enroll") or (argv[0] == "tokens" and "--login" in argv)):
        return [USER_PIN]
    return []


def softhsm2_util(env: dict[str, str], cwd: Path) -> Callable[[list[str]], Outcome]:
    """softhsm2-util reads its PINs from the terminal only: run it on one, typing them."""

    def run(argv: list[str]) -> Outcome:
        screen = run_program_on_tty(
            argv,
            answers=[
                ("enter SO PIN:", SO_PIN),
                ("reenter SO PIN:", SO_PIN),
                ("enter user PIN:", USER_PIN),
                ("reenter user PIN:", USER_PIN),
            ],
            env=env,
            cwd=cwd,
        )
        return Outcome(argv, screen.code, screen.text, "")

    return run


def not_here(argv: list[str]) -> Outcome:
    raise AssertionError(f"{argv[0]} is not expected in this scenario")


def place(tmp_path: Path, env: dict[str, str], variables: dict[str, str], **extra: object) -> Place:
    cwd = tmp_path / "work"
    cwd.mkdir()
    signer = CryptoSigner.generate_ed25519()
    (cwd / "online.pub.pem").write_bytes(
        signer._private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    env = {**env, "COLUMNS": "1000", "HOME": str(tmp_path / "home")}
    env.pop("CEREMONY_DEBUG", None)
    env.pop("CEREMONY_TEST_MODE", None)
    (tmp_path / "home").mkdir()

    def value(name: str) -> str:
        if name not in variables:
            raise KeyError(f"the runbook uses ${name}, which the tests do not define")
        return variables[name]

    runner = Runner(
        cwd,
        env,
        value,
        stdin_for,
        secrets=(USER_PIN, SO_PIN),
        key_type=None,
        programs=PROGRAMS,
        handlers={"softhsm2-util": softhsm2_util(env, cwd), "bash": not_here, ".": not_here},
        plan_defaults={"rehearsal": True},  # SoftHSM2 stands in for the holders' tokens
    )
    return Place(cwd, runner, env)


def token_uri(runner: Runner, module: str, label: str) -> str:
    """The token's URI as `ceremony tokens` prints it (the runbooks' $..._TOKEN)."""
    out = runner.run(["tokens", "--module", module, "--token", label]).out
    (line,) = [ln for ln in out.splitlines() if ln.strip().startswith("token URI: ")]
    return line.split("token URI: ", 1)[1].strip()


def holders_place(tmp_path: Path, prefix: str) -> Place:
    """SoftHSM tokens for the holders (their URIs as $ALICE_TOKEN, ...), their USB sticks."""
    hsm = softhsm_setup.set_up(tmp_path / "softhsm")
    env = hsm.env()
    variables = {"MODULE": hsm.module}
    p = place(tmp_path, env, variables)
    for holder in HOLDERS:
        label = f"{prefix}-{holder}"
        hsm.init_token(label, pin=USER_PIN, so_pin=SO_PIN)
        variables[f"{holder.upper()}_TOKEN"] = token_uri(p.runner, hsm.module, label)
        variables[f"{holder.upper()}_USB"] = str(tmp_path / f"usb-{holder}")
    return p


def run(p: Place, runbook: str, name: str) -> list[Outcome]:
    return p.runner.run_scenario(read_scenarios(RUNBOOKS / runbook)[name])


def test_root_ceremony_first_root(tmp_path: Path) -> None:
    require_softhsm()
    p = holders_place(tmp_path, "rc")
    run(p, ROOT, "first-root")
    pub = p.cwd / "ceremony-1" / "published"
    modes = {f.name: f.stat().st_mode & 0o777 for f in pub.iterdir()}
    assert modes == dict.fromkeys(modes, 0o644) and "ceremony-record.html" in modes


def test_root_ceremony_rehearsal(tmp_path: Path) -> None:
    p = place(tmp_path, dict(os.environ), {})
    run(p, ROOT, "rehearse")
    assert (p.cwd / "rehearsal" / "2-rotation" / "published" / "2.root.json").exists()


def test_root_ceremony_installation(tmp_path: Path) -> None:
    """A1: from the tuf-ceremony folder, the wheelhouse installs into ~/ceremony-venv, and
    the activated venv runs `ceremony` (the commands after it run from this checkout)."""
    wheels = REPO / "build" / "wheelhouse"
    if not (wheels / "SHA256SUMS").exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI must build build/wheelhouse (scripts/test.sh does)")
        pytest.skip("no wheelhouse: run `bash scripts/wheelhouse.sh build/wheelhouse` first")
    p = place(tmp_path, dict(os.environ, PIP_NO_INDEX="1", PIP_CONFIG_FILE=os.devnull), {})
    for name in ("scripts", "requirements"):
        (p.cwd / name).symlink_to(REPO / name)
    (p.cwd / "wheelhouse").symlink_to(wheels)

    def external(argv: list[str]) -> Outcome:
        if argv[:2] == ["bash", "scripts/install-offline.sh"]:
            proc = subprocess.run(
                argv, cwd=p.cwd, env=p.env, capture_output=True, text=True, timeout=600
            )
            return Outcome(argv, proc.returncode, proc.stdout, proc.stderr)
        assert argv[0] == "." and argv[1].endswith("/bin/activate"), argv
        # What activation is for: `ceremony` found on PATH in a fresh shell.
        proc = subprocess.run(
            ["bash", "-c", f". {argv[1]} && command -v ceremony && ceremony --version"],
            cwd=p.cwd,
            env={**p.env, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        return Outcome(argv, proc.returncode, proc.stdout, proc.stderr)

    p.runner.handlers = {"bash": external, ".": external}
    run(p, ROOT, "install")
    assert (tmp_path / "home" / "ceremony-venv" / "bin" / "ceremony").exists()


def test_targets_ceremony(tmp_path: Path) -> None:
    require_softhsm()
    p = holders_place(tmp_path, "tc")
    run(p, TARGETS, "pep458")
    files = {f.name for f in (p.cwd / "published").iterdir()}
    assert {"1.root.json", "1.targets.json", "1.bins.json", "ceremony-record.html"} <= files


def test_token_preparation_on_softhsm(tmp_path: Path) -> None:
    require_softhsm()
    hsm = softhsm_setup.set_up(tmp_path / "softhsm")  # a token directory of its own
    p = place(tmp_path, hsm.env(), {"MODULE": hsm.module})
    p.runner.run(["init", "ceremony-1"])  # the directory of root-ceremony.md A3
    outcomes = run(p, TOKENS, "hsm")
    assert outcomes[0].code == 0 and "has been initialized" in outcomes[0].out
    run(p, TOKENS, "close")


def test_token_preparation_imported_key(tmp_path: Path) -> None:
    hsm = require_softhsm()  # the in-process SoftHSM: the test puts an imported key on it
    token = hsm.init_token(label="tp-dave")
    create_imported_key(token, label="root-dave", key_id=b"\x42\x42", how="import")
    p = place(tmp_path, hsm.env(), {"MODULE": hsm.module, "DAVE_TOKEN": token.uri})
    p.runner.run(["init", "ceremony-1"])
    run(p, TOKENS, "imported-key")
    assert (
        '"allow_imported": true' in (p.cwd / "ceremony-1" / "keys" / "root-dave.json").read_text()
    )
