"""Bad input gets one clear paragraph, a non-zero exit code and nothing written; a session
that dies leaves the directory valid; PINs never reach output, files or the transcript.

These use the built-in software rehearsal token (fast, no SoftHSM needed) except where noted.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import refusals, snapshot_tree

PIN = "rehearsal-pin-5531"


def run(
    *args: str | Path, stdin: list[str] | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    e = dict(os.environ, COLUMNS="200")
    e.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "ceremony", *map(str, args)],
        input="".join(f"{x}\n" for x in (stdin or [])),
        capture_output=True,
        text=True,
        env=e,
        timeout=60,
        check=False,
    )
    text = proc.stdout + proc.stderr
    assert "Traceback" not in text, text
    assert PIN not in text
    return proc


PLAN = """\
repository: "bad-inputs.example.org"
root:
  expires: 365d
roles:
  root:      {threshold: 2, keys: [root-a, root-b, root-c]}
  targets:   {threshold: 1, keys: [targets-a]}
  snapshot:  {threshold: 1, keys: [online]}
  timestamp: {threshold: 1, keys: [online]}
keys:
  root-a: {holder: "A"}
  root-b: {holder: "B"}
  root-c: {holder: "C"}
  targets-a: {holder: "A"}
  online: {holder: "Online service"}
