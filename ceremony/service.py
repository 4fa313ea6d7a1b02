"""The use cases: init, validate, enroll, draft, show, sign, status, merge, export, verify.

Plain functions that take their collaborators (the directory, a signer factory, a
confirmation callback, a transcript entry to fill in). They never print and never prompt.
State is derived from the directory every time; nothing is cached that could disagree
with the files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from securesystemslib.signer import Key, Signer, SSlibKey
from tuf.api.exceptions import RepositoryError
from tuf.api.metadata import Metadata, Root, Signature
from tuf.api.serialization import DeserializationError

from ceremony import delegations as dlg
from ceremony import digest as digests
from ceremony import drafting
from ceremony.attestation import (
    AttestationInfo,
    attestation_problems,
    attestation_required,
    verify_attestation,
)
from ceremony.checks import (
    CheckContext,
    CheckResult,
    errors,
    run_checks,
    warnings,
)
from ceremony.clock import iso
from ceremony.drafting import Draft
from ceremony.errors import (
    AttestationError,
    BadTokenSignature,
    CeremonyError,
    InputError,
    PlanError,
    StoreError,
    ThresholdNotMet,
    VerificationFailed,
)
from ceremony.files import json_bytes, read_input, write_once
from ceremony.keys import (
    SOURCE_PKCS11,
    SOURCE_PREVIOUS_ROOT,
    SOURCE_PUBLIC_KEY,
    SOURCE_SOFTWARE,
    EnrolledKey,
    content_keyid,
    key_type_of,
    short,
)
from ceremony.plan import TOP_LEVEL_ROLES, Plan
from ceremony.plan.parse import parse_plan
from ceremony.plan.template import default_template, plan_template
from ceremony.review import (
    Change,
    People,
    RoleLine,
    delegation_lines,
    device_swaps,
    full_listing,
    people_of,
    root_diff,
    root_roles,
    summarize,
)
from ceremony.store import PLAN_FILE, CeremonyDir
from ceremony.thresholds import (
    Authority,
    RoleStatus,
    SignatureRecord,
    authority,
    evaluate,
    root_authorities,
    status_notes,
    verify_record,
)
from ceremony.transcript import Entry

ROLE_ORDER = ("root", "targets")


# --- loading ----------------------------------------------------------------------------


@dataclass
class Loaded:
    cdir: CeremonyDir
    plan: Plan
    plan_bytes: bytes
    keys: dict[str, EnrolledKey]
    previous: Metadata[Root] | None
    previous_bytes: bytes | None
    checks: list[CheckResult]

    @property
    def previous_root(self) -> Root | None:
        return self.previous.signed if self.previous is not None else None

    def people(self) -> People:
        return people_of(self.plan, self.keys)


def read_previous_root(data: bytes, where: str) -> Metadata[Root]:
    try:
        md = Metadata[Root].from_bytes(data)
    except (DeserializationError, ValueError, KeyError, TypeError) as exc:
        raise StoreError(
            f"{where} is not a TUF root metadata file ({exc}). Check that the plan's "
            "previous_root.path names the trusted root.json."
        ) from None
    if md.signed.type != "root":
        raise StoreError(f"{where} is '{md.signed.type}' metadata, not a root.")
    return md


def load_keys(cdir: CeremonyDir, entry: Entry | None = None) -> dict[str, EnrolledKey]:
    keys: dict[str, EnrolledKey] = {}
    for path in cdir.list_json("keys"):
        rel = cdir.rel(path)
        data = cdir.read_bytes(path)
        if entry is not None:
            entry.files_read[rel] = digests.sha256_hex(data)
        try:
            raw = json.loads(data)
        except json.JSONDecodeError as exc:
            raise StoreError(f"{rel} is not valid JSON ({exc}).") from None
        rec = EnrolledKey.from_dict(raw, rel)
        if f"{rec.name}.json" != path.name:
            raise StoreError(
                f"{rel} holds key '{rec.name}', which does not match its file name. Rename it or "
                "enrol the key again."
            )
        keys[rec.name] = rec
    return keys


def load(
    cdir: CeremonyDir,
    now: dt.datetime,
    *,
    require_enrolled: bool = False,
    entry: Entry | None = None,
    enforce: bool = True,
) -> Loaded:
    """Read the plan, keys and previous root and run every check (raise on errors)."""
    plan_bytes = cdir.read_bytes(PLAN_FILE, max_bytes=1024 * 1024)
    if entry is not None:
        entry.files_read[PLAN_FILE] = digests.sha256_hex(plan_bytes)
    try:
        text = plan_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise PlanError(f"{PLAN_FILE} is not UTF-8 text.") from None
    plan = parse_plan(text, PLAN_FILE)
    keys = load_keys(cdir, entry)
    previous = None
    previous_bytes = None
    previous_sha = None
    if plan.previous_root is not None:
        previous_bytes = cdir.read_bytes(plan.previous_root.path)
        previous_sha = digests.sha256_hex(previous_bytes)
        if entry is not None:
            entry.files_read[plan.previous_root.path] = previous_sha
        previous = read_previous_root(previous_bytes, plan.previous_root.path)
    ctx = CheckContext(
        plan,
        keys,
        previous.signed if previous else None,
        previous_sha,
        now,
        require_enrolled=require_enrolled,
    )
    results = run_checks(ctx)
    loaded = Loaded(cdir, plan, plan_bytes, keys, previous, previous_bytes, results)
    bad = errors(results)
    if enforce and bad:
        raise PlanError(
            f"the plan does not pass {len(bad)} check{'s' if len(bad) != 1 else ''}:\n  - "
            + "\n  - ".join(r.line() for r in bad),
            problems=[r.line() for r in bad],
            hint="Fix ceremony.yaml (or enrol the missing keys), then run `ceremony validate DIR`.",
        )
    return loaded


# --- init -------------------------------------------------------------------------------


@dataclass(frozen=True)
class InitResult:
    path: Path
    previous_copy: str | None
    enrolled: list[str]


def _previous_key_names(root: Root) -> dict[str, str]:
    """Generated names for a previous root's keys: root-1, targets-1, online-1, ..."""
    names: dict[str, str] = {}
    counters: dict[str, int] = {}
    for role in TOP_LEVEL_ROLES:
        for kid in root.roles[role].keyids:
            if kid in names:
                continue
            base = "online" if role in ("snapshot", "timestamp") else role
            counters[base] = counters.get(base, 0) + 1
            names[kid] = f"{base}-{counters[base]}"
    return names


