"""Which signatures count, and how far each threshold is from being met.

A role's draft is signed when, for every authority that must approve it, a threshold of
that authority's keys made a valid signature over the draft's exact bytes:

- a first root: its own root role;
- a new root after a previous one: the previous root's root role AND its own;
- targets: the root role 'targets' of the (draft or trusted) root;
- a delegated role (e.g. bins): the delegation in its delegating role's draft.

Rules that hold everywhere (and are property-tested):
- a signature for another digest is stale and never counts;
- a signature that does not verify, or whose key the authority does not list, never counts;
- a key counts once per authority, even if listed under two keyids (same public key).

Pure: works on values; cryptographic verification is securesystemslib's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from securesystemslib.signer import Key, Signature
from tuf.api.metadata import Root

from ceremony.keys import EnrolledKey, public_identity, short
from ceremony.plan import Plan
from ceremony.review import People


@dataclass(frozen=True)
class SignatureRecord:
    """One collected signature (`signatures/ROLE/KEYID.json`)."""

    role: str
    keyid: str
    signature: str  # hex
    digest: str  # sha256 hex of the canonical signed bytes it signs
    key_name: str
    holder: str
    signed_at: str
    file: str = ""  # where it was read from, for messages
    extra: Mapping[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "role": self.role,
            "keyid": self.keyid,
            "sig": self.signature,
            "digest": self.digest,
            "key_name": self.key_name,
            "holder": self.holder,
            "signed_at": self.signed_at,
        }
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class Authority:
    """A set of keys and a threshold that must approve a draft."""

    of: str  # "new" | "previous" | "root" | "targets" | the delegating role's name
    label: str  # human: "previous root (version 1)"
    keys: Mapping[str, Key]  # keyid -> key
    threshold: int
    names: Mapping[str, str]  # keyid -> human key name
    holders: Mapping[str, str]  # keyid -> holder
    notes: Mapping[str, str] = field(default_factory=dict)  # keyid -> e.g. "compromised"


@dataclass(frozen=True)
class ThresholdStatus:
    of: str
    label: str
    threshold: int
    signed: list[str]  # key names, one per distinct key
    missing: list[str]  # key names that have not signed yet
    signed_keyids: list[str]
    missing_keyids: list[str]
    holders: Mapping[str, str]  # key name -> holder
    notes: Mapping[str, str]  # key name -> note

    @property
    def count(self) -> int:
        return len(self.signed)

    @property
    def met(self) -> bool:
        return self.count >= self.threshold

    @property
    def still_needed(self) -> int:
        return max(0, self.threshold - self.count)


@dataclass(frozen=True)
class RejectedSignature:
    record: SignatureRecord
    reason: str  # "stale" | "invalid" | "unknown key"
    detail: str


@dataclass(frozen=True)
class RoleStatus:
    role: str
    digest: str
    thresholds: list[ThresholdStatus]
    valid: list[SignatureRecord]
    rejected: list[RejectedSignature]

    @property
    def complete(self) -> bool:
        return bool(self.thresholds) and all(t.met for t in self.thresholds)


def authority(
    of: str,
    label: str,
    keys: Mapping[str, Key],
    keyids: Sequence[str],
    threshold: int,
    people: People,
    *,
    names: Mapping[str, str] | None = None,
    notes: Mapping[str, str] | None = None,
) -> Authority:
    """The keys `keyids` (looked up in `keys`) and threshold that must approve a draft,
    with each key's name (`names` first, else the enrolled name) and holder for screens.
    A keyid with no key object in `keys` can never sign (clients skip it): it is left out."""
    keyids = [k for k in keyids if k in keys]
    return Authority(
        of,
        label,
        {k: keys[k] for k in keyids},
        threshold,
        {k: (names or {}).get(k) or people.name(k) for k in keyids},
        {k: people.holder(k) for k in keyids},
        {k: v for k, v in (notes or {}).items() if k in keyids},
    )


def status_notes(plan: Plan, keys: Mapping[str, EnrolledKey]) -> dict[str, str]:
    """keyid -> "lost" or "compromised", for the enrolled keys the plan marks so."""
    return {
        k.keyid: plan.keys[k.name].status
        for k in keys.values()
        if k.name in plan.keys and plan.keys[k.name].status != "active"
    }


def root_authorities(
    keys: Mapping[str, EnrolledKey],
    previous: Root | None,
    new: Root,
    people: People,
    notes: Mapping[str, str],
) -> list[Authority]:
    """Who approves a new root: the previous root's root role (a rotation; its names are
    the enrolled ones, else short keyids, and lost or compromised keys are noted) AND the
    new root's own."""
    out: list[Authority] = []
    if previous is not None:
        prole = previous.roles["root"]
        out.append(
            authority(
                "previous",
                f"previous root (version {previous.version})",
                previous.keys,
                prole.keyids,
                prole.threshold,
                people,
                names=authority_key_names(keys, previous),
                notes=notes,
            )
        )
    nrole = new.roles["root"]
    out.append(
        authority(
            "new",
            f"new root (version {new.version})",
            new.keys,
            nrole.keyids,
            nrole.threshold,
            people,
        )
    )
    return out


