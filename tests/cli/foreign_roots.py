"""Roots as other TUF tools make them, for the CLI tests of issue 9 (rules 2, 3, 4).

Real keys (cryptography), python-tuf's Metadata API, and then the JSON edited the way another
tool writes it (custom fields, legacy keytypes, keyids without keys, floats). Also the
`ceremony` runner these tests share (a subprocess, as a holder runs it) and the hash of
every file of a directory (for "nothing was written").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from securesystemslib.formats import encode_canonical
from securesystemslib.signer import CryptoSigner, SSlibKey
from tuf.api.metadata import Metadata, Role, Root

from ceremony.keys import content_keyid
from tests.cli.conftest import snapshot_tree

PIN = "foreign-roots-2468"
HOLDER_TODO = "TODO: holder of key "


@dataclass
class Run:
    code: int
    out: str

    def __contains__(self, text: str) -> bool:
        return text in self.out


def ceremony(
    *args: str | Path, stdin: Sequence[str] = (), env: dict[str, str] | None = None
) -> Run:
    """`python -m ceremony ARGS` in a subprocess; never a traceback or an internal error."""
    proc = subprocess.run(
        [sys.executable, "-m", "ceremony", *map(str, args)],
        input="".join(f"{x}\n" for x in stdin),
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        timeout=120,
        check=False,
    )
    text = proc.stdout + proc.stderr
    assert "Traceback" not in text, text
    assert "Internal error" not in text, text
    assert PIN not in text
    return Run(proc.returncode, text)


def tree_hashes(root: Path) -> dict[str, str]:
    """SHA-256 of every file under `root` (absent: {}), for byte-for-byte comparisons. A
    transcript is hashed without the entries of refused commands: a refusal writes nothing
    but its own entry (docs/adr/0005-transcript.md; tests/cli/conftest.py `refusals`)."""
    if not root.exists():
        return {}
    return {rel: hashlib.sha256(data).hexdigest() for rel, data in snapshot_tree(root).items()}


def fill_holders(directory: Path, holder: str = "Someone", extra: str = "") -> None:
    plan = directory / "ceremony.yaml"
    lines = [
        line.split(HOLDER_TODO)[0] + holder + '"' + line.split(HOLDER_TODO)[1].split('"', 1)[1]
        if HOLDER_TODO in line
        else line
        for line in plan.read_text().splitlines()
    ]
    plan.write_text("\n".join(lines) + "\n" + extra)


@dataclass
class Foreign:
    """A root made elsewhere: its private keys (by keyid) and the JSON document."""

    signers: dict[str, CryptoSigner] = field(default_factory=dict)
    doc: dict[str, Any] = field(default_factory=dict)

    def key(self, kind: str = "ed25519") -> SSlibKey:
        if kind == "ed25519":
            priv: Any = ed25519.Ed25519PrivateKey.generate()
        elif kind == "ecdsa-p256":
            priv = ec.generate_private_key(ec.SECP256R1())
        elif kind.startswith("rsa-"):
            priv = rsa.generate_private_key(65537, int(kind[4:]))
        else:
            raise ValueError(kind)
        pub = SSlibKey.from_crypto(priv.public_key())
        self.signers[pub.keyid] = CryptoSigner(priv, pub)
        return pub

    def sign(self, keyids: Sequence[str], *, canonical: bool = True) -> None:
        """Replace the signatures by those of `keyids` over the (canonical) signed part."""
        signed = self.doc["signed"]
        if not keyids:
            self.doc["signatures"] = []
            return
        text = (
            encode_canonical(signed)
            if canonical
            else json.dumps(signed, sort_keys=True, separators=(",", ":"))
        )
        assert isinstance(text, str)
        payload = text.encode()
        sigs = []
        for kid in keyids:
            signer = self.signers[kid]
            sig = signer.sign(payload)
            sigs.append({"keyid": kid, "sig": sig.signature})
        self.doc["signatures"] = sigs

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(self.doc, indent=1))
        return path

    def private(self, keyid: str) -> Any:
        return self.signers[keyid]._private_key


def respell(key: SSlibKey, **fields: Any) -> SSlibKey:
    """The same public key with other fields (another tool's spelling), keyid recomputed."""
    d = {**key.to_dict(), **fields}
    return SSlibKey.from_dict(content_keyid(d), dict(d))


def make_root(
    *,
    kind: str = "ed25519",
    root_keys: int = 3,
    threshold: int = 2,
    online_signs_targets: bool = False,
    version: int = 1,
    edit: Callable[[Foreign, dict[str, Any]], None] | None = None,
    sign_with: int | None = None,
    key_fields: dict[str, Any] | None = None,
) -> Foreign:
    """A root as another tool writes it: `root_keys` root keys of `kind` (threshold
    `threshold`), the first of them also the targets key (or the online key, RSTUF-style),
    one online key for snapshot and timestamp; `key_fields` added to every key object
    (keyids recomputed); `edit` changes the signed dict before signing with `sign_with`
    root keys (default: the threshold)."""
    f = Foreign()
    keys = [f.key(kind) for _ in range(root_keys)]
    online = f.key(kind)
    if key_fields:
        respelled = [respell(k, **key_fields) for k in [*keys, online]]
        for old, new in zip([*keys, online], respelled, strict=True):
            f.signers[new.keyid] = CryptoSigner(f.private(old.keyid), new)
        keys, online = respelled[:-1], respelled[-1]
    root = Root(
        version=version,
        expires=dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=200),
        consistent_snapshot=True,
    )
    root.keys = {k.keyid: k for k in [*keys, online]}
    targets = online if online_signs_targets else keys[0]
    root.roles = {
        "root": Role([k.keyid for k in keys], threshold),
        "targets": Role([targets.keyid], 1),
        "snapshot": Role([online.keyid], 1),
        "timestamp": Role([online.keyid], 1),
    }
    f.doc = Metadata(root, {}).to_dict()
    if edit is not None:
        edit(f, f.doc["signed"])
    f.sign([k.keyid for k in keys[: sign_with if sign_with is not None else threshold]])
    return f
