"""Messages a stressed holder reads (issue 11), through the command line.

- a wrong path says what was expected (a ceremony directory, not its plan file, not a folder
  inside it) and never suggests `ceremony init`;
- the exact-`Yes` rule: what was typed is shown, invisible characters made visible;
- a signature made after the threshold is met is called extra (optional);
- SoftHSM2's PIN-count-low flag is explained (it never locks), and a factory-default PIN is
  warned about in words that hold if the token then refuses it;
- `tokens --token` lists one token (and asks only its PIN), with its token URI, in lines that
  fit 80 columns.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ceremony.services import drafts
from ceremony.transcript import Entry
from tests.cli.conftest import Cli, plan_text
from tests.cli.pty_run import run_on_tty
from tests.unit.services_kit import NOW, PIN, new_ceremony


def run(*args: str | Path, stdin: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "ceremony", *map(str, args)],
        input="".join(f"{x}\n" for x in (stdin or [])),
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
        check=False,
    )
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc


@pytest.fixture
def drafted(tmp_path: Path) -> Path:
    """A drafted first root (2 of 3) on the built-in software token."""
    kit = new_ceremony(tmp_path)
    drafts.draft(kit.cdir, "root", NOW, Entry("draft"))
    return kit.root


def test_wrong_paths_say_what_was_expected_without_suggesting_init(
    drafted: Path, tmp_path: Path
) -> None:
    cases = {
        drafted / "ceremony.yaml": f"is the plan file; a ceremony directory is expected: the "
        f"folder that holds ceremony.yaml, keys/, drafts/ and signatures/. Give its folder: {drafted}",
        drafted / "drafts": f"is a folder inside the ceremony directory {drafted}, not the "
        "ceremony directory itself",
        tmp_path / "typo": "does not exist, so it is not a ceremony directory",
        tmp_path: "has no ceremony.yaml, so it is not a ceremony directory",
    }
    for path, words in cases.items():
        commands: list[list[str | Path]] = [
            ["validate", path],
            ["sign", path, "root", "--key", "root-alice"],
        ]
        for command in commands:
            res = run(*command)
            assert res.returncode == 2, res.stderr
            assert words in res.stderr, res.stderr
            assert "init" not in res.stderr, res.stderr


@pytest.mark.parametrize("typed", ["yes", "Yes ", " Yes", "YES", "", "Yes\t"])
def test_anything_but_exactly_yes_declines_and_says_what_was_typed(
    drafted: Path, typed: str
) -> None:
    res = run("sign", drafted, "root", "--key", "root-alice", stdin=[typed, PIN])
    assert res.returncode == 1
    shown = repr(typed) if typed else "nothing (an empty line)"
    assert f"did not confirm: you typed {shown}; only exactly Yes (capital Y, no spaces)" in (
        res.stderr
    )
    assert "Type exactly Yes (capital Y, nothing else) to go on" in res.stdout
    assert not (drafted / "signatures").exists()


def test_a_signature_after_the_threshold_is_extra(drafted: Path) -> None:
    for key in ("root-alice", "root-bob"):
        assert run("sign", drafted, "root", "--key", key, stdin=["Yes", PIN]).returncode == 0
    res = run("status", drafted)
    assert "root version 1: COMPLETE: every threshold is met, ready to export" in res.stdout
    assert "new root (version 1): 2 signed, 2 needed (met); more signatures are optional" in (
        res.stdout
    )
    assert "optional: root-carol (Carol Example)" in res.stdout
    assert "missing:" not in res.stdout  # not "COMPLETE" and "missing" in one breath
    res = run("sign", drafted, "root", "--key", "root-carol", stdin=["Yes", PIN])
    assert res.returncode == 0
    assert "Every threshold your key counts for is met already: your signature is extra" in (
        res.stdout
    )
    assert "Your signature is extra: every threshold your key counts for was met" in res.stdout


def test_a_copy_says_to_bring_it_back(drafted: Path, tmp_path: Path) -> None:
    copy = tmp_path / "usb" / "c"
    assert run("copy", drafted, copy).returncode == 0
    commands: list[list[str | Path]] = [
        ["sign", copy, "root", "--key", "root-bob"],
        ["status", copy],
    ]
    for command in commands:
        res = run(*command, stdin=["Yes", PIN])
        assert res.returncode == 0, res.stderr
        last = res.stdout.strip().splitlines()[-1]
        assert last.endswith("bring this copy back to the administrator for `ceremony merge`."), (
            last
        )
    res = run("draft", copy, "--replace")
    assert res.returncode == 2 and "a draft is made only in the administrator's" in res.stderr


# --- SoftHSM2 ------------------------------------------------------------------------------


@dataclass
class PrivateCli(Cli):
    """The CLI on a SoftHSM2 token directory of its own (its token's PIN is not the shared
    test PIN, and its flags change: other tests must not see it)."""

    conf: Path = Path()

    def env(self) -> dict[str, str]:
        return {**super().env(), "SOFTHSM2_CONF": str(self.conf)}


@pytest.fixture
def eve(cli: Cli, tmp_path: Path) -> tuple[Path, str, PrivateCli]:
    """A drafted root whose key root-eve is on a fresh SoftHSM token with PIN 123456 (a
    factory-default PIN), in a token directory of its own."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from ceremony.tokens import softhsm as softhsm_setup
    from tests.softhsm import SO_PIN

    private = softhsm_setup.set_up(tmp_path / "softhsm")
    label = "msg-eve"
    private.init_token(label, pin="123456", so_pin=SO_PIN)
    ecli = PrivateCli(cli.hsm, cli.secrets, conf=private.conf)
    d = tmp_path / "c"
    ecli.ok("init", d)
    keys = {"root-eve": "Eve Example", "online": "Online signing service"}
    roles = {
        "root": (1, ["root-eve"]),
        "targets": (1, ["root-eve"]),
        "snapshot": (1, ["online"]),
        "timestamp": (1, ["online"]),
    }
    (d / "ceremony.yaml").write_text(plan_text(roles, keys))
    uri = f"pkcs11:token={label};object=root-eve"
    ecli.ok(
        "keygen", d, "root-eve", "--uri", uri, "--type", "ed25519", stdin=["123456"], module=True
    )
    pem = tmp_path / "online.pub.pem"
    pem.write_bytes(
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    ecli.ok("enroll", d, "online", "--public-key", pem)
    ecli.ok("draft", d)
    return d, label, ecli


@pytest.mark.softhsm
def test_softhsm_pin_count_low_is_explained_and_factory_pins_warned_rightly(
    eve: tuple[Path, str, PrivateCli],
) -> None:
    d, label, cli = eve
    # A wrong PIN that is itself a factory default: the warning does not claim it is the
    # token's PIN, and the refusal explains SoftHSM2's flag.
    res = cli.run("sign", d, "root", "--key", "root-eve", stdin=["Yes", "000000"], module=True)
    assert res.code == 3, res.text
    assert (
        "the PIN typed is a well-known factory default (such as 123456). If the token accepts "
        "it" in res.out
    )
    assert (
        "SoftHSM2 now shows its 'PIN count low' flag, as it does after any wrong PIN; it never "
        "locks" in res.text
    )
    assert "before it locks" not in res.text
    res = cli.ok("tokens", "--token", label, module=True)
    assert "PIN count low (SoftHSM2 shows it after any wrong PIN; it never locks)" in res.out
    res = cli.ok("sign", d, "root", "--key", "root-eve", stdin=["Yes", "123456"], module=True)
    assert "Note: SoftHSM2 shows 'PIN count low' after any wrong PIN. It never locks" in res.out
    assert "few PIN tries are left" not in res.out
    assert "the PIN typed is a well-known factory default" in res.out  # it is the token's PIN
    res = cli.ok("tokens", "--token", label, module=True)
    assert "PIN count low" not in res.out  # the right PIN cleared it


@pytest.mark.softhsm
def test_tokens_lists_one_token_with_its_uri_and_asks_only_its_pin(
    eve: tuple[Path, str, PrivateCli],
) -> None:
    _d, label, cli = eve
    res = cli.ok("tokens", "--login", "--token", label, stdin=["123456"], module=True)
    assert res.out.count("PIN needed") == 1 and res.out.count("Token '") == 1
    assert f"token URI: pkcs11:token={label};serial=" in res.out
    assert "Key 'root-eve': id " in res.out
    line = next(ln for ln in res.out.splitlines() if "sensitive" in ln)
    assert line.strip().startswith(
        "sensitive yes, extractable no, always-sensitive yes, never-extractable yes, local yes"
    )
    res = cli.run("tokens", "--token", "no-such-token", module=True)
    assert res.code == 3 and "no token with the label or serial 'no-such-token'" in res.err
    # The whole module: SoftHSM2's free slot is said to be empty, not a token named ''.
    res = cli.ok("tokens", module=True)
    assert "Token ''" not in res.out
    assert "An empty slot of SoftHSM project SoftHSM v2 (no token initialised in it" in res.out
    # At 80 columns every line fits, and the label and URI are whole.
    env = {**cli.env(), "PAGER": "cat"}
    screen = run_on_tty(["tokens", "--module", cli.hsm.module, "--token", label], cols=80, env=env)
    assert screen.code == 0, screen.text
    # Every line fits, but a URI: it is printed whole, to be copied (the terminal folds it).
    wide = [ln for ln in screen.lines if len(ln) > 80]
    assert all(ln.split(": ", 1)[1].startswith("pkcs11:") for ln in wide), wide
    assert any(ln.startswith("    URI: pkcs11:token=") and ";type=private" in ln for ln in wide)
    assert any(f"Token '{label}'" in ln for ln in screen.lines)


def test_a_role_the_ceremony_does_not_have_is_named_not_sent_to_draft(
    cli: Cli, tmp_path: Path
) -> None:
    """`show DIR rot` and `sign DIR rot` (a typo) never suggest a `ceremony draft` that would
    fail: they name the roles this ceremony drafts. This plan has no targets section, so
    `targets` (signed by the repository's own targets key) is not drafted here either."""
    kit = new_ceremony(tmp_path)
    for args in (
        ("show", kit.root, "rot"),
        ("sign", kit.root, "rot", "--key", "root-alice"),
        ("sign", kit.root, "targets", "--key", "targets-alice"),
    ):
        res = cli.run(*args)
        assert res.code == 2, res.text
        assert f"'{args[2]}' is not a role of this ceremony" in res.text, res.text
        assert "the roles this ceremony drafts are: root." in res.text
        assert "`ceremony draft" not in res.text  # no command suggested
    res = cli.run("show", kit.root, "root")  # a role it drafts, not drafted yet
    assert res.code == 2 and f"`ceremony draft {kit.root} root`" in res.text, res.text
