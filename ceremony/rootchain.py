"""A chain of roots walked as a TUF client walks it (TUF spec 5.3): `ceremony verify`.

Root N+1 must be version N+1, signed by a threshold of root N's root keys AND of its own;
`N.root.json` must hold version N; two different files must not claim one version; the
newest root must not be expired. Each file is read, parsed and encoded once, the chain
walked once (linear), a failure explained: which link, which threshold, which keys.

python-tuf decides every threshold (`Root.get_root_verification_result`: what tuf 7.0.1's
`TrustedMetadataSet.update_root` checks, without the ngclient's HTTP stack) and
securesystemslib verifies every signature, behind a cache (`_VerifiedOnce`): a key in both
roots verifies each (signature, payload) once. `clientcheck` judges an export's new root
with the same functions.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from securesystemslib.exceptions import FormatError
from securesystemslib.signer import Key, Signature
from tuf.api.exceptions import RepositoryError
from tuf.api.metadata import Metadata, Root, RootVerificationResult, VerificationResult

from ceremony import digest as digests
from ceremony.clock import iso
from ceremony.errors import InputError
from ceremony.files import MAX_ROOT_BYTES, read_input
from ceremony.keys import content_keyid, key_identity, short
from ceremony.tufread import cause, read_root

ROOT_FILE_NAME = re.compile(r"^([0-9]+)\.root\.json$")  # what clients fetch: N.root.json


@dataclass(frozen=True)
class Step:
    version: int
    file: str
    ok: bool
    detail: str


@dataclass
class ChainReport:
    """One `Step` per root walked (up to the first that fails), warnings, `expired` (the
    newest root has expired: a client refuses it) and `unchecked_predecessor` (no trusted
    root and the lowest version above 1: that root was checked by its own threshold only)."""

    steps: list[Step] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    expired: str | None = None
    unchecked_predecessor: int | None = None
    own_threshold: str = ""  # the first root's own threshold, e.g. "2 of 3"

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps) and self.expired is None

    @property
    def failure(self) -> Step | None:
        return next((s for s in self.steps if not s.ok), None)


# --- each signature verified once -------------------------------------------------------


class _Cache:
    """What one walk learns once: each (key material, signature, payload) verified (None,
    or the exception securesystemslib raised), each key object wrapped, each key's identity,
    and whether each keyid is the SHA-256 of its key object."""

    def __init__(self) -> None:
        self.verified: dict[tuple[tuple[str, ...], str, bytes], Exception | None] = {}
        self.keys: dict[tuple[str, tuple[str, ...], str], _VerifiedOnce] = {}
        self.identities: dict[tuple[str, ...], str] = {}
        self.keyid_ok: dict[tuple[str, tuple[str, ...]], bool] = {}

    def wrap(self, key: Key) -> _VerifiedOnce:
        # repr: two different keys never give one text (fields reordered: a second wrapper).
        material = (type(key).__name__, key.keytype, key.scheme, repr(key.keyval))
        k = (key.keyid, material, repr(key.unrecognized_fields))
        found = self.keys.get(k)
        if found is None:  # the same key object in root after root: one wrapper
            found = self.keys[k] = _VerifiedOnce(key, material, self)
        return found


class _VerifiedOnce(Key):
    """A root's key with a cache in front of its `verify_signature`: python-tuf checks root
    N+1's signatures for root N's threshold and for its own, so a key in both would verify
    one (signature, payload) twice. The first answer (None, or the exception) is kept."""

    def __init__(self, inner: Key, material: tuple[str, ...], cache: _Cache) -> None:
        super().__init__(
            inner.keyid, inner.keytype, inner.scheme, inner.keyval, inner.unrecognized_fields
        )
        self.inner = inner
        self.material = material
        self._cache = cache

    @classmethod
    def from_dict(cls, keyid: str, key_dict: dict[str, Any]) -> Key:
        raise NotImplementedError("a wrapper, never deserialised")

    def to_dict(self) -> dict[str, Any]:
        return self.inner.to_dict()

    def verify_signature(self, signature: Signature, data: bytes) -> None:
        done = self._cache.verified
        k = (self.material, signature.signature, data)
        if k not in done:
            try:
                self.inner.verify_signature(signature, data)
                done[k] = None
            except Exception as exc:  # noqa: BLE001 - kept and raised again as it was
                done[k] = exc
        err = done[k]
        if err is not None:
            raise err

    @property
    def identity(self) -> str:
        found = self._cache.identities.get(self.material)
        if found is None:
            found = self._cache.identities[self.material] = key_identity(self.inner)
        return found


# --- reading ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RootFile:
    """A root file read once: its path, bytes, python-tuf metadata (keys wrapped by
    `_VerifiedOnce`) and the canonical bytes of its signed part."""

    path: Path
    data: bytes
    md: Metadata[Root]
    payload: bytes  # the canonical bytes of `signed` that every key signs, computed once
    unencodable: str | None = None  # why `signed` has no canonical form (then payload is b"")

    @property
    def version(self) -> int:
        return int(self.md.signed.version)


def parse_root(data: bytes, path: Path, cache: _Cache | None = None) -> RootFile:
    """A root file's bytes parsed ONCE (`tufread.read_root`: the JSON checked, then
    python-tuf's model from that value) and the canonical bytes of what python-tuf parsed
    (what a client verifies), encoded once. InputError (exit 2) with python-tuf's cause."""
    md = read_root(data, str(path))
    try:
        payload, unencodable = digests.canonical_bytes(md.signed.to_dict()), None
    except (FormatError, ValueError, TypeError) as exc:  # e.g. a float: a client refuses it
        payload, unencodable = b"", f"its signed part has no canonical JSON form ({exc})"
    keys = md.signed.keys
    walk = _Cache() if cache is None else cache
    for kid, key in list(keys.items()):
        keys[kid] = walk.wrap(key)
    return RootFile(path, data, md, payload, unencodable)