def _carried_keys(previous_ceremony: Path, root: Root) -> dict[str, tuple[EnrolledKey, str]]:
    """keyid -> (enrolled key, holder) from the ceremony that made the previous root."""
    old = CeremonyDir(previous_ceremony)
    plan = parse_plan(
        old.read_bytes(PLAN_FILE).decode("utf-8", errors="replace"), str(old.plan_path)
    )
    out: dict[str, tuple[EnrolledKey, str]] = {}
    for rec in load_keys(old).values():
        if rec.keyid in root.keys:
            out[rec.keyid] = (rec, plan.holder(rec.name))
    return out


def init(
    path: Path,
    previous_root_file: Path | None,
    now: dt.datetime,
    entry: Entry,
    *,
    previous_ceremony: Path | None = None,
) -> InitResult:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InputError(
            f"{path} already exists and is not empty. A ceremony starts in a new directory; "
            "choose another path (nothing was written)."
        )
    if previous_root_file is None:
        text = default_template()
        path.mkdir(parents=True, exist_ok=True)
        cdir = CeremonyDir(path, must_exist=False)
        cdir.write(PLAN_FILE, text.encode())
        entry.files_written[PLAN_FILE] = digests.sha256_hex(text.encode())
        return InitResult(path, None, [])

    data = read_input(previous_root_file, "the previous root ")
    prev = read_previous_root(data, str(previous_root_file))
    root = prev.signed
    names = _previous_key_names(root)
    carried = _carried_keys(previous_ceremony, root) if previous_ceremony is not None else {}
    for kid, (rec, _holder) in carried.items():
        names[kid] = rec.name
    sha = digests.sha256_hex(data)
    rel = f"previous/{root.version}.root.json"
    roles = {
        role: (root.roles[role].threshold, [names[k] for k in root.roles[role].keyids])
        for role in TOP_LEVEL_ROLES
    }
    keys_spec = {
        names[kid]: {
            # --previous-ceremony: the holder from that plan; else a placeholder to fill in.
            "holder": carried[kid][1] if kid in carried else f"TODO: holder of key {short(kid)}",
            "type": key_type_of(root.keys[kid]),
        }
        for kid in names
    }
    repository = "example.org/simple"
    if previous_ceremony is not None:
        old_plan = CeremonyDir(previous_ceremony).read_bytes(PLAN_FILE)
        repository = parse_plan(old_plan.decode("utf-8", errors="replace")).repository or repository
    text = plan_template(
        repository,
        (rel, sha),
        root.version + 1,
        "365d",
        bool(root.consistent_snapshot),
        roles,
        keys_spec,
    )
    # Everything is prepared: now write (a new directory, so a failure leaves no half state
    # that matters: the command can be rerun on a new path).
    path.mkdir(parents=True, exist_ok=True)
    cdir = CeremonyDir(path, must_exist=False)
    cdir.write(rel, data)
    entry.files_written[rel] = sha
    enrolled = []
    for kid, name in names.items():
        if kid in carried:
            old = carried[kid][0]
            rec = EnrolledKey(
                name=name,
                key=root.keys[kid],
                source=old.source,
                enrolled_at=old.enrolled_at,
                uri=old.uri,
                token=old.token,
                cka_id=old.cka_id,
                attributes=old.attributes,
                allow_imported=old.allow_imported,
                attestation=old.attestation,
                extra={**old.extra, "previous_root_version": root.version},
            )
        else:
            rec = EnrolledKey(
                name=name,
                key=root.keys[kid],
                source=SOURCE_PREVIOUS_ROOT,
                enrolled_at=iso(now),
                extra={"previous_root_version": root.version},
            )
        kb = json_bytes(rec.to_dict())
        cdir.write(f"keys/{name}.json", kb)
        entry.files_written[f"keys/{name}.json"] = digests.sha256_hex(kb)
        enrolled.append(name)
    cdir.write(PLAN_FILE, text.encode())
    entry.files_written[PLAN_FILE] = digests.sha256_hex(text.encode())
    return InitResult(path, rel, enrolled)


# --- enroll -----------------------------------------------------------------------------


def _check_enrollable(loaded: Loaded, name: str) -> None:
    if name not in loaded.plan.keys:
        raise InputError(
            f"'{name}' is not a key in the plan. Add it under `keys:` in ceremony.yaml (with its "
            "holder) and to the roles it serves, then enrol it."
        )


def record_enrolled(
    loaded: Loaded, rec: EnrolledKey, entry: Entry, evidence: Mapping[str, bytes] | None = None
) -> tuple[EnrolledKey, bool]:
    """Write keys/NAME.json (and evidence files beside it), never replacing a different key.

    Returns (record, newly_written). The key file is written last, so a session that dies
    in between leaves at most an unused evidence file."""
    evidence = evidence or {}
    cdir = loaded.cdir
    existing = loaded.keys.get(rec.name)
    spec = loaded.plan.keys[rec.name]
    if spec.type is not None and key_type_of(rec.key) != spec.type:
        raise InputError(
            f"the key offered for '{rec.name}' is {key_type_of(rec.key)}, but the plan says "
            f"keys.{rec.name}.type: {spec.type}. Check that this is the right device and slot."
        )
    if existing is not None:
        if existing.public_identity() == rec.public_identity():
            return existing, False
        raise InputError(
            f"'{rec.name}' is already enrolled with a different key ({short(existing.keyid)}, "
            f"{existing.device()}); the offered key is {short(rec.keyid)}. Keys are never replaced "
            f"silently: if the old one is really wrong, delete keys/{rec.name}.json deliberately "
            "(before any draft is signed) and enrol again."
        )
    for other in loaded.keys.values():
        if other.public_identity() == rec.public_identity():
            raise InputError(
                f"this public key is already enrolled as '{other.name}'. One key must never count "
                "twice; use that name in the plan instead."
            )
    if rec.keyid != content_keyid(rec.key.to_dict()):
        raise InputError(
            f"the key's keyid {short(rec.keyid)} is not the SHA-256 of its key object; the tool never "
            "enrols keys whose keyid would differ between implementations."
        )
    data = json_bytes(rec.to_dict())
    path = cdir.key_path(rec.name)
    for suffix, blob in sorted(evidence.items()):
        ev = cdir.path(f"keys/{rec.name}.{suffix}")
        cdir.write(ev, blob)
        entry.files_written[cdir.rel(ev)] = digests.sha256_hex(blob)
    cdir.write_new(path, data)
    entry.files_written[cdir.rel(path)] = digests.sha256_hex(data)
    return rec, True


