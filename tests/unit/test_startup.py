"""Start-up (issue 12, docs/adr/0008-startup.md): `ceremony --help` is typer's own text without
importing typer, and no command imports what it does not use. Counted by the modules a
process loads, never timed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONSOLE_SCRIPT = Path(sys.executable).parent / "ceremony"

# What each command run must never load (a help screen or `verify` loads none of them).
HEAVY = ("pydantic", "tuf.ngclient", "urllib3", "ssl", "http.client")


def run(argv: list[str], columns: int = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS=str(columns))
    env.pop("CEREMONY_DEBUG", None)
    return subprocess.run(
        argv, capture_output=True, text=True, env=env, cwd=REPO, timeout=120, check=False
    )


def typer_help(columns: int, program: str = "ceremony") -> str:
    """typer's own rendering of `ceremony --help`, as `ceremony.cli.main` gives it."""
    code = (
        "import sys; sys.argv = ['ceremony', '--help']\n"
        + (
            "sys.modules['__main__'].__package__ = 'ceremony'; sys.argv[0] = 'x/__main__.py'\n"
            if program == "python -m ceremony"
            else ""
        )
        + "from ceremony.cli import main; main()"
    )
    res = run([sys.executable, "-c", code], columns)
    assert res.returncode == 0, res.stderr
    return res.stdout


def loaded_modules(argv: list[str]) -> set[str]:
    """The modules a `ceremony ARGV` process has loaded when it exits."""
    code = (
        "import atexit, json, sys\n"
        "atexit.register(lambda: sys.__stderr__.write('MODULES' + json.dumps(sorted(sys.modules))))\n"
        f"sys.argv = ['ceremony', *{argv!r}]\n"
        "from ceremony.__main__ import main\n"
        "main()\n"
    )
    res = run([sys.executable, "-c", code])
    return set(json.loads(res.stderr.rsplit("MODULES", 1)[1]))


@pytest.mark.parametrize("columns", [80, 120, 400])
def test_help_is_typers_text_byte_for_byte(columns: int) -> None:
    if not CONSOLE_SCRIPT.exists():
        pytest.skip("the ceremony console script is not installed in this venv")
    fast = run([str(CONSOLE_SCRIPT), "--help"], columns)
    assert fast.returncode == 0, fast.stderr
    assert fast.stdout == typer_help(columns), "run `python scripts/help_text.py`"
    module = run([sys.executable, "-m", "ceremony", "--help"], columns)
    assert module.stdout == typer_help(columns, "python -m ceremony")
    assert module.stdout.startswith("Usage: python -m ceremony [OPTIONS] COMMAND")


def test_narrow_terminal_help_comes_from_typer() -> None:
    res = run([sys.executable, "-m", "ceremony", "--help"], 60)
    assert res.returncode == 0
    assert res.stdout == typer_help(60, "python -m ceremony")


def test_stored_help_options_are_typers() -> None:
    """The stored text answers exactly the options typer treats as help (e.g. when `-h` is
    added to the app's context settings, the stored set must follow: scripts/help_text.py)."""
    import typer.main

    from ceremony import _help
    from ceremony.cli import app

    group = typer.main.get_command(app)
    ctx = group.context_class(group, info_name="ceremony", **group.context_settings)
    assert set(_help.HELP_OPTIONS) == set(ctx.help_option_names)


def test_help_loads_no_framework_and_no_command() -> None:
    mods = loaded_modules(["--help"])
    assert "ceremony._help" in mods
    for name in ("typer", "rich", "ceremony.cli", "tuf", "securesystemslib", *HEAVY):
        assert name not in mods, name


def test_verify_loads_only_what_it_uses(tmp_path: Path) -> None:
    from tests.rotation.test_long_chain import Chain

    files = Chain(2).write(tmp_path)
    mods = loaded_modules(["verify", *map(str, files)])
    assert "ceremony.rootchain" in mods and "ceremony.cli.publish_cmds" in mods
    unused = (
        "rich",
        "ceremony.cli.setup_cmds",
        "ceremony.cli.rehearse_cmd",
        "ceremony.cli.token_cmds",
        "ceremony.plan",
        "ceremony.delegations",
        "ceremony.services",
        "ceremony.tokens",
        "yaml",
        *HEAVY,
    )
    for name in unused:
        assert name not in mods, name


def test_a_command_run_loads_no_pydantic_and_no_ngclient(tmp_path: Path) -> None:
    mods = loaded_modules(["init", str(tmp_path / "c")])
    assert "ceremony.cli.setup_cmds" in mods
    for name in ("ceremony.cli.publish_cmds", "ceremony.cli.rehearse_cmd", *HEAVY):
        assert name not in mods, name


def test_app_has_every_command() -> None:
    """`ceremony.cli.app` (tests, tools) registers every command; a run registers one."""
    import typer.main

    from ceremony.cli import COMMAND_MODULES, app

    assert set(typer.main.get_command(app).commands) == set(COMMAND_MODULES)  # type: ignore[attr-defined]
