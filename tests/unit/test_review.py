"""ceremony.review: what a holder reads before signing, in holder terms."""

from __future__ import annotations

import copy
import datetime as dt

from tuf.api.metadata import Root

from ceremony.review import Change, KeyLine, People, device_swaps, root_diff, root_roles
from tests.unit.factories import key, make_root

NAMES = ["old-1", "old-2", "old-3", "root-a", "root-d", "old-targets", "old-online"]
HOLDERS = {
    "old-1": "Alice",
    "old-2": "Bob",
    "old-3": "Carol",
    "root-a": "Alice",
    "root-d": "Dave",
    "old-targets": "Erin",
    "old-online": "Online service",
}
DEVICES = {n: f"YubiKey 5C serial {1000 + i}" for i, n in enumerate(NAMES)}
EXPIRES = dt.datetime(2026, 6, 1, 0, 0, tzinfo=dt.UTC)


def people(statuses: dict[str, str] | None = None, *, omit: tuple[str, ...] = ()) -> People:
    known = [n for n in NAMES if n not in omit]
    return People(
        names={key(n).keyid: n for n in known},
        holders={key(n).keyid: HOLDERS[n] for n in known},
        devices={key(n).keyid: DEVICES[n] for n in known},
        types={key(n).keyid: "ed25519" for n in known},
        statuses={key(n).keyid: s for n, s in (statuses or {}).items()},
        rehearsal=frozenset({key("root-d").keyid}),
    )


def root(version: int, names: list[str], threshold: int, expires: dt.datetime = EXPIRES) -> Root:
    return make_root(version, [key(n) for n in names], threshold, expires=expires)


PREVIOUS = root(1, ["old-1", "old-2", "old-3"], 2)


def texts(changes: list[Change]) -> list[tuple[str, str]]:
    return [(c.kind, c.text) for c in changes]


def test_first_root_has_nothing_to_compare() -> None:
    assert texts(root_diff(None, PREVIOUS, people())) == [
        ("other", "first root: there is no previous root to compare with")
    ]


def test_add_and_remove_in_holder_terms() -> None:
    new = root(2, ["old-1", "old-2", "root-d"], 2)
    assert texts(root_diff(PREVIOUS, new, people())) == [
        ("version", "version 1 -> 2"),
        ("remove", "root: remove old-3 (holder Carol)"),
        ("add", "root: add root-d (holder Dave, YubiKey 5C serial 1004)"),
    ]


def test_removed_compromised_key_says_so() -> None:
    new = root(2, ["old-1", "old-2", "root-d"], 2)
    changes = root_diff(PREVIOUS, new, people({"old-3": "compromised"}))
    assert ("remove", "root: remove old-3 (holder Carol, compromised)") in texts(changes)


def test_threshold_change() -> None:
    new = root(2, ["old-1", "old-2", "old-3"], 3)
    assert texts(root_diff(PREVIOUS, new, people())) == [
        ("version", "version 1 -> 2"),
        ("threshold", "root: threshold 2 -> 3"),
    ]


def test_expiry_only_resign() -> None:
    new = root(
        2, ["old-1", "old-2", "old-3"], 2, expires=dt.datetime(2027, 1, 1, 9, 30, tzinfo=dt.UTC)
    )
    assert texts(root_diff(PREVIOUS, new, people())) == [
        ("version", "version 1 -> 2"),
        ("expires", "expires 2026-06-01 00:00:00Z -> 2027-01-01 09:30:00Z (+214.4 days)"),
        ("other", "only the version and expiry change: an expiry-only re-sign"),
    ]


def test_identical_draft_says_so() -> None:
    assert texts(root_diff(PREVIOUS, copy.deepcopy(PREVIOUS), people())) == [
        ("other", "no change at all (not even the version): this draft is identical")
    ]


def test_online_key_rotation_and_consistent_snapshot() -> None:
    new = make_root(
        2, [key(n) for n in ("old-1", "old-2", "old-3")], 2, online=key("root-d"), expires=EXPIRES
    )
    new.consistent_snapshot = False
    assert texts(root_diff(PREVIOUS, new, people())) == [
        ("version", "version 1 -> 2"),
        ("other", "consistent_snapshot True -> False"),
        ("remove", "snapshot: remove old-online (holder Online service)"),
        ("add", "snapshot: add root-d (holder Dave, YubiKey 5C serial 1004)"),
        ("remove", "timestamp: remove old-online (holder Online service)"),
        ("add", "timestamp: add root-d (holder Dave, YubiKey 5C serial 1004)"),
    ]


def test_key_not_enrolled_here_is_named_by_short_id() -> None:
    new = root(2, ["old-1", "old-2", "root-d"], 2)
    kid = key("root-d").keyid
    changes = texts(root_diff(PREVIOUS, new, people(omit=("root-d",))))
    assert ("add", f"root: add key {kid[:8]} (holder unknown holder, not enrolled here)") in changes


def test_root_roles_lines() -> None:
    lines = root_roles(PREVIOUS, people({"old-2": "lost"}))
    assert [(r.role, r.threshold, [k.name for k in r.keys]) for r in lines] == [
        ("root", 2, ["old-1", "old-2", "old-3"]),
        ("targets", 1, ["old-targets"]),
        ("snapshot", 1, ["old-online"]),
        ("timestamp", 1, ["old-online"]),
    ]
    assert lines[0].keys[1] == KeyLine(
        "old-2", "Bob", "ed25519", key("old-2").keyid, DEVICES["old-2"], "lost", False
    )
    assert people().line(key("root-d").keyid).rehearsal is True


# --- device swaps ----------------------------------------------------------------------------


def test_holder_with_old_and_new_key_signs_twice() -> None:
    # Alice's old-1 leaves the root, her new root-a joins: she signs with both devices.
    new = root(2, ["root-a", "old-2", "old-3"], 2)
    assert device_swaps(PREVIOUS, new, people()) == [
        "Alice holds an old key (old-1, counts for the previous root) and a new key "
        "(root-a, counts for the new root): sign twice, inserting each device in turn."
    ]


def test_no_swap_for_a_kept_key_or_a_different_holder() -> None:
    new = root(2, ["old-1", "old-2", "root-d"], 2)  # Carol leaves, Dave joins: not a swap
    assert device_swaps(PREVIOUS, new, people()) == []
    assert device_swaps(PREVIOUS, copy.deepcopy(PREVIOUS), people()) == []
    assert device_swaps(None, PREVIOUS, people()) == []


def test_no_swap_between_unknown_holders() -> None:
    new = root(2, ["root-a", "old-2", "old-3"], 2)
    assert device_swaps(PREVIOUS, new, people(omit=("old-1", "root-a"))) == []


def test_swaps_listed_per_holder_sorted() -> None:
    holders = dict(HOLDERS, **{"root-d": "Bob"})
    p = people()
    p = People(
        names=p.names,
        holders={key(n).keyid: holders[n] for n in NAMES},
        devices=p.devices,
        types=p.types,
        statuses=p.statuses,
    )
    new = root(2, ["root-a", "root-d", "old-3"], 2)
    lines = device_swaps(PREVIOUS, new, p)
    assert [ln.split(" holds")[0] for ln in lines] == ["Alice", "Bob"]
    assert "Bob holds an old key (old-2, " in lines[1]
    assert "a new key (root-d, " in lines[1]
