"""Self-tests of the interop harness: roots made here with python-tuf + CryptoSigner.

Root keys: A ed25519, B ecdsa P-256, C rsa-3072 rsassa-pss-sha256, D ecdsa P-384.
v1 trusts {A, B, C} (threshold 2); v2 replaces C with D. Every case runs against both
clients (tuf-js cases skip locally when it is not installed; they fail in CI).
"""

from __future__ import annotations

import copy
import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.formats import encode_canonical
from securesystemslib.signer import CryptoSigner, Signer, SSlibKey
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    Root,
    SuccinctRoles,
    Targets,
)

from .clients import CLIENTS, ClientResult, run_both, run_tufjs
from .repo import (
    BuiltRepository,
    RepositoryBuildError,
    build_repository,
    default_expiry,
    read_exported,
)

pytestmark = pytest.mark.interop

TARGET = "hello.txt"
CONTENT = b"hello from tuf-ceremony interop\n"
ONLINE_ROLES = ("timestamp", "snapshot", "targets")
BIN_COUNT = 16384  # PEP 458
BIN_BITS = 14


@dataclass(frozen=True)
class Keys:
    """Signers for every role of the self-test repositories."""

    a: CryptoSigner  # root, ed25519
    b: CryptoSigner  # root, ecdsa P-256
    c: CryptoSigner  # root, rsa-3072 pss (revoked in v2)
    d: CryptoSigner  # root, ecdsa P-384 (added in v2)
    online: CryptoSigner  # timestamp, snapshot, targets (when online), bin-n
    offline_targets: CryptoSigner  # targets when offline (PEP 458 layout)
    bins: CryptoSigner  # bins (offline)


@pytest.fixture(scope="module")
def keys() -> Keys:
    """One set of keys per module (RSA generation is the slow part)."""
    return Keys(
        a=CryptoSigner.generate_ed25519(),
        b=CryptoSigner.generate_ecdsa(),
        c=CryptoSigner.generate_rsa(scheme="rsassa-pss-sha256", size=3072),
        d=CryptoSigner.generate_ecdsa(scheme="ecdsa-sha2-nistp384"),
        online=CryptoSigner.generate_ed25519(),
        offline_targets=CryptoSigner.generate_ed25519(),
        bins=CryptoSigner.generate_ecdsa(),
    )


def make_root(
    version: int,
    root_keys: Iterable[Signer],
    online: Signer,
    *,
    threshold: int = 2,
    targets_key: Signer | None = None,
    consistent_snapshot: bool = True,
) -> Metadata[Root]:
    """Unsigned root ``version``: ``root_keys`` for root, ``online`` for the other roles."""
    root = Root(
        version=version, expires=default_expiry(365), consistent_snapshot=consistent_snapshot
    )
    for signer in root_keys:
        root.add_key(signer.public_key, "root")
    for role in ("timestamp", "snapshot", "targets"):
        key = targets_key if role == "targets" and targets_key else online
        root.add_key(key.public_key, role)
    root.roles["root"].threshold = threshold
    return Metadata(root)


def signed(md: Metadata[Root] | Metadata[Targets], *signers: Signer) -> bytes:
    """Serialized ``md`` signed by exactly ``signers``."""
    md = copy.deepcopy(md)
    md.signatures.clear()
    for signer in signers:
        md.sign(signer, append=True)
    return md.to_bytes()


def rotate(v1: Metadata[Root], revoke: Signer, add: Signer, version: int = 2) -> Metadata[Root]:
    """Copy of ``v1`` as ``version`` with ``revoke`` replaced by ``add`` in the root role."""
    md = copy.deepcopy(v1)
    md.signed.version = version
    md.signed.revoke_key(revoke.public_key.keyid, "root")
    md.signed.add_key(add.public_key, "root")
    return md


def alias_signer(signer: CryptoSigner) -> CryptoSigner:
    """Same private key, with a public key that has a *different, correctly computed* keyid.

    The key dict gets one extra field, so its canonical form (and so the sha256 keyid) differs
    while the key material is the same: a way to list one key twice in a role.
    """
    public = signer.public_key
    data = {**public.to_dict(), "x-alias": True}
    canonical = encode_canonical(data)
    assert canonical is not None
    keyid = hashlib.sha256(canonical.encode()).hexdigest()
    alias = SSlibKey.from_dict(keyid, copy.deepcopy(data))
    private = load_pem_private_key(signer.private_bytes, password=None)
    return CryptoSigner(private, alias)


def online_signers(keys: Keys) -> dict[str, Signer]:
    """Online signers keyed by role name (bin-n roles are found by keyid)."""
    signers: dict[str, Signer] = dict.fromkeys(ONLINE_ROLES, keys.online)
    signers[keys.online.public_key.keyid] = keys.online
    return signers


