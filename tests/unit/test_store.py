"""ceremony.store and ceremony.transcript: safe writes, path safety, the lock, the log chain."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ceremony import transcript as tr
from ceremony.errors import LockedError, StoreError
from ceremony.files import atomic_write, json_bytes, write_once
from ceremony.store import LOCK_FILE, PLAN_FILE, CeremonyDir, check_name

KEYID = "ab" * 32


@pytest.fixture
def cdir(tmp_path: Path) -> CeremonyDir:
    root = tmp_path / "ceremony"
    root.mkdir()
    (root / PLAN_FILE).write_text("repository: x\n")
    return CeremonyDir(root)


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".tmp-"))


# --- write_once and atomic_write -------------------------------------------------------------


def test_write_once_creates_file_and_folders(tmp_path: Path) -> None:
    target = tmp_path / "signatures" / "root" / f"{KEYID}.json"
    write_once(target, b"first")
    assert target.read_bytes() == b"first"
    assert temp_files(target.parent) == []


def test_write_once_refuses_existing_file_and_leaves_it_intact(tmp_path: Path) -> None:
    target = tmp_path / "sig.json"
    target.write_bytes(b"original signature")
    before = target.stat()
    with pytest.raises(StoreError, match="already exists and is never overwritten"):
        write_once(target, b"replacement")
    assert target.read_bytes() == b"original signature"
    after = target.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert temp_files(tmp_path) == []


def test_write_once_refuses_even_an_empty_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "published.json"
    target.touch()
    with pytest.raises(StoreError):
        write_once(target, b"data")
    assert target.read_bytes() == b""


def test_atomic_write_replaces_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "drafts" / "root.json"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert temp_files(target.parent) == []
    assert [p.name for p in target.parent.iterdir()] == ["root.json"]


def test_atomic_write_failure_keeps_old_content_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "root.json"
    target.write_bytes(b"old")

    def fail(src: str, dst: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk gone"):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert temp_files(tmp_path) == []


def test_write_once_failure_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(src: str, dst: object) -> None:
        raise OSError("link refused")

    monkeypatch.setattr(os, "link", fail)
    with pytest.raises(OSError, match="link refused"):
        write_once(tmp_path / "x.json", b"data")
    assert list(tmp_path.iterdir()) == []


def test_json_bytes_is_stable() -> None:
    assert json_bytes({"b": 1, "a": "é"}) == '{\n  "a": "é",\n  "b": 1\n}\n'.encode()


# --- the ceremony directory and its paths ----------------------------------------------------


def test_directory_must_exist_and_hold_a_plan(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        CeremonyDir(tmp_path / "missing")
    with pytest.raises(StoreError, match=r"has no ceremony\.yaml"):
        CeremonyDir(tmp_path)
    CeremonyDir(tmp_path / "not-yet", must_exist=False)


def test_directory_given_as_symlink_refused(cdir: CeremonyDir, tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(cdir.root)
    with pytest.raises(StoreError, match="symbolic link"):
        CeremonyDir(link)


@pytest.mark.parametrize(
    "rel",
    ["..", "../outside.json", "keys/../../outside.json", "keys/..", "/etc/passwd", "~/x.json"],
)
def test_path_refuses_leaving_the_directory(cdir: CeremonyDir, rel: str) -> None:
    with pytest.raises(StoreError, match="leaves the ceremony directory"):
        cdir.path(rel)


def test_path_refuses_absolute_path_object(cdir: CeremonyDir) -> None:
    with pytest.raises(StoreError, match="leaves the ceremony directory"):
        cdir.path(Path("/tmp/x.json"))


def test_path_inside_is_fine(cdir: CeremonyDir) -> None:
    assert cdir.path("keys/alice.json") == cdir.root / "keys" / "alice.json"
    assert cdir.path("previous/1.root.json").is_relative_to(cdir.root)
    assert cdir.signature_path("root", KEYID) == cdir.root / "signatures" / "root" / f"{KEYID}.json"


def test_path_refuses_symlinked_folder(cdir: CeremonyDir, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (cdir.root / "keys").symlink_to(outside, target_is_directory=True)
    with pytest.raises(StoreError, match="goes through the symbolic link"):
        cdir.path("keys/alice.json")
    with pytest.raises(StoreError, match="symbolic link"):
        cdir.key_path("alice")
    with pytest.raises(StoreError):
        cdir.write("keys/alice.json", b"{}")
    assert list(outside.iterdir()) == []


def test_path_refuses_symlinked_file(cdir: CeremonyDir, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the ceremony")
    (cdir.root / "previous").mkdir()
    (cdir.root / "previous" / "1.root.json").symlink_to(secret)
    with pytest.raises(StoreError, match="symbolic link"):
        cdir.read_bytes("previous/1.root.json")


def test_dangling_symlink_refused(cdir: CeremonyDir, tmp_path: Path) -> None:
    (cdir.root / "drafts").mkdir()
    (cdir.root / "drafts" / "root.json").symlink_to(tmp_path / "nowhere.json")
    with pytest.raises(StoreError, match="symbolic link"):
        cdir.write_new("drafts/root.json", b"{}")
    assert not (tmp_path / "nowhere.json").exists()


@pytest.mark.parametrize("name", ["root", "root-alice", "a", "bin-0f", "x.y_z", "9" * 64])
def test_check_name_accepts(name: str) -> None:
    assert check_name("key", name) == name


@pytest.mark.parametrize(
    "name", ["", "Root", "-x", ".hidden", "a/b", "a\\b", "..", "a b", "x" * 65, "ключ"]
)
def test_check_name_refuses(name: str) -> None:
    with pytest.raises(StoreError, match="is not a valid key name"):
        check_name("key", name)


def test_check_name_refuses_trailing_newline() -> None:
    with pytest.raises(StoreError):
        check_name("key", "alice\n")


def test_signature_path_refuses_keyid_with_newline(cdir: CeremonyDir) -> None:
    with pytest.raises(StoreError):
        cdir.signature_path("root", KEYID + "\n")


@pytest.mark.parametrize("keyid", ["AB" * 32, "ab" * 31, "ab" * 33, "../" + "a" * 61])
def test_signature_path_refuses_bad_keyid(cdir: CeremonyDir, keyid: str) -> None:
    with pytest.raises(StoreError, match="is not a keyid"):
        cdir.signature_path("root", keyid)


# --- reads -----------------------------------------------------------------------------------


def test_read_errors_are_store_errors(cdir: CeremonyDir) -> None:
    with pytest.raises(StoreError, match="missing from the ceremony directory"):
        cdir.read_bytes("keys/nobody.json")
    (cdir.root / "drafts").mkdir()
    with pytest.raises(StoreError, match="is a folder"):
        cdir.read_bytes("drafts")
    (cdir.root / "big.json").write_bytes(b"x" * 11)
    with pytest.raises(StoreError, match="more than the 10 bytes"):
        cdir.read_bytes("big.json", max_bytes=10)
    (cdir.root / "cut.json").write_bytes(b'{"role": "ro')
    with pytest.raises(StoreError, match="is not valid JSON"):
        cdir.read_json("cut.json")


def test_list_json_skips_hidden_links_folders_and_other_files(
    cdir: CeremonyDir, tmp_path: Path
) -> None:
    keys = cdir.root / "keys"
    keys.mkdir()
    for name in ("b.json", "a.json", ".tmp-x.json", "notes.txt"):
        (keys / name).write_text("{}")
    (keys / "dir.json").mkdir()
    (tmp_path / "outside.json").write_text("{}")
    (keys / "link.json").symlink_to(tmp_path / "outside.json")
    assert [p.name for p in cdir.list_json("keys")] == ["a.json", "b.json"]
    assert cdir.list_json("signatures/root") == []


# --- the lock --------------------------------------------------------------------------------


def test_second_lock_while_held_is_refused(cdir: CeremonyDir) -> None:
    other = CeremonyDir(cdir.root)
    with (
        cdir.lock(),
        pytest.raises(LockedError, match="another ceremony command is running"),
        other.lock(),
    ):
        pass  # pragma: no cover - must not be reached
    with other.lock():  # released: the next session gets it
        pass
    mode = stat.S_IMODE((cdir.root / LOCK_FILE).stat().st_mode)
    assert mode & 0o077 == 0


def test_lock_held_by_another_process(cdir: CeremonyDir) -> None:
    code = (
        "import sys\n"
        "from ceremony.store import CeremonyDir\n"
        "from ceremony.errors import LockedError\n"
        "try:\n"
        "    with CeremonyDir(sys.argv[1]).lock():\n"
        "        sys.exit(0)\n"
        "except LockedError as e:\n"
        "    print(e.exit_code)\n"
        "    sys.exit(7)\n"
    )
    with cdir.lock():
        held = subprocess.run(
            [sys.executable, "-c", code, str(cdir.root)], capture_output=True, text=True, timeout=60
        )
    assert (held.returncode, held.stdout.strip()) == (7, "2"), held.stderr
    free = subprocess.run(
        [sys.executable, "-c", code, str(cdir.root)], capture_output=True, text=True, timeout=60
    )
    assert free.returncode == 0, free.stderr


def test_lock_released_after_an_exception(cdir: CeremonyDir) -> None:
    with pytest.raises(RuntimeError), cdir.lock():
        raise RuntimeError("command failed")
    with cdir.lock():
        pass


# --- the transcript --------------------------------------------------------------------------


def write_log(root: Path, n: int) -> Path:
    for i in range(n):
        tr.append(root, tr.Entry(f"cmd-{i}", args={"i": i}, holder="Alice"), "ok", 0)
    return root / tr.TRANSCRIPT_FILE


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


def test_transcript_chain_intact(tmp_path: Path) -> None:
    path = write_log(tmp_path, 4)
    assert tr.verify_hash_chain(tmp_path) == []
    entries = tr.read_entries(tmp_path)
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    assert entries[0]["prev"] == tr.GENESIS
    assert [e["command"] for e in entries] == ["cmd-0", "cmd-1", "cmd-2", "cmd-3"]
    assert entries[2]["holder"] == "Alice"
    assert entries[3]["outcome"] == "ok"
    assert path.read_bytes().endswith(b"\n")


def test_empty_or_missing_transcript_is_intact(tmp_path: Path) -> None:
    assert tr.verify_hash_chain(tmp_path) == []
    assert tr.read_entries(tmp_path) == []
    assert tr.last_hash(tmp_path / tr.TRANSCRIPT_FILE) == (tr.GENESIS, 0)


def test_edited_line_detected(tmp_path: Path) -> None:
    path = write_log(tmp_path, 4)
    lines = lines_of(path)
    rec = json.loads(lines[1])
    rec["outcome"] = "declined"  # rewrite history: the second command "was declined"
    lines[1] = json.dumps(rec, sort_keys=True).encode()
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert tr.verify_hash_chain(tmp_path) == [
        "line 3 does not chain to the line before it (edited or removed lines)"
    ]


def test_removed_line_detected(tmp_path: Path) -> None:
    path = write_log(tmp_path, 4)
    lines = lines_of(path)
    del lines[1]
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert tr.verify_hash_chain(tmp_path) == [
        "line 2 does not chain to the line before it (edited or removed lines)"
    ]


def test_removed_first_line_detected(tmp_path: Path) -> None:
    path = write_log(tmp_path, 3)
    path.write_bytes(b"\n".join(lines_of(path)[1:]) + b"\n")
    assert tr.verify_hash_chain(tmp_path) == [
        "line 1 does not chain to the line before it (edited or removed lines)"
    ]


def test_reordered_lines_detected(tmp_path: Path) -> None:
    path = write_log(tmp_path, 3)
    a, b, c = lines_of(path)
    path.write_bytes(b"\n".join([a, c, b]) + b"\n")
    assert len(tr.verify_hash_chain(tmp_path)) == 2


def test_truncated_last_line_tolerated_by_append(tmp_path: Path) -> None:
    path = write_log(tmp_path, 3)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])  # a session died while writing line 3
    tr.append(tmp_path, tr.Entry("next"), "ok", 0)
    # The damaged line is reported; the new line chains to the last complete one.
    assert tr.verify_hash_chain(tmp_path) == [
        "line 3 is damaged (a session may have died while writing it)"
    ]
    entries = tr.read_entries(tmp_path)
    assert [e["command"] for e in entries] == ["cmd-0", "cmd-1", "next"]
    assert entries[-1]["seq"] == 3
    assert len(lines_of(path)) == 4  # the partial line kept on its own line, for the record
    tr.append(tmp_path, tr.Entry("after"), "ok", 0)
    assert len(tr.verify_hash_chain(tmp_path)) == 1


def test_last_line_missing_only_its_newline(tmp_path: Path) -> None:
    path = write_log(tmp_path, 3)
    path.write_bytes(path.read_bytes()[:-1])
    tr.append(tmp_path, tr.Entry("next"), "ok", 0)
    assert tr.verify_hash_chain(tmp_path) == []
    assert [e["seq"] for e in tr.read_entries(tmp_path)] == [1, 2, 3, 4]


def test_ensure_writable(tmp_path: Path) -> None:
    tr.ensure_writable(tmp_path)
    if os.geteuid() == 0:
        return  # root can write anywhere; the refusal cannot be shown
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(StoreError, match="not writable"):
            tr.ensure_writable(tmp_path)
    finally:
        tmp_path.chmod(0o700)