# --- judging ----------------------------------------------------------------------------


def _threshold_text(label: str, r: VerificationResult) -> str:
    missing = ", ".join(short(k) for k in r.unsigned)
    return (
        f"{label} threshold not met: {len(r.signed)} of {r.threshold} valid signatures "
        f"(keys that did not sign: {missing or 'none'})"
    )


def _double_counted(results: Sequence[tuple[str, VerificationResult]]) -> str | None:
    """A threshold met only by counting one public key under several keyids (python-tuf and
    tuf-js count per keyid and accept it; the spec means distinct keys: `keys.key_identity`,
    issue 9 rule 1, computed once per key)."""
    for label, r in results:
        groups: dict[str, list[str]] = {}
        for kid, key in r.signed.items():
            ident = key.identity if isinstance(key, _VerifiedOnce) else key_identity(key)
            groups.setdefault(ident, []).append(kid)
        distinct = len(groups)
        if distinct < r.threshold:
            dup = next(ids for ids in groups.values() if len(ids) > 1)
            return (
                f"{label} threshold met only by counting one key twice: "
                f"{' and '.join(f'key-{short(k)}' for k in sorted(dup))} are the same public key "
                f"(listed under {len(dup)} keyids), so there are "
                f"{distinct} distinct signing key{'s' if distinct != 1 else ''} for a threshold of "
                f"{r.threshold}. Popular clients "
                "count per keyid and would accept this root; the TUF specification does not"
            )
    return None


def _judge(results: Sequence[tuple[str, VerificationResult]]) -> str | None:
    """Why these thresholds do not accept the root (None: they do)."""
    unmet = [_threshold_text(label, r) for label, r in results if not r.verified]
    return "; ".join(unmet) if unmet else _double_counted(results)


def judge_own(rf: RootFile) -> str | None:
    """Why root `rf` does not verify by its own threshold (None: it does), as a client
    loading it as its trusted root checks (and distinct keys, `_double_counted`)."""
    if rf.unencodable is not None:
        return rf.unencodable
    try:
        own = rf.md.signed.get_verification_result("root", rf.payload, rf.md.signatures)
    except ValueError as exc:
        return cause(exc)
    return _with_pythontuf_words(_judge([("its own root role", own)]), rf, [rf])


def judge_link(prev: RootFile, new: RootFile) -> tuple[str | None, RootVerificationResult | None]:
    """Why a client that trusts `prev` refuses `new` (None: it accepts it), and python-tuf's
    result: the version must be the next one, and both thresholds met (the previous root's
    and the new root's own) by distinct keys."""
    if new.unencodable is not None:
        return new.unencodable, None
    if new.version != prev.version + 1:
        return (
            f"version {new.version} does not follow version {prev.version} "
            f"(expected {prev.version + 1}): a client refuses to skip or go back"
        ), None
    try:
        res = new.md.signed.get_root_verification_result(
            prev.md.signed, new.payload, new.md.signatures
        )
    except ValueError as exc:
        return cause(exc), None
    why = _judge([("previous root", res.first), ("new root", res.second)])
    return _with_pythontuf_words(why, new, [prev, new]), res


def _with_pythontuf_words(why: str | None, new: RootFile, by: Sequence[RootFile]) -> str | None:
    """`why`, followed by python-tuf's own words for the refusal, in the order a client
    checks (`verify_delegate` by the previous root, then by the new one): e.g. "root was
    signed by 1/2 keys". Only on a refusal; the signatures come from the cache."""
    if why is None:
        return None
    for root in by:
        try:
            root.md.signed.verify_delegate("root", new.payload, new.md.signatures)
        except (RepositoryError, ValueError) as exc:
            return f"{why} (python-tuf: {cause(exc)})"
    return why


def _name_problem(rf: RootFile) -> str | None:
    m = ROOT_FILE_NAME.match(rf.path.name)
    if m is None or int(m.group(1)) == rf.version:
        return None
    return (
        f"the file {rf.path.name} holds root version {rf.version}: a client that fetches "
        f"{rf.path.name} expects version {int(m.group(1))} and refuses it"
    )