# --- rotation cases -----------------------------------------------------------------------


def case_good(keys: Keys) -> tuple[list[bytes], bool]:
    """v1 -> v2 replacing C by D, v2 signed by all four keys (3/2 old, 3/2 new)."""
    v1 = make_root(1, [keys.a, keys.b, keys.c], keys.online)
    v2 = rotate(v1, keys.c, keys.d)
    return [signed(v1, keys.a, keys.b), signed(v2, keys.a, keys.b, keys.c, keys.d)], False


def case_good_chain(keys: Keys) -> tuple[list[bytes], bool]:
    """v1 -> v2 -> v3 (D replaces C, then C replaces B), each signed by exact thresholds."""
    v1 = make_root(1, [keys.a, keys.b, keys.c], keys.online)
    v2 = rotate(v1, keys.c, keys.d)
    v3 = rotate(v2, keys.b, keys.c, version=3)
    return [
        signed(v1, keys.a, keys.b),
        signed(v2, keys.c, keys.a, keys.d),  # old: A, C; new: A, D
        signed(v3, keys.b, keys.d, keys.c),  # old: B, D; new: D, C
    ], False


def case_few_old(keys: Keys) -> tuple[list[bytes], bool]:
    """v2 signed by A, D: new 2/2 but previous root only 1/2."""
    v1 = make_root(1, [keys.a, keys.b, keys.c], keys.online)
    v2 = rotate(v1, keys.c, keys.d)
    return [signed(v1, keys.a, keys.b), signed(v2, keys.a, keys.d)], True


def case_few_new(keys: Keys) -> tuple[list[bytes], bool]:
    """v2 signed by C, B: previous 2/2 but new root only 1/2."""
    v1 = make_root(1, [keys.a, keys.b, keys.c], keys.online)
    v2 = rotate(v1, keys.c, keys.d)
    return [signed(v1, keys.a, keys.b), signed(v2, keys.c, keys.b)], True


def case_key_twice(keys: Keys) -> tuple[list[bytes], bool]:
    """v2's root role is {B, D, D'} (D' = D under another keyid), threshold 2.

    Signed by A, C (previous 2/2) and by D under both keyids: counting keyids gives 2/2 for
    the new root, counting distinct keys gives 1/2.
    """
    v1 = make_root(1, [keys.a, keys.b, keys.c], keys.online)
    d_alias = alias_signer(keys.d)
    v2 = copy.deepcopy(v1)
    v2.signed.version = 2
    for old in (keys.a, keys.c):
        v2.signed.revoke_key(old.public_key.keyid, "root")
    v2.signed.add_key(keys.d.public_key, "root")
    v2.signed.add_key(d_alias.public_key, "root")
    return [signed(v1, keys.a, keys.b), signed(v2, keys.a, keys.c, keys.d, d_alias)], True


def case_version_skip(keys: Keys) -> tuple[list[bytes], bool]:
    """A valid v3 served as 2.root.json (v1 -> v3)."""
    v1 = make_root(1, [keys.a, keys.b, keys.c], keys.online)
    v3 = rotate(v1, keys.c, keys.d, version=3)
    return [signed(v1, keys.a, keys.b), signed(v3, keys.a, keys.b, keys.c, keys.d)], True


def case_plain_layout(keys: Keys) -> tuple[list[bytes], bool]:
    """consistent_snapshot=false: plain metadata and target file names."""
    v1 = make_root(1, [keys.a, keys.b, keys.c], keys.online, consistent_snapshot=False)
    v2 = rotate(v1, keys.c, keys.d)
    return [signed(v1, keys.a, keys.b), signed(v2, keys.a, keys.b, keys.c, keys.d)], False


Case = Callable[[Keys], tuple[list[bytes], bool]]
ACCEPT: dict[str, tuple[Case, int]] = {
    "good-v2": (case_good, 2),
    "good-chain-v3": (case_good_chain, 3),
    "plain-layout": (case_plain_layout, 2),
}
REJECT: dict[str, Case] = {
    "too-few-previous-sigs": case_few_old,
    "too-few-new-sigs": case_few_new,
    "version-skip": case_version_skip,
}
# Both clients count signatures per keyid (python-tuf 7.0.1 Root.get_verification_result,
# tuf-js 6.0.2 Metadata.verifyDelegate) and neither recomputes keyids, so one key listed under
# two keyids meets a threshold of 2. The ceremony tool must refuse such roots itself.
KNOWN_CLIENT_GAPS: dict[str, str] = {
    "key-counted-twice": "clients count signatures per keyid, not per distinct public key",
}


