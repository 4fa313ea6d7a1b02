"""The ceremony plan (`ceremony.yaml`): its schema and its complete parsing.

The plan is the one reviewed input of a ceremony. `parse_plan` turns the YAML text into a
frozen `Plan` or raises `PlanError` listing EVERY problem found, each naming its YAML
path (`roles.root.threshold: 4 is more than its 3 keys`). Semantic checks that need
enrolled keys or the previous root live in `checks.py`.

Pure: the only input is text; no files, no tokens.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from ceremony.errors import PlanError
from ceremony.files import NAME_RE
from ceremony.keys import KEY_TYPES

TOP_LEVEL_ROLES = ("root", "targets", "snapshot", "timestamp")
OFFLINE_ROLES = ("root", "targets")
ONLINE_ROLES = ("snapshot", "timestamp")
KEY_STATUSES = ("active", "compromised", "lost")

SHA256_RE = re.compile(r"^[0-9a-f]{64}\Z")
DURATION_RE = re.compile(r"^(\d{1,5})d\Z")
MAX_PLAN_BYTES = 1024 * 1024

DEFAULT_MAX_EXPIRY_DAYS = {"root": 731, "targets": 731, "delegation": 731}
DEFAULT_MIN_EXPIRY_DAYS = 7


class _StrictLoader(yaml.SafeLoader):
    """yaml.SafeLoader that rejects duplicate keys and aliases (no `&anchor` / `*ref`)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if not isinstance(key, str):
            raise yaml.constructor.ConstructorError(
                None, None, f"keys must be text, found {key!r}", key_node.start_mark
            )
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key '{key}' (first on line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    loader.flatten_mapping(node)
    return dict(loader.construct_pairs(node))


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(text: str, source: str = "ceremony.yaml") -> Any:
    """Load one YAML document strictly (safe types, no duplicate keys, no aliases)."""
    if len(text.encode("utf-8")) > MAX_PLAN_BYTES:
        raise PlanError(f"{source}: the file is larger than 1 MiB; a plan is a short text file.")
    try:
        if "&" in text or "*" in text:
            # Cheap pre-check; the parser confirms whether these are real anchors/aliases.
            for event in yaml.parse(text, Loader=yaml.SafeLoader):
                if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                    raise PlanError(
                        f"{source}: YAML anchors and aliases (&name, *name) are not allowed in a "
                        "plan; write every value out so reviewers see it."
                    )
        docs = list(yaml.load_all(text, Loader=_StrictLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise PlanError(
            f"{source}: not valid YAML{where}: {problem}. Fix the file and run the command again."
        ) from None
    if len(docs) != 1:
        raise PlanError(
            f"{source}: expected exactly one YAML document, found {len(docs)}. "
            "Remove extra '---' separators."
        )
    return docs[0]


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
    allow_vulnerable_firmware: bool = False


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


class _Problems:
    """Collects every problem with its YAML path, so the operator sees all at once."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        if f"{path}: required field is missing" in self.items:
            return  # one problem per missing field is enough
        self.items.append(f"{path}: {message}")


def _mapping(
    value: Any,
    path: str,
    p: _Problems,
    allowed: set[str] | None,
    required: set[str] | None = None,
) -> dict[str, Any] | None:
    """`value` as a mapping; flags fields not in `allowed` (None: any) and missing ones."""
    if not isinstance(value, dict):
        p.add(path or "(top level)", f"expected a mapping (key: value lines), found {_kind(value)}")
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


def _kind(value: Any) -> str:
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
    return type(value).__name__


def _text(value: Any, path: str, p: _Problems, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        p.add(path, f"expected text, found {_kind(value)} (quote it if it looks like a number)")
        return None
    return value


def _int(value: Any, path: str, p: _Problems, *, minimum: int = 0) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        p.add(path, f"expected a whole number, found {_kind(value)}")
        return None
    if value < minimum:
        p.add(path, f"{value} is less than {minimum}")
        return None
    return value


def _bool(value: Any, path: str, p: _Problems) -> bool | None:
    if not isinstance(value, bool):
        p.add(path, f"expected true or false, found {_kind(value)}")
        return None
    return value


def parse_expiry(value: Any, path: str, p: _Problems) -> Expiry | None:
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
        f"expected a duration like 365d or a date like 2027-11-24, found {_kind(value)}",
    )
    return None


def _name_list(value: Any, path: str, p: _Problems) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not value:
        p.add(path, f"expected a non-empty list of key names, found {_kind(value)}")
        return None
    out: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not NAME_RE.match(item):
            p.add(
                f"{path}[{i}]",
                f"{_kind(item)} is not a key name (lowercase letters, digits, '.', '_', '-')",
            )
            continue
        if item in out:
            p.add(f"{path}[{i}]", f"key '{item}' is listed twice; a key counts only once")
            continue
        out.append(item)
    if len(out) != len(value):
        return None  # already reported; a threshold check on the rest would only mislead
    return tuple(out)


def _threshold(value: Any, keys: tuple[str, ...] | None, path: str, p: _Problems) -> int | None:
    t = _int(value, path, p, minimum=1)
    if t is not None and keys is not None and t > len(keys):
        p.add(
            path,
            f"{t} is more than its {len(keys)} key{'s' if len(keys) != 1 else ''}; "
            "the role could never be signed",
        )
        return None
    return t


def _parse_keys(raw: Any, p: _Problems) -> dict[str, KeySpec]:
    keys: dict[str, KeySpec] = {}
    data = _mapping(raw, "keys", p, None)
    if data is None:
        return keys
    allowed = {"holder", "uri", "type", "status", "note", "require_attestation"}
    for name, spec in data.items():
        path = f"keys.{name}"
        if not NAME_RE.match(name):
            p.add(path, "a key name uses lowercase letters, digits, '.', '_' and '-' (max 64)")
            continue
        d = _mapping(spec, path, p, allowed, {"holder"})
        if d is None:
            continue
        holder = _text(d.get("holder"), f"{path}.holder", p)
        uri = _text(d.get("uri"), f"{path}.uri", p, optional=True)
        if uri is not None:
            low = uri.lower()
            if not low.startswith("pkcs11:"):
                p.add(f"{path}.uri", "expected an RFC 7512 URI starting with 'pkcs11:'")
            elif "pin-value" in low or "pin-source" in low:
                p.add(
                    f"{path}.uri",
                    "a PIN never goes in the plan: remove pin-value / pin-source; "
                    "the PIN is typed on the signing machine",
                )
        key_type = d.get("type")
        if key_type is not None and key_type not in KEY_TYPES:
            p.add(f"{path}.type", f"'{key_type}' is not one of {', '.join(KEY_TYPES)}")
            key_type = None
        status = d.get("status", "active")
        if status not in KEY_STATUSES:
            p.add(f"{path}.status", f"'{status}' is not one of {', '.join(KEY_STATUSES)}")
            status = "active"
        note = _text(d.get("note"), f"{path}.note", p, optional=True)
        req = d.get("require_attestation", False)
        req_b = _bool(req, f"{path}.require_attestation", p) if req is not False else False
        if holder is not None:
            keys[name] = KeySpec(name, holder, uri, key_type, str(status), note, bool(req_b))
    return keys


def _parse_roles(raw: Any, p: _Problems) -> dict[str, RoleSpec]:
    roles: dict[str, RoleSpec] = {}
    data = _mapping(raw, "roles", p, set(TOP_LEVEL_ROLES), set(TOP_LEVEL_ROLES))
    if data is None:
        return roles
    for name in TOP_LEVEL_ROLES:
        if name not in data:
            continue
        path = f"roles.{name}"
        d = _mapping(data[name], path, p, {"threshold", "keys"}, {"threshold", "keys"})
        if d is None:
            continue
        keys = _name_list(d.get("keys"), f"{path}.keys", p)
        t = _threshold(d.get("threshold"), keys, f"{path}.threshold", p)
        if keys is not None and t is not None:
            roles[name] = RoleSpec(name, t, keys)
    return roles


def _parse_targets(raw: Any, p: _Problems) -> TargetsSpec | None:
    d = _mapping(raw, "targets", p, {"expires", "version", "delegations"}, {"expires"})
    if d is None:
        return None
    expires = parse_expiry(d.get("expires"), "targets.expires", p)
    version = None
    if d.get("version") is not None:
        version = _int(d["version"], "targets.version", p, minimum=1)
    delegations: list[DelegationSpec] = []
    raw_dels = d.get("delegations", [])
    if not isinstance(raw_dels, list):
        p.add("targets.delegations", f"expected a list, found {_kind(raw_dels)}")
        raw_dels = []
    seen: set[str] = set()
    allowed = {
        "name",
        "paths",
        "threshold",
        "keys",
        "expires",
        "terminating",
        "hash_bins",
        "version",
    }
    for i, item in enumerate(raw_dels):
        path = f"targets.delegations[{i}]"
        dd = _mapping(item, path, p, allowed, {"name", "threshold", "keys"})
        if dd is None:
            continue
        name = dd.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name) or name in TOP_LEVEL_ROLES:
            p.add(f"{path}.name", f"{_kind(name)} is not a usable role name")
            continue
        if name in seen:
            p.add(f"{path}.name", f"role '{name}' is delegated twice")
            continue
        seen.add(name)
        paths_raw = dd.get("paths", ["*"])
        if (
            not isinstance(paths_raw, list)
            or not paths_raw
            or not all(isinstance(x, str) and x for x in paths_raw)
        ):
            p.add(f"{path}.paths", "expected a non-empty list of path patterns, e.g. ['*']")
            paths_raw = ["*"]
        keys = _name_list(dd.get("keys"), f"{path}.keys", p)
        t = _threshold(dd.get("threshold"), keys, f"{path}.threshold", p)
        exp = parse_expiry(dd.get("expires", "365d"), f"{path}.expires", p)
        term = _bool(dd.get("terminating", False), f"{path}.terminating", p)
        bins = None
        if "hash_bins" in dd:
            bins = _parse_hash_bins(dd["hash_bins"], f"{path}.hash_bins", p)
        dversion = None
        if dd.get("version") is not None:
            dversion = _int(dd["version"], f"{path}.version", p, minimum=1)
        if keys is not None and t is not None and exp is not None and term is not None:
            delegations.append(
                DelegationSpec(name, tuple(paths_raw), t, keys, exp, term, bins, dversion)
            )
    if expires is None:
        return None
    return TargetsSpec(expires, version, tuple(delegations))


def _parse_hash_bins(raw: Any, path: str, p: _Problems) -> HashBinsSpec | None:
    allowed = {"count", "prefix", "threshold", "keys", "succinct"}
    d = _mapping(raw, path, p, allowed, {"threshold", "keys"})
    if d is None:
        return None
    count = _int(d.get("count", 16384), f"{path}.count", p, minimum=2)
    if count is not None and (count & (count - 1)) != 0:
        p.add(f"{path}.count", f"{count} is not a power of two (2, 4, ..., 16384, ...)")
        count = None
    if count is not None and count > 2**20:
        p.add(f"{path}.count", f"{count} bins is more than the 1,048,576 supported")
        count = None
    prefix = d.get("prefix", "bin")
    if not isinstance(prefix, str) or not NAME_RE.match(prefix):
        p.add(f"{path}.prefix", f"{_kind(prefix)} is not a usable role-name prefix")
        prefix = None
    keys = _name_list(d.get("keys"), f"{path}.keys", p)
    t = _threshold(d.get("threshold"), keys, f"{path}.threshold", p)
    succinct = _bool(d.get("succinct", False), f"{path}.succinct", p)
    if None in (count, prefix, keys, t, succinct):
        return None
    assert count is not None and prefix is not None and keys is not None and t is not None
    return HashBinsSpec(count, prefix, t, keys, bool(succinct))


def _parse_policy(raw: Any, p: _Problems) -> Policy:
    d = _mapping(raw, "policy", p, {"max_expiry", "min_expiry", "attestation"})
    if d is None:
        return Policy()
    max_days = dict(DEFAULT_MAX_EXPIRY_DAYS)
    if "max_expiry" in d:
        m = _mapping(d["max_expiry"], "policy.max_expiry", p, set(DEFAULT_MAX_EXPIRY_DAYS))
        for role, v in (m or {}).items():
            e = parse_expiry(v, f"policy.max_expiry.{role}", p)
            if e is not None and e.days is None:
                p.add(f"policy.max_expiry.{role}", "give a duration such as 731d")
            elif e is not None and e.days is not None:
                max_days[role] = e.days
    min_days = DEFAULT_MIN_EXPIRY_DAYS
    if "min_expiry" in d:
        e = parse_expiry(d["min_expiry"], "policy.min_expiry", p)
        if e is not None and e.days is None:
            p.add("policy.min_expiry", "give a duration such as 30d")
        elif e is not None and e.days is not None:
            min_days = e.days
    att = AttestationPolicy()
    if "attestation" in d:
        a = _mapping(
            d["attestation"],
            "policy.attestation",
            p,
            {"roles", "touch", "pin", "forbid_pin_never", "allow_vulnerable_firmware"},
        )
        if a is not None:
            roles = a.get("roles", [])
            if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
                p.add("policy.attestation.roles", "expected a list of role names")
                roles = []
            touch = a.get("touch")
            if touch is not None and touch not in ("always", "cached"):
                p.add("policy.attestation.touch", "expected 'always' or 'cached'")
                touch = None
            pin = a.get("pin")
            if pin is not None and pin not in ("always", "once"):
                p.add("policy.attestation.pin", "expected 'always' or 'once'")
                pin = None
            fpn = _bool(a.get("forbid_pin_never", True), "policy.attestation.forbid_pin_never", p)
            avf = _bool(
                a.get("allow_vulnerable_firmware", False),
                "policy.attestation.allow_vulnerable_firmware",
                p,
            )
            att = AttestationPolicy(tuple(roles), touch, pin, bool(fpn), bool(avf))
    return Policy(max_days, min_days, att)


PLAN_FIELDS = {
    "repository",
    "previous_root",
    "root",
    "roles",
    "keys",
    "targets",
    "policy",
    "rehearsal",
}


def parse_plan(text: str, source: str = "ceremony.yaml") -> Plan:
    """Parse and check the plan's schema. Raises PlanError listing every problem."""
    data = load_yaml(text, source)
    p = _Problems()
    d = _mapping(data, "", p, PLAN_FIELDS, {"repository", "root", "roles", "keys"})
    if d is None:
        raise PlanError(f"{source}: {p.items[0]}", problems=p.items)

    repository = _text(d.get("repository"), "repository", p) or ""

    previous = None
    if d.get("previous_root") is not None:
        pr = _mapping(
            d["previous_root"], "previous_root", p, {"path", "sha256"}, {"path", "sha256"}
        )
        if pr is not None:
            path = _text(pr.get("path"), "previous_root.path", p)
            sha = pr.get("sha256")
            if isinstance(sha, int | float):
                p.add(
                    "previous_root.sha256",
                    'YAML read this as a number; put the 64 hex digits in quotes (sha256: "...")',
                )
                sha = None
            elif not isinstance(sha, str) or not SHA256_RE.match(sha.lower()):
                p.add("previous_root.sha256", "expected the 64 hex digits of the file's SHA-256")
                sha = None
            if path is not None and sha is not None:
                previous = PreviousRoot(path, sha.lower())

    root = None
    r = _mapping(
        d.get("root"), "root", p, {"version", "expires", "consistent_snapshot"}, {"expires"}
    )
    if r is not None:
        version = None
        if r.get("version") is not None:
            version = _int(r["version"], "root.version", p, minimum=1)
        expires = parse_expiry(r.get("expires"), "root.expires", p)
        cs = _bool(r.get("consistent_snapshot", True), "root.consistent_snapshot", p)
        if expires is not None and cs is not None:
            root = RootSpec(version, expires, cs)

    roles = _parse_roles(d.get("roles"), p)
    keys = _parse_keys(d.get("keys"), p)
    targets = _parse_targets(d["targets"], p) if d.get("targets") is not None else None
    policy = _parse_policy(d["policy"], p) if d.get("policy") is not None else Policy()
    rehearsal = bool(_bool(d.get("rehearsal", False), "rehearsal", p))

    # Every key named by a role must be described under keys (and vice versa, a warning
    # at most: unused keys are legitimate, e.g. previous-root keys that are removed).
    named: list[tuple[str, str]] = [
        (f"roles.{role.name}.keys", k) for role in roles.values() for k in role.keys
    ]
    if targets:
        for i, dlg in enumerate(targets.delegations):
            named += [(f"targets.delegations[{i}].keys", k) for k in dlg.keys]
            if dlg.hash_bins:
                named += [
                    (f"targets.delegations[{i}].hash_bins.keys", k) for k in dlg.hash_bins.keys
                ]
    if isinstance(d.get("keys"), dict):
        for path, k in named:
            if k not in d["keys"]:
                p.add(path, f"key '{k}' is not described under 'keys' (add its holder there)")
    known_roles = set(TOP_LEVEL_ROLES) | {
        dlg.name for dlg in (targets.delegations if targets else ())
    }
    for i, role_name in enumerate(policy.attestation.roles):
        if role_name not in known_roles:
            p.add(
                f"policy.attestation.roles[{i}]",
                f"'{role_name}' is not a role of this plan ({', '.join(sorted(known_roles))}); "
                "a typo here would silently turn the attestation requirement off",
            )

    if p.items or root is None:
        n = len(p.items)
        head = f"{source} has {n} problem{'s' if n != 1 else ''}:"
        raise PlanError(
            head + "\n  - " + "\n  - ".join(p.items),
            problems=p.items,
            hint="Fix each line in ceremony.yaml, then run `ceremony validate DIR` again.",
        )
    return Plan(repository, previous, root, roles, keys, targets, policy, rehearsal)
