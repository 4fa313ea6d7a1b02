"""Strict JSON for files written by other tools (internal to `ceremony.foreign`).

Pure: bytes in, values out. Every refusal is an `InputError` (exit 2) naming the file.

What is refused, and why:
- more bytes than the caller's limit (a USB stick can carry anything);
- anything but UTF-8 (RFC 8259 section 8.1), including a leading byte-order mark;
- a key repeated in one object: `json.loads` would silently keep the last value, so two tools
  could read two different documents from the same bytes;
- numbers with a fraction or exponent, `NaN` and `Infinity`: OLPC canonical JSON, which TUF
  signs, has integers only (securesystemslib `formats.encode_canonical` refuses floats);
- strings that are not valid Unicode (lone surrogates such as "\\ud800"): they cannot be
  encoded to the UTF-8 bytes that are signed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from securesystemslib.exceptions import FormatError
from securesystemslib.formats import encode_canonical

from ceremony.errors import InputError

MIB = 1024 * 1024


class _Refused(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f'the key "{key}" appears twice in one object')
        out[key] = value
    return out


def _no_float(text: str) -> Any:
    raise _Refused(f"the number {text} has a fraction or an exponent")


def _no_constant(text: str) -> Any:
    raise _Refused(f"{text} is not a JSON number")


def load_json(data: bytes, *, source: str, limit: int) -> Any:
    """Parse `data` (the whole file) as strict JSON.

    `source` names the file in messages; `limit` is the largest accepted size in bytes.
    Raises `InputError` for every case listed in the module docstring and for malformed JSON
    (with its line and column).
    """
    if len(data) > limit:
        raise InputError(
            f"{source} is {len(data):,} bytes, more than the {limit:,} bytes accepted for it. "
            "Check that you gave the right file."
        )
    if data.startswith(b"\xef\xbb\xbf"):
        raise InputError(
            f"{source} starts with a UTF-8 byte-order mark, which JSON does not allow. "
            "Save it again without one (or give the file as the tool wrote it)."
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(
            f"{source} is not UTF-8 text (byte {e.start}). Give the JSON file as the tool wrote it."
        ) from None
    try:
        return json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_no_float,
            parse_constant=_no_constant,
        )
    except _Refused as e:
        raise InputError(
            f"{source} cannot be signed as TUF metadata: {e}. Nothing was written."
        ) from None
    except json.JSONDecodeError as e:
        raise InputError(
            f"{source} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}."
        ) from None
    except RecursionError:
        raise InputError(f"{source} nests JSON too deeply to be metadata.") from None


def canonical_bytes(value: Mapping[str, Any], *, source: str) -> bytes:
    """The OLPC canonical JSON bytes of `value` (what TUF signs), via securesystemslib.

    Raises `InputError` if `value` holds something canonical JSON cannot encode (a float, a
    non-string key) or a string that is not valid Unicode.
    """
    try:
        text = encode_canonical(dict(value))
        assert isinstance(text, str)
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(
            f"{source} holds a string that is not valid Unicode (a lone surrogate such as "
            '"\\ud800"): its signed bytes would be undefined.'
        ) from None
    except (FormatError, TypeError, ValueError) as e:
        raise InputError(f"{source} cannot be encoded as canonical JSON: {e}.") from None


def require_object(value: Any, *, what: str) -> dict[str, Any]:
    """`value` if it is a JSON object, else `InputError` naming `what`."""
    if not isinstance(value, dict):
        raise InputError(f"{what} must be a JSON object, found {json_type(value)}.")
    return value


def require_keys(
    obj: Mapping[str, Any],
    *,
    what: str,
    required: AbstractSet[str],
    optional: AbstractSet[str] = frozenset(),
) -> None:
    """Refuse (`InputError`) a missing required key or a key outside required | optional."""
    missing = sorted(required - obj.keys())
    if missing:
        raise InputError(f"{what} has no {', '.join(repr(k) for k in missing)}.")
    unknown = sorted(obj.keys() - required - optional)
    if unknown:
        known = ", ".join(repr(k) for k in sorted(set(required) | set(optional)))
        raise InputError(
            f"{what} has the unknown field(s) {', '.join(repr(k) for k in unknown)} "
            f"(known: {known}). It may come from a newer version of the tool: nothing was "
            "written."
        )


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def positive_int(value: Any, *, what: str, maximum: int | None = None) -> int:
    """`value` if it is a JSON integer (not a boolean) >= 1 and <= `maximum`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{what} must be a whole number of at least 1, found {value!r}.")
    if maximum is not None and value > maximum:
        raise InputError(f"{what} must be at most {maximum}, found {value}.")
    return value