def public_key_from_file(path: Path) -> SSlibKey:
    """A public key from a PEM (SubjectPublicKeyInfo) or a TUF key JSON file."""
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    data = read_input(path)
    text = data.decode("utf-8", errors="replace").strip()
    if text.startswith("{"):
        try:
            obj = json.loads(text)
            given = obj.pop("keyid", None)
            if "key" in obj and isinstance(obj["key"], dict):  # one of our keys/NAME.json
                given, obj = obj.get("keyid"), obj["key"]
            obj = {k: obj[k] for k in ("keytype", "scheme", "keyval")}
            keyid = content_keyid(obj)
            if given is not None and given != keyid:
                raise InputError(
                    f"{path}: the key's keyid {short(str(given))} is not the SHA-256 of its key object "
                    f"({short(keyid)}); custom fields or a different keyid rule were used. Give the "
                    "bare key (keytype, scheme, keyval) or its PEM."
                )
            return SSlibKey.from_dict(keyid, obj)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"{path} is not a TUF public key (keytype, scheme, keyval): {exc}."
            ) from None
    try:
        pub = load_pem_public_key(data)
        key = SSlibKey.from_crypto(pub)
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"{path} is neither a PEM public key nor TUF key JSON ({exc}). A private key file is "
            "never accepted."
        ) from None
    return key


def enroll_public_key(
    cdir: CeremonyDir, name: str, file: Path, now: dt.datetime, entry: Entry
) -> tuple[EnrolledKey, bool]:
    loaded = load(cdir, now, entry=entry, enforce=False)
    _check_enrollable(loaded, name)
    key = public_key_from_file(file)
    rec = EnrolledKey(
        name=name,
        key=SSlibKey(content_keyid(key.to_dict()), key.keytype, key.scheme, key.keyval),
        source=SOURCE_PUBLIC_KEY,
        enrolled_at=iso(now),
        extra={"from_file_sha256": digests.sha256_hex(file.read_bytes())},
    )
    return record_enrolled(loaded, rec, entry)


@dataclass(frozen=True)
class TokenKeyRead:
    """What a token adapter returns about a key it read (public part only)."""

    public_key: SSlibKey
    uri: str
    token: dict[str, str]
    cka_id: str | None
    attributes: dict[str, bool | None] | None
    software: bool
    attestation: dict[str, Any] | None = None
    evidence: dict[str, bytes] = field(
        default_factory=dict
    )  # suffix -> file bytes, e.g. attestation PEMs


def enroll_token_key(
    cdir: CeremonyDir,
    name: str,
    read: Callable[[], TokenKeyRead],
    now: dt.datetime,
    entry: Entry,
    *,
    allow_imported: bool,
) -> tuple[EnrolledKey, bool]:
    loaded = load(cdir, now, entry=entry, enforce=False)
    _check_enrollable(loaded, name)
    got = read()
    key = got.public_key
    rec = EnrolledKey(
        name=name,
        key=SSlibKey(content_keyid(key.to_dict()), key.keytype, key.scheme, key.keyval),
        source=SOURCE_SOFTWARE if got.software else SOURCE_PKCS11,
        enrolled_at=iso(now),
        uri=got.uri,
        token=got.token,
        cka_id=got.cka_id,
        attributes=got.attributes,
        allow_imported=allow_imported,
        attestation=got.attestation,
    )
    if allow_imported:
        entry.notes.append(f"--allow-imported-key used for {name}")
    if got.attestation is not None:
        info = AttestationInfo.from_dict(got.attestation, where=f"attestation of {name}")
        problems = attestation_problems(loaded.plan, name, key_type_of(rec.key), info)
        if problems:
            raise AttestationError(
                f"the attestation of '{name}' (YubiKey serial {info.serial}, firmware "
                f"{info.firmware}) does not meet the plan's policy: "
                + "; ".join(problems)
                + ". Nothing was enrolled.",
                hint="Use a key that meets the policy, or change policy.attestation in the plan "
                "(reviewed) if this is a deliberate exception.",
            )
    return record_enrolled(loaded, rec, entry, got.evidence)


# --- drafts -----------------------------------------------------------------------------


# A draft file is `{"signatures":[],"signed":` + the JSON text of signed (sorted keys, no
# spaces: `digest.json_text`) + `}`: valid TUF metadata JSON from which the exact bytes every
# key signs come out without parsing 3 MB of hash-bin delegations (`canonical_from_json`).
DRAFT_PREFIX = b'{"signatures":[],"signed":'
DRAFT_SUFFIX = b"}"


def draft_file_bytes(text: bytes) -> bytes:
    return DRAFT_PREFIX + text + DRAFT_SUFFIX


def draft_inputs(loaded: Loaded, role: str, drafted_at: dt.datetime) -> str:
    """Fingerprint of everything a draft is built from (drafting is a pure function of it)."""
    from ceremony import __version__

    h = hashlib.sha256()
    for part in (__version__.encode(), role.encode(), iso(drafted_at).encode(), loaded.plan_bytes):
        h.update(len(part).to_bytes(8, "big") + part)
    for name in sorted(loaded.keys):
        data = loaded.cdir.read_bytes(loaded.cdir.key_path(name))
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    h.update(loaded.previous_bytes or b"")
    return h.hexdigest()


def draft_is_current(loaded: Loaded, d: Draft, *, thorough: bool = True) -> bool:
    """Does the draft say exactly what the plan and keys say?

    `thorough` (draft, show, sign, export): rebuild the bytes from the plan and compare, so a
    draft edited after drafting (even with its recorded digest edited too) is refused.
    Otherwise (status, informational): trust the recorded fingerprint of the inputs when
    they are unchanged, and rebuild only when they changed.
    """
    if (
        not thorough
        and d.inputs is not None
        and d.inputs == draft_inputs(loaded, d.role, d.drafted_at)
    ):
        return True
    return expected_payload(loaded, d.role, d.drafted_at) == d.payload


def build_draft(loaded: Loaded, role: str, now: dt.datetime) -> Metadata[Any]:
    return drafting.build(loaded.plan, loaded.keys, loaded.previous, role, now)


def expected_payload(loaded: Loaded, role: str, drafted_at: dt.datetime) -> bytes:
    """The bytes the plan and keys say `role` drafted at `drafted_at` must sign."""
    return drafting.expected_payload(loaded.plan, loaded.keys, loaded.previous, role, drafted_at)


