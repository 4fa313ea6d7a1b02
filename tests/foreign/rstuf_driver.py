"""Drive RSTUF's own CLI (`rstuf`, PyPI `repository-service-tuf`) to make real hand-off files.

Run by `tests/foreign/make_fixtures.sh` with the Python of a separate venv that has
`repository-service-tuf` and `pexpect` installed; never imported by the test suite.

`rstuf admin ceremony`, `rstuf admin metadata update` and `rstuf admin metadata sign` are
interactive only (rich prompts, beaupy menus, prompt_toolkit path prompts), but all three
run offline with `--dry-run --out FILE` (`--in FILE` for update and sign). This script
answers their prompts through a pseudo-terminal, exactly as an administrator would type,
with throw-away software keys (encrypted PKCS#8 PEM, RSTUF's "Key PEM File" signer).

Usage: python rstuf_driver.py RSTUF_EXECUTABLE OUT_DIR

Writes into OUT_DIR:
  bootstrap.json         `rstuf admin ceremony --dry-run --out`: root v1 signed by 2 of 2
  bootstrap-das.json     the same flow stopped after 1 of 2 signatures ("continue"): RSTUF's
                         distributed asynchronous signing (DAS) start
  pending-sign.json      the GET /api/v1/metadata/sign response the API would give for the
                         DAS bootstrap (input of `rstuf admin metadata sign --in`)
  sign.json              `rstuf admin metadata sign --in pending-sign.json --dry-run --out`
  update.json            `rstuf admin metadata update --in <root v1> --dry-run --out`: root
                         v2 (new expiry, same keys) signed by both root keys
  keys/NAME.pub          the public keys (PEM); the private keys are deleted at the end
  tool.json              the rstuf version and the answers given
  logs/                  what each rstuf screen showed
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pexpect
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

PASSWORD = "fixture-only-password"
DOWN = "\x1b[B"
UP = "\x1b[A"
ENTER = "\r"
TIMEOUT = 60


def make_keys(keydir: Path) -> None:
    keydir.mkdir(parents=True, exist_ok=True)
    keys = {
        "alice": ed25519.Ed25519PrivateKey.generate(),
        "bob": ec.generate_private_key(ec.SECP256R1()),
        "online": ec.generate_private_key(ec.SECP256R1()),
    }
    for name, key in keys.items():
        (keydir / f"{name}.key").write_bytes(
            key.private_bytes(
                ser.Encoding.PEM,
                ser.PrivateFormat.PKCS8,
                ser.BestAvailableEncryption(PASSWORD.encode()),
            )
        )
        (keydir / f"{name}.pub").write_bytes(
            key.public_key().public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo)
        )


class Session:
    def __init__(self, argv: list[str], cwd: Path, log: Path) -> None:
        env = dict(os.environ, HOME=str(cwd))
        log.parent.mkdir(parents=True, exist_ok=True)
        self.log = log.open("w")
        self.child = pexpect.spawn(
            argv[0],
            argv[1:],
            cwd=str(cwd),
            env=env,
            encoding="utf-8",
            timeout=TIMEOUT,
            dimensions=(50, 200),
        )
        self.child.logfile_read = self.log

    def expect(self, pattern: str) -> None:
        self.child.expect(pattern)

    def answer(self, pattern: str, text: str) -> None:
        self.child.expect(pattern)
        self.child.send(text + ENTER)

    def path(self, pattern: str, text: str) -> None:
        """A prompt_toolkit path prompt: it first asks the terminal for the cursor position
        (CPR) and, with no answer, warns and redraws; type only after that."""
        self.child.expect(pattern)
        with contextlib.suppress(pexpect.TIMEOUT):
            self.child.expect(r"cursor position requests", timeout=5)
        time.sleep(0.3)
        self.child.send(text + ENTER)

    def menu(self, pattern: str, *moves: str) -> None:
        """A beaupy menu: wait for it, move the cursor (each move one key), confirm."""
        self.child.expect(pattern)
        self.child.expect(r"to confirm\)")
        time.sleep(1.0)  # let the menu switch the terminal to raw mode first
        for move in moves:
            self.child.send(move)
            time.sleep(0.2)
        self.child.send(ENTER)

    def sign_with_pem(self, name: str, keydir: Path) -> None:
        self.menu(r"HSM", DOWN)  # HSM / Key PEM File
        self.path(r"path.{0,20}to encrypted private key", str(keydir / f"{name}.key"))
        self.answer(r"password", PASSWORD)
        self.expect(r"Signed metadata with key")

    def done(self) -> None:
        self.child.expect(pexpect.EOF)
        self.child.close()
        self.log.close()
        if self.child.exitstatus != 0:
            raise SystemExit(f"rstuf exited with {self.child.exitstatus}: see {self.log.name}")


def ceremony(rstuf: str, out: Path, keydir: Path, name: str, signers: list[str]) -> None:
    s = Session(
        [rstuf, "admin", "ceremony", "--dry-run", "--out", name], out, out / "logs" / f"{name}.log"
    )
    s.answer(r"expiry for 'timestamp'", "")
    s.answer(r"expiry for 'snapshot'", "")
    s.answer(r"expiry for 'targets'", "")
    s.menu(r"Bins \(online key only\)")  # hash bins
    s.answer(r"expiry for 'bins'", "")
    s.answer(r"number of delegated hash bins", "4")
    s.answer(r"expiry for 'root'", "")
    s.answer(r"'root' threshold", "2")
    for i, holder in enumerate(("alice", "bob")):
        if i:
            s.menu(r"add")  # add / remove (threshold not met yet: no "continue")
        s.menu(r"Select a key type", DOWN)  # HSM / Key PEM File / Sigstore
        s.path(r"PUBLIC.{0,12}key", str(keydir / f"{holder}.pub"))
        s.answer(r"key name", holder)
        s.expect(r"Added key")
    s.menu(r"continue")  # continue / add / remove
    s.menu(r"Select Online Key type", UP)  # AWS, GCP, Azure, Vault, Key PEM File
    s.path(r"PUBLIC.{0,12}key", str(keydir / "online.pub"))
    s.answer(r"key name", "online")
    for i, holder in enumerate(signers):
        s.menu(r"Select a key for signing", *([DOWN] if i else []))
        s.sign_with_pem(holder, keydir)
    if len(signers) < 2:
        s.menu(r"Select a key for signing or continue")  # continue
    s.expect(r"Saved result to")
    s.done()


def update(rstuf: str, out: Path, keydir: Path, root_file: str, name: str) -> None:
    argv = [rstuf, "admin", "metadata", "update", "--in", root_file, "--dry-run", "--out", name]
    s = Session(argv, out, out / "logs" / f"{name}.log")
    s.answer(r"change the expiry date\?", "y")
    s.answer(r"expiry for 'root'", "400")
    s.answer(r"change the threshold\?", "n")
    s.menu(r"continue")  # keep the root keys
    s.answer(r"change the online key\?", "n")
    # Both root keys sign: the new root's threshold and the trusted root's are both 2.
    s.menu(r"Select a key for signing")
    s.sign_with_pem("alice", keydir)
    s.menu(r"Select a key for signing or continue", DOWN)  # continue / bob
    s.sign_with_pem("bob", keydir)
    s.expect(r"Saved result to")
    s.done()


def sign(rstuf: str, out: Path, keydir: Path, pending: str, name: str) -> None:
    argv = [rstuf, "admin", "metadata", "sign", "--in", pending, "--dry-run", "--out", name]
    s = Session(argv, out, out / "logs" / f"{name}.log")
    s.menu(r"Select a role to sign")  # root
    s.menu(r"Select key for signing")  # bob: the only key still missing
    s.sign_with_pem("bob", keydir)
    s.expect(r"Saved result to")
    s.done()


def main() -> None:
    rstuf, out = str(Path(sys.argv[1]).resolve()), Path(sys.argv[2]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    keydir = out / "keys"
    make_keys(keydir)
    try:
        ceremony(rstuf, out, keydir, "bootstrap.json", ["alice", "bob"])
        ceremony(rstuf, out, keydir, "bootstrap-das.json", ["alice"])
        das = json.loads((out / "bootstrap-das.json").read_text())
        pending = {
            "data": {"metadata": {"root": das["metadata"]["root"]}},
            "message": "Metadata role(s) pending signing",
        }
        (out / "pending-sign.json").write_text(json.dumps(pending, indent=2))
        sign(rstuf, out, keydir, "pending-sign.json", "sign.json")
        full = json.loads((out / "bootstrap.json").read_text())
        (out / "1.root.json").write_text(json.dumps(full["metadata"]["root"], indent=1))
        update(rstuf, out, keydir, "1.root.json", "update.json")
    finally:
        for private in keydir.glob("*.key"):
            private.unlink()
    version = subprocess.run(
        [sys.executable, "-m", "pip", "show", "repository-service-tuf"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    tool = {
        "tool": "repository-service-tuf (rstuf CLI)",
        "version": next(
            line.split(":", 1)[1].strip()
            for line in version.splitlines()
            if line.startswith("Version:")
        ),
        "commands": [
            "rstuf admin ceremony --dry-run --out bootstrap.json",
            "rstuf admin ceremony --dry-run --out bootstrap-das.json",
            "rstuf admin metadata sign --in pending-sign.json --dry-run --out sign.json",
            "rstuf admin metadata update --in 1.root.json --dry-run --out update.json",
        ],
        "answers": "defaults for every expiry, 4 hash bins, root threshold 2 (alice ed25519, "
        "bob ecdsa-p256), online key ecdsa-p256 from a PEM file; update: root expiry 400 days",
    }
    (out / "tool.json").write_text(json.dumps(tool, indent=2) + "\n")


if __name__ == "__main__":
    main()
