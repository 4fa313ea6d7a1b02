"""Fixtures for the rotation and recovery matrix: SoftHSM tokens, first roots per key type,
and runs of the runbooks' scenarios (each command a separate `python -m ceremony` process).

Layout of one scenario run (the runbooks' working directory)::

    WORKSPACE/ceremony-1/        copy of the first ceremony (trusted root in published/1.root.json)
    WORKSPACE/online-2.pem       public key of the new online key (a CryptoSigner of the key type)
    WORKSPACE/ceremony-2/ ...    made by the runbook's commands

First roots (one per kind and key type, made once per session through the CLI):
- "plain": root 2 of 3 (root-alice, root-bob, root-carol, all of the key type), targets-key and
  online from PEM files (their CryptoSigners sign online metadata in the test repositories).
- "pep458": the same root keys, plus targets-alice and bins-bob on tokens, a targets role
  delegating everything to bins, and bins delegating to 16,384 succinct hash bins (online key).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from securesystemslib.signer import CryptoSigner

from tests.cli.conftest import plan_text
from tests.rotation.runbook import RUNBOOKS, Outcome, Runner, Scenario, read_scenarios
from tests.softhsm import SO_PIN, USER_PIN, SoftHsm, SoftToken, require_softhsm

KEY_TYPES = ("ed25519", "ecdsa-p256", "ecdsa-p384", "rsa-3072")
FULL_MATRIX = os.environ.get("TUF_ROTATION_FULL") == "1"
HOLDERS = {
    "alice": "Alice Example",
    "bob": "Bob Example",
    "carol": "Carol Example",
    "dave": "Dave Example",
    "erin": "Erin Example",
}
ONLINE_HOLDER = "Online signing service"
FIRST_ROOT_EXPIRES = "200d"  # the examples' new roots say 365d: the expiry-only re-sign extends it
TARGET = "example-1.0.tar.gz"
CONTENT = b"example package from the rotation matrix\n"

PEP458_TARGETS = """targets:
  expires: 365d
  delegations:
    - name: bins
      paths: ["*"]
      threshold: 1
      keys: [bins-bob]
      expires: 365d
      hash_bins: {count: 16384, prefix: bin, threshold: 1, keys: [online], succinct: true}