def authority_key_names(keys: Mapping[str, EnrolledKey], previous: Root) -> dict[str, str]:
    """keyid -> human name for the previous root's keys (enrolled name, else a short id)."""
    by_id = {k.keyid: k.name for k in keys.values()}
    return {kid: by_id.get(kid, f"key {short(kid)}") for kid in previous.keys}


def verify_record(record: SignatureRecord, key: Key, payload: bytes) -> bool:
    """True if the record's signature verifies over payload with key."""
    try:
        key.verify_signature(Signature(record.keyid, record.signature), payload)
    except Exception:  # noqa: BLE001 - securesystemslib raises several types; all mean "no"
        return False
    return True


def evaluate(
    role: str,
    payload: bytes,
    digest: str,
    authorities: Sequence[Authority],
    records: Sequence[SignatureRecord],
) -> RoleStatus:
    """Sort records into valid / stale / invalid and count each authority's threshold."""
    known: dict[str, Key] = {}
    for auth in authorities:
        known.update(auth.keys)
    valid: list[SignatureRecord] = []
    rejected: list[RejectedSignature] = []
    for rec in records:
        if rec.digest != digest:
            rejected.append(
                RejectedSignature(
                    rec, "stale", f"signs digest {rec.digest[:16]}…, not the current draft"
                )
            )
            continue
        key = known.get(rec.keyid)
        if key is None:
            rejected.append(
                RejectedSignature(
                    rec, "unknown key", "its key is in none of the roles that approve this draft"
                )
            )
            continue
        if not verify_record(rec, key, payload):
            rejected.append(RejectedSignature(rec, "invalid", "the signature does not verify"))
            continue
        valid.append(rec)

    valid_ids = {r.keyid for r in valid}
    statuses: list[ThresholdStatus] = []
    for auth in authorities:
        seen: set[tuple[str, str, str]] = set()
        signed: list[str] = []
        missing: list[str] = []
        for keyid, key in auth.keys.items():
            ident = public_identity(key)
            if keyid in valid_ids and ident not in seen:
                seen.add(ident)
                signed.append(keyid)
        for keyid, key in auth.keys.items():
            if keyid not in signed and public_identity(key) not in seen:
                missing.append(keyid)
        name = {k: auth.names.get(k, k[:8]) for k in auth.keys}
        statuses.append(
            ThresholdStatus(
                of=auth.of,
                label=auth.label,
                threshold=auth.threshold,
                signed=[name[k] for k in signed],
                missing=[name[k] for k in missing],
                signed_keyids=signed,
                missing_keyids=missing,
                holders={name[k]: auth.holders.get(k, "unknown holder") for k in auth.keys},
                notes={name[k]: v for k, v in auth.notes.items() if k in name},
            )
        )
    return RoleStatus(role, digest, statuses, valid, rejected)
