"""Named policy checks (CER-*) over a plan, its enrolled keys and the previous root.

`run_checks` runs every check; `base` says what a result is, `roles` checks versions,
expiry, thresholds and the rotation, `keys` checks the keys and their attestations,
`sizes` that every draft the plan allows can be read back.

Pure: no I/O. The caller supplies the previous root and the digest of its file.
"""

from __future__ import annotations

from dataclasses import replace

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

# Checks that judge how a root and its keys were designed. For metadata another tool made
# (`ceremony import`, plan `imported:`) that design was decided by the repository's own
# tool and is signed as it is: the holder is told (a warning), not stopped
# (docs/adr/0007-imported-metadata.md).
DESIGN_CHECKS = frozenset(
    {
        "CER-EXPIRY-MAX",
        "CER-EXPIRY-PAST",
        "CER-KEY-OFFLINE-ONLINE",
        "CER-KEY-TYPE",
        "CER-KEYID-CONTENT",
        "CER-KEY-DUPLICATE",
    }
)


def run_checks(ctx: CheckContext) -> list[CheckResult]:
    """Every check's results, in a fixed order (the order screens list them in)."""
    results: list[CheckResult] = []
    for check in ALL_CHECKS:
        results.extend(check(ctx))
    imported = ctx.plan.imported
    if imported is None:
        return results
    out = [
        CheckResult(
            "CER-IMPORTED",
            OK,
            f"{imported.role} is the signed part of {imported.path} ({imported.format}), kept "
            "unchanged; it is never drafted from this plan",
        )
    ]
    for r in results:
        if r.level == ERROR and r.id in DESIGN_CHECKS:
            r = replace(r, level=WARNING, message=r.message + " (decided by the tool that made it)")
        out.append(r)
    return out


__all__ = [
    "ALL_CHECKS",
    "DESIGN_CHECKS",
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
