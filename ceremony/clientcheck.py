"""Everything checked "as a client would": a chain of roots, a new root, the delegations.

- `verify_chain`: a chain of root files (TUF spec 5.3): each root N+1 must be version N+1
  and signed by a threshold of root N's root keys AND a threshold of its own. The files are
  ordered, the chain walked once (linear in its length), a failure explained in words:
  which link, which threshold, which keys are missing.
- `client_check_root`: the new root of an export, loaded from the previous one.
- `check_delegation_chain`: every exported targets-type role, from root down.

python-tuf's trusted-metadata logic (`tuf.ngclient`) does the verifying; this is the only
module that imports it (its `_internal` package: python-tuf has no public API for it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuf.api.exceptions import RepositoryError
from tuf.api.metadata import Metadata, Root
from tuf.api.serialization import DeserializationError

from ceremony import digest as digests
from ceremony.clock import iso
from ceremony.delegations import delegation_problems, delegation_spec
from ceremony.errors import InputError, VerificationFailed
from ceremony.files import MAX_ROOT_BYTES, read_input
from ceremony.keys import EnrolledKey, content_keyid, public_identity, short
from ceremony.plan import Plan
from ceremony.tufread import cause, read_root


@dataclass(frozen=True)
class Step:
    version: int
    file: str
    ok: bool
    detail: str


@dataclass
class ChainReport:
    steps: list[Step] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)

    @property
    def failure(self) -> Step | None:
        return next((s for s in self.steps if not s.ok), None)


@dataclass(frozen=True)
class _RootFile:
    path: Path
    data: bytes
    md: Metadata[Root]


def _read(path: Path) -> _RootFile:
    data = read_input(path, limit=MAX_ROOT_BYTES)
    return _RootFile(path, data, read_root(data, str(path)))


def _explain(prev: Root, new: _RootFile) -> str:
    """Why `new` does not follow `prev`, in thresholds and missing keys."""
    if new.md.signed.version != prev.version + 1:
        return (
            f"version {new.md.signed.version} does not follow version {prev.version} "
            f"(expected {prev.version + 1}): a client refuses to skip or go back"
        )
    res = new.md.signed.get_root_verification_result(prev, new.md.signed_bytes, new.md.signatures)
    parts = []
    for label, r in (("previous root", res.first), ("new root", res.second)):
        if not r.verified:
            missing = ", ".join(short(k) for k in r.unsigned)
            parts.append(
                f"{label} threshold not met: {len(r.signed)} of {r.threshold} valid signatures "
                f"(keys that did not sign: {missing or 'none'})"
            )
    return "; ".join(parts) or "rejected"


def _double_counted(prev: Root | None, new: _RootFile) -> str | None:
    """A threshold met only by counting one public key under several keyids.

    Both python-tuf and tuf-js count signatures per keyid, so they accept such a root; the
    spec means distinct keys, and so does this tool. `prev` None: a root checked by itself.
    """
    md = new.md
    own = md.signed.get_verification_result("root", md.signed_bytes, md.signatures)
    results = [("new root", own)]
    if prev is not None:
        res = md.signed.get_root_verification_result(prev, md.signed_bytes, md.signatures)
        results = [("previous root", res.first), ("new root", res.second)]
    for label, r in results:
        groups: dict[tuple[str, str, str], list[str]] = {}
        for kid, key in r.signed.items():
            groups.setdefault(public_identity(key), []).append(kid)
        distinct = len(groups)
        if distinct < r.threshold:
            dup = next(ids for ids in groups.values() if len(ids) > 1)
            return (
                f"{label} threshold met only by counting one key twice: keyids "
                f"{', '.join(short(k) for k in sorted(dup))} are the same public key, so there are "
                f"{distinct} distinct signing keys for a threshold of {r.threshold}. Popular clients "
                "count per keyid and would accept this root; the TUF specification does not"
            )
    return None


def _keyid_warnings(md: Metadata[Root]) -> list[str]:
    out = []
    for kid, key in md.signed.keys.items():
        if content_keyid(key.to_dict()) != kid:
            out.append(
                f"root version {md.signed.version}: keyid {short(kid)} is not the SHA-256 of its key "
                "object; clients that recompute keyids (e.g. tough, sigstore-rs) may reject it"
            )
    return out


def verify_chain(files: Sequence[Path], trusted: Path | None, now: dt.datetime) -> ChainReport:
    """Walk a chain of root files as a TUF client does (`ceremony verify`).

    Args:
        files: root metadata files, in any order (one per version).
        trusted: the root already trusted; default: the lowest version given.
        now: the time the newest root's expiry is judged by (an expired one is a warning).

    Returns:
        A `ChainReport`: one `Step` per root up to the first that fails, and warnings.

    Raises:
        InputError (exit 2): no file, a file that cannot be read or is not a root, or two
            files of one version.
    """
    from tuf.ngclient._internal.trusted_metadata_set import TrustedMetadataSet
    from tuf.ngclient.config import EnvelopeType

    if not files:
        raise InputError("give at least one root file to verify.")
    chain = sorted((_read(p) for p in files), key=lambda r: r.md.signed.version)
    versions = [r.md.signed.version for r in chain]
    dupes = sorted({v for v in versions if versions.count(v) > 1})
    if dupes:
        raise InputError(
            f"several files claim root version {', '.join(map(str, dupes))}; give one file per version."
        )
    report = ChainReport()
    if trusted is not None:
        anchor = _read(trusted)
    else:
        anchor, chain = chain[0], chain[1:]
    try:
        tms = TrustedMetadataSet(anchor.data, EnvelopeType.METADATA)
    except (RepositoryError, DeserializationError, ValueError) as exc:
        report.steps.append(
            Step(
                anchor.md.signed.version,
                str(anchor.path),
                False,
                f"trusted root does not verify by itself: {cause(exc)}",
            )
        )
        return report
    report.steps.append(
        Step(
            anchor.md.signed.version,
            str(anchor.path),
            True,
            f"trusted start: version {anchor.md.signed.version}, signed by its own threshold "
            f"({anchor.md.signed.roles['root'].threshold} of {len(anchor.md.signed.roles['root'].keyids)})",
        )
    )
    twice = _double_counted(None, anchor)
    if twice is not None:
        report.steps[-1] = Step(anchor.md.signed.version, str(anchor.path), False, twice)
        return report
    report.warnings.extend(_keyid_warnings(anchor.md))
    prev = anchor.md.signed
    for rf in chain:
        if rf.md.signed.version <= prev.version:
            continue  # already covered by the trusted root
        try:
            tms.update_root(rf.data)
        except (RepositoryError, DeserializationError, ValueError) as exc:
            report.steps.append(
                Step(
                    rf.md.signed.version,
                    str(rf.path),
                    False,
                    f"{_explain(prev, rf)} ({cause(exc)})",
                )
            )
            return report
        twice = _double_counted(prev, rf)
        if twice is not None:
            report.steps.append(Step(rf.md.signed.version, str(rf.path), False, twice))
            return report
        report.warnings.extend(_keyid_warnings(rf.md))
        res = rf.md.signed.get_root_verification_result(prev, rf.md.signed_bytes, rf.md.signatures)
        report.steps.append(
            Step(
                rf.md.signed.version,
                str(rf.path),
                True,
                f"version {prev.version} -> {rf.md.signed.version}: previous root "
                f"{len(res.first.signed)}/{res.first.threshold}, new root "
                f"{len(res.second.signed)}/{res.second.threshold}",
            )
        )
        prev = rf.md.signed
    if prev.is_expired(now):
        report.warnings.append(
            f"the newest root (version {prev.version}) expired on {prev.expires:%Y-%m-%d}: the chain "
            "is valid, but a client would refuse to use it until a newer root is published."
        )
    return report


# --- an export, checked before it is written ---------------------------------------------


def check_delegation_chain(
    plan: Plan,
    keys: Mapping[str, EnrolledKey],
    previous: Metadata[Root] | None,
    exported: Mapping[str, bytes],
    now: dt.datetime,
) -> list[str]:
    """Check every exported targets-type role from root down, as a client would.

    Each file is parsed back from the exact bytes to be written and verified by python-tuf
    (`verify_delegate`) against the role that delegates to it: targets against the new root
    (or the trusted previous root), every delegated role against the targets being
    exported. Also: not expired, thresholds reachable, hash bins partition the hash space,
    the online keys of the bins are the enrolled ones. `exported` maps a role to the bytes
    of its file; `previous` is the trusted previous root (None for a first root). Raises
    VerificationFailed (exit 1); returns notes for the transcript.
    """
    notes: list[str] = []
    if set(exported) <= {"root"}:
        return notes
    parsed: dict[str, Metadata[Any]] = {}
    for role, data in exported.items():
        parsed[role] = Metadata.from_bytes(data)
    root_md = parsed.get("root", previous)
    problems: list[str] = []

    def verify(delegator: Metadata[Any], role: str, label: str) -> None:
        md = parsed[role]
        try:
            # python-tuf's threshold check over the canonical bytes of the parsed file (our
            # encoder gives the same bytes as securesystemslib's, 4x faster for 16,384 bins).
            payload = digests.canonical_bytes(md.signed.to_dict())
            delegator.signed.verify_delegate(role, payload, md.signatures)
        except (RepositoryError, ValueError, KeyError, TypeError) as exc:
            problems.append(f"{role}: {label} does not accept it: {exc}")

    for role, md in parsed.items():
        if role == "root":
            continue
        if md.signed.is_expired(now):
            problems.append(f"{role}: already expired ({iso(md.signed.expires)})")
        problems += [f"{role}: {p}" for p in delegation_problems(md.signed)]
        if role == "targets":
            if root_md is None:
                problems.append("targets: no root (new or previous) to check it against")
            else:
                verify(root_md, role, f"root version {root_md.signed.version}")
            continue
        tmd = parsed.get("targets")
        if tmd is None:
            problems.append(f"{role}: targets is not exported with it, so nothing delegates to it")
            continue
        verify(tmd, role, f"targets version {tmd.signed.version}")
        spec = delegation_spec(plan, role)
        if spec is not None and spec.hash_bins is not None and md.signed.delegations is not None:
            want = {keys[n].keyid for n in spec.hash_bins.keys if n in keys}
            if set(md.signed.delegations.keys) != want:
                problems.append(
                    f"{role}: its bins' keys are not the enrolled {', '.join(spec.hash_bins.keys)}"
                )
    if "targets" in parsed:
        dele = parsed["targets"].signed.delegations
        for name in (dele.roles or {}) if dele is not None else {}:
            if name not in parsed:
                notes.append(f"delegated role {name} is not exported here (signed elsewhere)")
    if problems:
        raise VerificationFailed(
            "python-tuf rejects the delegation chain; nothing was written:\n  - "
            + "\n  - ".join(problems)
        )
    return notes


def client_check_root(previous_bytes: bytes | None, new_bytes: bytes) -> None:
    """Load the new root as a client would: python-tuf's trusted metadata logic."""
    from tuf.ngclient._internal.trusted_metadata_set import TrustedMetadataSet
    from tuf.ngclient.config import EnvelopeType

    try:
        if previous_bytes is None:
            TrustedMetadataSet(new_bytes, EnvelopeType.METADATA)
        else:
            TrustedMetadataSet(previous_bytes, EnvelopeType.METADATA).update_root(new_bytes)
    except (RepositoryError, DeserializationError, ValueError) as exc:
        raise VerificationFailed(
            f"python-tuf's client logic rejects the new root: {exc}. Nothing was written."
        ) from None


def client_check_delegate(
    delegator: Metadata[Any], role: str, new_bytes: bytes, now: dt.datetime
) -> None:
    """Load `new_bytes` (metadata of `role`) as a client would once it trusts `delegator`:
    not expired, and a threshold of the delegated keys sign it (python-tuf's
    `verify_delegate` over the canonical bytes of the parsed file).

    Raises VerificationFailed (exit 1).
    """
    try:
        md: Metadata[Any] = Metadata.from_bytes(new_bytes)
        delegator.signed.verify_delegate(role, md.signed_bytes, md.signatures)
    except (RepositoryError, DeserializationError, ValueError, KeyError, TypeError) as exc:
        raise VerificationFailed(
            f"python-tuf's client logic rejects {role}: {exc}. Nothing was written."
        ) from None
    if md.signed.is_expired(now):
        raise VerificationFailed(
            f"{role} expired on {iso(md.signed.expires)}: a client would refuse it. Nothing was "
            "written."
        )