def build_case(case: Case, keys: Keys, out: Path) -> BuiltRepository:
    """Repository for a rotation case: roots as made, online roles signed, one target."""
    roots, override = case(keys)
    return build_repository(out, roots, {TARGET: CONTENT}, online_signers(keys), override=override)


def explain(result: ClientResult) -> str:
    """Assertion message with what the client said."""
    return f"{result.client}: ok={result.ok} root v{result.root_version} error={result.error}"


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("name", ACCEPT)
def test_rotation_accepted(name: str, client: str, keys: Keys, tmp_path: Path) -> None:
    case, version = ACCEPT[name]
    repo = build_case(case, keys, tmp_path)
    result = CLIENTS[client](repo.path, repo.trusted_root, TARGET)
    assert result.ok, explain(result)
    assert result.root_version == version == repo.root_version
    assert result.downloaded == CONTENT


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("name", REJECT)
def test_rotation_rejected(name: str, client: str, keys: Keys, tmp_path: Path) -> None:
    repo = build_case(REJECT[name], keys, tmp_path)
    result = CLIENTS[client](repo.path, repo.trusted_root, TARGET)
    assert not result.ok, explain(result)
    assert result.root_version == 1, explain(result)
    assert result.error


@pytest.mark.parametrize("client", CLIENTS)
def test_key_counted_twice(client: str, keys: Keys, tmp_path: Path) -> None:
    """Must-reject, but both clients count keyids: xfail while a client accepts it."""
    repo = build_case(case_key_twice, keys, tmp_path)
    result = CLIENTS[client](repo.path, repo.trusted_root, TARGET)
    if result.ok:
        pytest.xfail(f"{client} accepts it: {KNOWN_CLIENT_GAPS['key-counted-twice']}")
    assert result.root_version == 1, explain(result)


@pytest.mark.parametrize("case", [*REJECT.values(), case_key_twice], ids=[*REJECT, "key-twice"])
def test_builder_refuses_bad_chain_without_override(case: Case, keys: Keys, tmp_path: Path) -> None:
    roots, _ = case(keys)
    with pytest.raises(RepositoryBuildError):
        build_repository(tmp_path, roots, {TARGET: CONTENT}, online_signers(keys))


def test_builder_needs_online_signers(keys: Keys, tmp_path: Path) -> None:
    roots, _ = case_good(keys)
    with pytest.raises(RepositoryBuildError, match="no online signer for snapshot"):
        build_repository(tmp_path, roots, {TARGET: CONTENT}, {"targets": keys.online})


def test_run_both_and_layout(keys: Keys, tmp_path: Path) -> None:
    repo = build_case(case_good, keys, tmp_path)
    names = sorted(p.name for p in repo.metadata_dir.iterdir())
    assert names == [
        "1.root.json", "1.snapshot.json", "1.targets.json", "2.root.json",
        "root.json", "timestamp.json",
    ]  # fmt: skip
    assert len(list(repo.targets_dir.glob(f"*.{TARGET}"))) == 1
    results = run_both(repo.path, repo.trusted_root, TARGET)
    assert results.accepted, [explain(r) for r in results]


def test_read_exported(keys: Keys, tmp_path: Path) -> None:
    roots, _ = case_good_chain(keys)
    for version, data in enumerate(roots, start=1):
        (tmp_path / f"{version}.root.json").write_bytes(data)
    (tmp_path / "1.targets.json").write_bytes(b"{}")
    (tmp_path / "2.targets.json").write_bytes(b"[]")
    exported = read_exported(tmp_path)
    assert exported.roots == roots
    assert exported.presigned == {"targets": b"[]"}


# --- PEP 458 layout: targets -> bins (*) -> bin-n ---------------------------------------

SLOW_ENV_VAR = "TUF_INTEROP_SLOW"
SLOW_TUFJS_TIMEOUT_S = 600.0
TUFJS_QUADRATIC = (
    "tuf-js 6.0.2 parses a delegations.roles list in O(n^2) (an object spread per role in "
    "@tufjs/models 5.0.2 rolesFromJSON, dist/delegations.js:110-119): about a minute of CPU for "
    "16,384 roles (docs/tuf-js-hash-bins.md); the same layout is run with 1,024 bins here, and "
    f"scripts/test.sh runs this case in a step of its own with {SLOW_ENV_VAR}=1."
)


@dataclass(frozen=True)
class Layout:
    """One PEP 458 bins layout."""

    form: str  # "path_hash_prefixes" or "succinct_roles"
    bit_length: int  # log2(number of bins)

    @property
    def bin_count(self) -> int:
        """Number of bin-n roles."""
        return 1 << self.bit_length

    @property
    def succinct(self) -> SuccinctRoles:
        """The equivalent succinct_roles (same names, same target -> bin mapping)."""
        return SuccinctRoles([], 1, self.bit_length, "bin")

    def __str__(self) -> str:
        return f"{self.form}-{self.bin_count}"


