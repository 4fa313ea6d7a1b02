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
- a key counts once per authority, even if listed under two keyids (same public key,
  whatever its spelling: `keys.key_identity`);
- a signature file proves only a keyid and a signature: the names it gives (key_name,
  holder, device) are claims, shown nowhere; where they disagree with the enrolled key of
  its keyid they are refused and reported (`claim_problem`, `RoleStatus.disputed`), and
  the signature counts as the enrolled key's.

Pure: works on values; cryptographic verification is securesystemslib's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from securesystemslib.signer import Key, Signature
from tuf.api.metadata import Root

from ceremony.keys import EnrolledKey, key_identity, short
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
    reason: str  # "stale" | "invalid" | "unknown key" | "names refused" (in `disputed`)
    detail: str
    key: str = ""  # the enrolled name of its keyid (else "key 1234abcd"), never the file's


@dataclass(frozen=True)
class RoleStatus:
    """A draft's signatures sorted, and its thresholds. `disputed`: valid signatures (they
    count) whose files name another key, holder or device than the enrolled key of their
    keyid; those names are refused, never shown, and reported with the reason."""

    role: str
    digest: str
    thresholds: list[ThresholdStatus]
    valid: list[SignatureRecord]
    rejected: list[RejectedSignature]
    disputed: list[RejectedSignature] = field(default_factory=list)

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


_ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
# Claims a signature file may make about its key, beside the keyid (thresholds' own words).
_CLAIMS = (("key_name", "key name"), ("holder", "holder"), ("device", "device"))


# How `add-signature` and `import` describe where a signature came from (their `device`).
_ORIGIN = re.compile(
    r"external signature \(made outside tuf-ceremony, verified when added\)"
    r"|signature found in [A-Za-z0-9._%+-]{1,120} at import"
)


def signature_origin(rec: SignatureRecord) -> str | None:
    """Where a signature added from a file (`add-signature`) or kept from an imported file
    (`import`) came from, in the fixed words those commands write; None for any other
    record, or words that are not those (never shown then)."""
    device = rec.extra.get("device")
    came = isinstance(rec.extra.get("external"), dict) or rec.extra.get("imported") is True
    if came and isinstance(device, str) and _ORIGIN.fullmatch(device):
        return device
    return None


def claim_time_ok(signed_at: str) -> bool:
    """True for no time or a time in TUF's form (2026-01-31T12:00:00Z): safe to show."""
    return not signed_at or _ISO_UTC.fullmatch(signed_at) is not None


def claim_problem(rec: SignatureRecord, people: People) -> str | None:
    """Why a signature file's own fields disagree with the enrolled key of its keyid (None:
    they agree, or the file makes no claim).

    A signature file proves a keyid and a signature, nothing else. Its key_name, holder,
    device and rehearsal_only fields are compared with what the enrolled key of that keyid
    and the plan say (`people`); a field that is absent or empty claims nothing, and the
    device of a signature added from a file or kept from an imported file says where the
    signature came from, so it is not compared.
    """
    known = {
        "key_name": people.name(rec.keyid),
        "holder": people.holder(rec.keyid),
        "device": people.devices.get(rec.keyid, "not enrolled here"),
    }
    claimed = {"key_name": rec.key_name, "holder": rec.holder, "device": rec.extra.get("device")}
    if isinstance(rec.extra.get("external"), dict) or rec.extra.get("imported") is True:
        # `add-signature` and `import` record how the signature came (a file, the imported
        # metadata) as its device: where it was made, not a claim about the key's token.
        claimed["device"] = None
    wrong = [
        f"{words} '{str(claimed[f])[:80]}' where the enrolled key of keyid {short(rec.keyid)} "
        f"is '{known[f]}'"
        for f, words in _CLAIMS
        if claimed[f] not in (None, "") and str(claimed[f]) != known[f]
    ]
    if not claim_time_ok(rec.signed_at):
        wrong.append(
            f"signed_at {rec.signed_at[:40]!r}, which is not a time (2026-01-31T12:00:00Z)"
        )
    flag = rec.extra.get("rehearsal_only")
    if isinstance(flag, bool) and flag != (rec.keyid in people.rehearsal):
        wrong.append(
            f"rehearsal_only {str(flag).lower()} where the enrolled key of keyid "
            f"{short(rec.keyid)} is {'a' if rec.keyid in people.rehearsal else 'no'} "
            "rehearsal key"
        )
    if not wrong:
        return None
    return "the file says " + "; ".join(wrong)


def evaluate(
    role: str,
    payload: bytes,
    digest: str,
    authorities: Sequence[Authority],
    records: Sequence[SignatureRecord],
    people: People | None = None,
) -> RoleStatus:
    """Sort records into valid / stale / invalid / unknown key and count each authority's
    threshold, each distinct key once. `people`: who each enrolled keyid is, to check each
    file's own names against (`claim_problem`: a valid signature whose file names another
    key is `disputed`, and still counts); None checks no names."""
    known: dict[str, Key] = {}
    for auth in authorities:
        known.update(auth.keys)
    valid: list[SignatureRecord] = []
    rejected: list[RejectedSignature] = []
    disputed: list[RejectedSignature] = []

    def reject(rec: SignatureRecord, reason: str, detail: str) -> None:
        who = people.name(rec.keyid) if people is not None else f"key {short(rec.keyid)}"
        rejected.append(RejectedSignature(rec, reason, detail, who))

    for rec in records:
        if rec.digest != digest:
            reject(rec, "stale", f"signs digest {rec.digest[:16]}…, not the current draft")
            continue
        key = known.get(rec.keyid)
        if key is None:
            reject(rec, "unknown key", "its key is in none of the roles that approve this draft")
            continue
        if not verify_record(rec, key, payload):
            reject(rec, "invalid", "the signature does not verify")
            continue
        valid.append(rec)
        wrong = claim_problem(rec, people) if people is not None else None
        if wrong is not None:
            who = people.name(rec.keyid) if people is not None else ""
            disputed.append(RejectedSignature(rec, "names refused", wrong, who))

    valid_ids = {r.keyid for r in valid}
    statuses: list[ThresholdStatus] = []
    for auth in authorities:
        seen: set[str] = set()
        signed: list[str] = []
        missing: list[str] = []
        for keyid, key in auth.keys.items():
            ident = key_identity(key)
            if keyid in valid_ids and ident not in seen:
                seen.add(ident)
                signed.append(keyid)
        for keyid, key in auth.keys.items():  # one entry per distinct key still missing
            ident = key_identity(key)
            if keyid not in signed and ident not in seen:
                seen.add(ident)
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
    return RoleStatus(role, digest, statuses, valid, rejected, disputed)
