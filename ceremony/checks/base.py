"""Named policy checks: what a check result is, and what a check reads.

Each check has an id (CER-AREA-NAME) that appears on screen, in the transcript and in
the test names. A check yields `error` (clients would break, or policy forbids it),
`warning` (a legitimate but risky choice: shown, recorded, and not blocking) or `ok`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tuf.api.metadata import Root

from ceremony.keys import EnrolledKey
from ceremony.plan import Plan
from ceremony.tufread import RootVerdict

ERROR = "error"
WARNING = "warning"
OK = "ok"


@dataclass(frozen=True)
class CheckResult:
    id: str
    level: str  # error | warning | ok
    message: str

    def line(self) -> str:
        return f"{self.id}: {self.message}"


@dataclass(frozen=True)
class CheckContext:
    plan: Plan
    keys: Mapping[str, EnrolledKey]
    previous: Root | None
    previous_sha256: str | None  # of the previous root file's bytes, as read
    now: dt.datetime
    require_enrolled: bool = False  # True once a draft is to be made
    previous_verdict: RootVerdict | None = None  # the previous root judged by itself


def holder_list(plan: Plan, names: Iterable[str]) -> str:
    return ", ".join(f"{n} ({plan.holder(n)})" for n in names)


def errors(results: Iterable[CheckResult]) -> list[CheckResult]:
    """The results at level `error` (they block drafting, signing and export)."""
    return [r for r in results if r.level == ERROR]


def warnings(results: Iterable[CheckResult]) -> list[CheckResult]:
    """The results at level `warning` (shown and recorded, never blocking)."""
    return [r for r in results if r.level == WARNING]
