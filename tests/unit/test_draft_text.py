"""The draft file's JSON text and the canonical bytes every key signs.

`canonical_from_json(json_text(d))` must equal securesystemslib's `encode_canonical(d)` for
every JSON value TUF metadata can hold (strings with any characters, integers, booleans,
null, lists, nested objects): the fast path (no backslash: the text IS canonical) and the
slow path (escapes: parse and canonicalise) alike.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from securesystemslib.formats import encode_canonical

from ceremony.digest import canonical_from_json, json_text, parse_metadata_json


def _canonical(signed: dict[str, Any]) -> bytes:
    """securesystemslib's canonical JSON (typed `str | None`: None only on request)."""
    text = encode_canonical(signed)
    assert isinstance(text, str)
    return text.encode("utf-8")


scalars = st.one_of(
    st.text(max_size=12),  # any characters: control, quotes, backslashes, non-ASCII
    st.integers(min_value=-(2**63), max_value=2**63),
    st.booleans(),
    st.none(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=8), values, max_size=6))
def test_canonical_from_json_text_is_the_canonical_encoding(signed: dict[str, object]) -> None:
    expected = _canonical(signed)
    text = json_text(signed)
    assert json.loads(text) == signed  # the file stays valid JSON
    assert canonical_from_json(text) == expected


def test_pem_newlines_take_the_slow_path() -> None:
    signed = {"keyval": {"public": "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"}}
    text = json_text(signed)
    assert b"\\n" in text  # escaped in the JSON text
    assert canonical_from_json(text) == _canonical(signed)  # raw in canonical


def test_floats_are_refused_when_parsing_metadata() -> None:
    with pytest.raises(ValueError, match="fraction"):
        parse_metadata_json(b'{"version":1.5}')
