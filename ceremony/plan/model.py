"""The plan's model: frozen values for every section of `ceremony.yaml`, and its queries.

Pure: values only. `parse.py` makes them from the YAML text; `template.py` writes the text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

TOP_LEVEL_ROLES = ("root", "targets", "snapshot", "timestamp")
OFFLINE_ROLES = ("root", "targets")
ONLINE_ROLES = ("snapshot", "timestamp")
KEY_STATUSES = ("active", "compromised", "lost")
# The Yubico Security Advisories a plan may name in policy.attestation.allow_advisories
# (what each means: ceremony.attestation.advisories).
ADVISORY_IDS = ("YSA-2024-03", "YSA-2017-01", "YSA-2019-02")
# What `ceremony import` reads (docs/foreign-formats.md); recorded as `imported.format`.
IMPORT_FORMATS = ("metadata", "tuf-on-ci", "rstuf-bootstrap", "rstuf-update", "rstuf-sign-request")

DEFAULT_MAX_EXPIRY_DAYS = {"root": 731, "targets": 731, "delegation": 731}
DEFAULT_MIN_EXPIRY_DAYS = 7


@dataclass(frozen=True)
class Expiry:
    """Either a duration in days from drafting, or a fixed date (UTC midnight)."""

    days: int | None = None
    date: dt.date | None = None

    def resolve(self, now: dt.datetime) -> dt.datetime:
        if self.date is not None:
            return dt.datetime(self.date.year, self.date.month, self.date.day, tzinfo=dt.UTC)
        assert self.days is not None
        return (now + dt.timedelta(days=self.days)).replace(microsecond=0)

    def __str__(self) -> str:
        return self.date.isoformat() if self.date is not None else f"{self.days}d"


@dataclass(frozen=True)
class PreviousRoot:
    path: str
    sha256: str


@dataclass(frozen=True)
class ImportedSpec:
    """`imported:`: the role whose draft is a metadata file made by another tool (`ceremony
    import`), never drafted from this plan (docs/adr/0007-imported-metadata.md).

    `path`/`sha256`: the file as given, kept in the directory and pinned; `format`: what
    made it (metadata, tuf-on-ci, rstuf-bootstrap, rstuf-update, rstuf-sign-request);
    `delegator`: for a role other than root, the metadata that says who signs it (the root
    given with --root), pinned the same way.
    """

    role: str
    path: str
    sha256: str
    format: str
    delegator: PreviousRoot | None = None


@dataclass(frozen=True)
class RootSpec:
    version: int | None
    expires: Expiry
    consistent_snapshot: bool


@dataclass(frozen=True)
class RoleSpec:
    name: str
    threshold: int
    keys: tuple[str, ...]


@dataclass(frozen=True)
class KeySpec:
    name: str
    holder: str
    uri: str | None = None
    type: str | None = None
    status: str = "active"  # active | compromised | lost
    note: str | None = None
    require_attestation: bool = False
    # The reason the plan waives the attestation of a key whose token could attest (a
    # YubiKey PIV key); None: attested whenever the token can attest.
    waive_attestation: str | None = None


@dataclass(frozen=True)
class HashBinsSpec:
    count: int
    prefix: str
    threshold: int
    keys: tuple[str, ...]
    succinct: bool


@dataclass(frozen=True)
class DelegationSpec:
    name: str
    paths: tuple[str, ...]
    threshold: int
    keys: tuple[str, ...]
    expires: Expiry
    terminating: bool
    hash_bins: HashBinsSpec | None
    version: int | None = None  # of the delegated role's own metadata (default 1)


@dataclass(frozen=True)
class TargetsSpec:
    expires: Expiry
    version: int | None
    delegations: tuple[DelegationSpec, ...]


@dataclass(frozen=True)
class AttestationPolicy:
    roles: tuple[str, ...] = ()
    touch: str | None = None  # required touch policy, e.g. "always"
    pin: str | None = None  # required PIN policy: "always", or "once" (once or always)
    forbid_pin_never: bool = True
    allow_vulnerable_firmware: bool = False  # every published advisory (as before)
    allow_advisories: tuple[str, ...] = ()  # named advisories, e.g. ("YSA-2024-03",)


@dataclass(frozen=True)
class Policy:
    max_expiry_days: Mapping[str, int] = field(
        default_factory=lambda: dict(DEFAULT_MAX_EXPIRY_DAYS)
    )
    min_expiry_days: int = DEFAULT_MIN_EXPIRY_DAYS
    attestation: AttestationPolicy = field(default_factory=AttestationPolicy)


@dataclass(frozen=True)
class Plan:
    repository: str
    previous_root: PreviousRoot | None
    root: RootSpec
    roles: Mapping[str, RoleSpec]
    keys: Mapping[str, KeySpec]
    targets: TargetsSpec | None = None
    policy: Policy = field(default_factory=Policy)
    rehearsal: bool = False
    imported: ImportedSpec | None = None

    def holder(self, key_name: str) -> str:
        spec = self.keys.get(key_name)
        return spec.holder if spec else "unknown holder"

    def roles_of_key(self, key_name: str) -> list[str]:
        return [r.name for r in self.roles.values() if key_name in r.keys]

    def offline_key_names(self) -> set[str]:
        names = {k for r in OFFLINE_ROLES if r in self.roles for k in self.roles[r].keys}
        if self.targets:
            for d in self.targets.delegations:
                names.update(d.keys)
        return names

    def online_key_names(self) -> set[str]:
        names = {k for r in ONLINE_ROLES if r in self.roles for k in self.roles[r].keys}
        if self.targets:
            for d in self.targets.delegations:
                if d.hash_bins:
                    names.update(d.hash_bins.keys)
        return names
