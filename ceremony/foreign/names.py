"""Readable plan names for the keys of imported metadata.

A ceremony plan names every key (`ceremony.plan.NAME_RE`: lower case letters, digits, `.`,
`_` and `-`, at most 64 characters, starting with a letter or digit). Imported metadata
names its keys in its own fields, tried in this order:

1. `x-tuf-on-ci-keyowner` (tuf-on-ci; e.g. "@alice" becomes "alice");
2. `x-rstuf-key-name` (RSTUF's CLI, `cli/admin/helpers.py:82`; e.g. "Alice's YubiKey" becomes
   "alice-s-yubikey");
3. otherwise `key-<first 8 hex of the keyid>`.

Two keys that would get the same name (one owner with two keys, or the same key under two
keyids as tuf-on-ci's legacy keyids) both get `-<first 8 hex of their keyid>` appended.

Pure.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping

from securesystemslib.signer import Key

from ceremony.foreign.rstuf import KEY_NAME
from ceremony.foreign.tuf_on_ci import KEYOWNER

NAME_MAX = 64
_NOT_ALLOWED = re.compile(r"[^a-z0-9._-]+")
_LEADING = re.compile(r"^[^a-z0-9]+")


def _clean(text: str) -> str:
    name = _NOT_ALLOWED.sub("-", text.strip().lower())
    name = _LEADING.sub("", name).strip("-.")
    return name[: NAME_MAX - 9]  # leave room for "-<8 hex>"


def fallback_name(keyid: str) -> str:
    """`key-<first 8 hex of keyid>`."""
    return f"key-{keyid[:8]}"


def proposed_name(key: Key) -> str:
    """The plan name `key`'s own fields suggest (before de-duplication)."""
    for field in (KEYOWNER, KEY_NAME):
        value = key.unrecognized_fields.get(field)
        if isinstance(value, str):
            name = _clean(value)
            if name:
                return name
    return fallback_name(key.keyid)


def readable_key_names(keys: Mapping[str, Key]) -> dict[str, str]:
    """keyid -> plan name for every key in `keys` (keyid -> securesystemslib `Key`).

    Names are unique and match the plan's name pattern.
    """
    proposed = {keyid: proposed_name(key) for keyid, key in keys.items()}
    counts = Counter(proposed.values())
    names: dict[str, str] = {}
    for keyid, name in proposed.items():
        if counts[name] > 1 and name != fallback_name(keyid):
            name = f"{name}-{keyid[:8]}"
        names[keyid] = name
    clashes = Counter(names.values())
    for keyid, name in names.items():
        if clashes[name] > 1:  # keyids that share their first 8 hex digits
            names[keyid] = f"key-{keyid[:16]}"
    return names
