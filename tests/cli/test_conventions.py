"""Command-line conventions (issue 11): `-h`, help with exit 0, names like DIR/ROLE/FILE in
usage, shell completion for bash, zsh and fish, `--version` naming the libraries that sign
and verify, and the README's set-up leaving `ceremony` runnable as printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = [
    ["init"],
    ["validate"],
    ["enroll"],
    ["keygen"],
    ["draft"],
    ["show"],
    ["copy"],
    ["sign"],
    ["status"],
    ["merge"],
    ["import"],
    ["payload"],
    ["add-signature"],
    ["export"],
    ["verify"],
    ["rehearse"],
    ["tokens"],
    ["attestation", "verify"],
]


CONSOLE_SCRIPT = Path(sys.executable).parent / "ceremony"


def ceremony(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The `ceremony` command as a user runs it (the console script: its usage lines say
    `ceremony`; `python -m ceremony` says `python -m ceremony`, as click names it)."""
    return subprocess.run(
        [str(CONSOLE_SCRIPT), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "100", **(env or {})},
        timeout=60,
        check=False,
    )


def test_ceremony_alone_prints_the_help_and_succeeds() -> None:
    res = ceremony()
    assert res.returncode == 0, res.stderr
    assert "Usage: ceremony [OPTIONS] COMMAND [ARGS]..." in res.stdout
    assert "sign " in res.stdout and "Exit codes: 0 done" in res.stdout
    assert "..." not in res.stdout.split("Commands:")[1]  # one-line summaries, never cut


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_command_has_dash_h_and_plain_usage_names(args: list[str]) -> None:
    short, long = ceremony(*args, "-h"), ceremony(*args, "--help")
    assert short.returncode == 0 and short.stdout == long.stdout
    usage = short.stdout
    assert not re.search(r"<[a-z\[\]A-Z]+>", usage), usage  # no <path>, <str>, <list[Path]>
    assert "{" not in usage, usage  # no {directory}
    first = usage.splitlines()[0]
    if args not in (["tokens"], ["verify"], ["rehearse"]):
        assert re.match(rf"Usage: ceremony {' '.join(args)} \[OPTIONS\] DIR\b", first), first


def test_usage_lines() -> None:
    assert "Usage: ceremony sign [OPTIONS] DIR [ROLE]" in ceremony("sign", "-h").stdout
    assert "Usage: ceremony merge [OPTIONS] DIR OTHER..." in ceremony("merge", "-h").stdout
    assert "Usage: ceremony verify [OPTIONS] FILE..." in ceremony("verify", "-h").stdout
    enroll = ceremony("enroll", "-h").stdout
    assert "--attestation-chain FILE" in enroll and "--uri URI" in enroll
    res = ceremony("sign", "/tmp")
    assert res.returncode == 2 and "Missing option '--key'" in res.stderr


def test_version_names_the_libraries_without_importing_them() -> None:
    res = ceremony("--version")
    assert res.returncode == 0
    for dist, shown in (
        ("tuf", "python-tuf"),
        ("securesystemslib", "securesystemslib"),
        ("python-pkcs11", "python-pkcs11"),
    ):
        assert f"{shown} {metadata.version(dist)}" in res.stdout, res.stdout
    probe = (
        "import sys\n"
        "sys.argv = ['ceremony', '--version']\n"
        "from ceremony.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('tuf', 'securesystemslib', 'pkcs11') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().endswith("[]"), out  # --help and --version stay fast


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_shell_completion_scripts(shell: str) -> None:
    # Typer detects the user's shell; the test names it instead.
    env = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    res = ceremony("--show-completion", shell, env=env)
    assert res.returncode == 0, res.stderr
    assert f"_CEREMONY_COMPLETE=complete_{shell}" in res.stdout
    assert "--install-completion" in ceremony("-h").stdout


def test_bash_completion_completes_commands_and_options() -> None:
    env = {"_CEREMONY_COMPLETE": "complete_bash", "COMP_WORDS": "ceremony si", "COMP_CWORD": "1"}
    assert ceremony(env=env).stdout.split() == ["sign"]
    env.update(COMP_WORDS="ceremony sign DIR --re", COMP_CWORD="3")
    assert ceremony(env=env).stdout.split() == ["--reopen"]


def test_the_readme_set_up_leaves_ceremony_runnable_as_printed() -> None:
    readme = (ROOT / "README.md").read_text()
    setup = readme.split("## Set-up")[1].split("\n## ")[0]
    assert ". .venv/bin/activate" in setup
    runbooks = (ROOT / "runbooks" / "README.md").read_text()
    assert ". .venv/bin/activate" in runbooks and ". ~/ceremony-venv/bin/activate" in runbooks
    assert ". ~/ceremony-venv/bin/activate" in (ROOT / "runbooks" / "root-ceremony.md").read_text()
    if not (ROOT / ".venv" / "bin" / "activate").exists():
        pytest.skip("no .venv in the checkout (scripts/test.sh and scripts/rehearse.sh make it)")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV",)}
    env["PATH"] = "/usr/bin:/bin"  # a fresh shell: `ceremony` is not on PATH before
    res = subprocess.run(
        ["bash", "-c", ". .venv/bin/activate && ceremony --version"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert res.returncode == 0 and res.stdout.startswith("tuf-ceremony "), res.stderr
