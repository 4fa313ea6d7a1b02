"""An option that cannot apply is refused, never silently ignored: one paragraph, exit 2,
nothing written (but the refusal's own transcript entry, for writing commands). Each row is
a command of `ceremony --help` with an option that has nothing to act on there (more in
test_attestation_files.py for key files, test_transcript_anchors.py and test_out_of_band.py
for export)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.cli.conftest import snapshot_tree
from tests.cli.test_bad_inputs import PIN, ready, run

__all__ = ["ready"]

SOFT = "SOFT-URI"  # replaced by the software-token URI of root-a


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["init", "NEW", "--previous-ceremony", "DIR"],
         "--previous-ceremony and --trusted-chain describe a previous root: give it with"),
        (["show", "DIR", "root", "--full"], "--full cannot apply to root"),
        (["sign", "DIR", "root", "--key", "root-a", "--module", "/usr/lib/none.so"],
         "--module cannot apply to"),
        (["sign", "DIR", "root", "--key", "root-a", "--allow-imported-key"],
         "--allow-imported-key cannot apply to"),
        (["keygen", "DIR", "root-a", "--uri", SOFT, "--type", "ed25519", "--slot", "9c"],
         "--slot cannot apply without --yubikey SERIAL"),
        (["keygen", "DIR", "root-a", "--uri", SOFT, "--type", "ed25519", "--replace-existing"],
         "--replace-existing cannot apply without --yubikey SERIAL"),
        (["keygen", "DIR", "root-a", "--uri", SOFT, "--type", "ed25519",
          "--attestation-chain", "x.pem"], "--attestation-chain cannot apply without --yubikey"),
        (["keygen", "DIR", "root-a", "--uri", SOFT, "--type", "ed25519", "--attest"],
         "--attest cannot apply to a key generated through PKCS#11"),
        (["keygen", "DIR", "root-a", "--yubikey", "123", "--uri", SOFT],
         "--uri cannot apply with --yubikey"),
        (["keygen", "DIR", "root-a", "--uri", SOFT, "--type", "ed25519", "--module",
          "/usr/lib/none.so"], "--module cannot apply to"),
        (["enroll", "DIR", "root-a", "--uri", SOFT, "--module", "/usr/lib/none.so"],
         "--module cannot apply to"),
        (["enroll", "DIR", "root-a", "--uri", SOFT, "--attestation-ca", "ca.pem"],
         "--attestation-ca cannot apply: "),
        (["enroll", "DIR", "root-a", "--uri", SOFT, "--attest"],
         "it has no attestation to read"),
        (["attestation", "verify", "DIR", "--attestation-ca", "ca.pem"],
         "--attestation-ca cannot apply: no enrolled key has an attestation"),
        (["export", "DIR", "--out-of-band"], "--out-of-band is only for a rotation"),
    ],
)  # fmt: skip
def test_an_option_that_cannot_apply_is_refused(
    ready: Path, tmp_path: Path, args: list[str], words: str
) -> None:
    d = tmp_path / "c"
    shutil.copytree(ready, d)
    for name in ("x.pem", "ca.pem"):
        (tmp_path / name).write_text("not used")
    soft = next(
        line.split('"uri": "', 1)[1].split('"', 1)[0]
        for line in (d / "keys" / "root-a.json").read_text().splitlines()
        if '"uri": "' in line
    )
    if args[0] == "enroll" or args[0] == "keygen":  # a key not enrolled yet, on the same token
        (d / "keys" / "root-a.json").unlink()
    subst = {"DIR": str(d), "NEW": str(tmp_path / "new"), SOFT: soft}
    argv = [subst.get(a, a) for a in args]
    argv = [str(tmp_path / a) if a.endswith(".pem") else a for a in argv]
    if args[0] == "sign":
        stdin = ["Yes", PIN]
    elif args[0] in ("keygen", "enroll"):
        stdin = [PIN]
    else:
        stdin = []
    before = snapshot_tree(d)
    r = run(*argv, stdin=stdin)
    assert r.returncode == 2, r.stdout + r.stderr
    assert words in r.stderr, r.stderr
    assert snapshot_tree(d) == before
    assert not (tmp_path / "new").exists()
