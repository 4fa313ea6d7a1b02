"""What a key holder reads before signing, in holder terms: who the keys are (`People`),
a root's roles and its diff from the previous root, device swaps, and a summary of
delegations (16,384 hash bins described as one group).

Pure: takes python-tuf objects, the plan and the enrolled keys, returns lines and values.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from itertools import chain

from tuf.api.metadata import DelegatedRole, Root, Targets

from ceremony.delegations import Partition, check_partition
from ceremony.keys import EnrolledKey, key_type_of, short
from ceremony.plan import TOP_LEVEL_ROLES, Plan
from ceremony.rootdiff import field_changes, respelled


@dataclass(frozen=True)
class KeyLine:
    name: str
    holder: str
    key_type: str
    keyid: str
    device: str
    status: str  # active | compromised | lost
    rehearsal: bool


@dataclass(frozen=True)
class RoleLine:
    role: str
    threshold: int
    keys: list[KeyLine]


@dataclass(frozen=True)
class Change:
    kind: str  # "add" | "remove" | "threshold" | "expires" | "version" | "field" | "other"
    text: str
    brief: str = ""  # the same in fewer words (no device), for the one-screen sign summary


@dataclass(frozen=True)
class People:
    """keyid -> what we know about that key, for display."""

    names: Mapping[str, str]
    holders: Mapping[str, str]
    devices: Mapping[str, str]
    types: Mapping[str, str]
    statuses: Mapping[str, str]
    rehearsal: frozenset[str] = frozenset()

    def name(self, keyid: str) -> str:
        return self.names.get(keyid, f"key {short(keyid)}")

    def holder(self, keyid: str) -> str:
        return self.holders.get(keyid, "unknown holder")

    def line(self, keyid: str) -> KeyLine:
        return KeyLine(
            self.name(keyid),
            self.holder(keyid),
            self.types.get(keyid, "?"),
            keyid,
            self.devices.get(keyid, "not enrolled here"),
            self.statuses.get(keyid, "active"),
            keyid in self.rehearsal,
        )


def people_of(plan: Plan, keys: Mapping[str, EnrolledKey]) -> People:
    """What the plan and the enrolled keys say about each keyid: name, holder, device, type,
    status, and whether it is a rehearsal key (the software token, or SoftHSM)."""
    names: dict[str, str] = {}
    holders: dict[str, str] = {}
    devices: dict[str, str] = {}
    types: dict[str, str] = {}
    statuses: dict[str, str] = {}
    rehearsal: set[str] = set()
    for k in keys.values():
        names[k.keyid] = k.name
        spec = plan.keys.get(k.name)
        holders[k.keyid] = spec.holder if spec else "unknown holder"
        statuses[k.keyid] = spec.status if spec else "active"
        devices[k.keyid] = k.device()
        types[k.keyid] = key_type_of(k.key)
        if k.is_rehearsal_only:
            rehearsal.add(k.keyid)
    return People(names, holders, devices, types, statuses, frozenset(rehearsal))


def root_roles(root: Root, people: People) -> list[RoleLine]:
    return [
        RoleLine(
            name,
            root.roles[name].threshold,
            [people.line(kid) for kid in root.roles[name].keyids],
        )
        for name in TOP_LEVEL_ROLES
        if name in root.roles
    ]


def _describe(people: People, keyid: str, *, with_device: bool) -> str:
    bits = [f"holder {people.holder(keyid)}"]
    status = people.statuses.get(keyid, "active")
    if status != "active":
        bits.append(status)
    if with_device:
        bits.append(people.devices.get(keyid, "not enrolled here"))
    return f"{people.name(keyid)} ({', '.join(bits)})"


def root_diff(previous: Root | None, new: Root, people: People) -> list[Change]:
    """Changes from the previous root to the draft, in the words a holder uses."""
    if previous is None:
        return [Change("other", "first root: there is no previous root to compare with")]
    out: list[Change] = []
    if new.version != previous.version:
        out.append(Change("version", f"version {previous.version} -> {new.version}"))
    if new.expires != previous.expires:
        days = (new.expires - previous.expires).total_seconds() / 86400
        out.append(
            Change(
                "expires",
                f"expires {previous.expires:%Y-%m-%d %H:%M:%S}Z -> {new.expires:%Y-%m-%d %H:%M:%S}Z "
                f"({'+' if days >= 0 else ''}{days:.1f} days)",
            )
        )
    if new.consistent_snapshot != previous.consistent_snapshot:
        out.append(
            Change(
                "other",
                f"consistent_snapshot {previous.consistent_snapshot} -> {new.consistent_snapshot}",
            )
        )
    if new.spec_version != previous.spec_version:
        out.append(Change("other", f"spec_version {previous.spec_version} -> {new.spec_version}"))
    renamed = respelled(previous, new)
    for role in TOP_LEVEL_ROLES:
        old_ids = list(previous.roles[role].keyids) if role in previous.roles else []
        new_ids = list(new.roles[role].keyids) if role in new.roles else []
        for kid in old_ids:
            if kid in new_ids or renamed.get(kid) in new_ids:
                continue  # kept (a re-spelled key is told among the field changes)
            if kid not in previous.keys:
                what = f"keyid {short(kid)} (the previous root has no key object for it)"
            else:
                what = _describe(people, kid, with_device=False)
            out.append(Change("remove", f"{role}: remove {what}"))
        for kid in new_ids:
            if kid not in old_ids and kid not in renamed.values():
                out.append(
                    Change(
                        "add",
                        f"{role}: add {_describe(people, kid, with_device=True)}",
                        f"{role}: add {_describe(people, kid, with_device=False)}",
                    )
                )
        old_t = previous.roles[role].threshold if role in previous.roles else None
        new_t = new.roles[role].threshold if role in new.roles else None
        if old_t != new_t:
            out.append(Change("threshold", f"{role}: threshold {old_t} -> {new_t}"))
    out += [Change("field", text) for text in field_changes(previous, new)]
    if not out:
        out.append(
            Change("other", "no change at all (not even the version): this draft is identical")
        )
    elif all(c.kind == "version" for c in out):
        out.append(Change("other", "only the version changes: the same keys, fields and expiry"))
    elif all(c.kind in ("version", "expires") for c in out):
        out.append(Change("other", "only the version and expiry change: an expiry-only re-sign"))
    return out


def device_swaps(previous: Root | None, new: Root, people: People) -> list[str]:
    """Holders who must sign with two devices: an old key (previous root) and a new one."""
    if previous is None:
        return []
    old_root = set(previous.roles["root"].keyids)
    new_root = set(new.roles["root"].keyids)
    by_holder_old: dict[str, list[str]] = {}
    by_holder_new: dict[str, list[str]] = {}
    for kid in old_root - new_root:
        by_holder_old.setdefault(people.holder(kid), []).append(kid)
    for kid in new_root - old_root:
        by_holder_new.setdefault(people.holder(kid), []).append(kid)
    lines = []
    for holder in sorted(set(by_holder_old) & set(by_holder_new)):
        if holder == "unknown holder":
            continue
        olds = ", ".join(people.name(k) for k in by_holder_old[holder])
        news = ", ".join(people.name(k) for k in by_holder_new[holder])
        lines.append(
            f"{holder} holds an old key ({olds}, counts for the previous root) and a new key "
            f"({news}, counts for the new root): sign twice, inserting each device in turn."
        )
    return lines


# --- delegations, summarised (hash bins described once instead of N times) ----------------


@dataclass(frozen=True)
class BinsGroup:
    """The hash-bin delegations of one role, described once instead of N times."""

    form: str  # "path_hash_prefixes" | "succinct_roles"
    count: int
    first: str
    last: str
    threshold: int
    keyids: tuple[str, ...]
    uniform: bool  # every bin has the same keys and threshold
    prefix_digits: int
    prefixes_per_bin: int
    partition: Partition


@dataclass(frozen=True)
class DelegationsSummary:
    roles: list[DelegatedRole] = field(default_factory=list)  # other (path-pattern) roles
    bins: BinsGroup | None = None


def summarize(targets: Targets) -> DelegationsSummary:
    """The delegations of `targets`: path-pattern roles, and the hash bins as one group."""
    dele = targets.delegations
    if dele is None:
        return DelegationsSummary()
    if dele.succinct_roles is not None:
        sr = dele.succinct_roles
        names = list(sr.get_roles())
        digits = sr.suffix_len
        return DelegationsSummary(
            [],
            BinsGroup(
                "succinct_roles",
                sr.number_of_bins,
                names[0],
                names[-1],
                sr.threshold,
                tuple(sr.keyids),
                True,
                digits,
                0,
                Partition(
                    True,
                    sr.number_of_bins,
                    0,
                    f"succinct_roles: {sr.number_of_bins:,} bins chosen by the first "
                    f"{sr.bit_length} bits of each target path's SHA-256 cover the whole hash "
                    "space exactly once by construction",
                ),
            ),
        )
    roles = dele.roles or {}
    hashed = {n: r for n, r in roles.items() if r.path_hash_prefixes is not None}
    others = (
        [r for r in roles.values() if r.path_hash_prefixes is None]
        if len(hashed) < len(roles)
        else []
    )
    group = None
    if hashed:
        first = next(iter(hashed.values()))
        uniform = len({(r.threshold, *r.keyids) for r in hashed.values()}) == 1
        # In C where it can be (16,384 bins): the keyids in order of first use, prefix lengths.
        keyids = list(dict.fromkeys(chain.from_iterable(r.keyids for r in hashed.values())))
        prefixes = {n: r.path_hash_prefixes or [] for n, r in hashed.items()}
        lens = set(map(len, chain.from_iterable(prefixes.values())))
        counts = set(map(len, prefixes.values()))
        names = list(hashed)
        group = BinsGroup(
            "path_hash_prefixes",
            len(hashed),
            names[0],
            names[-1],
            first.threshold,
            tuple(keyids),
            uniform,
            lens.pop() if len(lens) == 1 else 0,
            counts.pop() if len(counts) == 1 else 0,
            check_partition(prefixes),
        )
    return DelegationsSummary(others, group)


def full_listing(targets: Targets) -> Iterator[str]:
    """One line per delegated role, for `show --full`."""
    dele = targets.delegations
    if dele is None:
        return
    if dele.succinct_roles is not None:
        sr = dele.succinct_roles
        for i, name in enumerate(sr.get_roles()):
            yield f"{name}  first {sr.bit_length} hash bits = {i}"
        return
    for name, r in (dele.roles or {}).items():
        if r.path_hash_prefixes is not None:
            what = "path_hash_prefixes " + " ".join(r.path_hash_prefixes)
        else:
            what = "paths " + " ".join(r.paths or [])
        yield f"{name}  {r.threshold} of {len(r.keyids)}  {what}"


def delegation_lines(
    summary: DelegationsSummary, people: People
) -> tuple[list[RoleLine], list[str]]:
    """The delegated roles as table rows (hash bins as ONE row) and summary lines."""
    rows: list[RoleLine] = []
    lines: list[str] = []
    for r in summary.roles:
        rows.append(RoleLine(r.name, r.threshold, [people.line(k) for k in r.keyids]))
        lines.append(
            f"{r.name}: paths {', '.join(r.paths or [])}"
            + (" (terminating)" if r.terminating else "")
        )
    b = summary.bins
    if b is not None:
        label = f"{b.first} … {b.last} ({b.count:,} roles)"
        rows.append(RoleLine(label, b.threshold, [people.line(k) for k in b.keyids]))
        keys = ", ".join(people.name(k) for k in b.keyids)
        if b.form == "succinct_roles":
            lines.append(
                f"{b.count:,} hash bins {b.first} … {b.last} as ONE succinct_roles entry (TAP 15), "
                f"each {b.threshold} of [{keys}]. Clients: python-tuf >= 2.0, tuf-js and go-tuf v2 "
                "understand it; older clients (python-tuf < 2.0, rust-tuf, notary) do not."
            )
        else:
            shape = (
                f"{b.prefix_digits} hex digits, {b.prefixes_per_bin} prefixes per bin"
                if b.prefix_digits and b.prefixes_per_bin
                else "prefixes of varying length or number"
            )
            lines.append(
                f"{b.count:,} hash bins {b.first} … {b.last} by path_hash_prefixes ({shape}), "
                + (
                    f"each {b.threshold} of [{keys}]"
                    if b.uniform
                    else f"NOT all with the same keys and threshold (keys seen: {keys})"
                )
            )
        lines.append(("OK: " if b.partition.ok else "PROBLEM: ") + b.partition.message)
    if not rows:
        lines.append("no delegations")
    return rows, lines
