"""Fixtures for driving the real `ceremony` command in separate processes on SoftHSM2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from securesystemslib.signer import CryptoSigner

from tests.softhsm import SoftHsm, SoftToken, require_softhsm


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@dataclass
class Cli:
    """Runs `python -m ceremony` as a separate process (one process = one session)."""

    hsm: SoftHsm
    secrets: list[str] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["SOFTHSM2_CONF"] = str(self.hsm.conf)
        env["COLUMNS"] = "200"
        env.pop("CEREMONY_DEBUG", None)
        return env

    def run(
        self,
        *args: str | Path,
        stdin: Sequence[str] = (),
        module: bool = False,
        env: dict[str, str] | None = None,
    ) -> Result:
        cmd = [sys.executable, "-m", "ceremony", *map(str, args)]
        if module:
            cmd += ["--module", self.hsm.module]
        proc = subprocess.run(
            cmd,
            input="".join(f"{line}\n" for line in stdin),
            capture_output=True,
            text=True,
            env={**self.env(), **(env or {})},
            timeout=120,
            check=False,
        )
        res = Result(proc.returncode, proc.stdout, proc.stderr)
        for secret in self.secrets:
            assert secret not in res.text, "a PIN appeared in the output"
        assert "Traceback" not in res.text, res.text
        return res

    def ok(
        self,
        *args: str | Path,
        stdin: Sequence[str] = (),
        module: bool = False,
        env: dict[str, str] | None = None,
    ) -> Result:
        res = self.run(*args, stdin=stdin, module=module, env=env)
        assert res.code == 0, f"exit {res.code}\n{res.text}"
        return res


@pytest.fixture(scope="session")
def hsm() -> SoftHsm:
    return require_softhsm()


@dataclass
class Holders:
    tokens: dict[str, SoftToken]
    online: CryptoSigner
    online_pem: Path
    targets: CryptoSigner  # plays the targets key holder, so tests can sign targets
    targets_pem: Path

    def uri(self, holder: str, key_name: str) -> str:
        return f"{self.tokens[holder].uri};object={key_name}"

    def pin(self, holder: str) -> str:
        return self.tokens[holder].pin


@pytest.fixture(scope="session")
def holders(hsm: SoftHsm, tmp_path_factory: pytest.TempPathFactory) -> Holders:
    tokens = {h: hsm.init_token(label=f"cli-{h}") for h in ("alice", "bob", "carol", "dave")}
    folder = tmp_path_factory.mktemp("keys")
    made: dict[str, tuple[CryptoSigner, Path]] = {}
    for name in ("online", "targets"):
        signer = CryptoSigner.generate_ed25519()
        pem = folder / f"{name}.pub.pem"
        pem.write_bytes(
            signer._private_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        made[name] = (signer, pem)
    return Holders(tokens, *made["online"], *made["targets"])


@pytest.fixture(scope="session")
def cli(hsm: SoftHsm, holders: Holders) -> Cli:
    return Cli(
        hsm, [t.pin for t in holders.tokens.values()] + [t.so_pin for t in holders.tokens.values()]
    )


def snapshot_tree(root: Path) -> dict[str, bytes]:
    """Every file under root (for 'nothing was written' checks). The transcript is kept
    without the entries of refused commands: a refusal writes nothing but its own entry
    (docs/adr/0005-transcript.md), which `refusals` reads."""
    out = {}
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.name == ".ceremony.lock":
            continue
        data = p.read_bytes()
        if p.name == "transcript.jsonl":
            data = b"".join(line + b"\n" for line in data.split(b"\n") if _kept(line))
        out[str(p.relative_to(root))] = data
    return out


def _kept(line: bytes) -> bool:
    """A transcript line that is not a refused command's entry (damaged lines are kept)."""
    if not line.strip():
        return False
    try:
        return bool(json.loads(line).get("outcome") == "ok")
    except (json.JSONDecodeError, AttributeError):
        return True


def refusals(root: Path) -> list[dict[str, Any]]:
    """The transcript entries of refused (failed, interrupted) commands, in order."""
    path = root / "transcript.jsonl"
    if not path.exists():
        return []
    entries = [json.loads(line) for line in path.read_bytes().split(b"\n") if line.strip()]
    return [e for e in entries if e.get("outcome") != "ok"]


def plan_text(
    roles: dict[str, tuple[int, list[str]]],
    keys: dict[str, str],
    *,
    previous: tuple[str, str] | None = None,
    statuses: dict[str, str] | None = None,
    expires: str = "365d",
    extra: str = "",
    rehearsal: bool = True,
) -> str:
    """A plan. `rehearsal: true` by default: the tests' keys are on SoftHSM, a rehearsal token
    (refused in a production plan, CER-KEY-SOFTHSM)."""
    lines = ['repository: "test.example.org/simple"']
    if previous:
        lines += ["previous_root:", f"  path: {previous[0]}", f'  sha256: "{previous[1]}"']
    lines += ["root:", f"  expires: {expires}", "  consistent_snapshot: true", "roles:"]
    for role, (t, names) in roles.items():
        lines.append(f"  {role}: {{threshold: {t}, keys: [{', '.join(names)}]}}")
    lines.append("keys:")
    for name, holder in keys.items():
        st = (statuses or {}).get(name)
        lines.append(f"  {name}: {{holder: {json.dumps(holder)}{', status: ' + st if st else ''}}}")
    if rehearsal:
        lines.append("rehearsal: true")
    return "\n".join(lines) + "\n" + extra


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
