"""The written form of the plan: the commented `ceremony.yaml` that `init` writes.

Its reader is `parse.py`; a template always parses (tests/unit/test_plan.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from ceremony.plan.model import TOP_LEVEL_ROLES, ImportedSpec


def _yaml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def plan_template(
    repository: str,
    previous: tuple[str, str] | None,
    version: int | None,
    expires: str,
    consistent_snapshot: bool,
    roles: Mapping[str, tuple[int, list[str]]],
    keys: Mapping[str, dict[str, str]],
    statuses: Mapping[str, str] | None = None,
    *,
    rehearsal: bool = False,
) -> str:
    """The text of a plan: `roles` maps each top-level role to (threshold, key names), `keys`
    each key name to its fields (holder, type, ...); `statuses` marks keys lost or
    compromised (written first on their line); `previous` is (path, SHA-256) of the trusted
    previous root; `expires` a duration (365d) or a date; `rehearsal` writes `rehearsal:
    true` (a rotation of a rehearsal is a rehearsal). Comments guide the reviewer."""
    lines = [
        "# tuf-ceremony plan. Review this file BEFORE the ceremony; every command checks it first.",
        "# A PIN never goes in this file. Run `ceremony validate DIR` after every edit.",
        "",
        f"repository: {_yaml_str(repository)}   # free text shown to key holders",
        "",
    ]
    if previous is not None:
        lines += [
            "# The trusted previous root. Its SHA-256 was computed when this plan was made:",
            "# compare it with the one the previous ceremony published.",
            "previous_root:",
            f"  path: {previous[0]}",
            f'  sha256: "{previous[1]}"',
            "",
        ]
    lines += ["root:"]
    if version is not None:
        lines.append(f"  version: {version}                      # previous + 1 (default)")
    lines += [
        f"  expires: {expires}                   # a duration from drafting (365d) or a date (2027-11-24)",
        f"  consistent_snapshot: {'true' if consistent_snapshot else 'false'}",
        "",
        "# The four top-level roles, each with a threshold and its keys (by name, see keys:).",
        "roles:",
    ]
    for role in TOP_LEVEL_ROLES:
        t, names = roles[role]
        quoted = ", ".join(_yaml_str(n) for n in names)
        lines.append(f"  {role + ':':<10} {{threshold: {t}, keys: [{quoted}]}}")
    lines += [
        "",
        "# Every key named above: its holder (a person), and optionally where it lives (a",
        "# pkcs11: URI with the token serial) and its type (ed25519, ecdsa-p256, ecdsa-p384,",
        "# rsa-3072). After a compromise, mark a key `status: compromised` (or `lost`) and",
        "# remove it from every role.",
        "keys:",
    ]
    for name, spec in keys.items():
        fields = ", ".join(f"{k}: {_yaml_str(v)}" for k, v in spec.items())
        if statuses and name in statuses:
            fields = f"status: {statuses[name]}, {fields}"
        lines.append(f"  {_yaml_str(name)}: {{{fields}}}")
    if rehearsal:
        lines += [
            "",
            "# Carried over from the previous ceremony, a rehearsal: practice keys only (software",
            "# token, SoftHSM). Never publish what a rehearsal exports.",
            "rehearsal: true",
        ]
    else:
        lines += [
            "",
            "# A practice run on SoftHSM2 or the built-in software token (rehearsal",
            "# tokens, refused in any other plan) needs the line below, uncommented.",
            "# rehearsal: true    <- for a practice run only, never a real ceremony",
        ]
    return "\n".join(lines) + "\n"


def default_template() -> str:
    """The plan `ceremony init` writes for a first root: an example to edit."""
    return plan_template(
        "example.org/simple",
        None,
        None,
        "365d",
        True,
        {
            "root": (2, ["root-alice", "root-bob", "root-carol"]),
            "targets": (1, ["targets-alice"]),
            "snapshot": (1, ["online"]),
            "timestamp": (1, ["online"]),
        },
        {
            "root-alice": {"holder": "Alice Example"},
            "root-bob": {"holder": "Bob Example"},
            "root-carol": {"holder": "Carol Example"},
            "targets-alice": {"holder": "Alice Example"},
            "online": {"holder": "Online signing service"},
        },
    )


def imported_section(spec: ImportedSpec) -> str:
    """The `imported:` section `ceremony import` appends to the plan it writes."""
    lines = [
        "",
        f"# {spec.role} was NOT drafted from this plan: it is the signed part of a file made by",
        f"# another tool ({spec.format}), kept unchanged in {spec.path} and pinned here by its",
        "# SHA-256. The roles and keys above describe that file for the screens; editing them",
        "# does not change what is signed (docs/adr/0007-imported-metadata.md).",
        "imported:",
        f"  role: {_yaml_str(spec.role)}",
        f"  format: {_yaml_str(spec.format)}",
        f"  path: {_yaml_str(spec.path)}",
        f'  sha256: "{spec.sha256}"',
    ]
    if spec.delegator is not None:
        lines += [
            f"  # who must sign {spec.role}: the metadata given with --root",
            f'  delegator: {{path: {_yaml_str(spec.delegator.path)}, sha256: "{spec.delegator.sha256}"}}',
        ]
    return "\n".join(lines) + "\n"
