"""ceremony.delegations without I/O: bin names and prefixes as python-tuf computes them, the
partition check (gap, overlap, bad hex), the problems a client would hit, and the summary."""

from __future__ import annotations

import hashlib

import pytest
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import DelegatedRole, Delegations, SuccinctRoles, Targets

from ceremony import delegations as dlg
from ceremony import drafting, review


@pytest.mark.parametrize("count", [2, 16, 32, 1024, 16384])
def test_bins_match_succinct_roles(count: int) -> None:
    names = dlg.bin_names("bin", count)
    sr = SuccinctRoles([], 1, dlg.bit_length(count), "bin")
    assert names == list(sr.get_roles())
    prefixes = list(dlg.bin_prefixes(count))
    assert len(prefixes) == count
    # A target lands in the same bin by path_hash_prefixes as by succinct_roles.
    for i in range(200):
        path = f"pkg-{i}.tar.gz"
        digest = hashlib.sha256(path.encode()).hexdigest()
        by_prefix = [
            n
            for n, ps in zip(names, prefixes, strict=True)
            if any(digest.startswith(p) for p in ps)
        ]
        assert by_prefix == [sr.get_role_for_target(path)]


def test_pep458_shape() -> None:
    prefixes = list(dlg.bin_prefixes(16384))
    assert prefixes[0] == ["0000", "0001", "0002", "0003"]
    assert prefixes[-1] == ["fffc", "fffd", "fffe", "ffff"]
    assert dlg.bin_names("bin", 16384)[-1] == "bin-3fff"


@pytest.mark.parametrize(
    ("prefixes", "ok", "message"),
    [
        (
            {
                "a": ["0", "1", "2", "3", "4", "5", "6", "7"],
                "b": ["8", "9", "a", "b", "c", "d", "e", "f"],
            },
            True,
            "exactly once",
        ),
        (
            {"a": ["0", "1"], "b": [f"{i:x}" for i in range(3, 16)]},
            False,
            "gap: no role covers hash prefixes 2",
        ),
        (
            {"a": [f"{i:x}" for i in range(16)], "b": ["3a"]},
            False,
            "overlap: b and a both cover hash prefix 3a",
        ),
        ({"a": [f"{i:x}" for i in range(15)]}, False, "gap: no role covers hash prefixes f"),
        ({"a": [f"{i:x}" for i in range(15)] + ["F"]}, False, "'F' is not lowercase hex"),
        ({"a": ["0"], "b": [f"{i:02x}" for i in range(16, 256)]}, True, "exactly once"),
        ({}, False, "no hash prefixes"),
    ],
)
def test_partition(prefixes: dict[str, list[str]], ok: bool, message: str) -> None:
    res = dlg.check_partition(prefixes)
    assert res.ok is ok
    assert message in res.message


def _bins(roles: dict[str, DelegatedRole], keys: list[CryptoSigner]) -> Targets:
    return Targets(delegations=Delegations({s.public_key.keyid: s.public_key for s in keys}, roles))


def test_problems_and_summary() -> None:
    online = CryptoSigner.generate_ed25519()
    kid = online.public_key.keyid
    good = {
        n: DelegatedRole(n, [kid], 1, False, path_hash_prefixes=p)
        for n, p in zip(dlg.bin_names("bin", 16), dlg.bin_prefixes(16), strict=True)
    }
    t = _bins(good, [online])
    assert dlg.delegation_problems(t) == []
    s = review.summarize(t)
    assert s.bins is not None and s.bins.count == 16 and s.bins.partition.ok
    assert (s.bins.first, s.bins.last, s.bins.prefixes_per_bin) == ("bin-0", "bin-f", 1)
    assert len(list(review.full_listing(t))) == 16

    gap = dict(good)
    del gap["bin-7"]
    assert any("gap" in p for p in dlg.delegation_problems(_bins(gap, [online])))

    unmeetable = dict(good)
    unmeetable["bin-0"] = DelegatedRole("bin-0", [kid], 2, False, path_hash_prefixes=["0"])
    assert any(
        "threshold 2 but only 1" in p for p in dlg.delegation_problems(_bins(unmeetable, [online]))
    )


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": [True, False, None, "x"], "c": {"z": "1.0.31", "y": -3}},
        {"s": 'quote " inside'},
        {"s": "back\\slash"},
        {"s": "new\nline and tab\t and \x00"},
        {"s": "ünïcødé ✓ \u2028"},
        {"n": 10**20, "e": "1e5", "dot": "a.b"},
        {"k": "1.5", "list": ["2e3", 7]},
    ],
)
def test_fast_canonical_bytes_equal_securesystemslib(value: dict[str, object]) -> None:
    from securesystemslib.formats import encode_canonical

    from ceremony.digest import canonical_bytes

    assert canonical_bytes(value) == encode_canonical(value).encode()  # type: ignore[union-attr]


@pytest.mark.parametrize("value", [{"f": 1.5}, {"f": [1e16]}, {"x": {"y": 0.1}}])
def test_fast_canonical_refuses_floats_like_securesystemslib(value: dict[str, object]) -> None:
    from securesystemslib.exceptions import FormatError

    from ceremony.digest import canonical_bytes

    with pytest.raises(FormatError):
        canonical_bytes(value)


def test_delegated_signed_is_what_python_tuf_parses_back() -> None:
    """The bins dict built from a template equals python-tuf's own round trip of it."""
    import datetime as dt

    from tuf.api.metadata import Metadata

    from ceremony.keys import EnrolledKey
    from ceremony.plan.parse import parse_plan

    plan = parse_plan(
        """repository: x
root: {expires: 365d}
roles:
  root: {threshold: 1, keys: [r]}
  targets: {threshold: 1, keys: [t]}
  snapshot: {threshold: 1, keys: [online]}
  timestamp: {threshold: 1, keys: [online]}
keys:
  r: {holder: R}
  t: {holder: T}
  b: {holder: B}
  online: {holder: O}
targets:
  expires: 365d
  delegations:
    - {name: bins, threshold: 1, keys: [b], hash_bins: {count: 256, threshold: 1, keys: [online]}}
"""
    )
    signer = CryptoSigner.generate_ed25519()
    key = signer.public_key
    online = EnrolledKey(name="online", key=key, source="public-key-file", enrolled_at="x")
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    signed = drafting.delegated_signed(plan, "bins", {"online": online}, now)
    md = drafting.draft_delegated(plan, "bins", {"online": online}, now)
    assert md.signed.to_dict() == signed
    again = Metadata.from_bytes(md.to_bytes())
    assert again.signed.to_dict() == signed
    assert dlg.delegation_problems(md.signed) == []


def test_full_size_partition_with_a_duplicate_is_not_a_partition() -> None:
    """65,536 four-digit prefixes (the fast path's size) with one given twice and one left
    out: an overlap, found by the slow path, never accepted."""
    every = list(dlg.all_hex(4))
    every[7] = every[6]
    res = dlg.check_partition({"a": every[:32768], "b": every[32768:]})
    assert not res.ok
    assert "overlap" in res.message or "gap" in res.message
    assert dlg.check_partition({"a": list(dlg.all_hex(4))}).ok


def test_all_hex_is_every_hex_string_in_order() -> None:
    for digits in (1, 2, 3, 4):
        assert dlg.all_hex(digits) == tuple(format(i, f"0{digits}x") for i in range(16**digits))


def test_full_size_partition_in_any_order_is_a_partition() -> None:
    every = list(dlg.all_hex(4))
    every.reverse()
    assert dlg.check_partition({"a": every[:100], "b": every[100:]}).ok
