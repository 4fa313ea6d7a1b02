"""Both token backends behind one face, for the CLI tests of issue 9's key rules.

`software`: the built-in rehearsal token (a folder of encrypted key files); `softhsm`: a
SoftHSM2 token through the real PKCS#11 backend. Each test runs `ceremony` as a separate
process, as a holder does, and puts keys on the token by the token's own means: `ceremony
keygen`, or (for keys the ceremony must refuse) a key generated on the token outside it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.cli.conftest import Result

SOFT_PIN = "rehearsal-pin-8823"
BACKENDS = ("software", "softhsm")


@dataclass
class Backend:
    """One token of one backend, and the `ceremony` command run against it."""

    kind: str
    base: Path
    pin: str
    label: str
    token_uri: str = ""  # softhsm: pkcs11:token=...;serial=...
    module: str = ""
    env: dict[str, str] = field(default_factory=dict)
    so_pin: str = ""

    def uri(self, obj: str) -> str:
        """The key URI of object `obj` on this token."""
        if self.kind == "software":
            from ceremony.tokens.software_rehearsal import SoftwareUri

            return str(SoftwareUri(self.base / "tokens", self.label, obj))
        return f"{self.token_uri};object={obj}"

    def run(self, *args: str | Path, stdin: tuple[str, ...] = ()) -> Result:
        """`python -m ceremony ARGS` (with --module for PKCS#11 commands on SoftHSM)."""
        cmd = [sys.executable, "-m", "ceremony", *map(str, args)]
        if self.kind == "softhsm" and ("--uri" in args or (args and args[0] == "sign")):
            cmd += ["--module", self.module]
        proc = subprocess.run(
            cmd,
            input="".join(f"{x}\n" for x in stdin),
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "200", **self.env},
            timeout=120,
            check=False,
        )
        res = Result(proc.returncode, proc.stdout, proc.stderr)
        assert "Traceback" not in res.text, res.text
        assert "Internal error" not in res.text, res.text
        assert self.pin not in res.text, "a PIN appeared in the output"
        return res

    def ok(self, *args: str | Path, stdin: tuple[str, ...] = ()) -> Result:
        res = self.run(*args, stdin=stdin)
        assert res.code == 0, f"exit {res.code}\n{res.text}"
        return res

    def keygen(self, d: Path, name: str, key_type: str, obj: str | None = None) -> str:
        """Generate `name` on this token with `ceremony keygen`; returns the key's URI."""
        uri = self.uri(obj or name)
        self.ok("keygen", d, name, "--uri", uri, "--type", key_type, stdin=(self.pin,))
        return uri

    def public_key(self, d: Path, name: str) -> dict[str, Any]:
        """The TUF key object enrolled as `name` in `d`."""
        data: dict[str, Any] = json.loads((d / "keys" / f"{name}.json").read_text())["key"]
        return data

    def put_rsa_key(self, obj: str, bits: int) -> str:
        """An RSA key of `bits` bits made ON the token outside the ceremony (never exported:
        sensitive, not extractable), as a token tool would; returns its URI."""
        if self.kind == "software":
            from ceremony.tokens.software_rehearsal import _encrypt

            priv = rsa.generate_private_key(65537, bits)
            (self.base / "tokens" / self.label / f"{obj}.key.pem").write_bytes(
                _encrypt(priv, self.pin)
            )
            return self.uri(obj)
        import pkcs11
        from pkcs11 import Attribute, KeyType

        lib = pkcs11.lib(self.module)
        tok = next(
            s.get_token()
            for s in lib.get_slots(token_present=True)
            if s.get_token().label == self.label
        )
        with tok.open(user_pin=self.pin, rw=True) as session:
            common = {Attribute.TOKEN: True, Attribute.LABEL: obj, Attribute.ID: obj.encode()}
            session.generate_keypair(
                KeyType.RSA,
                bits,
                store=True,
                public_template={**common, Attribute.VERIFY: True, Attribute.PRIVATE: False},
                private_template={
                    **common,
                    Attribute.SIGN: True,
                    Attribute.PRIVATE: True,
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                },
            )
        return self.uri(obj)


def make_backend(kind: str, base: Path, label: str) -> Backend:
    """A fresh token of `kind` named `label` (skips when SoftHSM2 is not installed)."""
    if kind == "software":
        from ceremony.tokens.software_rehearsal import SoftwareToken

        SoftwareToken.create(base / "tokens", label, SOFT_PIN)
        return Backend("software", base, SOFT_PIN, label)
    from tests.softhsm import SoftHsmUnavailable, get_softhsm

    try:
        hsm = get_softhsm()
    except SoftHsmUnavailable as exc:
        pytest.skip(str(exc))
    tok = hsm.init_token(label=label)
    return Backend(
        "softhsm",
        base,
        tok.pin,
        label,
        token_uri=tok.uri,
        module=hsm.module,
        env={"SOFTHSM2_CONF": str(hsm.conf)},
        so_pin=tok.so_pin,
    )
