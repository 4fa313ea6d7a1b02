"""The ceremony plan (`ceremony.yaml`): the one reviewed input of a ceremony.

- `model`: frozen values for every section and the `Plan` queries;
- `strict_yaml`: the one YAML reader (no duplicate keys, no aliases, one document);
- `fields` and `parse`: `parse_plan`, which lists EVERY problem with its YAML path;
- `template`: the written form (`plan_template`, `default_template`).

The package re-exports the model only: parsing is `ceremony.plan.parse.parse_plan`, named
in full, so that the import-linter contract can see who parses plans (never the CLI).
"""

from ceremony.plan.model import (
    IMPORT_FORMATS,
    KEY_STATUSES,
    OFFLINE_ROLES,
    ONLINE_ROLES,
    TOP_LEVEL_ROLES,
    AttestationPolicy,
    DelegationSpec,
    Expiry,
    HashBinsSpec,
    ImportedSpec,
    KeySpec,
    Plan,
    Policy,
    PreviousRoot,
    RoleSpec,
    RootSpec,
    TargetsSpec,
)

__all__ = [
    "IMPORT_FORMATS",
    "KEY_STATUSES",
    "OFFLINE_ROLES",
    "ONLINE_ROLES",
    "TOP_LEVEL_ROLES",
    "AttestationPolicy",
    "DelegationSpec",
    "Expiry",
    "HashBinsSpec",
    "ImportedSpec",
    "KeySpec",
    "Plan",
    "Policy",
    "PreviousRoot",
    "RoleSpec",
    "RootSpec",
    "TargetsSpec",
]
