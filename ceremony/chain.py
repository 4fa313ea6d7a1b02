"""Verify a chain of root metadata files as a TUF client does (TUF spec 5.3).

Each root N+1 must be version N+1 and signed by a threshold of root N's root keys AND a
threshold of its own. python-tuf's trusted-metadata logic does the verifying; this module
orders the files, walks the chain once (linear in its length), and explains a failure in
words: which link, which threshold, which keys are missing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tuf.api.exceptions import RepositoryError
from tuf.api.metadata import Metadata, Root
from tuf.api.serialization import DeserializationError

from ceremony.errors import InputError
from ceremony.files import read_input
from ceremony.keys import content_keyid, public_identity, short


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
    data = read_input(path)
    try:
        md = Metadata[Root].from_bytes(data)
    except (DeserializationError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path} is not TUF root metadata: {exc}.") from None
    if md.signed.type != "root":
        raise InputError(f"{path} is '{md.signed.type}' metadata, not a root.")
    return _RootFile(path, data, md)


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
                f"trusted root does not verify by itself: {exc}",
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
                Step(rf.md.signed.version, str(rf.path), False, f"{_explain(prev, rf)} ({exc})")
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
