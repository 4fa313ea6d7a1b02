"""Build a complete, servable TUF repository directory for the interop clients.

The offline parts (root chain, optionally ``targets``/``bins`` and other delegating roles) come
in as bytes, exactly as exported by the ceremony tool; everything a real repository signs
online (``timestamp``, ``snapshot``, ``targets`` when not given, and the leaf roles that end up
listing the target files, e.g. the hash-bin roles ``bin-NNNN``) is made here with the
python-tuf Metadata API and signed with the given online signers.

Layout written under ``out_dir``::

    metadata/N.root.json ...  (every root; root.json = the newest one too)
    metadata/timestamp.json
    metadata/[V.]snapshot.json, [V.]targets.json, [V.]<delegated role>.json
    targets/[<sha256>.]<name>   (hash prefix when the newest root has consistent_snapshot)

With ``override=True`` the root files are copied as they are and nothing is verified, so that
the clients alone judge a must-reject repository.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

from securesystemslib.signer import Signer
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import (
    Delegations,
    Key,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

SignerMap = Mapping[str, Signer | Sequence[Signer]]
"""Online signers, keyed by role name (``"timestamp"``, ``"bin-0a3"``) or by keyid."""

_COMPACT = JSONSerializer(compact=True)
_EXPORTED_NAME = re.compile(r"^(?P<version>[0-9]+)\.(?P<role>.+)\.json$")


class RepositoryBuildError(Exception):
    """The inputs cannot make a repository that clients would accept (non-override mode)."""


@dataclass(frozen=True)
class ExportedMetadata:
    """Metadata files read from a directory of ``N.<role>.json`` files (a ceremony export)."""

    roots: list[bytes]
    """Root files, sorted by their version in the file name."""
    presigned: dict[str, bytes]
    """Other roles (``targets``, ``bins``, ...) by role name; the highest version of each."""


@dataclass(frozen=True)
class BuiltRepository:
    """What :func:`build_repository` wrote."""

    path: Path
    """Repository root: serve it and point clients at ``metadata/`` and ``targets/``."""
    trusted_root: bytes
    """The root a client should be bootstrapped with."""
    root_version: int
    """Version of the newest root written (what a client should end at when it accepts)."""
    consistent_snapshot: bool
    target_roles: dict[str, str] = field(default_factory=dict)
    """Target name -> the role whose metadata lists it."""
    delegation_paths: dict[str, list[str]] = field(default_factory=dict)
    """Target name -> chain of roles from ``targets`` to that role."""
    snapshot_meta: list[str] = field(default_factory=list)
    """Metadata file names listed in snapshot (``targets.json``, ``bins.json``, ...)."""

    @property
    def metadata_dir(self) -> Path:
        """Directory served as the clients' metadata base URL."""
        return self.path / "metadata"

    @property
    def targets_dir(self) -> Path:
        """Directory served as the clients' target base URL."""
        return self.path / "targets"


def default_expiry(days: int = 7) -> datetime:
    """An expiry ``days`` from now, whole seconds, UTC (what online roles get by default)."""
    return datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)


def read_exported(directory: Path) -> ExportedMetadata:
    """Read every ``N.<role>.json`` in ``directory`` (e.g. the ceremony tool's export dir)."""
    roots: list[tuple[int, bytes]] = []
    newest: dict[str, tuple[int, bytes]] = {}
    for path in sorted(directory.iterdir()):
        match = _EXPORTED_NAME.match(path.name)
        if match is None or not path.is_file():
            continue
        version, role = int(match["version"]), match["role"]
        if role == Root.type:
            roots.append((version, path.read_bytes()))
        elif role not in newest or newest[role][0] < version:
            newest[role] = (version, path.read_bytes())
    roots.sort(key=lambda item: item[0])
    return ExportedMetadata([data for _, data in roots], {r: d for r, (_, d) in newest.items()})


