"""The one bounded reader, the one JSON reader and python-tuf's causes in words (issue 9,
rules 2 and 11): the pieces every command's input goes through."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from tuf.api.serialization import DeserializationError

from ceremony.errors import InputError, StoreError
from ceremony.files import MAX_JSON_DEPTH, json_problem, parse_json, read_bounded
from ceremony.tufread import cause, read_root


def test_only_a_regular_file_within_the_limit_is_read(tmp_path: Path) -> None:
    ok = tmp_path / "ok"
    ok.write_bytes(b"12345")
    assert read_bounded(ok, 5) == b"12345"
    with pytest.raises(InputError, match=r"6 bytes, more than the 5 bytes accepted"):
        ok.write_bytes(b"123456")
        read_bounded(ok, 5)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"named pipe \(FIFO\), not a regular file"):
        read_bounded(fifo, 5)
    with pytest.raises(InputError, match="character device"):
        read_bounded(Path("/dev/zero"), 5)
    with pytest.raises(StoreError, match="is a folder"):
        read_bounded(tmp_path, 5, error=StoreError)
    link = tmp_path / "link"
    link.symlink_to(ok)
    with pytest.raises(InputError, match="symbolic link"):
        read_bounded(link, 100, follow_symlinks=False)
    assert read_bounded(link, 100) == b"123456"  # a link the user gives is followed


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"\xff", r"is not UTF-8 text \(byte 0 is 0xff\)"),
        (b"[" * 5000, "nests more than"),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), "nests more than 32 levels"),
        (b'{"signed": {"x": [1, 2.5]}}', r"holds a float \(2.5\) at signed.x\[1\]"),
        (b'{"a": 1e3}', r"holds a float \(1e3\) at a"),
        (b'{"a": NaN}', "NaN is not a JSON number"),
        (b"9" * 5000, "is not valid JSON"),
        (b'{"a": ', r"is not valid JSON \(Expecting value at line 1, column 7\)"),
    ],
)
def test_json_problems_are_named(data: bytes, problem: str) -> None:
    value, found = json_problem(data)
    assert value is None and found is not None
    assert re.search(problem, found), found
    with pytest.raises(InputError, match=problem):
        parse_json(data, "x.json")


def test_nesting_up_to_the_limit_is_read() -> None:
    depth = MAX_JSON_DEPTH
    assert parse_json(b"[" * depth + b"]" * depth, "x.json") is not None


def test_the_cause_is_python_tufs_own_words() -> None:
    inner = ValueError("Unsupported spec_version 2.0.0")
    outer = DeserializationError("Failed to deserialize JSON")
    outer.__cause__ = inner
    assert cause(outer) == "Unsupported spec_version 2.0.0"
    assert cause(KeyError("keys")) == "the field 'keys' is missing"
    assert cause(ValueError()) == "ValueError"


def test_a_non_root_is_named(tmp_path: Path) -> None:
    data = b'{"signed": {"_type": "timestamp"}, "signatures": []}'
    with pytest.raises(InputError, match="python-tuf says"):
        read_root(data, "t.json")
