"""ceremony.checks: the named checks (CER-*), one row per rotation or policy case.

Each row builds a real plan (parsed from YAML), real enrolled keys (securesystemslib
CryptoSigner keys) and, for rotations, a real python-tuf Root as the previous root.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from ceremony.attestation import AttestationInfo
from ceremony.checks import (
    ERROR,
    OK,
    WARNING,
    CheckContext,
    CheckResult,
    errors,
    run_checks,
    warnings,
)
from ceremony.keys import (
    SOURCE_PKCS11,
    SOURCE_PREVIOUS_ROOT,
    SOURCE_PUBLIC_KEY,
    SOURCE_SOFTWARE,
    EnrolledKey,
)
from ceremony.plan.parse import parse_plan
from ceremony.thresholds import authority_key_names
from tests.unit.factories import (
    NOW,
    enrolled,
    key,
    make_root,
    plan_yaml,
    same_key_other_keyid,
)

# A stored attestation record as `enroll --attest` writes it (a current YubiKey, touch and
# PIN always required), so a key with it satisfies require_attestation and the policy.
ATTESTED = AttestationInfo(
    serial=12345678,
    firmware="5.7.2",
    pin_policy="always",
    touch_policy="always",
    form_factor="usb-c-keychain",
    fips=False,
    cspn=False,
    slot="9c",
    root_fingerprint="AB" * 32,
    root_name="Yubico PIV Root CA Serial 263751",
    root_source="pinned",
).to_dict()

# The token of a key read through ykcs11 (as `ceremony tokens` shows a YubiKey 5).
YUBIKEY_TOKEN = {
    "label": "YubiKey PIV #12345678",
    "serial": "12345678",
    "manufacturer": "Yubico (www.yubico.com)",
    "model": "YubiKey YK5",
    "firmware": "5.7.2",
    "module": "/usr/lib/x86_64-linux-gnu/libykcs11.so",
}
EUCLEAK_TOKEN = {**YUBIKEY_TOKEN, "firmware": "5.4.3"}
SOFTHSM_TOKEN = {
    "label": "cli-alice",
    "serial": "1f2e3d4c",
    "manufacturer": "SoftHSM project",
    "model": "SoftHSM v2",
    "firmware": "2.6",
    "module": "/usr/lib/softhsm/libsofthsm2.so",
}
EUCLEAK_ATTESTED = {**ATTESTED, "firmware": "5.4.3"}

PREVIOUS_FILE = b'{"signed": "the trusted previous root, as read from disk"}'
PREVIOUS_SHA = hashlib.sha256(PREVIOUS_FILE).hexdigest()

NEW_ROLES: dict[str, tuple[int, list[str]]] = {
    "root": (2, ["root-a", "root-b", "root-c"]),
    "targets": (1, ["targets-a"]),
    "snapshot": (1, ["online"]),
    "timestamp": (1, ["online"]),
}


def roles_with(**changes: tuple[int, list[str]]) -> dict[str, tuple[int, list[str]]]:
    return {**NEW_ROLES, **changes}


@dataclass(frozen=True)
class Prev:
    """The previous root: its version and root role (key names from the row's world)."""

    version: int = 1
    names: tuple[str, ...] = ("old-1", "old-2", "old-3")
    threshold: int = 2
    # extra keyids listing the same public key as the named key again
    duplicates: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row:
    id: str
    expect: tuple[tuple[str, str], ...] = ()  # (check id, level) that must be present
    absent: tuple[str, ...] = ()  # check ids that must not appear as error or warning
    clean: bool = False  # no errors and no warnings at all
    message: str | None = None  # a text the (first) expected result's message contains
    roles: Mapping[str, tuple[int, list[str]]] = field(default_factory=lambda: NEW_ROLES)
    keys: Mapping[str, Mapping[str, object]] = field(default_factory=dict)  # plan key fields
    previous: Prev | None = None
    version: int | None = None
    expires: str = "365d"
    rehearsal: bool = False
    policy: Mapping[str, object] | None = None
    sha_mismatch: bool = False
    require_enrolled: bool = False
    not_enrolled: frozenset[str] = frozenset()
    kinds: Mapping[str, str] = field(default_factory=dict)  # name -> key kind
    aliases: Mapping[str, str] = field(default_factory=dict)  # name -> name whose key it reuses
    sources: Mapping[str, str] = field(default_factory=dict)  # name -> enrolment source
    enroll_kw: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    foreign_keyid: frozenset[str] = frozenset()  # enrolled under a non-content keyid


def _key_of(row: Row, name: str) -> object:
    base = row.aliases.get(name, name)
    return key(base, row.kinds.get(base, "ed25519"))


def build(row: Row) -> CheckContext:
    keys_spec: dict[str, dict[str, object]] = {n: dict(v) for n, v in row.keys.items()}
    previous_root = None
    if row.previous is not None:
        for n in row.previous.names:
            keys_spec.setdefault(n, {})
        prev_keys = [_key_of(row, n) for n in row.previous.names]
        prev_keys += [same_key_other_keyid(_key_of(row, n)) for n in row.previous.duplicates]  # type: ignore[arg-type]
        previous_root = make_root(row.previous.version, prev_keys, row.previous.threshold)  # type: ignore[arg-type]
    sha = ("e" * 64) if row.sha_mismatch else PREVIOUS_SHA
    text = plan_yaml(
        row.roles,
        keys_spec,
        previous=("previous/1.root.json", sha) if row.previous is not None else None,
        version=row.version,
        expires=row.expires,
        rehearsal=row.rehearsal,
        policy=row.policy,
    )
    plan = parse_plan(text)
    enrolled_keys: dict[str, EnrolledKey] = {}
    for name in plan.keys:
        if name in row.not_enrolled:
            continue
        k = _key_of(row, name)
        if name in row.foreign_keyid:
            k = same_key_other_keyid(k)  # type: ignore[arg-type]
        is_old = row.previous is not None and name in row.previous.names
        source = row.sources.get(name, SOURCE_PREVIOUS_ROOT if is_old else SOURCE_PKCS11)
        enrolled_keys[name] = enrolled(name, k, source=source, **row.enroll_kw.get(name, {}))  # type: ignore[arg-type]
    return CheckContext(
        plan=plan,
        keys=enrolled_keys,
        previous=previous_root,
        previous_sha256=PREVIOUS_SHA if row.previous is not None else None,
        now=NOW,
        require_enrolled=row.require_enrolled,
    )


def flagged(results: list[CheckResult]) -> set[tuple[str, str]]:
    return {(r.id, r.level) for r in results if r.level != OK}


ROWS = [
    # --- baselines: a good plan raises nothing --------------------------------------------
    Row("first-root-clean", clean=True, expect=(("CER-VERSION", OK), ("CER-EXPIRY", OK))),
    Row(
        "rotation-clean",
        clean=True,
        previous=Prev(),
        expect=(("CER-VERSION", OK), ("CER-PREVIOUS-HASH", OK)),
    ),
    Row(
        "rotation-explicit-next-version",
        clean=True,
        previous=Prev(version=4),
        version=5,
        expect=(("CER-VERSION", OK),),
    ),
    Row("first-root-explicit-version-1", clean=True, version=1),
    # --- version and previous root ---------------------------------------------------------
    Row(
        "version-skips-one",
        previous=Prev(version=1),
        version=3,
        expect=(("CER-VERSION", ERROR),),
        message="root.version is 3 but the previous root is version 1",
    ),
    Row(
        "version-same-as-previous",
        previous=Prev(version=2),
        version=2,
        expect=(("CER-VERSION", ERROR),),
        message="clients only accept version 3 next",
    ),
    Row(
        "version-goes-back",
        previous=Prev(version=5),
        version=4,
        expect=(("CER-VERSION", ERROR),),
    ),
    Row(
        "version-without-previous-root",
        version=2,
        expect=(("CER-VERSION", ERROR),),
        message="root.version is 2 but the plan has no previous_root",
    ),
    Row(
        "previous-sha-mismatch",
        previous=Prev(),
        sha_mismatch=True,
        expect=(("CER-PREVIOUS-HASH", ERROR),),
        message="This is not the root the plan's reviewers approved",
    ),
    # --- expiry -----------------------------------------------------------------------------
    Row(
        "expiry-in-the-past",
        expires="2025-06-01",
        expect=(("CER-EXPIRY-PAST", ERROR),),
        message="root.expires: 2025-06-01 is in the past",
    ),
    Row(
        "expiry-today-midnight-is-past",
        expires="2026-01-01",
        expect=(("CER-EXPIRY-PAST", ERROR),),
    ),
    Row(
        "expiry-beyond-default-policy",
        expires="800d",
        expect=(("CER-EXPIRY-MAX", ERROR),),
        message="beyond the policy maximum of 731 days (policy.max_expiry.root)",
    ),
    Row(
        "expiry-date-beyond-policy",
        expires="2030-01-01",
        expect=(("CER-EXPIRY-MAX", ERROR),),
    ),
    Row(
        "expiry-beyond-stricter-policy",
        expires="400d",
        policy={"max_expiry": {"root": "365d"}},
        expect=(("CER-EXPIRY-MAX", ERROR),),
        message="beyond the policy maximum of 365 days",
    ),
    Row("expiry-at-policy-maximum", expires="731d", clean=True),
    Row("expiry-two-days-beyond-maximum", expires="733d", expect=(("CER-EXPIRY-MAX", ERROR),)),
    Row(
        "expiry-short",
        expires="3d",
        expect=(("CER-EXPIRY-SHORT", WARNING),),
        message="root would expire in 3.0 days",
    ),
    Row(
        "expiry-short-by-stricter-policy",
        expires="20d",
        policy={"min_expiry": "30d"},
        expect=(("CER-EXPIRY-SHORT", WARNING),),
    ),
    Row("expiry-at-minimum", expires="7d", clean=True),
    # --- thresholds -------------------------------------------------------------------------
    Row(
        "root-threshold-one",
        roles=roles_with(root=(1, ["root-a", "root-b", "root-c"])),
        expect=(("CER-THRESHOLD-ROOT-ONE", WARNING),),
        absent=("CER-THRESHOLD-ALL-KEYS",),
    ),
    Row(
        "root-threshold-all-keys",
        roles=roles_with(root=(3, ["root-a", "root-b", "root-c"])),
        expect=(("CER-THRESHOLD-ALL-KEYS", WARNING),),
        absent=("CER-THRESHOLD-ROOT-ONE",),
        message="roles.root.threshold is 3 of 3 keys",
    ),
    Row(
        "root-single-key",
        roles=roles_with(root=(1, ["root-a"])),
        expect=(("CER-THRESHOLD-ROOT-ONE", WARNING), ("CER-THRESHOLD-ALL-KEYS", WARNING)),
    ),
    Row(
        "targets-threshold-one-is-fine",
        roles=roles_with(targets=(1, ["targets-a", "targets-b"])),
        clean=True,
    ),
    # --- keys -------------------------------------------------------------------------------
    Row(
        "compromised-key-kept-in-root",
        keys={"root-b": {"status": "compromised"}},
        expect=(("CER-KEY-COMPROMISED-KEPT", ERROR),),
        message="key 'root-b' (Holder of root-b) is marked compromised but is still used by root",
    ),
    Row(
        "lost-key-kept-in-targets",
        keys={"targets-a": {"status": "lost"}},
        expect=(("CER-KEY-COMPROMISED-KEPT", ERROR),),
        message="is marked lost but is still used by targets",
    ),
    Row(
        "compromised-key-removed-is-fine",
        keys={"root-d": {"status": "compromised"}},
        clean=True,
    ),
    Row(
        "offline-online-same-name",
        roles=roles_with(timestamp=(1, ["root-a"])),
        expect=(("CER-KEY-OFFLINE-ONLINE", ERROR),),
        message="root-a (Holder of root-a): used by an offline role",
    ),
    Row(
        "offline-online-same-public-key",
        aliases={"online": "targets-a"},
        expect=(("CER-KEY-OFFLINE-ONLINE", ERROR), ("CER-KEY-DUPLICATE", ERROR)),
    ),
    Row(
        "duplicate-public-key-two-names",
        aliases={"root-b": "root-a"},
        expect=(("CER-KEY-DUPLICATE", ERROR),),
        message="keys root-a, root-b are the same public key",
    ),
    Row(
        "software-key-without-rehearsal",
        sources={"root-a": SOURCE_SOFTWARE},
        expect=(("CER-SOFTWARE-KEY", ERROR),),
        message="software keys are refused outside a rehearsal",
    ),
    Row(
        "software-key-in-rehearsal",
        sources={"root-a": SOURCE_SOFTWARE},
        rehearsal=True,
        expect=(("CER-SOFTWARE-KEY", WARNING),),
        message="allowed: this plan says rehearsal: true",
    ),
    Row(
        "p384-root-key",
        kinds={"root-c": "ecdsa-p384"},
        keys={"root-c": {"type": "ecdsa-p384"}},
        expect=(("CER-KEY-P384-CLIENTS", WARNING),),
        message="root keys root-c are ECDSA P-384",
        absent=("CER-KEY-TYPE",),
    ),
    Row("p384-targets-key-is-fine", kinds={"targets-a": "ecdsa-p384"}, clean=True),
    Row("p256-root-key-is-fine", kinds={"root-c": "ecdsa-p256"}, clean=True),
    Row(
        "plan-type-differs-from-enrolled",
        keys={"root-a": {"type": "ecdsa-p256"}},
        expect=(("CER-KEY-TYPE", ERROR),),
        message="keys.root-a.type says ecdsa-p256 but the enrolled key is ed25519",
    ),
    Row(
        "keyid-not-content-hash",
        foreign_keyid=frozenset({"root-a"}),
        expect=(("CER-KEYID-CONTENT", ERROR),),
    ),
    Row(
        "keyid-not-content-hash-from-previous-root",
        foreign_keyid=frozenset({"root-a"}),
        sources={"root-a": SOURCE_PREVIOUS_ROOT},
        expect=(("CER-KEYID-CONTENT", WARNING),),
    ),
    Row(
        "imported-key",
        enroll_kw={"root-a": {"allow_imported": True}},
        expect=(("CER-KEY-IMPORTED", WARNING),),
    ),
    Row(
        "attestation-required-by-key",
        keys={"root-a": {"require_attestation": True}},
        expect=(("CER-ATTESTATION-REQUIRED", ERROR),),
    ),
    Row(
        "attestation-required-by-policy",
        policy={"attestation": {"roles": ["root"]}},
        expect=(("CER-ATTESTATION-REQUIRED", ERROR),),
    ),
    Row(
        "attestation-present",
        keys={"root-a": {"require_attestation": True}},
        enroll_kw={"root-a": {"attestation": ATTESTED}},
        clean=True,
    ),
    Row(
        "softhsm-key-without-rehearsal",
        enroll_kw={"root-a": {"token": SOFTHSM_TOKEN}},
        expect=(("CER-KEY-SOFTHSM", ERROR),),
        message="SoftHSM is a rehearsal token: it is refused outside a rehearsal",
    ),
    Row(
        "softhsm-key-in-rehearsal",
        enroll_kw={"root-a": {"token": SOFTHSM_TOKEN}},
        rehearsal=True,
        clean=True,
    ),
    Row(
        "yubikey-key-without-attestation",
        kinds={"root-a": "ecdsa-p256"},
        enroll_kw={"root-a": {"token": YUBIKEY_TOKEN}},
        expect=(("CER-ATTESTATION-MISSING", ERROR),),
        message="key 'root-a' is on a YubiKey, which can prove",
    ),
    Row(
        "yubikey-attestation-waived",
        kinds={"root-a": "ecdsa-p256"},
        keys={"root-a": {"waive_attestation": "f9 certificate overwritten in 2023"}},
        enroll_kw={"root-a": {"token": YUBIKEY_TOKEN}},
        expect=(("CER-ATTESTATION-WAIVED", WARNING),),
        message="(keys.root-a.waive_attestation: 'f9 certificate overwritten in 2023')",
    ),
    Row(
        "waiver-cannot-lift-a-roles-requirement",
        keys={"root-a": {"waive_attestation": "lost f9"}},
        policy={"attestation": {"roles": ["root"]}},
        enroll_kw={"root-a": {"token": YUBIKEY_TOKEN}},
        expect=(("CER-ATTESTATION-REQUIRED", ERROR), ("CER-ATTESTATION-WAIVED", WARNING)),
        message="waive_attestation cannot waive a role's rule",
    ),
    Row(
        "waived-yubikey-with-eucleak-firmware-reported-by-the-token",
        kinds={"root-a": "ecdsa-p256"},
        keys={"root-a": {"waive_attestation": "old device"}},
        enroll_kw={"root-a": {"token": EUCLEAK_TOKEN}},
        expect=(("CER-ATTESTATION-ADVISORY", ERROR), ("CER-ATTESTATION-WAIVED", WARNING)),
        message="(firmware as its token reports it): YubiKey firmware 5.4.3 is affected",
    ),
    Row(
        "waived-yubikey-eucleak-allowed-by-name",
        kinds={"root-a": "ecdsa-p256"},
        keys={"root-a": {"waive_attestation": "old device"}},
        policy={"attestation": {"allow_advisories": ["YSA-2024-03"]}},
        enroll_kw={"root-a": {"token": EUCLEAK_TOKEN}},
        expect=(("CER-ATTESTATION-ADVISORY", WARNING), ("CER-ATTESTATION-WAIVED", WARNING)),
        message="Accepted only because the plan sets policy.attestation.allow_advisories",
    ),
    Row(
        "attested-eucleak-refused",
        kinds={"root-a": "ecdsa-p256"},
        enroll_kw={"root-a": {"attestation": EUCLEAK_ATTESTED, "token": EUCLEAK_TOKEN}},
        expect=(("CER-ATTESTATION-POLICY", ERROR),),
        message="YSA-2024-03",
    ),
    Row(
        "attested-eucleak-allowed-by-name",
        kinds={"root-a": "ecdsa-p256"},
        policy={"attestation": {"allow_advisories": ["YSA-2024-03"]}},
        enroll_kw={"root-a": {"attestation": EUCLEAK_ATTESTED, "token": EUCLEAK_TOKEN}},
        expect=(("CER-ATTESTATION-ADVISORY", WARNING),),
        message="policy.attestation.allow_advisories",
    ),
    Row(
        "attested-eucleak-other-advisory-named-is-still-refused",
        kinds={"root-a": "ecdsa-p256"},
        policy={"attestation": {"allow_advisories": ["YSA-2017-01"]}},
        enroll_kw={"root-a": {"attestation": EUCLEAK_ATTESTED}},
        expect=(("CER-ATTESTATION-POLICY", ERROR),),
    ),
    Row(
        "attested-eucleak-allowed-wholesale",
        kinds={"root-a": "ecdsa-p256"},
        policy={"attestation": {"allow_vulnerable_firmware": True}},
        enroll_kw={"root-a": {"attestation": EUCLEAK_ATTESTED}},
        expect=(("CER-ATTESTATION-ADVISORY", WARNING),),
        message="policy.attestation.allow_vulnerable_firmware",
    ),
    Row(
        "online-key-from-public-key-file",
        sources={"online": SOURCE_PUBLIC_KEY},
        clean=True,
    ),
    Row(
        "todo-holder",
        keys={"root-b": {"holder": "TODO: ask Bob"}},
        expect=(("CER-PLAN-TODO", ERROR),),
        message="keys root-b: the holder is still a TODO placeholder",
    ),
    Row(
        "todo-holder-lowercase",
        keys={"root-b": {"holder": "  todo"}},
        expect=(("CER-PLAN-TODO", ERROR),),
    ),
    Row(
        "not-enrolled-before-drafting",
        not_enrolled=frozenset({"root-c", "online"}),
        expect=(("CER-KEY-NOT-ENROLLED", WARNING),),
        message="not enrolled yet: online (Holder of online), root-c (Holder of root-c)",
    ),
    Row(
        "not-enrolled-when-drafting",
        not_enrolled=frozenset({"root-c"}),
        require_enrolled=True,
        expect=(("CER-KEY-NOT-ENROLLED", ERROR),),
    ),
    # --- rotation: can the previous root's threshold be reached? ----------------------------
    Row(
        "rotation-keeps-some-old-keys",
        previous=Prev(names=("root-a", "root-b", "old-3")),
        clean=True,
    ),
    Row(
        "rotation-one-old-key-compromised",
        previous=Prev(threshold=2),
        keys={"old-1": {"status": "compromised"}},
        clean=True,
    ),
    Row(
        "rotation-threshold-only-with-compromised",
        previous=Prev(threshold=2),
        keys={"old-1": {"status": "compromised"}, "old-2": {"status": "compromised"}},
        expect=(("CER-ROTATION-COMPROMISED-THRESHOLD", WARNING),),
        absent=("CER-ROTATION-OUT-OF-BAND",),
        message="the previous root's threshold (2) can only be reached with keys marked compromised",
    ),
    Row(
        "rotation-compromised-and-lost",
        previous=Prev(threshold=2),
        keys={"old-1": {"status": "compromised"}, "old-2": {"status": "lost"}},
        expect=(("CER-ROTATION-COMPROMISED-THRESHOLD", WARNING),),
        absent=("CER-ROTATION-OUT-OF-BAND",),
    ),
    Row(
        "rotation-too-many-lost",
        previous=Prev(threshold=2),
        keys={"old-1": {"status": "lost"}, "old-2": {"status": "lost"}},
        expect=(("CER-ROTATION-OUT-OF-BAND", WARNING),),
        absent=("CER-ROTATION-COMPROMISED-THRESHOLD",),
        message="needs 2 of its keys, but only 1 are not lost",
    ),
    Row(
        "rotation-one-lost-still-reachable",
        previous=Prev(threshold=2),
        keys={"old-3": {"status": "lost"}},
        clean=True,
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_check_row(row: Row) -> None:
    results = run_checks(build(row))
    got = flagged(results)
    present = {(r.id, r.level) for r in results}
    for want in row.expect:
        assert want in present, f"expected {want}; flagged: {sorted(got)}"
    for check_id in row.absent:
        assert not any(i == check_id for i, _ in got), f"{check_id} flagged: {sorted(got)}"
    if row.clean:
        assert got == set(), [r.line() for r in results if r.level != OK]
    else:
        # Nothing beyond what the row expects (plus the OK lines) is flagged.
        assert got <= {w for w in row.expect if w[1] != OK}, sorted(got)
    if row.message is not None:
        first = next(r for r in results if (r.id, r.level) == row.expect[0])
        assert row.message in first.message, first.message
        assert first.line().startswith(f"{first.id}: ")


def test_errors_and_warnings_filters() -> None:
    row = Row(
        "mixed",
        keys={"root-b": {"status": "compromised"}},
        roles=roles_with(root=(3, ["root-a", "root-b", "root-c"])),
    )
    results = run_checks(build(row))
    assert [r.id for r in errors(results)] == ["CER-KEY-COMPROMISED-KEPT"]
    assert [r.id for r in warnings(results)] == ["CER-THRESHOLD-ALL-KEYS"]


def test_authority_key_names_uses_enrolled_names_else_short_ids() -> None:
    ctx = build(Row("names", previous=Prev(), not_enrolled=frozenset({"old-2"})))
    assert ctx.previous is not None
    names = authority_key_names(ctx.keys, ctx.previous)
    assert names[key("old-1").keyid] == "old-1"
    assert names[key("old-2").keyid] == f"key {key('old-2').keyid[:8]}"


def test_every_check_has_a_named_id() -> None:
    results = run_checks(build(Row("all", previous=Prev())))
    assert results
    assert all(r.id.startswith("CER-") and r.level in (OK, WARNING, ERROR) for r in results)


def test_row_builder_is_honest() -> None:
    """The table's world: an alias really is the same public key, a p384 key really is p384."""
    ctx = build(Row("w", aliases={"root-b": "root-a"}, kinds={"root-c": "ecdsa-p384"}))
    assert ctx.keys["root-a"].public_identity() == ctx.keys["root-b"].public_identity()
    assert ctx.keys["root-c"].key.scheme == "ecdsa-sha2-nistp384"


# --- bugs found -------------------------------------------------------------------------------


def test_rotation_counts_a_key_listed_twice_once() -> None:
    # Previous root: old-1 (also under a second keyid) and old-3, threshold 2; old-3 is lost.
    # Only one distinct usable key remains, so clients can never accept the new root.
    row = Row(
        "dup-keyid",
        previous=Prev(names=("old-1", "old-3"), threshold=2, duplicates=("old-1",)),
        keys={"old-3": {"status": "lost"}},
    )
    results = run_checks(build(row))
    assert ("CER-ROTATION-OUT-OF-BAND", WARNING) in flagged(results)


def test_holder_named_todorov_is_not_a_placeholder() -> None:
    row = Row("todorov", keys={"root-b": {"holder": "Todorov, Ivan"}})
    assert ("CER-PLAN-TODO", ERROR) not in flagged(run_checks(build(row)))
