"""The targets role's delegations (PEP 458): hash bins, the partition check, plan lookups.

PEP 458 layout: `targets` (offline keys) delegates every path to `bins` (offline keys),
which delegates to N `bin-n` roles (online key) by hash-prefix ranges. The bins are named
and split exactly as python-tuf's `SuccinctRoles` and its hashed-bin example do:

- N is a power of two; a bin's name is `PREFIX-` + its number in zero-padded hex, with as
  many digits as N - 1 has (16,384 bins: `bin-0000` ... `bin-3fff`);
- with `path_hash_prefixes`, the prefixes are that many hex digits long, and bin i holds the
  16^digits / N consecutive prefixes starting at i * 16^digits / N (4 per bin for 16,384);
- with `succinct_roles` (TAP 15) the delegation is one object instead of N, and a target
  lands in the same bin: the first bit_length bits of the SHA-256 of its path.

TAP 15 `succinct_roles` are understood by python-tuf >= 2.0 (ngclient), tuf-js (>= 1.0,
checked here with 6.x) and go-tuf v2 (`metadata` package); clients that predate TAP 15
(python-tuf 0.x/1.x `tuf.client`, rust-tuf, notary) would see a role with no delegations
and find no target in the bins, so the expanded `path_hash_prefixes` form is the default.

Drafting them is `drafting`'s job; what a holder sees of them is `review`'s.

Pure: plan and python-tuf values in, small values out.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

from tuf.api.metadata import Targets

from ceremony.keys import key_identity
from ceremony.plan import DelegationSpec, HashBinsSpec, Plan

HEX_RE = re.compile(r"^[0-9a-f]+$")


# --- hash bins --------------------------------------------------------------------------


def bit_length(count: int) -> int:
    """log2 of a power-of-two bin count."""
    if count < 2 or count & (count - 1):
        raise ValueError(f"{count} is not a power of two >= 2")
    return count.bit_length() - 1


def suffix_len(count: int) -> int:
    """Hex digits of a bin number (and of each path hash prefix): those of count - 1."""
    return len(f"{count - 1:x}")


def bin_names(prefix: str, count: int) -> list[str]:
    """The bin role names, as `SuccinctRoles.get_roles()` yields them."""
    n = suffix_len(count)
    return [f"{prefix}-{i:0{n}x}" for i in range(count)]


@functools.lru_cache(maxsize=4)
def all_hex(digits: int) -> tuple[str, ...]:
    """Every lowercase hex string of `digits` digits, in order (65,536 for 4 digits)."""
    every = [""]
    for _ in range(digits):  # each string + each hex digit, in order: 4x faster than format()
        every = [head + digit for head in every for digit in "0123456789abcdef"]
    return tuple(every)


@functools.lru_cache(maxsize=4)
def all_hex_set(digits: int) -> frozenset[str]:
    """`all_hex(digits)` as a set (made once)."""
    return frozenset(all_hex(digits))


def bin_prefixes(count: int) -> Iterator[list[str]]:
    """For each bin in order, its path hash prefixes (python-tuf's hashed-bin example)."""
    digits = suffix_len(count)
    per_bin = 16**digits // count
    every = all_hex(digits)
    for low in range(0, 16**digits, per_bin):
        yield list(every[low : low + per_bin])


def is_bin_of(name: str, spec: HashBinsSpec) -> bool:
    """True if `name` is one of the bin roles `spec` makes (e.g. bin-0a3f)."""
    head = spec.prefix + "-"
    tail = name[len(head) :]
    return (
        name.startswith(head)
        and len(tail) == suffix_len(spec.count)
        and HEX_RE.match(tail) is not None
        and int(tail, 16) < spec.count
    )


# --- the partition check ----------------------------------------------------------------


@dataclass(frozen=True)
class Partition:
    """Whether hash-prefix ranges cover the whole SHA-256 space exactly once."""

    ok: bool
    roles: int
    prefixes: int
    message: str  # for a holder: what was checked, or the first gap/overlap found


def _range_text(low: int, high: int, digits: int) -> str:
    a, b = format(low, f"0{digits}x"), format(high - 1, f"0{digits}x")
    return a if a == b else f"{a}…{b}"


def check_partition(prefixes_by_role: Mapping[str, Sequence[str]]) -> Partition:
    """Do the roles' path_hash_prefixes partition the hash space (no gap, no overlap)?

    Prefixes may differ in length: each one stands for the range of every longer prefix it
    starts. They must be lowercase hex, because clients compare them with the lowercase
    hex digest of the target path.
    """
    every = list(chain.from_iterable(prefixes_by_role.values()))
    n_prefixes = len(every)
    n_roles = len(prefixes_by_role)
    ok_text = (
        f"the {n_prefixes:,} prefixes of {n_roles:,} roles cover the whole hash space exactly "
        "once (no overlap, no gap)"
    )
    # Fast path (PEP 458 bins: 65,536 prefixes of one length): the sorted prefixes are
    # exactly 0 .. 16^digits - 1. Anything else takes the slow path, which names the problem.
    # Every hex string of that length, in order (bins as drafted: one list comparison), or in
    # any order, each exactly once (equal sizes and equal sets leave no room for a duplicate).
    digits = len(every[0]) if every else 0
    if (
        every
        and len(every) == 16**digits
        and (
            tuple(every) == all_hex(digits)
            or (HEX_RE.match("".join(every)) and all_hex_set(digits) == set(every))
        )
    ):
        return Partition(True, n_roles, n_prefixes, ok_text)
    for role, prefixes in prefixes_by_role.items():
        for p in prefixes:
            if not HEX_RE.match(p):
                return Partition(
                    False,
                    n_roles,
                    n_prefixes,
                    f"{role}: prefix '{p}' is not lowercase hex; no target hash would ever match it",
                )
    if not n_prefixes:
        return Partition(False, n_roles, 0, "no hash prefixes at all: every target is a gap")
    digits = max(len(p) for v in prefixes_by_role.values() for p in v)
    intervals: list[tuple[int, int, str]] = []
    for role, prefixes in prefixes_by_role.items():
        for p in prefixes:
            shift = 4 * (digits - len(p))
            low = int(p, 16) << shift
            intervals.append((low, low + (1 << shift), role))
    intervals.sort()
    pos, last_role = 0, ""
    for low, high, role in intervals:
        if low > pos:
            return Partition(
                False,
                n_roles,
                n_prefixes,
                f"gap: no role covers hash prefixes {_range_text(pos, low, digits)}; targets "
                "whose path hashes start so would never be found",
            )
        if low < pos:
            return Partition(
                False,
                n_roles,
                n_prefixes,
                f"overlap: {role} and {last_role} both cover hash prefix "
                f"{_range_text(low, min(high, pos), digits)}",
            )
        pos, last_role = high, role
    end = 16**digits
    if pos < end:
        return Partition(
            False,
            n_roles,
            n_prefixes,
            f"gap: no role covers hash prefixes {_range_text(pos, end, digits)}",
        )
    return Partition(True, n_roles, n_prefixes, ok_text)


# --- plan lookups -----------------------------------------------------------------------


def delegation_spec(plan: Plan, role: str) -> DelegationSpec | None:
    if plan.targets is None:
        return None
    return next((d for d in plan.targets.delegations if d.name == role), None)


def online_bin_owner(plan: Plan, role: str) -> DelegationSpec | None:
    """The delegation whose hash bins include `role` (an online bin-n), if any."""
    if plan.targets is None:
        return None
    for d in plan.targets.delegations:
        if d.hash_bins is not None and is_bin_of(role, d.hash_bins):
            return d
    return None


def plan_problems(plan: Plan) -> list[str]:
    """Delegation problems the plan schema cannot see (role names shared across levels)."""
    out: list[str] = []
    if plan.targets is None:
        return out
    for i, d in enumerate(plan.targets.delegations):
        owner = online_bin_owner(plan, d.name)
        if owner is not None:
            out.append(
                f"targets.delegations[{i}].name: '{d.name}' is also one of the hash bins of "
                f"'{owner.name}'; two roles with one name would clash in snapshot"
            )
    return out


def draftable_roles(plan: Plan) -> list[str]:
    """The roles this ceremony drafts: root, and targets and its delegated roles when the
    plan has a targets section."""
    names = ["root"]
    if plan.targets is not None:
        names += ["targets", *(d.name for d in plan.targets.delegations)]
    return names


def draftable_text(plan: Plan) -> str:
    return "the roles this ceremony drafts are: " + ", ".join(draftable_roles(plan)) + "."


# --- checks on a drafted role -----------------------------------------------------------


def delegation_problems(targets: Targets, partition: Partition | None = None) -> list[str]:
    """What would make a client unable to use these delegations (empty: none)."""
    out: list[str] = []
    dele = targets.delegations
    if dele is None:
        return out

    checked: set[tuple[tuple[str, ...], int]] = set()

    def meetable(name: str, keyids: Sequence[str], threshold: int) -> None:
        # Hash bins share one key set: check each (keys, threshold) combination once.
        if (tuple(keyids), threshold) in checked:
            return
        checked.add((tuple(keyids), threshold))
        unknown = [k for k in keyids if k not in dele.keys]
        if unknown:
            out.append(f"{name}: keyid {unknown[0][:16]}… is not in the delegations' keys")
        idents = {key_identity(dele.keys[k]) for k in keyids if k in dele.keys}
        if len(idents) < threshold:
            out.append(
                f"{name}: threshold {threshold} but only {len(idents)} distinct key(s): it could "
                "never be signed"
            )

    if dele.succinct_roles is not None:
        sr = dele.succinct_roles
        meetable(f"succinct_roles {sr.name_prefix}-*", sr.keyids, sr.threshold)
    if dele.roles:
        seen_problems = len(out)
        # Hash bins share one key set; checking each of 16,384 roles again would say the
        # same thing 16,384 times, so stop at the first role with a problem.
        firsts: dict[tuple[tuple[str, ...], int], str] = {}  # each combination's first role
        for name, r in dele.roles.items():
            firsts.setdefault((tuple(r.keyids), r.threshold), name)
        for (keyids, threshold), name in firsts.items():
            meetable(name, keyids, threshold)
            if len(out) > seen_problems:
                break
        part = partition
        if part is None:  # not checked by the caller yet
            hashed = {
                n: r.path_hash_prefixes for n, r in dele.roles.items() if r.path_hash_prefixes
            }
            part = check_partition(hashed) if hashed else None
        if part is not None and not part.ok:
            out.append(f"path_hash_prefixes: {part.message}")
    return out