rehearsal: true
"""


@pytest.fixture(scope="module")
def ready(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A drafted ceremony whose keys live on the software rehearsal token."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from ceremony.tokens.software_rehearsal import SoftwareToken, SoftwareUri

    base = tmp_path_factory.mktemp("bad")
    d = base / "c"
    assert run("init", d).returncode == 0
    (d / "ceremony.yaml").write_text(PLAN)
    SoftwareToken.create(base / "tokens", "t", PIN)
    for name in ("root-a", "root-b", "root-c", "targets-a"):
        uri = str(SoftwareUri(base / "tokens", "t", name))
        r = run("keygen", d, name, "--uri", uri, "--type", "ed25519", stdin=[PIN])
        assert r.returncode == 0, r.stdout + r.stderr
    pem = base / "online.pem"
    pem.write_bytes(
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert run("enroll", d, "online", "--public-key", pem).returncode == 0
    r = run("draft", d)
    assert r.returncode == 0, r.stdout + r.stderr
    return d


def copy_of(ready: Path, tmp_path: Path) -> Path:
    import shutil

    d = tmp_path / "c"
    shutil.copytree(ready, d)
    return d


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda t: t.replace("  expires: 365d", "  expires: 365d\n  expiry: 2d"),
            "root.expiry: unknown field",
        ),
        (
            lambda t: t.replace("rehearsal: true", "rehearsal: true\nrehearsal: false"),
            "duplicate key 'rehearsal'",
        ),
        (
            lambda t: t.replace("threshold: 2,", "threshold: 4,"),
            "roles.root.threshold: 4 is more than its 3 keys",
        ),
        (
            lambda t: t.replace(
                'root-a: {holder: "A"}',
                'root-a: {holder: "A", uri: "pkcs11:token=x?pin-value=1234"}',
            ),
            "a PIN never goes in the plan",
        ),
        (
            lambda t: t.replace("expires: 365d", "expires: soon"),
            "root.expires: expected a duration like 365d",
        ),
        (lambda t: t + "---\nroot: {}\n", "expected exactly one YAML document"),
        (lambda t: t.replace("expires: 365d", "expires: 2001-01-01"), "CER-EXPIRY-PAST"),
        (
            lambda t: t.replace("  online: {holder", "  online: {status: compromised, holder"),
            "CER-KEY-COMPROMISED-KEPT",
        ),
        (
            lambda t: t.replace("keys: [online]}\n  timestamp", "keys: [root-a]}\n  timestamp"),
            "CER-KEY-OFFLINE-ONLINE",
        ),
        (lambda t: t.replace("rehearsal: true", ""), "CER-SOFTWARE-KEY"),
    ],
)
def test_bad_plan_is_reported_and_nothing_written(
    ready: Path, tmp_path: Path, edit: Callable[[str], str], expected: str
) -> None:
    d = copy_of(ready, tmp_path)
    (d / "ceremony.yaml").write_text(edit(PLAN))
    before = snapshot_tree(d)
    commands: tuple[list[str | Path], ...] = (
        ["validate", d],
        ["draft", d],
        ["sign", d, "root", "--key", "root-a"],
        ["export", d],
    )
    for command in commands:
        r = run(*command, stdin=["Yes", PIN])
        assert r.returncode == 2, (command, r.stdout, r.stderr)
        assert expected in r.stdout + r.stderr
        assert snapshot_tree(d) == before


def test_previous_root_path_may_not_escape_or_follow_links(ready: Path, tmp_path: Path) -> None:
    d = copy_of(ready, tmp_path)
    outside = tmp_path / "outside.json"
    outside.write_text("{}")
    sha = "ab" * 32
    for path, message in (
        ("../outside.json", "leaves the ceremony directory"),
        ("/etc/passwd", "leaves the ceremony directory"),
    ):
        (d / "ceremony.yaml").write_text(
            PLAN.replace("root:\n", f"previous_root:\n  path: {path}\n  sha256: {sha}\nroot:\n", 1)
        )
        before = snapshot_tree(d)
        r = run("validate", d)
        assert r.returncode == 2 and message in r.stdout + r.stderr
        assert snapshot_tree(d) == before
    (d / "link.json").symlink_to(outside)
    (d / "ceremony.yaml").write_text(
        PLAN.replace("root:\n", f"previous_root:\n  path: link.json\n  sha256: {sha}\nroot:\n", 1)
    )
    r = run("validate", d)
    assert r.returncode == 2 and "symbolic link" in r.stdout + r.stderr


def test_argument_errors(ready: Path, tmp_path: Path) -> None:
    d = copy_of(ready, tmp_path)
    before = snapshot_tree(d)
    cases: list[tuple[list[str | Path], str]] = [
        (["sign", d, "root", "--key", "nobody"], "not an enrolled key"),
        (["enroll", d, "stranger", "--public-key", tmp_path / "x.pem"], "not a key in the plan"),
        (["validate", tmp_path / "missing"], "not a ceremony directory"),
        (["init", d], "already exists and is not empty"),
        (["draft", d, "snapshot"], "snapshot"),
        (["export", d, "--test-only-unverified"], "CEREMONY_TEST_MODE"),
    ]
    for args, msg in cases:
        r = run(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert msg in r.stdout + r.stderr, (args, r.stdout + r.stderr)
    assert snapshot_tree(d) == before


def test_private_key_file_is_never_enrolled(ready: Path, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    d = copy_of(ready, tmp_path)
    (d / "keys" / "online.json").unlink()
    pem = tmp_path / "private.pem"
    pem.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    before = snapshot_tree(d)
    r = run("enroll", d, "online", "--public-key", pem)
    assert r.returncode == 2 and "private key file is never accepted" in r.stdout + r.stderr
    assert snapshot_tree(d) == before
    # TUF key JSON with the private part (securesystemslib's key dict of a private key), in
    # keyval or beside it: refused too, never enrolled (it would be published in root.json).
    priv = ed25519.Ed25519PrivateKey.generate()
    raw = serialization.Encoding.Raw
    public = priv.public_key().public_bytes(raw, serialization.PublicFormat.Raw).hex()
    secret = priv.private_bytes(
        raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    ).hex()
    for doc in (
        {
            "keytype": "ed25519",
            "scheme": "ed25519",
            "keyval": {"public": public, "private": secret},
        },
        {
            "keytype": "ed25519",
            "scheme": "ed25519",
            "keyval": {"public": public},
            "private": secret,
        },
    ):
        key_json = tmp_path / "key.json"
        key_json.write_text(json.dumps(doc))
        r = run("enroll", d, "online", "--public-key", key_json)
        assert r.returncode == 2, r.stdout + r.stderr
        assert "a private key file is never accepted" in r.stdout + r.stderr
        assert secret not in r.stdout + r.stderr
        assert snapshot_tree(d) == before


def test_declined_and_wrong_pin_write_nothing_and_never_show_the_pin(
    ready: Path, tmp_path: Path
) -> None:
    d = copy_of(ready, tmp_path)
    before = snapshot_tree(d)
    r = run("sign", d, "root", "--key", "root-a", stdin=["no", PIN])
    assert r.returncode == 1 and "nothing was signed" in r.stdout + r.stderr
    r = run("sign", d, "root", "--key", "root-a", stdin=["Yes", "wrong-pin-000"])
    assert r.returncode == 3 and "wrong PIN" in r.stdout + r.stderr
    assert "2 tries left" in r.stdout + r.stderr
    assert snapshot_tree(d) == before
    # Nothing else was written, but both refused attempts are in the transcript (no PIN).
    declined, wrong_pin = refusals(d)
    assert (declined["command"], declined["outcome"], declined["exit_code"]) == (
        "sign",
        "refused",
        1,
    )
    assert any(n.startswith("Not signed: root-a (A) did not confirm") for n in declined["notes"])
    assert (wrong_pin["outcome"], wrong_pin["exit_code"]) == ("refused", 3)
    assert any(n.startswith("Wrong PIN:") for n in wrong_pin["notes"])
    r = run("sign", d, "root", "--key", "root-a", stdin=["Yes", PIN])
    assert r.returncode == 0, r.stdout + r.stderr
    # The PIN is nowhere in the directory, the transcript included.
    for rel, data in snapshot_tree(d).items():
        assert PIN.encode() not in data, rel
    entries = [json.loads(x) for x in (d / "transcript.jsonl").read_text().splitlines()]
    assert entries[-1]["command"] == "sign" and entries[-1]["holder"] == "A"


def test_second_session_is_refused_while_the_first_holds_the_lock(
    ready: Path, tmp_path: Path
) -> None:
    d = copy_of(ready, tmp_path)
    before = snapshot_tree(d)
    fd = os.open(d / ".ceremony.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        r = run("sign", d, "root", "--key", "root-a", stdin=["Yes", PIN])
        assert r.returncode == 2 and "another ceremony command is running" in r.stdout + r.stderr
    finally:
        os.close(fd)
    assert snapshot_tree(d) == before


def test_killed_session_leaves_every_earlier_signature(ready: Path, tmp_path: Path) -> None:
    d = copy_of(ready, tmp_path)
    assert run("sign", d, "root", "--key", "root-a", stdin=["Yes", PIN]).returncode == 0
    before = snapshot_tree(d)
    # A second holder's session dies while it waits for the PIN (after the Yes).
    proc = subprocess.Popen(
        [sys.executable, "-m", "ceremony", "sign", str(d), "root", "--key", "root-b"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    proc.stdin.write("Yes\n")
    proc.stdin.flush()
    time.sleep(1.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert snapshot_tree(d) == before
    status = json.loads(run("status", d, "--json").stdout)
    assert status["roles"]["root"]["thresholds"][0]["signed"] == ["root-a"]
    # And the next session works (the lock died with the process).
    assert run("sign", d, "root", "--key", "root-b", stdin=["Yes", PIN]).returncode == 0
    assert json.loads(run("status", d, "--json").stdout)["roles"]["root"]["complete"] is True


def test_merge_refuses_bad_and_stale_signatures(ready: Path, tmp_path: Path) -> None:
    import shutil

    d = copy_of(ready, tmp_path)
    other = tmp_path / "other"
    shutil.copytree(d, other)
    assert run("sign", other, "root", "--key", "root-a", stdin=["Yes", PIN]).returncode == 0
    assert run("sign", other, "root", "--key", "root-b", stdin=["Yes", PIN]).returncode == 0
    sigs = sorted((other / "signatures" / "root").glob("*.json"))
    bad = json.loads(sigs[0].read_text())
    bad["sig"] = "00" * 64
    sigs[0].write_text(json.dumps(bad))
    stale = json.loads(sigs[1].read_text())
    stale["digest"] = "f" * 64
    sigs[1].write_text(json.dumps(stale))
    r = run("merge", d, other)
    # Exit 1 when anything was refused, as the README says (issue 11; it was 0).
    assert r.returncode == 1, r.stdout + r.stderr
    assert "2 entries were refused (listed above)" in r.stderr
    assert "0 would add, 0 skipped, 2 refused" in r.stdout
    assert "bad signature" in r.stdout and "wrong digest" in r.stdout
    assert not (d / "signatures" / "root").exists() or not any(
        (d / "signatures" / "root").iterdir()
    )


def test_redraft_after_plan_change_makes_signatures_stale(ready: Path, tmp_path: Path) -> None:
    d = copy_of(ready, tmp_path)
    assert run("sign", d, "root", "--key", "root-a", stdin=["Yes", PIN]).returncode == 0
    (d / "ceremony.yaml").write_text(PLAN.replace("expires: 365d", "expires: 300d"))
    r = run("sign", d, "root", "--key", "root-b", stdin=["Yes", PIN])
    assert r.returncode == 2 and "changed since root was drafted" in r.stdout + r.stderr
    # Re-drafting over collected signatures asks first (issue 11): no answer, a wrong
    # answer or an empty line write nothing; a typed Yes (or --replace) goes on.
    before = snapshot_tree(d)
    r = run("draft", d)
    assert r.returncode == 2 and "A new draft makes it STALE" in r.stdout
    assert "standard input ended before an answer was given to: Replace the draft?" in r.stderr
    r = run("draft", d, stdin=["yes"])
    assert r.returncode == 1 and "root draft was not replaced: you typed 'yes'" in r.stderr
    assert snapshot_tree(d) == before
    r = run("draft", d, stdin=["Yes"])
    assert r.returncode == 0 and "1 signature(s) are now STALE" in r.stdout
    st = json.loads(run("status", d, "--json").stdout)["roles"]["root"]
    assert st["thresholds"][0]["signed"] == [] and len(st["stale"]) == 1
    r = run("draft", d)
    assert "already up to date" in r.stdout


def test_verify_explains_a_broken_chain(ready: Path, tmp_path: Path) -> None:
    r = run("verify", ready / "drafts" / "root.json")
    assert r.returncode == 1
    assert "threshold not met" in r.stdout + r.stderr or "does not verify" in r.stdout + r.stderr
    r = run("verify", ready / "ceremony.yaml")
    assert r.returncode == 2 and "not TUF root metadata" in r.stdout + r.stderr


def test_draft_edited_together_with_its_recorded_digest_is_refused(
    ready: Path, tmp_path: Path
) -> None:
    """An attacker who edits the draft AND its recorded digest still cannot get it signed:
    show, sign and export rebuild the bytes from the reviewed plan and compare."""
    import hashlib
    import re

    from ceremony.digest import canonical_from_json

    d = copy_of(ready, tmp_path)
    draft = d / "drafts" / "root.json"
    data = draft.read_bytes()
    edited = re.sub(
        rb'"expires":"(\d{4})',
        lambda m: b'"expires":"' + str(int(m.group(1)) + 8).encode(),
        data,
        count=1,
    )
    assert edited != data
    draft.write_bytes(edited)
    text = edited[len(b'{"signatures":[],"signed":') : -1]
    meta_path = d / "drafts" / "root.meta.json"
    meta = json.loads(meta_path.read_text())
    meta["digest"] = hashlib.sha256(canonical_from_json(text)).hexdigest()
    meta_path.write_text(json.dumps(meta))
    before = snapshot_tree(d)
    both: tuple[list[str | Path], ...] = (["show", d], ["sign", d, "root", "--key", "root-a"])
    for args in both:
        r = run(*args, stdin=["Yes", PIN])
        assert r.returncode == 2, (args, r.stdout + r.stderr)
        assert "changed since root was drafted" in r.stdout + r.stderr
    assert snapshot_tree(d) == before
