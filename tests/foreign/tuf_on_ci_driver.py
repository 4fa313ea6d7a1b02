"""Stage a tuf-on-ci signing event with tuf-on-ci's own code (PyPI `tuf-on-ci-sign`).

Run by `tests/foreign/make_fixtures.sh` with the Python of a separate venv that has
`tuf-on-ci-sign` installed; never imported by the test suite.

`tuf-on-ci-sign` needs git, a GitHub remote and a hardware or Sigstore key to run end to end,
so this script drives its repository class directly, as `tuf-on-ci-delegate sign/init` does
for a new repository (`tuf_on_ci_sign/delegate.py`): `SignerRepository.set_role_config()` for
root and targets, `set_online_config()` for the online roles. tuf-on-ci's `close()` then
writes `metadata/root.json`, `metadata/root_history/1.root.json` and `metadata/targets.json`
with its own serialization, keys annotated with `x-tuf-on-ci-keyowner` /
`x-tuf-on-ci-online-uri`, the period fields, and an empty signature placeholder for each
signer, and `.signing-event-state` with the invitation of the second signer.

Usage: python tuf_on_ci_driver.py OUT_DIR
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from securesystemslib.signer import CryptoSigner
from tuf_on_ci_sign._signer_repository import (
    OfflineConfig,
    OnlineConfig,
    SignerRepository,
    set_key_field,
)


class _User:
    """What SignerRepository reads of the signer's configuration: the name."""

    def __init__(self, name: str) -> None:
        self.name = name


def main() -> None:
    out = Path(sys.argv[1]).resolve()
    metadata = out / "metadata"
    base = out / "base"  # the known-good state: empty for a new repository
    metadata.mkdir(parents=True, exist_ok=True)
    base.mkdir(parents=True, exist_ok=True)
    alice = CryptoSigner.generate_ecdsa()
    online = CryptoSigner.generate_ecdsa()
    online_key = online.public_key
    set_key_field(online_key, "online-uri", "gcpkms:projects/p/k/1")  # as delegate.py does

    repo = SignerRepository(str(metadata), str(base), _User("@alice"))  # type: ignore[arg-type]
    repo.set_role_config("root", OfflineConfig(["@alice", "@bob"], 1, 365, 60), alice.public_key)
    repo = SignerRepository(str(metadata), str(base), _User("@alice"))  # type: ignore[arg-type]
    repo.set_online_config(OnlineConfig(online_key, 2, 1, 7, 6))
    repo.set_role_config(
        "targets",
        OfflineConfig(["@alice"], 1, 90, 30),
        repo.root().get_key(next(iter(repo.root().roles["root"].keyids))),
    )
    base.rmdir()
    version = subprocess.run(
        [sys.executable, "-m", "pip", "show", "tuf-on-ci-sign"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    tool = {
        "tool": "tuf-on-ci-sign (SignerRepository.set_role_config / set_online_config)",
        "version": next(
            line.split(":", 1)[1].strip()
            for line in version.splitlines()
            if line.startswith("Version:")
        ),
        "event": "a new repository: root signers @alice (key added) and @bob (invited), "
        "threshold 1; targets signer @alice; online key gcpkms for timestamp/snapshot",
        "alice_public_key": alice.public_key.to_dict(),
    }
    (out / "tool.json").write_text(json.dumps(tool, indent=2) + "\n")


if __name__ == "__main__":
    main()
