"""Fixtures for the targets / delegations ceremony tests: SoftHSM tokens and the CLI runner."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from securesystemslib.signer import CryptoSigner

from tests.cli.conftest import Cli
from tests.softhsm import SoftHsm, SoftToken, require_softhsm


@pytest.fixture(scope="session")
def tg_hsm() -> SoftHsm:
    return require_softhsm()


@dataclass
class People:
    tokens: dict[str, SoftToken]
    online: CryptoSigner
    online_pem: Path
    developer: CryptoSigner  # holds the key of a custom delegated role (signs online)
    developer_pem: Path

    def uri(self, holder: str, key_name: str) -> str:
        return f"{self.tokens[holder].uri};object={key_name}"

    def pin(self, holder: str) -> str:
        return self.tokens[holder].pin


def _pem(signer: CryptoSigner, path: Path) -> Path:
    path.write_bytes(
        signer._private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


@pytest.fixture(scope="session")
def people(tg_hsm: SoftHsm, tmp_path_factory: pytest.TempPathFactory) -> People:
    tokens = {h: tg_hsm.init_token(label=f"tg-{h}") for h in ("alice", "bob", "carol")}
    folder = tmp_path_factory.mktemp("tg-keys")
    online, dev = CryptoSigner.generate_ed25519(), CryptoSigner.generate_ed25519()
    return People(
        tokens, online, _pem(online, folder / "online.pem"), dev, _pem(dev, folder / "dev.pem")
    )


@pytest.fixture(scope="session")
def tcli(tg_hsm: SoftHsm, people: People) -> Cli:
    return Cli(
        tg_hsm, [t.pin for t in people.tokens.values()] + [t.so_pin for t in people.tokens.values()]
    )


def plan_yaml(
    roles: dict[str, tuple[int, list[str]]],
    keys: dict[str, str],
    targets: str,
    *,
    previous: tuple[str, str] | None = None,
    root_version: int | None = None,
) -> str:
    """A plan; `rehearsal: true`: the keys are on SoftHSM, a rehearsal token."""
    lines = ['repository: "pep458.example.org/simple"', "rehearsal: true"]
    if previous:
        lines += ["previous_root:", f"  path: {previous[0]}", f"  sha256: {previous[1]}"]
    lines += ["root:", "  expires: 365d", "  consistent_snapshot: true"]
    if root_version:
        lines.append(f"  version: {root_version}")
    lines.append("roles:")
    for role, (t, names) in roles.items():
        lines.append(f"  {role}: {{threshold: {t}, keys: [{', '.join(names)}]}}")
    lines.append("keys:")
    for name, holder in keys.items():
        lines.append(f'  {name}: {{holder: "{holder}"}}')
    return "\n".join(lines) + "\n" + targets