"""


def new_signer(key_type: str) -> CryptoSigner:
    if key_type == "ed25519":
        return CryptoSigner.generate_ed25519()
    if key_type == "ecdsa-p256":
        return CryptoSigner.generate_ecdsa()
    if key_type == "ecdsa-p384":
        return CryptoSigner.generate_ecdsa(scheme="ecdsa-sha2-nistp384")
    return CryptoSigner.generate_rsa(scheme="rsassa-pss-sha256", size=3072)


def write_pem(signer: CryptoSigner, path: Path) -> Path:
    path.write_bytes(
        signer._private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def stdin_for(argv: list[str]) -> Sequence[str]:
    """What a holder types: Yes and the PIN for sign, the PIN for keygen/enroll."""
    if argv and argv[0] == "sign":
        return ["Yes", USER_PIN]
    if argv and argv[0] in ("keygen", "enroll"):
        return [USER_PIN]
    return []


@dataclass
class Run:
    """One scenario run: where it ran and what it needs for the client checks."""

    scenario: Scenario
    key_type: str
    cwd: Path
    runner: Runner
    online: CryptoSigner  # the online key in force after the scenario
    outcomes: list[Outcome] = field(default_factory=list)

    def published(self, n: int) -> Path:
        return self.cwd / f"ceremony-{n}" / "published"

    def root_files(self) -> list[Path]:
        files = list(self.cwd.glob("ceremony-*/published/[0-9]*.root.json"))
        return sorted(files, key=lambda p: int(p.name.split(".")[0]))


@dataclass
class Suite:
    hsm: SoftHsm
    base: Path
    online: CryptoSigner = field(default_factory=CryptoSigner.generate_ed25519)
    targets: CryptoSigner = field(default_factory=CryptoSigner.generate_ed25519)
    firsts: dict[tuple[str, str], Path] = field(default_factory=dict)
    runs: dict[tuple[str, str, str], Run] = field(default_factory=dict)
    tokens: list[SoftToken] = field(default_factory=list)
    _count: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            SOFTHSM2_CONF=str(self.hsm.conf),
            CEREMONY_PKCS11_MODULE=self.hsm.module,
            COLUMNS="1000",  # tables and long lines on one line each
        )
        env.pop("CEREMONY_DEBUG", None)
        env.pop("CEREMONY_TEST_MODE", None)
        return env

    def new_token(self, holder: str) -> SoftToken:
        token = self.hsm.init_token(label=f"rot{next(self._count)}-{holder}")
        self.tokens.append(token)
        return token

    def runner(self, cwd: Path, key_type: str = "ed25519") -> Runner:
        cwd.mkdir(parents=True, exist_ok=True)
        made: dict[str, str] = {}

        def variables(name: str) -> str:
            # $CAROL_NEW_TOKEN, $DAVE_TOKEN, ...: a fresh token for that holder (a new device).
            if name not in made:
                holder = name.split("_", 1)[0].lower()
                if holder not in HOLDERS or not name.endswith("_TOKEN"):
                    raise KeyError(f"the runbook uses ${name}, which the tests do not define")
                made[name] = self.new_token(holder).uri
            return made[name]

        return Runner(
            cwd, self.env(), variables, stdin_for, secrets=(USER_PIN, SO_PIN), key_type=key_type
        )

    # --- first roots -------------------------------------------------------------------

    def first_root(self, kind: str, key_type: str) -> Path:
        """A directory holding ceremony-1/ with published/1.root.json (made once)."""
        if (kind, key_type) in self.firsts:
            return self.firsts[(kind, key_type)]
        ws = self.base / f"first-{kind}-{key_type}"
        r = self.runner(ws, key_type)
        d = "ceremony-1"
        r.run(["init", d])
        keys = {f"root-{h}": HOLDERS[h] for h in ("alice", "bob", "carol")}
        roles = {"root": (2, list(keys)), "snapshot": (1, ["online"]), "timestamp": (1, ["online"])}
        if kind == "plain":
            roles["targets"] = (1, ["targets-key"])
            keys |= {"targets-key": "Targets key holder", "online": ONLINE_HOLDER}
            extra = ""
        else:
            roles["targets"] = (1, ["targets-alice"])
            keys |= {"targets-alice": HOLDERS["alice"], "bins-bob": HOLDERS["bob"]}
            keys["online"] = ONLINE_HOLDER
            extra = PEP458_TARGETS
        ordered = {role: roles[role] for role in ("root", "targets", "snapshot", "timestamp")}
        (ws / d / "ceremony.yaml").write_text(
            plan_text(ordered, keys, expires=FIRST_ROOT_EXPIRES, extra=extra).replace(
                "test.example.org/simple", "example.org/simple"
            )
        )
        tokens = {h: self.new_token(h) for h in ("alice", "bob", "carol")}
        token_keys = [(f"root-{h}", h) for h in ("alice", "bob", "carol")]
        if kind == "pep458":
            token_keys += [("targets-alice", "alice"), ("bins-bob", "bob")]
        for name, holder in token_keys:
            ktype = key_type if name.startswith("root-") else "ed25519"
            uri = f"{tokens[holder].uri};object={name}"
            r.run(["keygen", d, name, "--uri", uri, "--type", ktype])
        r.run(
            ["enroll", d, "online", "--public-key", str(write_pem(self.online, ws / "online.pem"))]
        )
        if kind == "plain":
            pem = write_pem(self.targets, ws / "targets.pem")
            r.run(["enroll", d, "targets-key", "--public-key", str(pem)])
        drafted = ["root"] if kind == "plain" else ["root", "targets", "bins"]
        for role in drafted:
            r.run(["draft", d, role])
        for key in ("root-alice", "root-bob"):
            r.run(["sign", d, "root", "--key", key])
        if kind == "pep458":
            r.run(["sign", d, "targets", "--key", "targets-alice"])
            r.run(["sign", d, "bins", "--key", "bins-bob"])
        r.run(["export", d])
        self.firsts[(kind, key_type)] = ws
        return ws

    # --- scenario runs -----------------------------------------------------------------

    def scenario_run(
        self,
        runbook: str,
        name: str,
        key_type: str,
        *,
        first: str = "plain",
        after: str | None = None,
    ) -> Run:
        """Run a runbook scenario once (cached); `after`: continue in that scenario's directory."""
        key = (runbook, name, key_type)
        if key in self.runs:
            return self.runs[key]
        scenario = read_scenarios(RUNBOOKS / runbook)[name]
        if after is not None:
            prev = self.scenario_run(runbook, after, key_type, first=first)
            cwd, online = prev.cwd, prev.online
        else:
            cwd = self.base / f"{name}-{key_type}"
            shutil.copytree(self.first_root(first, key_type) / "ceremony-1", cwd / "ceremony-1")
            online = new_signer(key_type)
            write_pem(online, cwd / "online-2.pem")
        runner = self.runner(cwd, key_type)
        run = Run(scenario, key_type, cwd, runner, online)
        self.runs[key] = run  # before running: a failure is not retried by the next test
        run.outcomes = runner.run_scenario(scenario)
        return run

    def status(self, run: Run, directory: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(run.runner.run(["status", directory, "--json"]).out)
        return data


@pytest.fixture(scope="session")
def rotation_hsm() -> SoftHsm:
    return require_softhsm()


@pytest.fixture(scope="session")
def suite(rotation_hsm: SoftHsm, tmp_path_factory: pytest.TempPathFactory) -> Suite:
    return Suite(rotation_hsm, tmp_path_factory.mktemp("rotation"))
