"""The one clock: the current time in UTC, to the second, and its written form.

Every command asks `now_utc()` once and passes the time down, so a command sees one
instant (drafting, expiry checks and the transcript line agree) and tests can pass any time.
"""

from __future__ import annotations

import datetime as dt


def now_utc() -> dt.datetime:
    """The current time, timezone-aware UTC, whole seconds (TUF writes no fractions)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def iso(t: dt.datetime) -> str:
    """`t` as ISO 8601 UTC with a Z, to the second: 2026-01-31T12:00:00Z (TUF's form)."""
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
