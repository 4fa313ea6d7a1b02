"""Parsing `ceremony.yaml` into a `Plan`: every section, and the cross-references.

`parse_plan` turns the YAML text into a frozen `Plan` or raises `PlanError` listing EVERY
problem found, each naming its YAML path (`roles.root.threshold: 4 is more than its 3
keys`). Semantic checks that need enrolled keys or the previous root live in `checks`.

Pure: the only input is text; no files, no tokens.
"""

from __future__ import annotations

import re
from typing import Any

from ceremony.errors import PlanError
from ceremony.files import NAME_RE
from ceremony.keys import KEY_TYPES
from ceremony.plan.fields import (
    ATTESTATION_KEY_FIELDS,
    Problems,
    kind_of,
    parse_expiry,
    read_advisory_ids,
    read_bool,
    read_int,
    read_key_attestation,
    read_mapping,
    read_names,
    read_text,
    read_threshold,
)
from ceremony.plan.model import (
    DEFAULT_MAX_EXPIRY_DAYS,
    DEFAULT_MIN_EXPIRY_DAYS,
    IMPORT_FORMATS,
    KEY_STATUSES,
    TOP_LEVEL_ROLES,
    AttestationPolicy,
    DelegationSpec,
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
from ceremony.plan.strict_yaml import load_yaml

SHA256_RE = re.compile(r"^[0-9a-f]{64}\Z")


def _shown(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else kind_of(value)


def _parse_keys(raw: Any, p: Problems) -> dict[str, KeySpec]:
    keys: dict[str, KeySpec] = {}
    data = read_mapping(raw, "keys", p, None)
    if data is None:
        return keys
    allowed = {"holder", "uri", "type", "status", "note", *ATTESTATION_KEY_FIELDS}
    for name, spec in data.items():
        path = f"keys.{name}"
        if not NAME_RE.match(name):
            p.add(path, "a key name uses lowercase letters, digits, '.', '_' and '-' (max 64)")
            continue
        d = read_mapping(spec, path, p, allowed, {"holder"})
        if d is None:
            continue
        holder = read_text(d.get("holder"), f"{path}.holder", p)
        uri = read_text(d.get("uri"), f"{path}.uri", p, optional=True)
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
        if key_type is not None and (not isinstance(key_type, str) or key_type not in KEY_TYPES):
            p.add(f"{path}.type", f"{_shown(key_type)} is not one of {', '.join(KEY_TYPES)}")
            key_type = None
        status = d.get("status", "active")
        if not isinstance(status, str) or status not in KEY_STATUSES:
            p.add(f"{path}.status", f"{_shown(status)} is not one of {', '.join(KEY_STATUSES)}")
            status = "active"
        note = read_text(d.get("note"), f"{path}.note", p, optional=True)
        req_b, waive = read_key_attestation(d, path, p)
        if holder is not None:
            keys[name] = KeySpec(name, holder, uri, key_type, str(status), note, bool(req_b), waive)
    return keys


def _parse_roles(raw: Any, p: Problems) -> dict[str, RoleSpec]:
    roles: dict[str, RoleSpec] = {}
    data = read_mapping(raw, "roles", p, set(TOP_LEVEL_ROLES), set(TOP_LEVEL_ROLES))
    if data is None:
        return roles
    for name in TOP_LEVEL_ROLES:
        if name not in data:
            continue
        path = f"roles.{name}"
        d = read_mapping(data[name], path, p, {"threshold", "keys"}, {"threshold", "keys"})
        if d is None:
            continue
        keys = read_names(d.get("keys"), f"{path}.keys", p)
        t = read_threshold(d.get("threshold"), keys, f"{path}.threshold", p)
        if keys is not None and t is not None:
            roles[name] = RoleSpec(name, t, keys)
    return roles


def _parse_targets(raw: Any, p: Problems) -> TargetsSpec | None:
    d = read_mapping(raw, "targets", p, {"expires", "version", "delegations"}, {"expires"})
    if d is None:
        return None
    expires = parse_expiry(d.get("expires"), "targets.expires", p)
    version = None
    if d.get("version") is not None:
        version = read_int(d["version"], "targets.version", p, minimum=1)
    delegations: list[DelegationSpec] = []
    raw_dels = d.get("delegations", [])
    if not isinstance(raw_dels, list):
        p.add("targets.delegations", f"expected a list, found {kind_of(raw_dels)}")
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
        dd = read_mapping(item, path, p, allowed, {"name", "threshold", "keys"})
        if dd is None:
            continue
        name = dd.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name) or name in TOP_LEVEL_ROLES:
            p.add(f"{path}.name", f"{kind_of(name)} is not a usable role name")
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
        keys = read_names(dd.get("keys"), f"{path}.keys", p)
        t = read_threshold(dd.get("threshold"), keys, f"{path}.threshold", p)
        exp = parse_expiry(dd.get("expires", "365d"), f"{path}.expires", p)
        term = read_bool(dd.get("terminating", False), f"{path}.terminating", p)
        bins = None
        if "hash_bins" in dd:
            bins = _parse_hash_bins(dd["hash_bins"], f"{path}.hash_bins", p)
        dversion = None
        if dd.get("version") is not None:
            dversion = read_int(dd["version"], f"{path}.version", p, minimum=1)
        if keys is not None and t is not None and exp is not None and term is not None:
            delegations.append(
                DelegationSpec(name, tuple(paths_raw), t, keys, exp, term, bins, dversion)
            )
    if expires is None:
        return None
    return TargetsSpec(expires, version, tuple(delegations))


def _parse_hash_bins(raw: Any, path: str, p: Problems) -> HashBinsSpec | None:
    allowed = {"count", "prefix", "threshold", "keys", "succinct"}
    d = read_mapping(raw, path, p, allowed, {"threshold", "keys"})
    if d is None:
        return None
    count = read_int(d.get("count", 16384), f"{path}.count", p, minimum=2)
    if count is not None and (count & (count - 1)) != 0:
        p.add(f"{path}.count", f"{count} is not a power of two (2, 4, ..., 16384, ...)")
        count = None
    if count is not None and count > 2**20:
        p.add(f"{path}.count", f"{count} bins is more than the 1,048,576 supported")
        count = None
    prefix = d.get("prefix", "bin")
    if not isinstance(prefix, str) or not NAME_RE.match(prefix):
        p.add(f"{path}.prefix", f"{kind_of(prefix)} is not a usable role-name prefix")
        prefix = None
    keys = read_names(d.get("keys"), f"{path}.keys", p)
    t = read_threshold(d.get("threshold"), keys, f"{path}.threshold", p)
    succinct = read_bool(d.get("succinct", False), f"{path}.succinct", p)
    if None in (count, prefix, keys, t, succinct):
        return None
    assert count is not None and prefix is not None and keys is not None and t is not None
    return HashBinsSpec(count, prefix, t, keys, bool(succinct))


def _parse_policy(raw: Any, p: Problems) -> Policy:
    d = read_mapping(raw, "policy", p, {"max_expiry", "min_expiry", "attestation"})
    if d is None:
        return Policy()
    max_days = dict(DEFAULT_MAX_EXPIRY_DAYS)
    if "max_expiry" in d:
        m = read_mapping(d["max_expiry"], "policy.max_expiry", p, set(DEFAULT_MAX_EXPIRY_DAYS))
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
        a = read_mapping(
            d["attestation"],
            "policy.attestation",
            p,
            {
                "roles",
                "touch",
                "pin",
                "forbid_pin_never",
                "allow_vulnerable_firmware",
                "allow_advisories",
            },
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
            fpn = read_bool(
                a.get("forbid_pin_never", True), "policy.attestation.forbid_pin_never", p
            )
            avf = read_bool(
                a.get("allow_vulnerable_firmware", False),
                "policy.attestation.allow_vulnerable_firmware",
                p,
            )
            named = read_advisory_ids(a.get("allow_advisories", []), p)
            att = AttestationPolicy(tuple(roles), touch, pin, bool(fpn), bool(avf), named)
    return Policy(max_days, min_days, att)


def _parse_pin(raw: Any, path: str, p: Problems) -> PreviousRoot | None:
    """A file in the directory pinned by its SHA-256: {path, sha256}."""
    pr = read_mapping(raw, path, p, {"path", "sha256"}, {"path", "sha256"})
    if pr is None:
        return None
    file = read_text(pr.get("path"), f"{path}.path", p)
    sha = pr.get("sha256")
    if isinstance(sha, int | float):
        p.add(
            f"{path}.sha256",
            'YAML read this as a number; put the 64 hex digits in quotes (sha256: "...")',
        )
        return None
    if not isinstance(sha, str) or not SHA256_RE.match(sha.lower()):
        p.add(f"{path}.sha256", "expected the 64 hex digits of the file's SHA-256")
        return None
    return PreviousRoot(file, sha.lower()) if file is not None else None


def _parse_imported(raw: Any, p: Problems) -> ImportedSpec | None:
    allowed = {"role", "path", "sha256", "format", "delegator"}
    d = read_mapping(raw, "imported", p, allowed, {"role", "path", "sha256", "format"})
    if d is None:
        return None
    pin = _parse_pin({"path": d.get("path"), "sha256": d.get("sha256")}, "imported", p)
    role = d.get("role")
    if not isinstance(role, str) or not NAME_RE.match(role):
        p.add("imported.role", f"{kind_of(role)} is not a usable role name")
        role = None
    fmt = d.get("format")
    if fmt not in IMPORT_FORMATS:
        p.add("imported.format", f"{kind_of(fmt)} is not one of {', '.join(IMPORT_FORMATS)}")
        fmt = None
    delegator = None
    if d.get("delegator") is not None:
        delegator = _parse_pin(d["delegator"], "imported.delegator", p)
    if role is None or fmt is None or pin is None:
        return None
    return ImportedSpec(role, pin.path, pin.sha256, str(fmt), delegator)


PLAN_FIELDS = {
    "repository",
    "previous_root",
    "root",
    "roles",
    "keys",
    "targets",
    "policy",
    "rehearsal",
    "imported",
}


def parse_plan(text: str, source: str = "ceremony.yaml") -> Plan:
    """Parse and check the plan's schema. Raises PlanError listing every problem."""
    data = load_yaml(text, source)
    p = Problems()
    d = read_mapping(data, "", p, PLAN_FIELDS, {"repository", "root", "roles", "keys"})
    if d is None:
        raise PlanError(f"{source}: {p.items[0]}", problems=p.items)

    repository = read_text(d.get("repository"), "repository", p) or ""

    previous = None
    if d.get("previous_root") is not None:
        previous = _parse_pin(d["previous_root"], "previous_root", p)

    root = None
    r = read_mapping(
        d.get("root"), "root", p, {"version", "expires", "consistent_snapshot"}, {"expires"}
    )
    if r is not None:
        version = None
        if r.get("version") is not None:
            version = read_int(r["version"], "root.version", p, minimum=1)
        expires = parse_expiry(r.get("expires"), "root.expires", p)
        cs = read_bool(r.get("consistent_snapshot", True), "root.consistent_snapshot", p)
        if expires is not None and cs is not None:
            root = RootSpec(version, expires, cs)

    roles = _parse_roles(d.get("roles"), p)
    keys = _parse_keys(d.get("keys"), p)
    targets = _parse_targets(d["targets"], p) if d.get("targets") is not None else None
    policy = _parse_policy(d["policy"], p) if d.get("policy") is not None else Policy()
    rehearsal = bool(read_bool(d.get("rehearsal", False), "rehearsal", p))
    imported = _parse_imported(d["imported"], p) if d.get("imported") is not None else None

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
    return Plan(repository, previous, root, roles, keys, targets, policy, rehearsal, imported)
