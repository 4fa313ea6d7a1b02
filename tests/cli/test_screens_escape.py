"""Screens show exactly what is signed (issue 9, rule 10), through the CLI.

Holder names, the repository name and file paths carrying bidirectional controls (U+202E
turns "txt.exe" into "exe.txt" on screen), ANSI escape sequences (clear the screen, recolour),
line separators and C0/C1 controls are printed escaped (`\\u202e`) by every screen: validate,
draft/show, sign, status, merge, verify and error messages. No raw control character
reaches the terminal.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.cli.foreign_roots import PIN, ceremony

RAW = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069\ufeff]"
)

PLAN = """\
repository: "pypi\\u202egro.elpmaxe"
root:
  expires: 365d
roles:
  root:      {threshold: 1, keys: [root-a, root-b]}
  targets:   {threshold: 1, keys: [targets-a]}
  snapshot:  {threshold: 1, keys: [online]}
  timestamp: {threshold: 1, keys: [online]}
keys:
  root-a: {holder: "Alice \\u202eecilA"}
  root-b: {holder: "Bob \\e[2J\\e[31mMallory\\x9b"}
  targets-a: {holder: "Carol\\u2028met (3 of 3)\\u2066"}
  online: {holder: "Online [bold]service[/]"}
rehearsal: true
"""


def _no_raw(text: str) -> None:
    found = RAW.findall(text)
    assert not found, f"raw control characters on screen: {found!r}\n{text}"


@pytest.fixture(scope="module")
def drafted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ceremony.tokens.software_rehearsal import SoftwareToken, SoftwareUri

    base = tmp_path_factory.mktemp("escape")
    d = base / "c"
    assert ceremony("init", d).code == 0
    (d / "ceremony.yaml").write_text(PLAN)
    SoftwareToken.create(base / "tok", "t", PIN)
    for name in ("root-a", "root-b", "targets-a"):
        uri = str(SoftwareUri(base / "tok", "t", name))
        r = ceremony("keygen", d, name, "--uri", uri, "--type", "ed25519", stdin=[PIN])
        assert r.code == 0, r.out
    pem = base / "online.pem"
    pem.write_bytes(
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert ceremony("enroll", d, "online", "--public-key", pem).code == 0
    return d


def test_validate_and_draft_show_values_escaped(drafted: Path) -> None:
    val = ceremony("validate", drafted)
    assert val.code == 0, val.out
    _no_raw(val.out)
    assert "pypi\\u202egro.elpmaxe" in val.out
    draft = ceremony("draft", drafted)
    assert draft.code == 0
    _no_raw(draft.out)
    show = ceremony("show", drafted)
    _no_raw(show.out)
    assert "Alice \\u202eecilA" in show.out
    assert "Bob \\u001b[2J\\u001b[31mMallory\\u009b" in show.out
    assert "Carol\\u2028met (3 of 3)\\u2066" in show.out
    assert "Online [bold]service[/]" in show.out  # markup in a value is printed as written


def test_sign_status_and_merge_show_values_escaped(drafted: Path, tmp_path: Path) -> None:
    import shutil

    from ceremony.tokens.software_rehearsal import SoftwareUri

    d = tmp_path / "c"
    shutil.copytree(drafted, d)
    if not (d / "drafts" / "root.json").exists():
        assert ceremony("draft", d).code == 0
    uri = str(SoftwareUri(drafted.parent / "tok", "t", "root-a"))
    sign = ceremony("sign", d, "root", "--key", "root-a", "--uri", uri, stdin=["Yes", PIN])
    assert sign.code == 0, sign.out
    _no_raw(sign.out)
    assert "Alice \\u202eecilA" in sign.out
    status = ceremony("status", d)
    _no_raw(status.out)
    assert "Alice \\u202eecilA" in status.out and "Bob \\u001b[2J" in status.out
    merged = ceremony("merge", drafted, d)
    _no_raw(merged.out)


def test_error_messages_escape_file_names(tmp_path: Path) -> None:
    bad = tmp_path / "root\u202enosj.json"
    r = ceremony("verify", bad)
    assert r.code == 2
    _no_raw(r.out)
    assert "root\\u202enosj.json" in r.out
    r = ceremony("validate", tmp_path / "dir\x1b[2Jx")
    assert r.code == 2
    _no_raw(r.out)
    assert "dir\\u001b[2Jx" in r.out