def build_repository(
    out_dir: Path,
    roots: Sequence[bytes],
    targets: Mapping[str, bytes],
    signers: SignerMap,
    *,
    presigned: Mapping[str, bytes] | None = None,
    trusted_root: bytes | None = None,
    override: bool = False,
    expires: datetime | None = None,
) -> BuiltRepository:
    """Write a full TUF repository into ``out_dir`` and return what was written.

    Args:
        out_dir: Directory to create the repository in (``metadata/`` and ``targets/``).
        roots: Root metadata files, oldest first (v1..vN as exported). Without ``override``
            they must be consecutive versions, each accepted by the one before it.
        targets: Target files, name -> content.
        signers: Online signers, see :data:`SignerMap`. Needed for timestamp, snapshot,
            targets (unless presigned) and every leaf role made here to list a target.
        presigned: Offline-signed metadata by role name (``{"targets": ..., "bins": ...}``),
            copied byte for byte. Targets are placed by following their delegations.
        trusted_root: Root the clients start from; defaults to ``roots[0]``.
        override: Copy the roots as they are, named ``N.root.json`` by their position
            (``N`` = version of ``roots[0]`` + index), and verify nothing.
        expires: Expiry of the metadata made here; default :func:`default_expiry`.

    Raises:
        RepositoryBuildError: Bad root chain, a missing signer, a target no role can list,
            or metadata the delegating role does not accept (the latter checks only without
            ``override``).
    """
    if not roots:
        raise RepositoryBuildError("at least one root is needed")
    expiry = expires or default_expiry()
    metadata_dir, targets_dir = out_dir / "metadata", out_dir / "targets"
    metadata_dir.mkdir(parents=True, exist_ok=True)
    targets_dir.mkdir(parents=True, exist_ok=True)

    root_md = _write_roots(metadata_dir, roots, trusted_root, override)
    consistent = bool(root_md.signed.consistent_snapshot)
    tree = _TargetsTree(_parse_presigned(presigned or {}), dict(presigned or {}), expiry)
    for name, data in targets.items():
        tree.place(TargetFile.from_data(name, data, ["sha256"]))
        _write_target(targets_dir, name, data, consistent)

    tree.sign_online(root_md, signers)
    if not override:
        tree.verify(root_md)
    snapshot_meta = tree.write(metadata_dir, consistent)
    _write_snapshot_and_timestamp(
        metadata_dir, root_md, tree.meta(), signers, expiry, consistent, verify=not override
    )
    return BuiltRepository(
        path=out_dir,
        trusted_root=trusted_root if trusted_root is not None else roots[0],
        root_version=root_md.signed.version,
        consistent_snapshot=consistent,
        target_roles={name: chain[-1] for name, chain in tree.chains.items()},
        delegation_paths=dict(tree.chains),
        snapshot_meta=snapshot_meta,
    )


def _parse_presigned(presigned: Mapping[str, bytes]) -> dict[str, Metadata[Targets]]:
    """Parse offline-signed targets-type metadata by role name."""
    parsed: dict[str, Metadata[Targets]] = {}
    for name, data in presigned.items():
        md = Metadata[Targets].from_bytes(data)
        if md.signed.type != Targets.type:
            raise RepositoryBuildError(f"presigned {name} is {md.signed.type}, not targets")
        parsed[name] = md
    return parsed


def _write_roots(
    metadata_dir: Path, roots: Sequence[bytes], trusted_root: bytes | None, override: bool
) -> Metadata[Root]:
    """Write ``N.root.json`` for every root and ``root.json``; return the newest root.

    The newest root that parses decides the online keys and ``consistent_snapshot``.
    """
    if override:
        parsed = [_try_parse_root(data) for data in roots]
        valid = [md for md in parsed if md is not None]
        if not valid:
            raise RepositoryBuildError("no root file parses as root metadata")
        first = parsed[0].signed.version if parsed[0] is not None else 1
        names = [f"{first + index}.root.json" for index in range(len(roots))]
        newest = valid[-1]
    else:
        chain = check_root_chain(roots, trusted_root)
        names = [f"{md.signed.version}.root.json" for md in chain]
        newest = chain[-1]
    for name, data in zip(names, roots, strict=True):
        (metadata_dir / name).write_bytes(data)
    (metadata_dir / "root.json").write_bytes(roots[-1])
    return newest


def _try_parse_root(data: bytes) -> Metadata[Root] | None:
    """Parse root metadata, or None when the bytes are not root metadata at all."""
    try:
        md = Metadata.from_bytes(data)
    except Exception:
        return None
    return md if isinstance(md.signed, Root) else None


