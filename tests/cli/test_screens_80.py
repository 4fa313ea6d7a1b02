"""The holder's screens on a real terminal of 80, 100 and 120 columns (issue 11).

Each screen is rendered on a pseudo-terminal (`tests/cli/pty_run.py`), so rich and the
prompts see a terminal of that size, exactly as on an air-gapped laptop's console. Checked:

- no line the tool writes is wider than the terminal;
- every value a holder checks is whole on one line: full key names (long ones too), the key
  types (`ecdsa-p256` vs `ecdsa-p384`), each token's full serial, the full 16-hex keyid, the
  role name `timestamp`;
- `sign` ends with a compact block of at most 24 lines, prompt included, holding the role,
  version, expiry, the changes (or "first root"), the holder's own key line and the digest
  (hex in two lines, and the words), and a prompt that states the exact-Yes rule;
- the long listing goes through a pager on a terminal, and never when output is not one.

A first root, and a rotation in which one holder has an old key (previous root) and a new
one: the screens of both of her keys.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, Holders, plan_text
from tests.cli.pty_run import Screen, run_on_tty
from tests.softhsm import SoftHsm

pytestmark = pytest.mark.softhsm

# Long names: a value that does not fit a table column must still be shown whole.
ALICE = "root-alice-2026-primary-yubikey"
BOB = "root-bob"
CAROL = "root-carol-hsm-in-the-vault"
CAROL_2 = "root-carol-2-replacement-device"
WIDTHS = (80, 100, 120)
RULE = "─" * 20


@dataclass
class Ceremonies:
    first: Path  # drafted, nobody signed
    rotation: Path  # version 2 drafted: Carol's old key and her new key both approve it
    serials: dict[str, str]  # key name -> token serial
    keyids: dict[str, str]  # key name -> 16 hex digits


@pytest.fixture(scope="module")
def ceremonies(
    cli: Cli, hsm: SoftHsm, holders: Holders, tmp_path_factory: pytest.TempPathFactory
) -> Ceremonies:
    base = tmp_path_factory.mktemp("screens")
    # Tokens of their own: the session's holders' tokens already hold keys of other tests.
    tokens = {h: hsm.init_token(label=f"scr-{h}") for h in ("alice", "bob", "carol", "dave")}
    d = base / "first"
    cli.ok("init", d)
    roles = {
        "root": (2, [ALICE, BOB, CAROL]),
        "targets": (1, ["targets-key"]),
        "snapshot": (1, ["online"]),
        "timestamp": (1, ["online"]),
    }
    keys = {
        ALICE: "Alice Example",
        BOB: "Bob Example",
        CAROL: "Carol Example",
        "targets-key": "Targets key holder",
        "online": "Online signing service",
    }
    (d / "ceremony.yaml").write_text(plan_text(roles, keys))
    token_of = {ALICE: "alice", BOB: "bob", CAROL: "carol", CAROL_2: "dave"}
    for name, ktype in ((ALICE, "ed25519"), (BOB, "ecdsa-p256"), (CAROL, "ecdsa-p384")):
        holder = token_of[name]
        cli.ok(
            "keygen",
            d,
            name,
            "--uri",
            f"{tokens[holder].uri};object={name}",
            "--type",
            ktype,
            stdin=[tokens[holder].pin],
            module=True,
        )
    cli.ok("enroll", d, "online", "--public-key", holders.online_pem)
    cli.ok("enroll", d, "targets-key", "--public-key", holders.targets_pem)
    cli.ok("draft", d)
    first = base / "first-unsigned"
    shutil.copytree(d, first)
    for name in (ALICE, BOB):
        pin = tokens[token_of[name]].pin
        cli.ok("sign", d, "root", "--key", name, stdin=["Yes", pin], module=True)
    cli.ok("export", d)
    rot = base / "rotation"
    cli.ok(
        "init", rot, "--previous-root", d / "published" / "1.root.json", "--previous-ceremony", d
    )
    from ceremony.plan.parse import parse_plan

    prev = parse_plan((rot / "ceremony.yaml").read_text()).previous_root
    assert prev is not None
    roles2 = {**roles, "root": (2, [ALICE, BOB, CAROL_2])}
    (rot / "ceremony.yaml").write_text(
        plan_text(
            roles2,
            {**keys, CAROL_2: "Carol Example"},
            previous=(prev.path, prev.sha256),
            statuses={CAROL: "compromised"},
        )
    )
    cli.ok(
        "keygen",
        rot,
        CAROL_2,
        "--uri",
        f"{tokens['dave'].uri};object={CAROL_2}",
        "--type",
        "ecdsa-p256",
        stdin=[tokens["dave"].pin],
        module=True,
    )
    cli.ok("draft", rot)
    import json

    keyids = {}
    for name in (ALICE, BOB, CAROL):
        keyids[name] = json.loads((d / "keys" / f"{name}.json").read_text())["keyid"][:16]
    keyids[CAROL_2] = json.loads((rot / "keys" / f"{CAROL_2}.json").read_text())["keyid"][:16]
    serials = {n: tokens[h].serial for n, h in token_of.items()}
    return Ceremonies(first, rot, serials, keyids)


def tty_env(cli: Cli, **extra: str) -> dict[str, str]:
    env = cli.env()
    env["PAGER"] = "cat"  # the listing printed straight (the pager has its own test)
    env.update(extra)
    return env


def sign_screen(cli: Cli, holders: Holders, d: Path, key: str, cols: int) -> Screen:
    """The whole sign screen; the holder types `no` (nothing is signed: repeatable)."""
    screen = run_on_tty(
        ["sign", d, "root", "--key", key, "--module", cli.hsm.module],
        cols=cols,
        answers=[("anything else stops:", "no")],
        env=tty_env(cli),
    )
    assert screen.code == 1, screen.text
    return screen


def assert_fits(screen: Screen, cols: int) -> None:
    wide = [line for line in screen.lines if len(line) > cols]
    assert not wide, f"lines wider than {cols} columns:\n" + "\n".join(wide)
    cut = re.findall(r"\S+…", screen.text)  # a value cut short, as rich tables did (root-ali…)
    assert not cut, cut


def assert_whole(screen: Screen, values: list[str]) -> None:
    for value in values:
        assert any(value in line for line in screen.lines), (
            f"{value!r} is not whole:\n{screen.text}"
        )


def compact_block(screen: Screen) -> list[str]:
    """From the last rule to the end of the prompt (the line with the typed answer)."""
    lines = screen.lines
    end = max(i for i, line in enumerate(lines) if "stops:" in line)
    start = max(i for i, line in enumerate(lines[:end]) if line.startswith(RULE))
    return lines[start : end + 1]


@pytest.mark.parametrize("cols", WIDTHS)
def test_first_root_sign_screen_fits_and_shows_every_value_whole(
    cli: Cli, holders: Holders, ceremonies: Ceremonies, cols: int
) -> None:
    c = ceremonies
    screen = sign_screen(cli, holders, c.first, CAROL, cols)
    assert_fits(screen, cols)
    every = [ALICE, BOB, CAROL, "ecdsa-p256", "ecdsa-p384", "timestamp: 1 of 1 key must sign"]
    every += [c.serials[n] for n in (ALICE, BOB, CAROL)] + [
        c.keyids[n] for n in (ALICE, BOB, CAROL)
    ]
    assert_whole(screen, every)
    block = compact_block(screen)
    assert len(block) <= 24, "\n".join(block)
    text = "\n".join(block)
    assert "Before you sign: root version 1 of test.example.org/simple" in text
    assert re.search(r"expires \d{4}-\d\d-\d\d \d\d:\d\d UTC", text)
    assert "Changes: none, this is the first root" in text
    assert f"Your key: {CAROL} (Carol Example)" in text
    assert f"ecdsa-p384, keyid {c.keyids[CAROL]}" in text
    assert f"serial {c.serials[CAROL]}" in text
    hex_lines = [ln for ln in block if re.fullmatch(r"  ([0-9a-f]{4} ){7}[0-9a-f]{4}", ln)]
    assert len(hex_lines) == 2
    for n in ("1- 8:", "9-16:", "17-24:", "25-32:"):
        assert any(ln.strip().startswith(n) for ln in block), n
    assert "Type exactly Yes (capital Y, nothing else)" in " ".join(text.split())
    # The refusal repeats the rule and shows what was typed.
    flat = " ".join(screen.text.split())
    assert "you typed 'no'; only exactly Yes (capital Y, no spaces) confirms" in flat


@pytest.mark.parametrize("cols", WIDTHS)
@pytest.mark.parametrize("key", [CAROL, CAROL_2])
def test_rotation_sign_screen_for_the_old_and_the_new_key(
    cli: Cli, holders: Holders, ceremonies: Ceremonies, key: str, cols: int
) -> None:
    c = ceremonies
    screen = sign_screen(cli, holders, c.rotation, key, cols)
    assert_fits(screen, cols)
    assert_whole(screen, [ALICE, BOB, CAROL, CAROL_2, c.serials[CAROL], c.serials[CAROL_2]])
    assert_whole(screen, [c.keyids[CAROL], c.keyids[CAROL_2], "ecdsa-p384", "ecdsa-p256"])
    block = compact_block(screen)
    assert len(block) <= 24, "\n".join(block)
    text = " ".join(" ".join(block).split())
    assert "Before you sign: root version 2" in text
    assert "(previous root:" in text  # the expiry it replaces
    assert f"root: remove {CAROL} (holder Carol Example, compromised)" in text
    assert f"root: add {CAROL_2} (holder Carol Example)" in text
    assert "sign twice" in text  # she holds both keys
    assert f"Your key: {key} (Carol Example)" in text
    assert f"keyid {c.keyids[key]}" in text and f"serial {c.serials[key]}" in text
    counts = "previous root (version 1)" if key == CAROL else "new root (version 2)"
    assert f"counts for {counts}: 0 of 2 signed so far" in text


@pytest.mark.parametrize("cols", WIDTHS)
def test_show_and_status_fit_the_terminal(
    cli: Cli, ceremonies: Ceremonies, tmp_path: Path, cols: int
) -> None:
    commands: list[list[str | Path]] = [
        ["show", ceremonies.rotation],
        ["status", ceremonies.rotation],
    ]
    for args in commands:
        screen = run_on_tty(args, cols=cols, env=tty_env(cli))
        assert screen.code == 0, screen.text
        assert_fits(screen, cols)
    screen = run_on_tty(["show", ceremonies.rotation], cols=cols, env=tty_env(cli))
    assert_whole(screen, [CAROL_2, ceremonies.serials[CAROL_2], "timestamp"])
    assert "Previous root (version 1): 2 of its 3 root keys must also sign this one" in screen.text


def test_the_long_listing_is_paged_on_a_terminal_and_never_otherwise(
    cli: Cli, ceremonies: Ceremonies, tmp_path: Path
) -> None:
    paged = tmp_path / "paged.txt"
    pager = f"sh -c 'cat > {paged}'"
    screen = run_on_tty(["show", ceremonies.rotation], cols=80, env=tty_env(cli, PAGER=pager))
    assert screen.code == 0
    assert "Roles and keys:" in paged.read_text() and "Roles and keys:" not in screen.text
    paged.unlink()
    res = cli.run("show", ceremonies.rotation, env={"PAGER": pager})
    assert res.code == 0 and "Roles and keys:" in res.out
    assert not paged.exists()
    assert os.environ.get("PAGER") != pager


def test_the_pager_is_less_without_shell_escapes_and_says_where_the_text_ends(
    cli: Cli, ceremonies: Ceremonies, tmp_path: Path
) -> None:
    """The default pager is less with LESSSECURE=1 (no `!command`, no editor: the ceremony
    machine's shell stays out of reach) and a prompt that says when the end is reached."""
    if shutil.which("less") is None:
        pytest.skip("less is not installed")
    env = tty_env(cli)
    env.pop("PAGER", None)
    screen = run_on_tty(
        ["show", ceremonies.rotation],
        cols=80,
        answers=[
            ("[ space - more, b - back, q - done ]", "!"),  # a shell escape: refused
            ("Command not available", "G"),  # to the end of the text
            ("[ END, q - done ]", "q"),
        ],
        env=env,
        timeout=30,
    )
    assert screen.code == 0, screen.text
