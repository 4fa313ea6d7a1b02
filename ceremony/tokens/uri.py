"""PKCS#11 URIs (RFC 7512), pure: parse, check, print canonically.

Supported path attributes: token, manufacturer, serial, model, library-manufacturer,
library-description, library-version, object, id, type. Query attributes: module-path,
module-name.

Refused on purpose:
- pin-value / pin-source: a PIN never goes in a URI (it would end up in files, logs and
  shell history). PINs are asked for at the moment of use.
- slot-id (and slot-description / slot-manufacturer): slot numbers change (SoftHSM moves a
  token to a new slot when it is initialised; readers enumerate in any order). Tokens are
  selected by serial or label.
- vendor attributes (x-...) and anything unknown: a typo must not silently widen a match.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from ceremony.errors import InputError

SCHEME = "pkcs11"

# Path attributes in canonical order (the order to_string prints them), mapped to field names.
_PATH_ATTRS: dict[str, str] = {
    "token": "token",
    "manufacturer": "manufacturer",
    "model": "model",
    "serial": "serial",
    "library-manufacturer": "library_manufacturer",
    "library-description": "library_description",
    "library-version": "library_version",
    "object": "object",
    "id": "id",
    "type": "type",
}
_QUERY_ATTRS: dict[str, str] = {
    "module-name": "module_name",
    "module-path": "module_path",
}
_PIN_ATTRS = ("pin-value", "pin-source")
_SLOT_ATTRS = ("slot-id", "slot-description", "slot-manufacturer")

OBJECT_TYPES = ("public", "private", "cert", "secret-key", "data")

_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_RES_AVAIL = frozenset(":[]@!$'()*+,=")
_PATH_CHARS = _UNRESERVED | _RES_AVAIL | {"&"}
_QUERY_CHARS = _UNRESERVED | _RES_AVAIL | {"/", "?", "|"}
_LIB_VERSION = re.compile(r"[0-9]+(\.[0-9]+)?")
_HEX = frozenset("0123456789abcdefABCDEF")


def _fail(message: str) -> InputError:
    return InputError(
        f"Invalid PKCS#11 URI: {message}.",
        hint="A key URI looks like pkcs11:token=NAME;serial=SERIAL;id=%01%02;type=private "
        "(RFC 7512). Characters other than letters, digits and -._~ must be percent-encoded.",
    )


def _pct_decode(value: str, attr: str, allowed: frozenset[str]) -> bytes:
    out = bytearray()
    i = 0
    while i < len(value):
        c = value[i]
        if c == "%":
            pair = value[i + 1 : i + 3]
            if len(pair) != 2 or not all(h in _HEX for h in pair):
                raise _fail(
                    f"bad percent-encoding {value[i : i + 3]!r} in '{attr}' "
                    "(expected % followed by two hex digits)"
                )
            out.append(int(pair, 16))
            i += 3
            continue
        if c not in allowed:
            shown = "".join(f"%{b:02X}" for b in c.encode("utf-8", "surrogatepass"))
            raise _fail(f"character {c!r} in '{attr}' must be percent-encoded as {shown}")
        out.extend(c.encode("ascii"))
        i += 1
    return bytes(out)


def _pct_encode_bytes(data: bytes, keep: frozenset[str]) -> str:
    return "".join(chr(b) if chr(b) in keep else f"%{b:02X}" for b in data)


@dataclass(frozen=True)
class Pkcs11Uri:
    """A parsed PKCS#11 URI. Text values are decoded (UTF-8); `id` is raw bytes."""

    token: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    serial: str | None = None
    library_manufacturer: str | None = None
    library_description: str | None = None
    library_version: str | None = None
    object: str | None = None
    id: bytes | None = None
    type: str | None = None
    module_name: str | None = None
    module_path: str | None = None

    def __post_init__(self) -> None:
        if self.type is not None and self.type not in OBJECT_TYPES:
            raise _fail(f"type={self.type!r} is not one of {', '.join(OBJECT_TYPES)}")
        if self.library_version is not None and not _LIB_VERSION.fullmatch(self.library_version):
            raise _fail(f"library-version={self.library_version!r} must look like 2 or 2.6")
        if self.module_path is not None and not self.module_path.startswith("/"):
            raise _fail(f"module-path={self.module_path!r} must be an absolute path")
        if self.module_name is not None and (not self.module_name or "/" in self.module_name):
            raise _fail(
                "module-name must be a bare module name such as 'softhsm2' "
                "(use module-path for a path)"
            )

    # --- parsing -------------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str) -> Pkcs11Uri:
        """Parse `text`; InputError (exit 2) with a precise message if it is not valid."""
        scheme, colon, rest = text.partition(":")
        if not colon or scheme.lower() != SCHEME:
            raise _fail("it must start with 'pkcs11:'")
        path, _, query = rest.partition("?")
        values: dict[str, str | bytes] = {}
        if path:
            for part in path.split(";"):
                cls._parse_attr(part, "path", values)
        if query:
            for part in query.split("&"):
                cls._parse_attr(part, "query", values)
        return cls(**values)  # type: ignore[arg-type]

    @staticmethod
    def _parse_attr(part: str, where: str, values: dict[str, str | bytes]) -> None:
        sep = ";" if where == "path" else "&"
        if not part:
            raise _fail(f"empty attribute (two '{sep}' in a row, or a trailing '{sep}')")
        name, eq, raw = part.partition("=")
        name_l = name.lower()
        if name_l in _PIN_ATTRS:
            # Never echo the value: it may be a PIN.
            raise _fail(
                f"'{name_l}' is refused: a PIN never goes in a URI; the tool asks for "
                "the PIN when it is needed"
            )
        if not eq:
            raise _fail(f"attribute {name!r} has no '=value'")
        if name_l in _SLOT_ATTRS:
            raise _fail(
                f"'{name_l}' is refused: slot numbers change between runs, so select "
                "the token by serial= or token= (its label)"
            )
        if name != name_l:
            raise _fail(f"attribute names are lower case: write {name_l!r}, not {name!r}")
        own, other = (_PATH_ATTRS, _QUERY_ATTRS) if where == "path" else (_QUERY_ATTRS, _PATH_ATTRS)
        if name in other:
            place = (
                "in the query part, after '?'"
                if where == "path"
                else "in the path part, before '?'"
            )
            raise _fail(f"'{name}' belongs {place}")
        if name not in own:
            if name.startswith("x-"):
                raise _fail(f"vendor attribute {name!r} is not supported")
            known = ", ".join([*_PATH_ATTRS, *_QUERY_ATTRS])
            raise _fail(f"unknown attribute {name!r} (known: {known})")
        field_name = own[name]
        if field_name in values:
            raise _fail(f"attribute '{name}' appears more than once")
        data = _pct_decode(raw, name, _PATH_CHARS if where == "path" else _QUERY_CHARS)
        if field_name == "id":
            values[field_name] = data
            return
        try:
            values[field_name] = data.decode("utf-8")
        except UnicodeDecodeError:
            raise _fail(f"'{name}' is not valid UTF-8 after percent-decoding") from None

    # --- printing ------------------------------------------------------------------------

    def to_string(self) -> str:
        """Canonical text: fixed attribute order, everything but [A-Za-z0-9-._~] encoded."""
        path: list[str] = []
        for attr, field_name in _PATH_ATTRS.items():
            value = getattr(self, field_name)
            if value is None:
                continue
            if isinstance(value, bytes):
                encoded = "".join(f"%{b:02X}" for b in value)
            else:
                encoded = _pct_encode_bytes(value.encode("utf-8"), _UNRESERVED)
            path.append(f"{attr}={encoded}")
        query: list[str] = []
        for attr, field_name in _QUERY_ATTRS.items():
            value = getattr(self, field_name)
            if value is None:
                continue
            keep = _UNRESERVED | {"/"} if attr == "module-path" else _UNRESERVED
            query.append(f"{attr}={_pct_encode_bytes(value.encode('utf-8'), keep)}")
        text = f"{SCHEME}:" + ";".join(path)
        if query:
            text += "?" + "&".join(query)
        return text

    def __str__(self) -> str:
        return self.to_string()

    # --- helpers -------------------------------------------------------------------------

    @property
    def selects_token(self) -> bool:
        """True if the URI names a token (by serial, label, manufacturer or model)."""
        return any(v is not None for v in (self.token, self.serial, self.manufacturer, self.model))

    @property
    def selects_key(self) -> bool:
        """True if the URI names a key (by id or object label)."""
        return self.id is not None or self.object is not None

    def describe_key(self) -> str:
        """Short human description of the key selector, e.g. "label 'root-alice', id 0a1b"."""
        parts = []
        if self.object is not None:
            parts.append(f"label '{self.object}'")
        if self.id is not None:
            parts.append(f"id {self.id.hex() or '(empty)'}")
        return ", ".join(parts) or "any key"

    def describe_token(self) -> str:
        parts = []
        if self.token is not None:
            parts.append(f"label '{self.token}'")
        if self.serial is not None:
            parts.append(f"serial {self.serial}")
        if self.manufacturer is not None:
            parts.append(f"manufacturer '{self.manufacturer}'")
        if self.model is not None:
            parts.append(f"model '{self.model}'")
        return ", ".join(parts) or "any token"
