"""Plans cannot ask for what the tool cannot read back (issue 9, rule 9): the size of a
hash-bin draft is computed exactly from the plan, and the bounds come from the read limits."""

from __future__ import annotations

import pytest

from ceremony import drafting
from ceremony.checks.sizes import (
    MAX_ROOT_KEYS,
    WORST_KEY_OBJECT_BYTES,
    bins_draft_bytes,
    max_bin_count,
)
from ceremony.files import MAX_METADATA_BYTES, MAX_ROOT_BYTES
from ceremony.plan import HashBinsSpec
from ceremony.plan.parse import parse_plan
from ceremony.store.drafts import draft_file_bytes
from tests.unit.factories import NOW, enrolled, plan_yaml


def _bins_plan(count: int, bin_keys: list[str], threshold: int = 1) -> str:
    text = plan_yaml(
        {
            "root": (1, ["root-a"]),
            "targets": (1, ["targets-a"]),
            "snapshot": (1, ["online"]),
            "timestamp": (1, ["online"]),
        },
        {n: {} for n in bin_keys},
    )
    return text + (
        "targets:\n  expires: 300d\n  delegations:\n"
        "    - {name: bins, paths: ['*'], threshold: 1, keys: [targets-a], expires: 300d,\n"
        f"       hash_bins: {{count: {count}, prefix: bin, threshold: {threshold}, "
        f"keys: {bin_keys}, succinct: false}}}}\n"
    )


@pytest.mark.parametrize(
    ("count", "bin_keys", "threshold"),
    [(2, ["online"], 1), (256, ["online", "online-b"], 2), (1024, ["online"], 1)],
)
def test_the_computed_size_is_the_size_of_the_real_draft(
    count: int, bin_keys: list[str], threshold: int
) -> None:
    plan = parse_plan(_bins_plan(count, bin_keys, threshold))
    keys = {n: enrolled(n) for n in ["root-a", "targets-a", *bin_keys]}
    text, _ = drafting.new_draft(plan, keys, None, "bins", NOW)
    assert plan.targets is not None
    hb = plan.targets.delegations[0].hash_bins
    assert hb is not None
    assert bins_draft_bytes(hb, keys) == len(draft_file_bytes(text))


def test_keys_not_enrolled_yet_count_at_their_largest() -> None:
    hb = HashBinsSpec(1024, "bin", 1, ("online",), False)
    known = bins_draft_bytes(hb, {"online": enrolled("online")})
    assert bins_draft_bytes(hb, {}) >= known
    assert bins_draft_bytes(hb, {}) - known <= WORST_KEY_OBJECT_BYTES


def test_the_bin_bound_is_the_largest_count_that_the_read_limit_holds() -> None:
    hb = HashBinsSpec(2, "bin", 1, ("online",), False)
    fit = max_bin_count(hb, {}, MAX_METADATA_BYTES)
    assert fit == 2**18  # 262,144 bins with one key: about 48 MB
    assert (
        bins_draft_bytes(HashBinsSpec(fit, "bin", 1, ("online",), False), {}) <= MAX_METADATA_BYTES
    )
    assert (
        bins_draft_bytes(HashBinsSpec(fit * 2, "bin", 1, ("online",), False), {})
        > MAX_METADATA_BYTES
    )


def test_succinct_bins_make_a_small_draft_whatever_the_count() -> None:
    assert bins_draft_bytes(HashBinsSpec(2**20, "bin", 1, ("online",), True), {}) == 0


def test_the_root_key_bound_fits_the_clients_max_root_length() -> None:
    assert MAX_ROOT_KEYS >= 100
    assert MAX_ROOT_KEYS * (WORST_KEY_OBJECT_BYTES + 2 * 1_200 + 4 * 72) < MAX_ROOT_BYTES