def check_root_chain(
    roots: Sequence[bytes], trusted_root: bytes | None = None
) -> list[Metadata[Root]]:
    """Parse ``roots`` and check they form a chain a TUF client accepts from ``trusted_root``.

    Checks: consecutive versions, ``roots[0]`` signed by its own threshold, and each later
    root signed by the thresholds of both the previous and its own root role, counting
    distinct public keys (stricter than the clients, which count keyids). Roots older than
    the trusted root are only parsed. Returns the parsed roots.
    """
    chain = [Metadata[Root].from_bytes(data) for data in roots]
    trusted = Metadata[Root].from_bytes(trusted_root) if trusted_root else chain[0]
    previous: Root | None = None
    for md in chain:
        version = md.signed.version
        if previous is not None and version != previous.version + 1:
            raise RepositoryBuildError(f"root v{version} follows v{previous.version}")
        if version >= trusted.signed.version:
            # the trusted root only has to be signed by itself; later ones by both
            before = previous if version > trusted.signed.version else None
            result = md.signed.get_root_verification_result(before, md.signed_bytes, md.signatures)
            if not result.verified:
                raise RepositoryBuildError(f"root v{version} does not verify: {result}")
            for part in (result.first, result.second):
                if distinct_keys(part.signed.values()) < part.threshold:
                    raise RepositoryBuildError(
                        f"root v{version}: threshold {part.threshold} met only by counting "
                        "one public key under several keyids"
                    )
        previous = md.signed
    return chain


def distinct_keys(keys: Iterable[Key]) -> int:
    """Number of distinct public keys (same key type and public value = same key).

    Clients count signatures per keyid (python-tuf 7, tuf-js 6), so one key listed under two
    keyids would count twice there; this is the stricter count.
    """
    return len({(key.keytype, json.dumps(key.keyval, sort_keys=True)) for key in keys})


class _TargetsTree:
    """The targets role and its delegations, as far as the targets to place need them."""

    def __init__(
        self, presigned: dict[str, Metadata[Targets]], raw: dict[str, bytes], expires: datetime
    ) -> None:
        self.roles: dict[str, Metadata[Targets]] = dict(presigned)
        self.raw = raw
        self.online: list[str] = []
        self.parents: dict[str, str] = {}
        self.chains: dict[str, list[str]] = {}
        self._expires = expires
        if Targets.type not in self.roles:
            self._new_online_role(Targets.type)

    def _new_online_role(self, name: str) -> Metadata[Targets]:
        md = Metadata(Targets(version=1, expires=self._expires))
        self.roles[name] = md
        self.online.append(name)
        return md

    def place(self, target: TargetFile) -> None:
        """List ``target`` in the role a client will find it in (first matching delegation).

        Presigned roles are walked; the first role reached that is not presigned is made here
        (a leaf, e.g. one hash bin) and lists the target. A presigned role may also already
        list the target itself.
        """
        name, chain = Targets.type, [Targets.type]
        while True:
            md = self.roles[name]
            if name in self.online:
                md.signed.targets[target.path] = target
                break
            listed = md.signed.targets.get(target.path)
            if listed is not None:
                if listed != target:
                    raise RepositoryBuildError(f"{name} lists {target.path} with other hashes")
                break
            child = _first_delegate(md.signed.delegations, target.path)
            if child is None:
                raise RepositoryBuildError(
                    f"presigned {name} neither lists nor delegates {target.path}"
                )
            if child in chain:
                raise RepositoryBuildError(f"delegation cycle at {child}")
            self.parents.setdefault(child, name)
            if child not in self.roles:
                self._new_online_role(child)
            name = child
            chain.append(name)
        self.chains[target.path] = chain

    def sign_online(self, root: Metadata[Root], signers: SignerMap) -> None:
        """Sign every role made here with the signers for its delegated keyids."""
        for name in self.online:
            keyids = self._keyids(root, name)
            for signer in signers_for(name, keyids, signers):
                self.roles[name].sign(signer, append=True)

    def _keyids(self, root: Metadata[Root], name: str) -> list[str]:
        if name == Targets.type:
            return list(root.signed.roles[Targets.type].keyids)
        delegations = self.roles[self.parents[name]].signed.delegations
        assert delegations is not None
        if delegations.roles is not None and name in delegations.roles:
            return list(delegations.roles[name].keyids)
        assert delegations.succinct_roles is not None
        return list(delegations.succinct_roles.keyids)

    def verify(self, root: Metadata[Root]) -> None:
        """Check each role on a target's path is accepted by the role delegating to it."""
        for name, md in self.roles.items():
            parent: Metadata[Root] | Metadata[Targets]
            if name == Targets.type:
                parent = root
            elif name in self.parents:
                parent = self.roles[self.parents[name]]
            else:
                continue  # presigned, but no placed target passes through it
            try:
                parent.verify_delegate(name, md)
            except UnsignedMetadataError as err:
                raise RepositoryBuildError(f"{name}: {err}") from err

    def write(self, metadata_dir: Path, consistent: bool) -> list[str]:
        """Write every role's file; return the snapshot meta names."""
        for name, md in self.roles.items():
            data = self.raw.get(name) or md.to_bytes(_COMPACT)
            (metadata_dir / metadata_filename(name, md.signed.version, consistent)).write_bytes(
                data
            )
        return [f"{name}.json" for name in self.roles]

    def meta(self) -> dict[str, MetaFile]:
        """Snapshot meta for every role written."""
        return {
            f"{name}.json": MetaFile(version=md.signed.version) for name, md in self.roles.items()
        }


