"""Named policy checks (CER-*) over a plan, its enrolled keys and the previous root.

`run_checks` runs every check; `base` says what a result is, `roles` checks versions,
expiry, thresholds and the rotation, `keys` checks the keys and their attestations,
`sizes` that every draft the plan allows can be read back.

Pure: no I/O. The caller supplies the previous root and the digest of its file.
"""

from __future__ import annotations

from ceremony.checks.base import (
    ERROR,
    OK,
    WARNING,
    CheckContext,
    CheckResult,
    errors,
    warnings,
)
from ceremony.checks.keys import check_keys
from ceremony.checks.roles import (
    PreviousRootSigners,
    check_expiry,
    check_previous,
    check_rotation,
    check_thresholds,
    previous_root_signers,
)
from ceremony.checks.sizes import check_sizes

ALL_CHECKS = (
    check_previous,
    check_expiry,
    check_thresholds,
    check_keys,
    check_rotation,
    check_sizes,
)


def run_checks(ctx: CheckContext) -> list[CheckResult]:
    """Every check's results, in a fixed order (the order screens list them in)."""
    results: list[CheckResult] = []
    for check in ALL_CHECKS:
        results.extend(check(ctx))
    return results


__all__ = [
    "ALL_CHECKS",
    "ERROR",
    "OK",
    "WARNING",
    "CheckContext",
    "CheckResult",
    "PreviousRootSigners",
    "check_expiry",
    "check_keys",
    "check_previous",
    "check_rotation",
    "check_sizes",
    "check_thresholds",
    "errors",
    "previous_root_signers",
    "run_checks",
    "warnings",
]
