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

from ceremony.digest import canonical_from_json, is_canonical_text, json_text, parse_metadata_json
from ceremony.drafting import Draft
from ceremony.errors import StoreError


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


# --- issue 12: the canonical check of a re-derived draft is a comparison -------------------

float_values = st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f != int(f))


@settings(max_examples=200, deadline=None)
@given(signed=st.dictionaries(st.text(max_size=8), values, max_size=6))
def test_is_canonical_text_only_says_yes_for_the_canonical_encoding(
    signed: dict[str, Any],
) -> None:
    text = json_text(signed)
    if is_canonical_text(text):  # never wrong when it says yes (a backslash: it says no)
        assert text == _canonical(signed)


@settings(max_examples=100, deadline=None)
@given(signed=st.dictionaries(st.text(max_size=8), values, max_size=4), f=float_values)
def test_a_float_is_never_canonical_text(signed: dict[str, Any], f: float) -> None:
    assert not is_canonical_text(json_text({**signed, "x": f}))
    assert not is_canonical_text(json_text({**signed, "x": [1, {"y": f}]}))


def test_is_canonical_text_examples() -> None:
    assert is_canonical_text(b'{"a":"1.0.31","b":[1,2],"c":"e5","d":-3,"e":[10,{"f":0}]}')
    assert is_canonical_text(
        json_text({"spec_version": "1.0.31", "expires": "2030-01-01T00:00:00Z"})
    )
    assert not is_canonical_text(b'{"a":[1,2.5]}')
    assert not is_canonical_text(b'{"a":[2.5]}')
    assert not is_canonical_text(b'{"a":-0.0}')
    assert not is_canonical_text(json_text({"a": 1e16}))
    assert not is_canonical_text(b'{"a":1.5}')
    assert not is_canonical_text(b'{"a":1e5}')
    assert not is_canonical_text(b'{"a":"line\\nbreak"}')


def _bins_draft(text: bytes) -> Draft:
    import datetime as dt

    return Draft("bins", text, text, "d" * 64, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


def test_an_adopted_draft_is_canonical_without_a_second_parse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signed = {"_type": "targets", "version": 1, "spec_version": "1.0.31", "targets": {}}
    text = json_text(signed)
    d = _bins_draft(text)
    d.adopt(text, json.loads(text))
    monkeypatch.setattr(
        "ceremony.digest.parse_metadata_json", lambda *_: pytest.fail("parsed again")
    )
    d.check_canonical("drafts/bins.json")  # no parse: the comparison is the check
    assert d.derived_content == signed


def test_a_draft_is_adopted_only_when_its_text_is_the_derived_text() -> None:
    signed = {"b": 1, "a": 2}
    edited = b'{"b":1,"a":2}'  # the same content, keys not sorted: not what json_text writes
    d = _bins_draft(edited)
    d.adopt(json_text(signed), signed)
    assert d.derived_content is None
    with pytest.raises(StoreError, match="not in canonical form"):
        d.check_canonical("drafts/bins.json")


def test_a_float_in_an_adopted_draft_still_takes_the_refusing_path() -> None:
    signed = {"a": 1.5}
    text = json_text(signed)
    d = _bins_draft(text)
    d.adopt(text, dict(signed))
    assert d.derived_content is None  # export will encode it (and refuse the float)
    with pytest.raises(StoreError):
        d.check_canonical("drafts/bins.json")
