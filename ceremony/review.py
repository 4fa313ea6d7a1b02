"""What a key holder reads before signing: a summary of a draft and its diff in holder terms.

Pure: takes python-tuf objects and name/holder maps, returns lines and small values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tuf.api.metadata import Root

from ceremony.keys import short
from ceremony.plan import TOP_LEVEL_ROLES


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
    kind: str  # "add" | "remove" | "threshold" | "expires" | "version" | "other"
    text: str


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
    for role in TOP_LEVEL_ROLES:
        old_ids = list(previous.roles[role].keyids) if role in previous.roles else []
        new_ids = list(new.roles[role].keyids) if role in new.roles else []
        for kid in old_ids:
            if kid not in new_ids:
                out.append(
                    Change("remove", f"{role}: remove {_describe(people, kid, with_device=False)}")
                )
        for kid in new_ids:
            if kid not in old_ids:
                out.append(Change("add", f"{role}: add {_describe(people, kid, with_device=True)}"))
        old_t = previous.roles[role].threshold if role in previous.roles else None
        new_t = new.roles[role].threshold if role in new.roles else None
        if old_t != new_t:
            out.append(Change("threshold", f"{role}: threshold {old_t} -> {new_t}"))
    if not out:
        out.append(
            Change("other", "no change at all (not even the version): this draft is identical")
        )
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