def _keyid_warnings(md: Metadata[Root], seen: dict[tuple[str, tuple[str, ...]], bool]) -> list[str]:
    """Keyids that are not the SHA-256 of their key object (each distinct key hashed once)."""
    out = []
    for kid, key in md.signed.keys.items():
        k = (kid, key.material if isinstance(key, _VerifiedOnce) else ())
        ok = seen.get(k)
        if ok is None:
            ok = seen[k] = content_keyid(key.to_dict()) == kid
        if not ok:
            out.append(
                f"root version {md.signed.version}: keyid {short(kid)} is not the SHA-256 of its key "
                "object; clients that recompute keyids (e.g. tough, sigstore-rs) may reject it"
            )
    return out


def _conflict(a: RootFile, b: RootFile, what: str) -> Step:
    return Step(
        b.version,
        str(b.path),
        False,
        f"{b.path} and {what} {a.path} are two different roots that both claim version "
        f"{b.version}: a root version is one file, and a client that trusts one refuses the other",
    )


def verify_chain(files: Sequence[Path], trusted: Path | None, now: dt.datetime) -> ChainReport:
    """Walk a chain of root files as a TUF client does (`ceremony verify`).

    Args:
        files: root files, in any order (one per version; a file given twice counts once).
        trusted: the root already trusted; default: the lowest version given (above
            version 1, its predecessor is then reported as not checked).
        now: the time the newest root's expiry is judged by.

    Returns:
        A `ChainReport`: a `Step` per root up to the first that fails (threshold, key counted
        twice, version, `N.root.json` not version N, two files of one version), warnings,
        `expired`. One read, parse and encoding per file; each signature verified once.

    Raises:
        InputError (exit 2): no file, or a file that cannot be read or is not a root.
    """
    if not files:
        raise InputError("give at least one root file to verify.")
    cache = _Cache()
    report = ChainReport()
    anchor = (
        parse_root(read_input(trusted, limit=MAX_ROOT_BYTES), trusted, cache)
        if trusted is not None
        else None
    )
    by_version: dict[int, RootFile] = {}
    conflict: Step | None = None
    for rf in sorted(
        (parse_root(read_input(p, limit=MAX_ROOT_BYTES), p, cache) for p in files),
        key=lambda r: r.version,
    ):
        seen = by_version.get(rf.version)
        if anchor is not None and rf.version == anchor.version and rf.data != anchor.data:
            conflict = conflict or _conflict(anchor, rf, "the trusted root")
        elif seen is not None and seen.data != rf.data:
            conflict = conflict or _conflict(seen, rf, "")
        by_version.setdefault(rf.version, rf)
    chain = list(by_version.values())
    if anchor is None:
        anchor, chain = chain[0], chain[1:]
        if anchor.version > 1:
            report.unchecked_predecessor = anchor.version - 1
    keyids_seen = cache.keyid_ok
    signed = anchor.md.signed
    why = judge_own(anchor)
    why = why or _name_problem(anchor)
    if why is not None:
        report.steps.append(
            Step(
                anchor.version,
                str(anchor.path),
                False,
                f"trusted root does not verify by itself: {why}",
            )
        )
        return report
    role = signed.roles["root"]
    report.own_threshold = f"{role.threshold} of {len(role.keyids)}"
    report.steps.append(
        Step(
            anchor.version,
            str(anchor.path),
            True,
            f"trusted start: version {anchor.version}, signed by its own threshold "
            f"({report.own_threshold})",
        )
    )
    report.warnings.extend(_keyid_warnings(anchor.md, keyids_seen))
    prev = anchor
    for rf in chain:
        if rf.version <= prev.version:
            continue  # covered by the trusted root
        if conflict is not None and conflict.version == rf.version:
            report.steps.append(conflict)
            return report
        why = _name_problem(rf)
        res = None
        if why is None:
            why, res = judge_link(prev, rf)
        if why is not None or res is None:
            report.steps.append(Step(rf.version, str(rf.path), False, why or "rejected"))
            return report
        report.warnings.extend(_keyid_warnings(rf.md, keyids_seen))
        report.steps.append(
            Step(
                rf.version,
                str(rf.path),
                True,
                f"version {prev.version} -> {rf.version}: previous root "
                f"{len(res.first.signed)}/{res.first.threshold}, new root "
                f"{len(res.second.signed)}/{res.second.threshold}",
            )
        )
        prev = rf
    if conflict is not None and conflict.version <= anchor.version:
        report.steps.append(conflict)
        return report
    newest = prev.md.signed
    if newest.is_expired(now):
        # A client refuses an expired final root at its next refresh (TUF spec 5.3.10).
        report.expired = (
            f"the newest root (version {newest.version}) expired on {iso(newest.expires)}: its "
            "signatures hold, but a client refuses to use an expired root, so nothing can be "
            "updated until a newer root is published. Next: a new root signed by its keys "
            f"(`ceremony init DIR --previous-root {prev.path}`)."
        )
    return report