def load_draft(cdir: CeremonyDir, role: str, entry: Entry | None = None) -> Draft | None:
    path = cdir.draft_path(role)
    if not path.exists():
        return None
    data = cdir.read_bytes(path)
    meta = cdir.read_json(cdir.draft_meta_path(role))
    if entry is not None:
        entry.files_read[cdir.rel(path)] = digests.sha256_hex(data)
    if not (data.startswith(DRAFT_PREFIX) and data.endswith(DRAFT_SUFFIX)):
        raise StoreError(
            f"{cdir.rel(path)} is not a draft written by this tool (its layout is wrong). Run "
            f"`ceremony draft {cdir.root} {role}` again, or take the directory from a trusted copy."
        )
    try:
        drafted_at = dt.datetime.strptime(meta["drafted_at"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=dt.UTC
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise StoreError(
            f"{cdir.rel(cdir.draft_meta_path(role))} is damaged ({exc}). Run `ceremony draft` again."
        ) from None
    text = data[len(DRAFT_PREFIX) : -len(DRAFT_SUFFIX)]
    try:
        payload = digests.canonical_from_json(text)
    except (ValueError, TypeError) as exc:
        raise StoreError(f"{cdir.rel(path)} does not hold valid JSON ({exc}).") from None
    digest = digests.sha256_hex(payload)
    if meta.get("digest") != digest:
        raise StoreError(
            f"{cdir.rel(path)} does not match the digest recorded when it was drafted "
            f"({str(meta.get('digest'))[:16]}… vs {digest[:16]}…): it was changed after drafting. "
            "Do not sign it; take the ceremony directory again from a trusted copy."
        )
    version = meta.get("version")
    return Draft(
        role,
        text,
        payload,
        digest,
        drafted_at,
        meta.get("inputs"),
        version=version if isinstance(version, int) and not isinstance(version, bool) else None,
        expires=meta.get("expires") if isinstance(meta.get("expires"), str) else None,
    )


@dataclass(frozen=True)
class DraftResult:
    draft: Draft
    unchanged: bool
    stale_signatures: int
    previous_digest: str | None


def draft(cdir: CeremonyDir, role: str, now: dt.datetime, entry: Entry) -> DraftResult:
    loaded = load(cdir, now, require_enrolled=True, entry=entry)
    existing = load_draft(cdir, role)
    if existing is not None and draft_is_current(loaded, existing):
        return DraftResult(existing, True, 0, existing.digest)
    text, md = drafting.new_draft(loaded.plan, loaded.keys, loaded.previous, role, now)
    payload = digests.canonical_from_json(text)
    digest = digests.sha256_hex(payload)
    stale = 0
    if existing is not None:
        stale = sum(1 for r in load_signatures(cdir, role) if r.digest == existing.digest)
        archive = cdir.path(f"drafts/archive/{role}.{existing.digest[:16]}.json")
        if not archive.exists():
            cdir.write(archive, cdir.read_bytes(cdir.draft_path(role)))
    problems = dlg.delegation_problems(md.signed) if role != "root" else []
    if problems:
        raise PlanError(
            f"the {role} draft would have delegations no client could use:\n  - "
            + "\n  - ".join(problems)
        )
    data = draft_file_bytes(text)
    inputs = draft_inputs(loaded, role, now)
    meta = {
        "role": role,
        "digest": digest,
        "drafted_at": iso(now),
        "version": md.signed.version,
        "expires": iso(md.signed.expires),
        "inputs": inputs,
    }
    cdir.write(cdir.draft_path(role), data)
    cdir.write(cdir.draft_meta_path(role), json_bytes(meta))
    entry.files_written[f"drafts/{role}.json"] = digests.sha256_hex(data)
    entry.notes.append(f"draft {role} digest {digest}")
    return DraftResult(
        Draft(role, text, payload, digest, now, inputs, md),
        False,
        stale,
        existing.digest if existing else None,
    )


def _pretty() -> Any:
    from tuf.api.serialization.json import JSONSerializer

    return JSONSerializer(compact=False)


COMPACT_ABOVE_ROLES = 256


def serializer_for(md: Metadata[Any]) -> Any:
    """Indented JSON, except for roles with many delegations (16,384 hash bins): compact.

    Indenting runs Python's pure-Python JSON encoder (the C one cannot indent): 4.5 MB in
    0.35 s for 16,384 bins instead of 3 MB in 0.05 s. Nobody reads such a file by eye;
    `ceremony show` summarises it.
    """
    from tuf.api.serialization.json import JSONSerializer

    dele = getattr(md.signed, "delegations", None)
    if dele is not None and dele.roles is not None and len(dele.roles) > COMPACT_ABOVE_ROLES:
        return JSONSerializer(compact=True)
    return _pretty()


def current_draft(loaded: Loaded, role: str, entry: Entry | None = None) -> Draft:
    """The role's draft, refusing one that no longer matches the plan and keys."""
    d = load_draft(loaded.cdir, role, entry)
    if d is None:
        raise InputError(
            f"there is no draft of {role} yet. Next: `ceremony draft {loaded.cdir.root} {role}`."
        )
    if not draft_is_current(loaded, d):
        raise InputError(
            f"the plan or the enrolled keys changed since {role} was drafted, so the draft no "
            f"longer says what the plan says. Next: `ceremony draft {loaded.cdir.root} {role}` "
            "(earlier signatures will become stale), then show it to the holders again."
        )
    return d


# --- signatures and status --------------------------------------------------------------


def parse_signature_record(data: Any, where: str) -> SignatureRecord:
    try:
        return SignatureRecord(
            role=str(data["role"]),
            keyid=str(data["keyid"]),
            signature=str(data["sig"]),
            digest=str(data["digest"]),
            key_name=str(data.get("key_name", "")),
            holder=str(data.get("holder", "")),
            signed_at=str(data.get("signed_at", "")),
            file=where,
            extra={
                k: v
                for k, v in data.items()
                if k not in {"role", "keyid", "sig", "digest", "key_name", "holder", "signed_at"}
            },
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise StoreError(f"{where} is not a signature file (missing {exc}).") from None


def load_signatures(cdir: CeremonyDir, role: str) -> list[SignatureRecord]:
    out = []
    for path in cdir.list_json(f"signatures/{role}"):
        rel = cdir.rel(path)
        try:
            rec = parse_signature_record(cdir.read_json(path), rel)
        except StoreError:
            # A damaged file is reported by status as invalid; it never counts.
            rec = SignatureRecord(role, path.stem, "", "damaged", "", "", "", rel)
        out.append(rec)
    return out


def authorities(loaded: Loaded, role: str, d: Draft) -> list[Authority]:
    people = loaded.people()
    if role == "root":
        notes = status_notes(loaded.plan, loaded.keys)
        return root_authorities(loaded.keys, loaded.previous_root, d.metadata.signed, people, notes)
    if role == "targets":
        return [_targets_authority(loaded, people)]
    if dlg.delegation_spec(loaded.plan, role) is not None:
        return [_delegation_authority(loaded, role, people)]
    raise InputError(
        f"'{role}' is not a role this ceremony can sign; {dlg.draftable_text(loaded.plan)}"
    )


def targets_delegator(loaded: Loaded) -> tuple[Root, str] | None:
    """The root whose 'targets' role signs targets: the root draft here, else the previous."""
    rd = load_draft(loaded.cdir, "root")
    if rd is not None:
        root: Root = rd.metadata.signed
        return root, f"root draft (version {root.version})"
    if loaded.previous_root is not None:
        prev = loaded.previous_root
        return prev, f"trusted previous root (version {prev.version})"
    return None


def _targets_authority(loaded: Loaded, people: People) -> Authority:
    found = targets_delegator(loaded)
    if found is None:
        raise InputError(
            "targets is signed by the keys that root lists for its 'targets' role, and this "
            "ceremony has neither a root draft nor a trusted previous root. Draft root here "
            f"(`ceremony draft {loaded.cdir.root} root`) or name the published root as "
            "previous_root in the plan."
        )
    root, where = found
    role = root.roles["targets"]
    return authority(
        "root", f"role 'targets' of the {where}", root.keys, role.keyids, role.threshold, people
    )


def _delegation_authority(loaded: Loaded, role: str, people: People) -> Authority:
    td = load_draft(loaded.cdir, "targets")
    if td is None:
        raise InputError(
            f"{role} is signed by the keys that targets delegates to it; draft targets in this "
            f"ceremony first: `ceremony draft {loaded.cdir.root} targets`."
        )
    dele = td.metadata.signed.delegations
    if dele is None or dele.roles is None or role not in dele.roles:
        raise InputError(
            f"the targets draft does not delegate to {role}; the plan changed since targets was "
            f"drafted. Next: `ceremony draft {loaded.cdir.root} targets`."
        )
    drole = dele.roles[role]
    return authority(
        "targets",
        f"delegation '{role}' in the targets draft (version {td.metadata.signed.version})",
        dele.keys,
        drole.keyids,
        drole.threshold,
        people,
    )


def role_status(loaded: Loaded, role: str, d: Draft) -> RoleStatus:
    return evaluate(
        role, d.payload, d.digest, authorities(loaded, role, d), load_signatures(loaded.cdir, role)
    )


@dataclass(frozen=True)
class RoleReport:
    role: str
    draft: Draft | None
    status: RoleStatus | None
    draft_outdated: bool
    next_step: str


def drafted_roles(cdir: CeremonyDir) -> list[str]:
    roles = [p.stem for p in cdir.list_json("drafts") if not p.name.endswith(".meta.json")]
    order = {r: i for i, r in enumerate(ROLE_ORDER)}
    return sorted(roles, key=lambda r: (order.get(r, 99), r))


def status(cdir: CeremonyDir, now: dt.datetime) -> tuple[Loaded, list[RoleReport]]:
    loaded = load(cdir, now, enforce=False)
    reports = []
    roles = drafted_roles(cdir) or ["root"]
    for role in roles:
        d = load_draft(cdir, role)
        if d is None:
            reports.append(
                RoleReport(
                    role, None, None, False, f"draft it: `ceremony draft {cdir.root} {role}`"
                )
            )
            continue
        outdated = False
        try:
            outdated = not draft_is_current(loaded, d, thorough=False)
        except CeremonyError:
            outdated = True
        st = role_status(loaded, role, d)
        reports.append(RoleReport(role, d, st, outdated, next_step(cdir, role, st, outdated)))
    return loaded, reports


def next_step(cdir: CeremonyDir, role: str, st: RoleStatus, outdated: bool) -> str:
    if outdated:
        return f"the plan or keys changed since drafting: `ceremony draft {cdir.root} {role}` again"
    if st.complete:
        return f"every threshold is met: `ceremony export {cdir.root}`"
    missing: list[str] = []
    for t in st.thresholds:
        if not t.met:
            for name in t.missing:
                if name not in missing and t.notes.get(name) != "lost":  # a lost key cannot sign
                    missing.append(name)
    if not missing:
        return (
            "no key that could still sign is missing: the threshold cannot be met with the keys "
            "that are left (see CER-ROTATION-OUT-OF-BAND in `ceremony validate`)"
        )
    steps = ", ".join(f"`ceremony sign {cdir.root} {role} --key {n}`" for n in missing[:6])
    return f"more signatures needed; any of: {steps}"


# --- show -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DraftView:
    role: str
    repository: str
    version: int
    expires: dt.datetime
    consistent_snapshot: bool | None
    digest: str
    roles: list[RoleLine]
    changes: list[Change]
    swaps: list[str]
    status: RoleStatus
    warnings: list[CheckResult]
    rehearsal: bool
    attestations: dict[str, dict[str, Any]] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)  # delegations summary (targets, bins)
    full: list[str] | None = None  # one line per delegated role (`show --full`)
    problems: list[str] = field(default_factory=list)  # delegations a client could not use


def view(loaded: Loaded, d: Draft, *, full: bool = False) -> DraftView:
    people = loaded.people()
    signed = d.metadata.signed
    details: list[str] = []
    problems: list[str] = []
    listing: list[str] | None = None
    if d.role == "root":
        roles = root_roles(signed, people)
        changes = root_diff(loaded.previous_root, signed, people)
        swaps = device_swaps(loaded.previous_root, signed, people)
        cs = signed.consistent_snapshot
    else:
        summary = summarize(signed)
        roles, details = delegation_lines(summary, people)
        details.append(f"size: {len(d.payload):,} bytes of canonical JSON are signed")
        problems = dlg.delegation_problems(
            signed, summary.bins.partition if summary.bins is not None else None
        )
        changes, swaps, cs = [], [], None
        if full:
            listing = list(full_listing(signed))
    att = {k.name: k.attestation for k in loaded.keys.values() if k.attestation}
    return DraftView(
        d.role,
        loaded.plan.repository,
        signed.version,
        signed.expires,
        cs,
        d.digest,
        roles,
        changes,
        swaps,
        role_status(loaded, d.role, d),
        warnings(loaded.checks),
        any(k.is_software for k in loaded.keys.values()),
        att,
        details,
        listing,
        problems,
    )


def show(cdir: CeremonyDir, role: str, now: dt.datetime, *, full: bool = False) -> DraftView:
    loaded = load(cdir, now)
    return view(loaded, current_draft(loaded, role), full=full)


# --- sign -------------------------------------------------------------------------------

# open_signer(key, purpose, before_pin): finds the token and checks the key and the PIN state,
# then calls before_pin() right before it asks for the PIN (the holder's typed confirmation).
SignerFactory = Callable[[EnrolledKey, str, Callable[[], None]], AbstractContextManager[Signer]]
Confirm = Callable[[DraftView], bool]


class Declined(CeremonyError):
    title = "Not signed"


@dataclass(frozen=True)
class SignOutcome:
    record: SignatureRecord
    status: RoleStatus
    already_signed: bool
    view: DraftView


def sign(
    cdir: CeremonyDir,
    role: str,
    key_name: str,
    open_signer: SignerFactory,
    confirm: Confirm,
    now: dt.datetime,
    entry: Entry,
) -> SignOutcome:
    loaded = load(cdir, now, require_enrolled=True, entry=entry)
    d = current_draft(loaded, role, entry)
    d.check_canonical(f"drafts/{role}.json")
    key = loaded.keys.get(key_name)
    if key is None:
        raise InputError(
            f"'{key_name}' is not an enrolled key of this ceremony. Enrolled: "
            f"{', '.join(sorted(loaded.keys)) or 'none'}."
        )
    entry.holder = loaded.plan.holder(key_name)
    auths = authorities(loaded, role, d)
    if not any(key.keyid in a.keys for a in auths):
        raise InputError(
            f"key '{key_name}' ({loaded.plan.holder(key_name)}) is not one of the keys that approve "
            f"{role}: it is in neither "
            + " nor ".join(a.label for a in auths)
            + ". Nothing to sign with it."
        )
    v = view(loaded, d)
    existing_path = cdir.signature_path(role, key.keyid)
    if existing_path.exists():
        try:
            rec = parse_signature_record(cdir.read_json(existing_path), cdir.rel(existing_path))
            if rec.digest == d.digest and verify_record(rec, key.key, d.payload):
                return SignOutcome(rec, role_status(loaded, role, d), True, v)
        except StoreError:
            pass
    confirmed = False

    def gate() -> None:
        """The holder confirms once the token is known to be present, right, and unlocked."""
        nonlocal confirmed
        if confirmed:
            return
        if not confirm(v):
            raise Declined(
                f"{key_name} ({loaded.plan.holder(key_name)}) did not confirm; nothing was signed "
                "or written."
            )
        confirmed = True

    purpose = f"sign {role} v{d.metadata.signed.version} (digest {d.digest[:16]}…) as {key_name}"
    spec = loaded.plan.keys.get(key_name)
    if key.uri is None and spec is not None and spec.uri:
        key = replace(key, uri=spec.uri)  # where the plan says the key lives
    with open_signer(key, purpose, gate) as signer:
        gate()  # tokens that need no PIN: confirm before signing all the same
        sig = signer.sign(d.payload)
    if sig.keyid != key.keyid:
        sig = Signature(key.keyid, sig.signature)
    probe = SignatureRecord(role, key.keyid, sig.signature, d.digest, key_name, "", "")
    if not verify_record(probe, key.key, d.payload):
        raise BadTokenSignature(
            f"the token returned a signature for {key_name} that does not verify with the enrolled "
            "public key. It was NOT written. The device may be faulty or not the enrolled one; "
            "stop and investigate before signing again."
        )
    rec = SignatureRecord(
        role=role,
        keyid=key.keyid,
        signature=sig.signature,
        digest=d.digest,
        key_name=key_name,
        holder=loaded.plan.holder(key_name),
        signed_at=iso(now),
        extra={
            "version": d.metadata.signed.version,
            "device": key.device(),
            "rehearsal_only": key.is_software,
        },
    )
    if existing_path.exists():  # a stale or damaged signature by this key: keep it aside
        old = cdir.read_bytes(existing_path)
        aside = cdir.path(
            f"signatures/stale/{role}/{key.keyid}.{digests.sha256_hex(old)[:12]}.json"
        )
        if not aside.exists():
            cdir.write(aside, old)
        existing_path.unlink()
    data = json_bytes(rec.to_dict())
    cdir.write_new(existing_path, data)
    entry.files_written[cdir.rel(existing_path)] = digests.sha256_hex(data)
    entry.notes.append(f"{key_name} signed {role} digest {d.digest}")
    return SignOutcome(rec, role_status(loaded, role, d), False, v)


# --- merge ------------------------------------------------------------------------------


@dataclass
class MergeReport:
    added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def merge(cdir: CeremonyDir, others: Sequence[Path], now: dt.datetime, entry: Entry) -> MergeReport:
    loaded = load(cdir, now, entry=entry, enforce=False)
    report = MergeReport()
    drafts = {role: load_draft(cdir, role) for role in drafted_roles(cdir)}
    for other_path in others:
        other = CeremonyDir(other_path)
        if other.root == cdir.root:
            raise InputError(
                f"{other_path} is this ceremony directory itself; name the other copies."
            )
        for role_dir in (
            sorted(p for p in other.path("signatures").glob("*") if p.is_dir())
            if other.path("signatures").is_dir()
            else []
        ):
            role = role_dir.name
            if role == "stale":
                continue
            for path in other.list_json(f"signatures/{role}"):
                label = f"{other_path.name}/{other.rel(path)}"
                try:
                    rec = parse_signature_record(other.read_json(path), label)
                except StoreError as exc:
                    report.refused.append(f"{label}: unreadable ({exc})")
                    continue
                d = drafts.get(role)
                if d is None:
                    report.refused.append(f"{label}: there is no {role} draft here to attach it to")
                    continue
                if rec.role != role or path.stem != rec.keyid:
                    report.refused.append(f"{label}: its role/keyid does not match its file name")
                    continue
                if rec.digest != d.digest:
                    report.refused.append(
                        f"{label}: wrong digest ({rec.digest[:16]}…, this draft is {d.digest[:16]}…): "
                        "stale or from another draft"
                    )
                    continue
                auth_keys: dict[str, Key] = {}
                for a in authorities(loaded, role, d):
                    auth_keys.update(a.keys)
                key = auth_keys.get(rec.keyid)
                if key is None:
                    report.refused.append(f"{label}: unknown key {short(rec.keyid)} for {role}")
                    continue
                if not verify_record(rec, key, d.payload):
                    report.refused.append(f"{label}: bad signature (does not verify)")
                    continue
                target = cdir.signature_path(role, rec.keyid)
                if target.exists():
                    try:
                        mine = parse_signature_record(cdir.read_json(target), cdir.rel(target))
                        if mine.digest == d.digest and verify_record(mine, key, d.payload):
                            report.skipped.append(
                                f"{label}: duplicate ({rec.key_name or short(rec.keyid)} already signed here)"
                            )
                            continue
                    except StoreError:
                        pass
                    old = cdir.read_bytes(target)
                    aside = cdir.path(
                        f"signatures/stale/{role}/{rec.keyid}.{digests.sha256_hex(old)[:12]}.json"
                    )
                    if not aside.exists():
                        cdir.write(aside, old)
                    target.unlink()
                data = other.read_bytes(path)
                cdir.write_new(target, data)
                entry.files_written[cdir.rel(target)] = digests.sha256_hex(data)
                report.added.append(
                    f"{label}: {rec.key_name or short(rec.keyid)} ({rec.holder or 'unknown holder'})"
                )
    return report


# --- export -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportResult:
    out_dir: Path
    files: dict[str, str]  # name -> sha256
    roles: list[RoleReport]


def signed_metadata(d: Draft, st: RoleStatus) -> Metadata[Any]:
    sigs = {
        rec.keyid: Signature(rec.keyid, rec.signature)
        for rec in sorted(st.valid, key=lambda r: r.keyid)
    }
    # The draft was parsed from its file and is never modified: share its signed part.
    return Metadata(d.metadata.signed, sigs, dict(d.metadata.unrecognized_fields))


LARGE_PAYLOAD = 256 * 1024


def exported_bytes(d: Draft, st: RoleStatus) -> bytes:
    """The published file: the draft's exact signed bytes with every valid signature.

    Small roles (root, targets) are written indented for people to read. A large one (16,384
    hash bins: 3 MB) is written around the canonical payload as it is, compact, without a
    second parse; either way the bytes are parsed and verified by python-tuf before writing.
    """
    if len(d.payload) <= LARGE_PAYLOAD:
        md = signed_metadata(d, st)
        return bytes(md.to_bytes(serializer_for(md)))
    sigs = [
        {"keyid": rec.keyid, "sig": rec.signature}
        for rec in sorted(st.valid, key=lambda r: r.keyid)
    ]
    head = json.dumps(sigs, separators=(",", ":"), sort_keys=True).encode()
    return b'{"signatures":' + head + b',"signed":' + d.text + b"}"


def check_delegation_chain(
    loaded: Loaded, exported: Mapping[str, bytes], now: dt.datetime
) -> list[str]:
    """Check every exported targets-type role from root down, as a client would.

    Each file is parsed back from the exact bytes to be written and verified by python-tuf
    (`verify_delegate`) against the role that delegates to it: targets against the new root
    (or the trusted previous root), every delegated role against the targets being
    exported. Also: not expired, thresholds reachable, hash bins partition the hash space,
    the online keys of the bins are the enrolled ones. Raises VerificationFailed; returns
    notes for the transcript.
    """
    notes: list[str] = []
    if set(exported) <= {"root"}:
        return notes
    parsed: dict[str, Metadata[Any]] = {}
    for role, data in exported.items():
        parsed[role] = Metadata.from_bytes(data)
    root_md = parsed.get("root", loaded.previous)
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
        problems += [f"{role}: {p}" for p in dlg.delegation_problems(md.signed)]
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
        spec = dlg.delegation_spec(loaded.plan, role)
        if spec is not None and spec.hash_bins is not None and md.signed.delegations is not None:
            want = {loaded.keys[n].keyid for n in spec.hash_bins.keys if n in loaded.keys}
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


def out_of_band_text(reports: Sequence[RoleReport]) -> str:
    """What an out-of-band export means: it depends on whether the previous threshold was met."""
    met = any(
        t.of == "previous" and t.met
        for r in reports
        if r.role == "root" and r.status is not None
        for t in r.status.thresholds
    )
    if met:
        return (
            "the previous root's threshold was met, so clients that trust it will follow the chain, "
            "but a competing root signed with the compromised keys may exist: this root must ALSO "
            "be given to every client directly (shipped with the client as its new trusted root), "
            "as PEP 458 says for a compromise of a threshold of root keys."
        )
    return (
        "the previous root's threshold was NOT met, so existing clients will refuse this root: it "
        "must be given to every client directly (shipped with the client as its new trusted root), "
        "as PEP 458 says when a threshold of root keys is compromised or lost."
    )


def export(
    cdir: CeremonyDir,
    out: Path | None,
    now: dt.datetime,
    entry: Entry,
    *,
    out_of_band: bool = False,
    unverified_for_tests: bool = False,
) -> ExportResult:
    """Write the signed metadata once every threshold is met and python-tuf accepts it.

    `out_of_band`: the previous root's threshold cannot be met (lost keys); the new root is
    checked only against its own threshold and the record says clients must receive it
    directly. `unverified_for_tests`: write even what clients must reject (test suites only).
    """
    loaded = load(cdir, now, require_enrolled=True, entry=entry, enforce=not unverified_for_tests)
    _, reports = status(cdir, now)
    if not any(r.draft for r in reports):
        raise InputError(f"nothing is drafted yet. Next: `ceremony draft {cdir.root}`.")
    if out_of_band and loaded.previous is None:
        raise InputError("--out-of-band is only for a rotation (a plan with previous_root).")
    problems = []
    for r in reports:
        if r.draft is None or r.status is None:
            continue
        if r.draft_outdated or not draft_is_current(loaded, r.draft, thorough=True):
            problems.append(f"{r.role}: the plan changed since drafting; draft and sign again")
        elif not r.status.complete:
            for t in r.status.thresholds:
                if out_of_band and t.of == "previous":
                    entry.notes.append(
                        f"out-of-band export: {t.label} has {t.count} of {t.threshold}"
                    )
                    continue
                if not t.met:
                    who = ", ".join(f"{n} ({t.holders.get(n, '?')})" for n in t.missing)
                    problems.append(
                        f"{r.role}: {t.label} has {t.count} of {t.threshold} signatures; missing: {who}"
                    )
    if unverified_for_tests:
        entry.notes.append(
            "TEST-ONLY unverified export: " + "; ".join(problems or ["checks skipped"])
        )
        problems = []
    if problems:
        raise ThresholdNotMet(
            "cannot export yet, nothing was written:\n  - " + "\n  - ".join(problems),
            hint="Collect the missing signatures (`ceremony sign`, or `ceremony merge` other copies).",
        )
    files: dict[str, bytes] = {}
    exported: dict[str, bytes] = {}
    for r in reports:
        if r.draft is None or r.status is None:
            continue
        data = exported_bytes(r.draft, r.status)
        if r.role == "root":
            if not unverified_for_tests:
                client_check_root(None if out_of_band else loaded.previous_bytes, data)
            files[f"{r.draft.version}.root.json"] = data
            files["root.json"] = data
        else:
            # Consistent-snapshot name: clients fetch VERSION.ROLE.json.
            files[f"{r.draft.version}.{r.role}.json"] = data
        exported[r.role] = data
    if not unverified_for_tests:
        entry.notes += check_delegation_chain(loaded, exported, now)
    out_dir = out if out is not None else cdir.path("published")
    out_dir.mkdir(parents=True, exist_ok=True)
    clash = [n for n in [*files, "SHA256SUMS", "ceremony-record.md"] if (out_dir / n).exists()]
    if clash:
        raise StoreError(
            f"{out_dir} already holds {', '.join(clash)}; export never overwrites a file. Was this "
            "already exported? Choose another --out folder to export again."
        )
    sums = "".join(f"{digests.sha256_hex(b)}  {n}\n" for n, b in sorted(files.items()))
    files_out = dict(files)
    record = ceremony_record(loaded, reports, files, now)
    if out_of_band:
        note = out_of_band_text(reports)
        record += f"\n## OUT OF BAND\n\n{note[0].upper()}{note[1:]}\n"
    if unverified_for_tests:
        record += "\n## TEST-ONLY UNVERIFIED EXPORT\n\nNot checked: for client test suites only.\n"
    files_out["ceremony-record.md"] = record.encode()
    files_out["SHA256SUMS"] = sums.encode()
    written: dict[str, str] = {}
    for name in sorted(files_out, key=lambda n: (n == "SHA256SUMS", n)):
        write_once(out_dir / name, files_out[name])
        written[name] = digests.sha256_hex(files_out[name])
        entry.files_written[str(out_dir / name)] = written[name]
    return ExportResult(out_dir, written, reports)


def ceremony_record(
    loaded: Loaded, reports: list[RoleReport], files: Mapping[str, bytes], now: dt.datetime
) -> str:
    plan = loaded.plan
    lines = [
        f"# Ceremony record: {plan.repository}",
        "",
        f"Exported {iso(now)} by tuf-ceremony.",
    ]
    if any(k.is_software for k in loaded.keys.values()):
        lines += ["", "**REHEARSAL: signed with software keys. Never publish these files.**"]
    for r in reports:
        if r.draft is None or r.status is None:
            continue
        lines += [
            "",
            f"## {r.role} version {r.draft.version}",
            "",
            f"- expires: {r.draft.expires}",
            f"- digest (SHA-256 of the canonical signed bytes): {r.draft.digest}",
            "- digest words: " + " ".join(digests.pgp_words(r.draft.digest)),
        ]
        for t in r.status.thresholds:
            lines.append(f"- {t.label}: {t.count} of {t.threshold} required")
        lines += ["", "| key | holder | signed at | device |", "|---|---|---|---|"]
        for rec in r.status.valid:
            spec = plan.keys.get(rec.key_name)
            key = rec.key_name
            if spec is not None and spec.status != "active":
                # Still counts toward the previous root (the spec requires it): say so.
                key += f" ({spec.status}: counts toward the previous root only)"
            lines.append(
                f"| {key} | {rec.holder} | {rec.signed_at} | {rec.extra.get('device', '')} |"
            )
    lines += [
        "",
        "## Keys",
        "",
        "| key | holder | type | keyid | device | attestation |",
        "|---|---|---|---|---|---|",
    ]
    for name, k in sorted(loaded.keys.items()):
        a = k.attestation
        att = (
            f"YubiKey {a.get('serial')} fw {a.get('firmware')} PIN {a.get('pin_policy')} touch {a.get('touch_policy')}"
            if a
            else "none"
        )
        device = k.device() + (" (accepted with --allow-imported-key)" if k.allow_imported else "")
        lines.append(
            f"| {name} | {plan.holder(name)} | {key_type_of(k.key)} | {k.keyid[:16]} | {device} | {att} |"
        )
    lines += ["", "## Files", ""]
    for name, data in sorted(files.items()):
        lines.append(f"- `{name}` SHA-256 {digests.sha256_hex(data)}")
    return "\n".join(lines) + "\n"


# --- attestation re-check ---------------------------------------------------------------


@dataclass(frozen=True)
class AttestationCheck:
    name: str
    ok: bool
    detail: str


def reverify_attestations(
    cdir: CeremonyDir, extra_cas: Sequence[bytes], now: dt.datetime, entry: Entry
) -> list[AttestationCheck]:
    """Re-verify every enrolled key's stored attestation against the pinned roots (and the
    CAs the operator gave at enrolment or now), the enrolled public key, the recorded facts
    and the plan's policy."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    loaded = load(cdir, now, entry=entry, enforce=False)
    out: list[AttestationCheck] = []
    for name, key in sorted(loaded.keys.items()):
        required = attestation_required(loaded.plan, name)
        if key.attestation is None:
            if required:
                out.append(
                    AttestationCheck(
                        name, False, "the plan requires an attestation; none was recorded"
                    )
                )
            continue
        ev_path = cdir.path(f"keys/{name}.attestation.pem")
        try:
            certs = x509.load_pem_x509_certificates(cdir.read_bytes(ev_path))
        except (StoreError, ValueError) as exc:
            out.append(
                AttestationCheck(
                    name, False, f"the attestation certificates are missing or damaged ({exc})"
                )
            )
            continue
        if len(certs) != 2:
            out.append(
                AttestationCheck(name, False, f"{cdir.rel(ev_path)} should hold 2 certificates")
            )
            continue
        cas = list(extra_cas)
        ca_path = cdir.path(f"keys/{name}.attestation-cas.pem")
        if ca_path.exists():
            cas.append(cdir.read_bytes(ca_path))
        chain_path = cdir.path(f"keys/{name}.attestation-chain.pem")
        inters = [cdir.read_bytes(chain_path)] if chain_path.exists() else []
        try:
            assert isinstance(key.key, SSlibKey)
            info = verify_attestation(
                certs[0].public_bytes(Encoding.DER),
                certs[1].public_bytes(Encoding.DER),
                key.key,
                extra_cas=cas,
                intermediates=inters,
                now=now,
            )
        except CeremonyError as exc:
            out.append(AttestationCheck(name, False, exc.message))
            continue
        recorded = AttestationInfo.from_dict(key.attestation, where=f"keys/{name}.json")
        if (
            recorded.serial,
            recorded.firmware,
            recorded.pin_policy,
            recorded.touch_policy,
            recorded.root_fingerprint,
        ) != (
            info.serial,
            info.firmware,
            info.pin_policy,
            info.touch_policy,
            info.root_fingerprint,
        ):
            out.append(
                AttestationCheck(
                    name, False, "keys/NAME.json does not say what the certificates say (edited?)"
                )
            )
            continue
        problems = attestation_problems(loaded.plan, name, key_type_of(key.key), info)
        if problems:
            out.append(AttestationCheck(name, False, "; ".join(problems)))
            continue
        out.append(
            AttestationCheck(
                name,
                True,
                f"YubiKey serial {info.serial}, firmware {info.firmware}, PIN {info.pin_policy}, "
                f"touch {info.touch_policy}, chain to {info.root_name} ({info.root_source})",
            )
        )
    return out
