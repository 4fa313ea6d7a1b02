"""Hypothesis strategies for adversarial input: valid documents with parts deleted, retyped or
replaced by odd values (huge numbers, floats, NaN, unicode, control characters, deep nesting),
and byte-level damage (truncation, insertion, flips, invalid UTF-8, a BOM)."""

from __future__ import annotations

import copy
import json
from typing import Any

import yaml
from hypothesis import strategies as st

JsonPath = tuple[str | int, ...]

# Strings a parser rarely expects: control characters, NUL, RTL marks, surrogate-free emoji,
# path separators, very long runs, look-alike digits.
ODD_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(
        alphabet=st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "So"]), max_size=20
    ),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "\u202e",
            "../../etc/passwd",
            "ö",
            "１２３",
            "1e309",
            "-0",
            "NaN",
            "null",
            "x" * 5000,
            "%00",
            "%%",
            "pkcs11:",
            "TODO",
        ]
    ),
)
HUGE_INTS = st.sampled_from([2**63, -(2**63) - 1, 10**40, -1, 0, 2**31, 10**4000])
ODD_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    HUGE_INTS,
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1.5, 0.0, -0.0, 1e308]),
    ODD_TEXT,
)
ODD_VALUES = st.recursive(
    ODD_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(ODD_TEXT, inner, max_size=4)
    ),
    max_leaves=8,
)


def deeply_nested(depth: int) -> Any:
    out: Any = []
    for _ in range(depth):
        out = [out]
    return out


DEEP = st.sampled_from([50, 500, 5000]).map(deeply_nested)


def paths(doc: Any, prefix: JsonPath = (), max_depth: int = 12) -> list[JsonPath]:
    """Every path to a value inside ``doc`` (dict keys and list indexes), ``doc`` itself first,
    down to ``max_depth`` levels (deeply nested values inserted by DEEP are not walked)."""
    out = [prefix]
    if len(prefix) >= max_depth:
        return out
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += paths(v, (*prefix, k), max_depth)
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += paths(v, (*prefix, i), max_depth)
    return out


def _parent(doc: Any, path: JsonPath) -> Any:
    for step in path[:-1]:
        doc = doc[step]
    return doc


@st.composite
def mutated_document(draw: st.DrawFn, base: Any, max_mutations: int = 3) -> Any:
    """``base`` (a JSON/YAML document) with 1..max_mutations structural mutations."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, max_mutations))):
        all_paths = [p for p in paths(doc) if p]
        if not all_paths:
            return draw(ODD_VALUES)
        path = draw(st.sampled_from(all_paths))
        parent, last = _parent(doc, path), path[-1]
        op = draw(st.sampled_from(["delete", "replace", "deep", "add", "wrap", "dupkey"]))
        if op == "delete":
            del parent[last]
        elif op == "replace":
            parent[last] = draw(ODD_VALUES)
        elif op == "deep":
            parent[last] = draw(DEEP)
        elif op == "add" and isinstance(parent, dict):
            parent[draw(ODD_TEXT)] = draw(ODD_VALUES)
        elif op == "wrap":
            parent[last] = [parent[last]]
        elif op == "dupkey" and isinstance(parent, dict) and isinstance(last, str):
            # same key spelled with different case / trailing space
            parent[draw(st.sampled_from([last.upper(), last + " ", " " + last]))] = parent[last]
    return doc


def to_json_bytes(doc: Any, *, indent: int | None, ascii_only: bool) -> bytes:
    try:
        return json.dumps(doc, indent=indent, ensure_ascii=ascii_only).encode(
            "utf-8", "surrogatepass"
        )
    except (ValueError, RecursionError):  # not encodable: an odd document of its own kind
        return b"[" * 10000


@st.composite
def mutated_json_bytes(draw: st.DrawFn, base: Any) -> bytes:
    """A JSON file: ``base`` mutated structurally, then maybe damaged as bytes."""
    doc = draw(mutated_document(base))
    data = to_json_bytes(
        doc, indent=draw(st.sampled_from([None, 1, 2])), ascii_only=draw(st.booleans())
    )
    if draw(st.booleans()):
        return data
    return draw(damaged_bytes(data))


@st.composite
def damaged_bytes(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with one byte-level mutation."""
    n = len(data)
    i = draw(st.integers(0, n))
    j = draw(st.integers(i, min(n, i + 64)))
    op = draw(
        st.sampled_from(
            ["truncate", "insert", "flip", "delete", "repeat", "bom", "bad-utf8", "nul"]
        )
    )
    if op == "truncate":
        return data[:i]
    if op == "insert":
        return data[:i] + draw(st.binary(min_size=1, max_size=16)) + data[i:]
    if op == "flip" and n:
        k = min(i, n - 1)
        return data[:k] + bytes([data[k] ^ (1 << draw(st.integers(0, 7)))]) + data[k + 1 :]
    if op == "delete":
        return data[:i] + data[j:]
    if op == "repeat":
        return data[:j] + data[i:j] * draw(st.integers(2, 50)) + data[j:]
    if op == "bom":
        return b"\xef\xbb\xbf" + data
    if op == "bad-utf8":
        return data[:i] + b"\xff\xfe\xc3" + data[i:]
    return data[:i] + b"\x00" + data[i:]


def any_bytes() -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=300),
        st.sampled_from([b"", b"\n", b"{}", b"[]", b"null", b"\xff" * 10, b"[" * 100000]),
    )


# YAML shapes that only a YAML file can carry.
YAML_SPECIALS = [
    # billion laughs (alias expansion)
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
    "roles: [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
    "!!python/object/apply:os.system ['true']\n",
    "roles: !!binary aGVsbG8=\n",
    "root: {expires: 365d}\nroot: {expires: 1d}\n",
    "? [a, b]\n: c\n",
    "root: &r {x: *r}\n",
    "\t- bad tab\n",
    "--- a\n--- b\n",
    "%YAML 9.9\n---\na: 1\n",
    "a: !!float 1e999\n",
    "a: 0x" + "f" * 5000 + "\n",
    "[" * 5000,
    "{" * 5000,
]


def yaml_bytes(doc: Any) -> bytes:
    try:
        return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).encode(
            "utf-8", "surrogatepass"
        )
    except (yaml.YAMLError, RecursionError, UnicodeEncodeError):
        return b"a: [" * 3000
