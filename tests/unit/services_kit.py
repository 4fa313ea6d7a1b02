"""A ceremony directory for in-process tests of the use cases (`ceremony.services`).

Real files in a temporary directory, real keys on the built-in SOFTWARE rehearsal token
(the same code path `ceremony rehearse` uses), the real token selection
(`ceremony.tokens.select`), and a PIN prompt that answers with the test PIN. Faults a real
token cannot produce are injected with a fake `SignerFactory` in the tests that need one.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from ceremony import transcript
from ceremony.plan.template import plan_template
from ceremony.services import enroll, init
from ceremony.services import keygen as keygens
from ceremony.store import CeremonyDir
from ceremony.tokens import select
from ceremony.tokens.software_rehearsal import SoftwareToken, SoftwareUri
from ceremony.tokens.types import PinRequest, SignerFactory
from ceremony.transcript import Entry

NOW = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
PIN = "31415926"
HOLDERS = {
    "root-alice": "Alice Example",
    "root-bob": "Bob Example",
    "root-carol": "Carol Example",
    "targets-alice": "Alice Example",
    "online": "Online signing service",
}
TOKEN_KEYS = ("root-alice", "root-bob", "root-carol", "targets-alice")


def pin(request: PinRequest) -> str:
    """The PIN prompt of every test session."""
    return PIN


def quiet(_line: str) -> None:
    """A notifier that says nothing."""


def plan(keys: dict[str, dict[str, str]] | None = None) -> str:
    """Root 2 of 3 (Alice, Bob, Carol), targets Alice's, snapshot/timestamp online."""
    return (
        plan_template(
            "services.example.org/simple",
            None,
            None,
            "365d",
            True,
            {
                "root": (2, ["root-alice", "root-bob", "root-carol"]),
                "targets": (1, ["targets-alice"]),
                "snapshot": (1, ["online"]),
                "timestamp": (1, ["online"]),
            },
            keys or {name: {"holder": holder} for name, holder in HOLDERS.items()},
        )
        + "rehearsal: true\n"
    )


@dataclass
class Kit:
    """One ceremony directory and the software tokens of its holders."""

    base: Path
    cdir: CeremonyDir

    @property
    def root(self) -> Path:
        return self.cdir.root

    def uri(self, name: str) -> str:
        return str(SoftwareUri(self.base / "tokens", f"token-{name}", name))

    def keygen(self, name: str) -> enroll.EnrollResult:
        return keygens.keygen(
            self.cdir,
            name,
            self.uri(name),
            "ed25519",
            NOW,
            Entry("keygen"),
            generate=select.key_generator(None, pin_provider=pin),
        )

    def signer(self) -> SignerFactory:
        return select.signer_factory(None, None, pin_provider=pin, notify=quiet)

    def copy(self, where: Path) -> Kit:
        """Another copy of the directory (as on a second machine's USB stick)."""
        shutil.copytree(self.root, where, ignore=shutil.ignore_patterns(".ceremony.lock"))
        return Kit(self.base, CeremonyDir(where))


def online_pem(folder: Path) -> Path:
    path = folder / "online.pub.pem"
    pub = ed25519.Ed25519PrivateKey.generate().public_key()
    path.write_bytes(
        pub.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def new_ceremony(tmp_path: Path, *, enrol: bool = True, plan_text: str | None = None) -> Kit:
    """`init`, the reviewed plan, a software token per holder key and (with `enrol`) every
    key enrolled: the token keys generated on their tokens, the online key from a file."""
    d = tmp_path / "ceremony"
    made = Entry("init", {"directory": str(d)})
    init.init(d, None, NOW, made)
    transcript.append(d, made, "ok", 0)  # as `ceremony init` does: the directory's first line
    (d / "ceremony.yaml").write_text(plan_text or plan())
    kit = Kit(tmp_path, CeremonyDir(d))
    for name in TOKEN_KEYS:
        SoftwareToken.create(tmp_path / "tokens", f"token-{name}", PIN)
    if enrol:
        for name in TOKEN_KEYS:
            kit.keygen(name)
        enroll.enroll(
            kit.cdir,
            "online",
            NOW,
            Entry("enroll"),
            uri=None,
            public_key=online_pem(tmp_path),
            read_key=select.key_reader(None, allow_imported=False, pin_provider=pin),
        )
    return kit