def _first_delegate(delegations: Delegations | None, path: str) -> str | None:
    """The first delegated role trusted for ``path`` (what a client visits first)."""
    if delegations is None:
        return None
    return next((role for role, _ in delegations.get_roles_for_target(path)), None)


def signers_for(role: str, keyids: Sequence[str], signers: SignerMap) -> list[Signer]:
    """The signers for ``role``: those under its name, then those under its keyids.

    Raises RepositoryBuildError when there is none.
    """
    found: dict[str, Signer] = {}
    for key in (role, *keyids):
        entry = signers.get(key)
        if entry is None:
            continue
        for signer in [entry] if isinstance(entry, Signer) else entry:
            found.setdefault(signer.public_key.keyid, signer)
    if not found:
        raise RepositoryBuildError(f"no online signer for {role} (keyids {list(keyids)})")
    return list(found.values())


def metadata_filename(role: str, version: int, consistent: bool) -> str:
    """``V.role.json`` with consistent snapshot, else ``role.json``."""
    return f"{version}.{role}.json" if consistent else f"{role}.json"


def target_filename(name: str, data: bytes, consistent: bool) -> str:
    """Relative path a client downloads ``name`` from (``dir/<sha256>.base`` if consistent)."""
    if not consistent:
        return name
    path = PurePosixPath(name)
    digest = TargetFile.from_data(name, data, ["sha256"]).hashes["sha256"]
    return str(path.with_name(f"{digest}.{path.name}"))


def _write_target(targets_dir: Path, name: str, data: bytes, consistent: bool) -> None:
    path = targets_dir / target_filename(name, data, consistent)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _write_snapshot_and_timestamp(
    metadata_dir: Path,
    root: Metadata[Root],
    meta: dict[str, MetaFile],
    signers: SignerMap,
    expires: datetime,
    consistent: bool,
    *,
    verify: bool,
) -> None:
    """Sign and write snapshot (listing ``meta``) and timestamp (listing snapshot)."""
    snapshot = Metadata(Snapshot(version=1, expires=expires, meta=meta))
    _sign_top_level(root, snapshot, signers, verify)
    (metadata_dir / metadata_filename(Snapshot.type, 1, consistent)).write_bytes(
        snapshot.to_bytes(_COMPACT)
    )
    timestamp = Metadata(Timestamp(version=1, expires=expires, snapshot_meta=MetaFile(version=1)))
    _sign_top_level(root, timestamp, signers, verify)
    (metadata_dir / "timestamp.json").write_bytes(timestamp.to_bytes(_COMPACT))


def _sign_top_level(
    root: Metadata[Root],
    md: Metadata[Snapshot] | Metadata[Timestamp],
    signers: SignerMap,
    verify: bool,
) -> None:
    role = md.signed.type
    for signer in signers_for(role, root.signed.roles[role].keyids, signers):
        md.sign(signer, append=True)
    if verify:
        try:
            root.verify_delegate(role, md)
        except UnsignedMetadataError as err:
            raise RepositoryBuildError(f"{role}: {err}") from err


__all__ = [
    "BuiltRepository",
    "ExportedMetadata",
    "RepositoryBuildError",
    "SignerMap",
    "build_repository",
    "check_root_chain",
    "default_expiry",
    "distinct_keys",
    "metadata_filename",
    "read_exported",
    "signers_for",
    "target_filename",
]
