"""Every field that differs between two roots, at every level, in words a holder reads.

`review.root_diff` describes keys, thresholds, version and expiry by name and holder; this
module finds everything else a rotation changes in the signed bytes (issue 9, rule 3):
fields other tools added at the top level, in a role, in a key object, or key objects
dropped or re-spelled (the same public key under a new keyid), so that nothing of a
previous root is lost without the holders being told, and a rotation that changes such a
field is never called "expiry-only".

Pure: python-tuf values in, (kind, text) pairs out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from tuf.api.metadata import Root

from ceremony.keys import key_identity, short

# Described by review.root_diff (by name and holder), so not repeated here.
_DESCRIBED_TOP = {"_type", "version", "expires", "consistent_snapshot", "spec_version"}
_DESCRIBED_ROLE = {"keyids", "threshold"}
MAX_VALUE_CHARS = 200


def shown(value: Any) -> str:
    """A JSON value as it is signed (compact JSON), cut at MAX_VALUE_CHARS with its length."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    if len(text) <= MAX_VALUE_CHARS:
        return text
    return f"{text[:MAX_VALUE_CHARS]}… ({len(text):,} characters in all)"


def _fields(where: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[str]:
    for name in sorted(set(old) | set(new)):
        if name not in new:
            yield f"{where}: field {json.dumps(name)} removed (it was {shown(old[name])})"
        elif name not in old:
            yield f"{where}: field {json.dumps(name)} added ({shown(new[name])})"
        elif old[name] != new[name] or type(old[name]) is not type(new[name]):
            yield (
                f"{where}: field {json.dumps(name)} changes from {shown(old[name])} to "
                f"{shown(new[name])}"
            )


def respelled(previous: Root, new: Root) -> dict[str, str]:
    """Previous keyid -> new keyid for each key the new root lists under another keyid (the
    same public key spelled differently: other fields, PEM vs hex, legacy keytype)."""
    new_by_ident: dict[str, str] = {}
    for kid, key in new.keys.items():
        if kid not in previous.keys:
            new_by_ident.setdefault(key_identity(key), kid)
    out: dict[str, str] = {}
    for kid, key in previous.keys.items():
        if kid in new.keys:
            continue
        match = new_by_ident.get(key_identity(key))
        if match is not None:
            out[kid] = match
    return out


def field_changes(previous: Root, new: Root) -> list[str]:
    """Every difference between the two roots' signed parts that is not a key added to or
    removed from a role, a threshold, the version, the expiry, consistent_snapshot or
    spec_version: one line each, naming where (the top level, a role, a key)."""
    old_d, new_d = previous.to_dict(), new.to_dict()
    out: list[str] = []
    top_old = {k: v for k, v in old_d.items() if k not in _DESCRIBED_TOP | {"keys", "roles"}}
    top_new = {k: v for k, v in new_d.items() if k not in _DESCRIBED_TOP | {"keys", "roles"}}
    out += _fields("the root (top level)", top_old, top_new)
    for role in sorted(set(old_d["roles"]) & set(new_d["roles"])):
        o = {k: v for k, v in old_d["roles"][role].items() if k not in _DESCRIBED_ROLE}
        n = {k: v for k, v in new_d["roles"][role].items() if k not in _DESCRIBED_ROLE}
        out += _fields(f"role {role}", o, n)
    used_new = {kid for r in new.roles.values() for kid in r.keyids}
    renamed = respelled(previous, new)
    for kid in sorted(old_d["keys"]):
        old_key = old_d["keys"][kid]
        if kid in new_d["keys"]:
            out += _fields(f"key {short(kid)}", old_key, new_d["keys"][kid])
        elif kid in renamed:
            nid = renamed[kid]
            out.append(
                f"key {short(kid)} is re-spelled as keyid {short(nid)}: the same public key, "
                "written differently, so clients see a new keyid"
            )
            out += _fields(f"key {short(kid)} -> {short(nid)}", old_key, new_d["keys"][nid])
        elif not any(kid in r.keyids for r in previous.roles.values()) and kid not in used_new:
            out.append(
                f"key object {short(kid)} (listed in the previous root but used by no role) is "
                f"no longer listed: {shown(old_key)}"
            )
    return out