LAYOUTS = [
    Layout("path_hash_prefixes", BIN_BITS),
    Layout("succinct_roles", BIN_BITS),
    Layout("path_hash_prefixes", 10),
]


def pep458_root(keys: Keys) -> bytes:
    """Root v1 (threshold 1, key A) with an offline targets key."""
    root = make_root(1, [keys.a], keys.online, threshold=1, targets_key=keys.offline_targets)
    return signed(root, keys.a)


def pep458_targets(keys: Keys) -> bytes:
    """Offline targets: delegates ``*`` to bins."""
    delegations = Delegations(
        keys={keys.bins.public_key.keyid: keys.bins.public_key},
        roles={"bins": DelegatedRole("bins", [keys.bins.public_key.keyid], 1, False, ["*"])},
    )
    targets = Targets(version=1, expires=default_expiry(365), delegations=delegations)
    return signed(Metadata(targets), keys.offline_targets)


def hash_prefix_roles(keyid: str, layout: Layout) -> dict[str, DelegatedRole]:
    """bin-n roles by path_hash_prefixes, named and split as ``layout.succinct`` does.

    Prefixes are as many hex digits as the last bin number (4 for 16,384 bins: 4 prefixes
    per bin, PEP 458; 3 for 1,024 bins).
    """
    names = list(layout.succinct.get_roles())
    digits = len(names[-1]) - len("bin-")
    per_bin = 16**digits // layout.bin_count
    return {
        name: DelegatedRole(
            name,
            [keyid],
            1,
            False,
            path_hash_prefixes=[f"{p:0{digits}x}" for p in range(i * per_bin, (i + 1) * per_bin)],
        )
        for i, name in enumerate(names)
    }


def pep458_bins(keys: Keys, layout: Layout) -> bytes:
    """Offline bins delegating to every bin-n with the online key (one of two forms)."""
    online = keys.online.public_key
    succinct = layout.form == "succinct_roles"
    delegations = Delegations(
        keys={online.keyid: online},
        roles=None if succinct else hash_prefix_roles(online.keyid, layout),
        succinct_roles=(
            SuccinctRoles([online.keyid], 1, layout.bit_length, "bin") if succinct else None
        ),
    )
    targets = Targets(version=1, expires=default_expiry(365), delegations=delegations)
    return signed(Metadata(targets), keys.bins)


@pytest.fixture(scope="module", params=LAYOUTS, ids=str)
def pep458(
    request: pytest.FixtureRequest, keys: Keys, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Layout, BuiltRepository]:
    """PEP 458 repository: offline targets and bins, online bin-n, two targets."""
    layout: Layout = request.param
    presigned = {"targets": pep458_targets(keys), "bins": pep458_bins(keys, layout)}
    files = {TARGET: CONTENT, "other-1.0.tar.gz": b"another target\n"}
    signers = {
        "timestamp": keys.online,
        "snapshot": keys.online,
        keys.online.public_key.keyid: keys.online,  # every bin-n
    }
    out = tmp_path_factory.mktemp(str(layout))
    repo = build_repository(out, [pep458_root(keys)], files, signers, presigned=presigned)
    return layout, repo


def test_pep458_builder_writes_only_needed_bins(pep458: tuple[Layout, BuiltRepository]) -> None:
    layout, repo = pep458
    expected = layout.succinct.get_role_for_target(TARGET)
    assert repo.delegation_paths[TARGET] == ["targets", "bins", expected]
    written = sorted(p.name for p in repo.metadata_dir.glob("*.bin-*.json"))
    other = layout.succinct.get_role_for_target("other-1.0.tar.gz")
    assert written == sorted([f"1.{expected}.json", f"1.{other}.json"])
    assert {f"{expected}.json", "bins.json", "targets.json"} <= set(repo.snapshot_meta)


@pytest.mark.parametrize("client", CLIENTS)
def test_pep458_download_through_bins(client: str, pep458: tuple[Layout, BuiltRepository]) -> None:
    layout, repo = pep458
    too_slow = (
        client == "tuf-js" and layout.form == "path_hash_prefixes" and layout.bin_count > 4096
    )
    if too_slow and not os.environ.get(SLOW_ENV_VAR):
        pytest.skip(TUFJS_QUADRATIC)
    if too_slow:
        result = run_tufjs(repo.path, repo.trusted_root, TARGET, timeout=SLOW_TUFJS_TIMEOUT_S)
    else:
        result = CLIENTS[client](repo.path, repo.trusted_root, TARGET)
    assert result.ok, explain(result)
    assert result.downloaded == CONTENT
