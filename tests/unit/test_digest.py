"""ceremony.digest: canonical bytes, SHA-256, grouped hex and PGP words."""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tuf.api.serialization.json import CanonicalJSONSerializer

from ceremony.digest import (
    PGP_EVEN,
    PGP_ODD,
    PGP_WORDS_SHA256,
    canonical_bytes,
    grouped_hex,
    pgp_words,
    pgp_words_lines,
    sha256_hex,
)
from tests.unit.factories import NOW, key, make_root

PROPS = settings(max_examples=50, deadline=None)

digests = st.binary(min_size=32, max_size=32).map(bytes.hex)


# --- the PGP word lists ---------------------------------------------------------------------


def test_word_lists_match_their_pinned_hash() -> None:
    joined = "\n".join(PGP_EVEN) + "\n" + "\n".join(PGP_ODD)
    assert hashlib.sha256(joined.encode("utf-8")).hexdigest() == PGP_WORDS_SHA256


def test_word_lists_shape() -> None:
    assert len(PGP_EVEN) == len(set(PGP_EVEN)) == 256
    assert len(PGP_ODD) == len(set(PGP_ODD)) == 256
    # Disjoint, so a word heard in the wrong position is noticed.
    assert not {w.lower() for w in PGP_EVEN} & {w.lower() for w in PGP_ODD}
    assert (PGP_EVEN[0], PGP_ODD[0], PGP_EVEN[255], PGP_ODD[255]) == (
        "aardvark",
        "adroitness",
        "Zulu",
        "Yucatan",
    )


def test_published_example() -> None:
    # The example fingerprint printed with the PGP word list (Juola and Zimmermann).
    fingerprint = "E582 94F2 E9A2 2748 6E8B 061B 31CC 528F D7FA 3F19".replace(" ", "").lower()
    assert pgp_words(fingerprint) == [
        "topmost",
        "Istanbul",
        "Pluto",
        "vagabond",
        "treadmill",
        "Pacific",
        "brackish",
        "dictator",
        "goldfish",
        "Medusa",
        "afflict",
        "bravado",
        "chatter",
        "revolver",
        "Dupont",
        "midsummer",
        "stopwatch",
        "whimsical",
        "cowbell",
        "bottomless",
    ]


@PROPS
@given(digest=digests)
def test_words_alternate_lists_by_position(digest: str) -> None:
    words = pgp_words(digest)
    raw = bytes.fromhex(digest)
    assert len(words) == 32
    for i, (w, b) in enumerate(zip(words, raw, strict=True)):
        table = PGP_EVEN if i % 2 == 0 else PGP_ODD
        assert table[b] == w
        assert w not in (PGP_ODD if i % 2 == 0 else PGP_EVEN)


@PROPS
@given(digest=digests, i=st.integers(0, 30))
def test_swapped_adjacent_words_are_heard(digest: str, i: int) -> None:
    words = pgp_words(digest)
    words[i], words[i + 1] = words[i + 1], words[i]
    # After a swap, position i holds a word of the wrong list: a listener hears it.
    assert words[i] not in (PGP_EVEN if i % 2 == 0 else PGP_ODD)


@PROPS
@given(a=digests, b=digests)
def test_words_are_one_to_one(a: str, b: str) -> None:
    assert (pgp_words(a) == pgp_words(b)) == (a == b)


def test_word_lines_numbered_in_eights() -> None:
    lines = pgp_words_lines("ab" * 32)
    assert [ln[:6] for ln in lines] == [" 1- 8:", " 9-16:", "17-24:", "25-32:"]
    assert lines[0] == " 1- 8: " + " ".join(["rhythm", "Pegasus"] * 4)


@PROPS
@given(digest=digests)
def test_word_lines_hold_every_word_in_order(digest: str) -> None:
    lines = pgp_words_lines(digest)
    words = [w for ln in lines for w in ln.split(": ", 1)[1].split()]
    assert words == pgp_words(digest)


def test_short_digest_lines() -> None:
    assert pgp_words_lines("00ff00") == [" 1- 3: aardvark Yucatan aardvark"]


# --- grouped hex ----------------------------------------------------------------------------


def test_grouped_hex_example() -> None:
    digest = "3f5ca1b2" + "0" * 56
    text = grouped_hex(digest)
    assert text.startswith("3f5c a1b2 0000 ")
    assert len(text.split(" ")) == 16


@PROPS
@given(digest=digests, group=st.integers(1, 16))
def test_grouped_hex_round_trip(digest: str, group: int) -> None:
    parts = grouped_hex(digest, group).split(" ")
    assert "".join(parts) == digest
    assert all(len(p) == group for p in parts[:-1])
    assert 1 <= len(parts[-1]) <= group


# --- canonical bytes ------------------------------------------------------------------------

# Canonical JSON (OLPC) has no floats: the values TUF metadata uses are these.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
json_dicts = st.dictionaries(st.text(max_size=8), json_values, max_size=6)


def reorder(value: Any, rnd: random.Random) -> Any:
    """The same JSON value with every dict's insertion order shuffled."""
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {k: reorder(v, rnd) for k, v in items}
    if isinstance(value, list):
        return [reorder(v, rnd) for v in value]
    return value


@PROPS
@given(d=json_dicts, seed=st.integers(0, 2**32 - 1))
def test_canonical_bytes_stable_under_key_order(d: dict[str, Any], seed: int) -> None:
    shuffled = reorder(d, random.Random(seed))
    assert shuffled == d
    assert canonical_bytes(shuffled) == canonical_bytes(d)
    assert sha256_hex(canonical_bytes(shuffled)) == sha256_hex(canonical_bytes(d))


@PROPS
@given(d=json_dicts)
def test_canonical_bytes_round_trip(d: dict[str, Any]) -> None:
    data = canonical_bytes(d)
    assert json.loads(data.decode("utf-8"), strict=False) == d
    # Idempotent: parsing and re-encoding gives the same bytes.
    assert canonical_bytes(json.loads(data.decode("utf-8"), strict=False)) == data


@PROPS
@given(a=json_dicts, b=json_dicts)
def test_canonical_bytes_differ_for_different_values(a: dict[str, Any], b: dict[str, Any]) -> None:
    if a != b:
        assert canonical_bytes(a) != canonical_bytes(b)


def test_canonical_bytes_examples() -> None:
    assert canonical_bytes({"b": 1, "a": [True, None, "x"]}) == b'{"a":[true,null,"x"],"b":1}'
    assert canonical_bytes({"é": "ü"}) == '{"é":"ü"}'.encode()
    assert sha256_hex(b"") == hashlib.sha256(b"").hexdigest()


def test_canonical_bytes_refuse_floats() -> None:
    with pytest.raises(Exception):  # noqa: B017 - securesystemslib's FormatError
        canonical_bytes({"a": 1.5})


def test_canonical_bytes_are_what_python_tuf_signs() -> None:
    root = make_root(3, [key("root-a"), key("root-b")], 2, expires=NOW)
    assert canonical_bytes(root.to_dict()) == CanonicalJSONSerializer().serialize(root)
