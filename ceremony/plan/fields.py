"""Field readers for the plan parser: each checks one value and records a problem, with
its YAML path, instead of raising, so the operator sees every problem at once.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from ceremony.files import NAME_RE
from ceremony.plan.model import ADVISORY_IDS, Expiry

DURATION_RE = re.compile(r"^(\d{1,5})d\Z")


class Problems:
    """Collects every problem with its YAML path, so the operator sees all at once."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        if f"{path}: required field is missing" in self.items:
            return  # one problem per missing field is enough
        self.items.append(f"{path}: {message}")


def read_mapping(
    value: Any,
    path: str,
    p: Problems,
    allowed: set[str] | None,
    required: set[str] | None = None,
) -> dict[str, Any] | None:
    """`value` as a mapping; flags fields not in `allowed` (None: any) and missing ones."""
    if not isinstance(value, dict):
        p.add(
            path or "(top level)", f"expected a mapping (key: value lines), found {kind_of(value)}"
        )
        return None
    for key in value:
        if allowed is not None and key not in allowed:
            p.add(
                f"{path}.{key}" if path else key,
                f"unknown field; allowed here: {', '.join(sorted(allowed))}",
            )
    for key in sorted((required or set()) - set(value)):
        p.add(f"{path}.{key}" if path else key, "required field is missing")
    return value


def kind_of(value: Any) -> str:
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text '{value}'"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, dt.date):
        return f"the date {value.isoformat()}"
    if isinstance(value, float):
        return f"the number {value} (with a fraction)"
    return type(value).__name__


def read_text(value: Any, path: str, p: Problems, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        p.add(path, f"expected text, found {kind_of(value)} (quote it if it looks like a number)")
        return None
    return value


def read_int(value: Any, path: str, p: Problems, *, minimum: int = 0) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        p.add(path, f"expected a whole number, found {kind_of(value)}")
        return None
    if value < minimum:
        p.add(path, f"{value} is less than {minimum}")
        return None
    return value


def read_bool(value: Any, path: str, p: Problems) -> bool | None:
    if not isinstance(value, bool):
        p.add(path, f"expected true or false, found {kind_of(value)}")
        return None
    return value


def parse_expiry(value: Any, path: str, p: Problems) -> Expiry | None:
    if isinstance(value, dt.datetime):
        p.add(path, "give a date (2027-11-24) or a duration (365d), not a date and time")
        return None
    if isinstance(value, dt.date):
        return Expiry(date=value)
    if isinstance(value, str):
        m = DURATION_RE.match(value.strip())
        if m:
            days = int(m.group(1))
            if days < 1:
                p.add(path, "a duration must be at least 1d")
                return None
            return Expiry(days=days)
        try:
            return Expiry(date=dt.date.fromisoformat(value.strip()))
        except ValueError:
            pass
    p.add(
        path,
        f"expected a duration like 365d or a date like 2027-11-24, found {kind_of(value)}",
    )
    return None


def read_names(value: Any, path: str, p: Problems) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not value:
        p.add(path, f"expected a non-empty list of key names, found {kind_of(value)}")
        return None
    out: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not NAME_RE.match(item):
            p.add(
                f"{path}[{i}]",
                f"{kind_of(item)} is not a key name (lowercase letters, digits, '.', '_', '-')",
            )
            continue
        if item in out:
            p.add(f"{path}[{i}]", f"key '{item}' is listed twice; a key counts only once")
            continue
        out.append(item)
    if len(out) != len(value):
        return None  # already reported; a threshold check on the rest would only mislead
    return tuple(out)


def read_threshold(value: Any, keys: tuple[str, ...] | None, path: str, p: Problems) -> int | None:
    t = read_int(value, path, p, minimum=1)
    if t is not None and keys is not None and t > len(keys):
        p.add(
            path,
            f"{t} is more than its {len(keys)} key{'s' if len(keys) != 1 else ''}; "
            "the role could never be signed",
        )
        return None
    return t


def read_advisory_ids(raw: Any, p: Problems) -> tuple[str, ...]:
    """policy.attestation.allow_advisories: known advisory identifiers (YSA-2024-03, ...)."""
    path = "policy.attestation.allow_advisories"
    if not isinstance(raw, list):
        p.add(path, f"expected a list of advisory identifiers, found {kind_of(raw)}")
        return ()
    out: list[str] = []
    for i, item in enumerate(raw):
        if not isinstance(item, str) or item not in ADVISORY_IDS:
            p.add(
                f"{path}[{i}]",
                f"{kind_of(item)} is not a known advisory ({', '.join(ADVISORY_IDS)})",
            )
        elif item not in out:
            out.append(item)
    return tuple(out)


# A key's attestation fields in the plan (keys.NAME.*).
ATTESTATION_KEY_FIELDS = ("require_attestation", "waive_attestation")


def read_key_attestation(d: dict[str, Any], path: str, p: Problems) -> tuple[bool, str | None]:
    """keys.NAME.require_attestation (false by default) and keys.NAME.waive_attestation (the
    reason to enrol a YubiKey key without its attestation); both at once is a problem."""
    req = d.get("require_attestation", False)
    required = bool(read_bool(req, f"{path}.require_attestation", p)) if req is not False else False
    waive = read_text(d.get("waive_attestation"), f"{path}.waive_attestation", p, optional=True)
    if waive is not None and required:
        p.add(
            f"{path}.waive_attestation",
            "the key cannot both require an attestation and waive it; keep one",
        )
    return required, waive
