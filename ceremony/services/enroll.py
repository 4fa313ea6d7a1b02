"""Enrolment: record a key's PUBLIC part under its plan name (`enroll`, `keygen`).

A key comes from a file (PEM or TUF key JSON: e.g. the online key), from a token (read by
a `KeyReader`, with its YubiKey attestation when asked) or is generated on a token (a
`KeyGenerator`). Either way the same rules decide whether it may be recorded: the name is
in the plan, the type is the planned one, no key is ever replaced or enrolled twice, the
keyid is the spec's, and an attestation meets the plan's policy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from securesystemslib.signer import Key, SSlibKey

from ceremony import digest as digests
from ceremony.attestation import (
    AttestationInfo,
    advisories_of,
    allowed_by_plan,
    summary,
)
from ceremony.clock import iso
from ceremony.errors import InputError
from ceremony.files import MAX_SMALL_FILE_BYTES, read_input
from ceremony.keyfile import public_key_from_file
from ceremony.keys import (
    KEY_TYPES,
    SOURCE_PKCS11,
    SOURCE_PUBLIC_KEY,
    SOURCE_SOFTWARE,
    EnrolledKey,
    content_keyid,
    key_type_of,
    short,
    strength_problem,
)
from ceremony.keysource import TokenKeyRead, is_softhsm_token
from ceremony.services.attestation import (
    AttestationFiles,
    attestation_files,
    attested_by_default,
    check_plan_policy,
    verified,
    waiver_of,
)
from ceremony.services.state import Loaded, load
from ceremony.store import CeremonyDir
from ceremony.store.records import write_key
from ceremony.tokens.types import AttestationReader, KeyReader
from ceremony.transcript import Entry


@dataclass(frozen=True)
class EnrollResult:
    """The key as recorded, whether it was newly written (False: the same key was already
    enrolled, nothing changed), its attestation in one line, and the firmware advisories
    the plan accepted for it (to repeat as warnings)."""

    record: EnrolledKey
    new: bool
    attested: str | None = None
    advisories: tuple[str, ...] = ()
    # The plan's other keys (used by a role or delegation) still to enrol, by name.
    still_to_enrol: tuple[str, ...] = ()
    # Said at once, not only at `validate`: a key on SoftHSM2 in a plan without
    # `rehearsal: true` (CER-KEY-SOFTHSM refuses it there).
    softhsm_refused_later: bool = False


def _check_enrollable(loaded: Loaded, name: str) -> None:
    if name not in loaded.plan.keys:
        raise InputError(
            f"'{name}' is not a key in the plan. Add it under `keys:` in ceremony.yaml (with its "
            "holder) and to the roles it serves, then enrol it."
        )


def _result(loaded: Loaded, rec: EnrolledKey, new: bool) -> EnrollResult:
    plan = loaded.plan
    used = plan.offline_key_names() | plan.online_key_names()
    todo = tuple(sorted(n for n in used if n not in loaded.keys and n != rec.name))
    softhsm = is_softhsm_token(rec.token) and not plan.rehearsal
    a = rec.attestation
    if not a:
        return EnrollResult(rec, new, still_to_enrol=todo, softhsm_refused_later=softhsm)
    found = [
        f"{adv.text}. Accepted only because the plan sets {allowed_by_plan(plan, adv)}"
        for adv in advisories_of(AttestationInfo.from_dict(a), key_type_of(rec.key))
    ]
    return EnrollResult(rec, new, summary(a, "enrolled"), tuple(found), todo, softhsm)


def strength_refusal(loaded: Loaded, name: str, key: Key, where: str) -> str | None:
    """Why the key offered for `name` (from `where`: a file, a token URI) cannot be
    enrolled, measured from the key itself (None: it can): unreadable, RSA below
    `keys.MIN_RSA_BITS`, another type or curve than `keys.NAME.type`, or (no type planned)
    a type offline roles do not accept for a key the plan uses offline."""
    planned = loaded.plan.keys[name].type
    problem = strength_problem(key, planned)
    offline = name in loaded.plan.offline_key_names()
    if problem is None and planned is None and offline and key_type_of(key) not in KEY_TYPES:
        problem = f"it is {key_type_of(key)}, and offline roles accept {', '.join(KEY_TYPES)}"
    if problem is None:
        return None
    return (
        f"the key offered for '{name}' ({where}) cannot be enrolled: {problem}. Nothing was "
        "enrolled. Check that this is the right file, device and slot; a new key is made "
        f"with `ceremony keygen DIR {name} --uri URI --type TYPE` (types: {', '.join(KEY_TYPES)})."
    )


def record_enrolled(
    loaded: Loaded,
    rec: EnrolledKey,
    entry: Entry,
    evidence: Mapping[str, bytes] | None = None,
    *,
    where: str = "",
) -> EnrollResult:
    """Write keys/NAME.json (and evidence files beside it), never replacing a different key.

    Raises InputError (exit 2) when the key is weak or not of the planned type (measured
    from the key: `strength_refusal`; `where` says where it came from), the name is
    enrolled with another key, the key is enrolled under another name (whatever its
    spelling), or its keyid is not the SHA-256 of its key object. The same key enrolled
    again changes nothing.
    """
    existing = loaded.keys.get(rec.name)
    refusal = strength_refusal(loaded, rec.name, rec.key, where or rec.device())
    if refusal is not None:
        raise InputError(refusal)
    if existing is not None:
        if existing.public_identity() == rec.public_identity():
            return _result(loaded, existing, False)
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
    write_key(loaded.cdir, rec, evidence or {}, entry.files_written)
    return _result(loaded, rec, True)


def _enroll_file(
    loaded: Loaded,
    name: str,
    file: Path,
    now: dt.datetime,
    entry: Entry,
    attestation: AttestationFiles,
) -> EnrollResult:
    """A key from a public-key file, with its published attestation when given
    (`--attestation`, `--attestation-intermediate`, `--attestation-chain`): no token here."""
    data = read_input(file, "the public key file ", MAX_SMALL_FILE_BYTES)
    read = public_key_from_file(file, data)
    key = SSlibKey(content_keyid(read.to_dict()), read.keytype, read.scheme, read.keyval)
    rec = EnrolledKey(
        name=name,
        key=key,
        source=SOURCE_PUBLIC_KEY,
        enrolled_at=iso(now),
        extra={"from_file_sha256": digests.sha256_hex(data)},
    )
    evidence: dict[str, bytes] = {}
    if attestation.key_cert is not None:
        kc, dc = attestation_files(attestation)
        got = verified(TokenKeyRead(key, "", {}, None, None, False), kc, dc, attestation)
        rec = replace(rec, attestation=got.attestation)
        evidence = got.evidence
        check_plan_policy(loaded.plan, rec)
        entry.notes.append(f"attestation of {name} verified from published evidence")
    elif attestation.any_given:
        raise InputError(
            f"{', '.join(attestation.names())} cannot apply without --attestation: with "
            "--public-key, give the key's attestation certificate (--attestation) and the "
            "device's f9 certificate (--attestation-intermediate). Nothing was enrolled."
        )
    else:
        rec = replace(rec, attestation_waived=waiver_of(loaded.plan, name))
    return record_enrolled(loaded, rec, entry, evidence, where=f"from {file}")


def enroll_token_key(
    loaded: Loaded,
    name: str,
    read: Callable[[], TokenKeyRead],
    now: dt.datetime,
    entry: Entry,
    *,
    allow_imported: bool,
    waived: str | None = None,
) -> EnrollResult:
    """Record the key `read` returns (from a token, with its verified attestation if any),
    after the plan's attestation policy; `waived`: the plan's reason for no attestation.
    Raises what `record_enrolled` raises, and AttestationError (exit 1) for the policy."""
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
        attestation_waived=waived if got.attestation is None else None,
    )
    if allow_imported:
        entry.notes.append(f"--allow-imported-key used for {name}")
    if rec.attestation_waived is not None:
        entry.notes.append(f"attestation of {name} waived by the plan: {rec.attestation_waived}")
    if got.attestation is not None:
        check_plan_policy(loaded.plan, rec)
    where = f"{'software rehearsal token' if got.software else 'token'} key {got.uri}"
    return record_enrolled(loaded, rec, entry, got.evidence, where=where)


def enroll(
    cdir: CeremonyDir,
    name: str,
    now: dt.datetime,
    entry: Entry,
    *,
    uri: str | None,
    public_key: Path | None,
    read_key: KeyReader,
    allow_imported: bool = False,
    attestation: AttestationFiles | None = None,
    attest: bool = False,
    read_attestation: AttestationReader | None = None,
    inform: Callable[[str], None] = lambda _: None,
    notify: Callable[[str], None] = lambda _: None,
) -> EnrollResult:
    """Record the public part of the plan's key `name` (`ceremony enroll`).

    A YubiKey PIV key's attestation is read and verified by default (its token says it is a
    YubiKey), unless the plan waives it (`keys.NAME.waive_attestation`, recorded). A key from
    a file is attested from the published evidence given with it.

    Args:
        cdir: the ceremony directory (the caller holds its lock).
        name: the key's name in the plan.
        now: the enrolment time (recorded).
        entry: the transcript entry; receives the files read and written.
        uri: a `pkcs11:` URI of the key on a token. With neither `uri` nor `public_key`,
            the plan's `keys.NAME.uri` is used (and `inform` says so).
        public_key: a PEM or TUF key JSON file instead (a key not on a token here).
        read_key: reads the key at a URI (`tokens.select.key_reader`): (uri, purpose).
        allow_imported: accept a token key that may have been imported (recorded).
        attestation: the attestation options (--attestation, --attestation-intermediate,
            --attestation-ca, --attestation-chain): files of the key's attestation, and
            extra chain certificates and CAs.
        attest: --attest: the attestation must be read from the token (whatever it is).
        read_attestation: reads a token key's attestation (`tokens.select.attestation_reader`).
        inform: prints a line for the holder; `notify` announces a token operation.

    Returns:
        An `EnrollResult`.

    Raises:
        InputError (exit 2): not exactly one of URI and file, a name not in the plan, a key
            of the wrong type, a different key already enrolled under the name, the key
            enrolled under another name, an unreadable key file, or an option that cannot
            apply (--attest or --allow-imported-key with a file, attestation options for a
            key with no attestation).
        AttestationError (exit 1): the attestation does not verify or breaks the plan's policy.
        TokenError (exit 3): the token, the key or the PIN is not right.
    """
    files = attestation or AttestationFiles()
    if uri is not None and public_key is not None:
        raise InputError(_ONE_OF)
    if files.device_cert is not None and files.key_cert is None:
        raise InputError(
            "--attestation-intermediate (the device's f9 certificate) cannot apply without "
            "--attestation (the key's attestation certificate). Nothing was enrolled."
        )
    if public_key is not None and (attest or allow_imported):
        given = [
            n for n, v in (("--attest", attest), ("--allow-imported-key", allow_imported)) if v
        ]
        raise InputError(
            f"{' and '.join(given)} cannot apply to a key from a file (--public-key): there is "
            "no token to read an attestation or key attributes from. To enrol a YubiKey key "
            "from its published evidence, give --attestation and --attestation-intermediate "
            "with --public-key. Nothing was enrolled."
        )
    loaded = load(cdir, now, files_read=entry.files_read, enforce=False)
    if uri is None and public_key is None:
        spec = loaded.plan.keys.get(name)
        if spec is not None and spec.uri:
            uri = spec.uri
            inform(f"Using the URI the plan gives for '{name}': {uri}")
    if public_key is not None:
        _check_enrollable(loaded, name)
        return _enroll_file(loaded, name, public_key, now, entry, files)
    if uri is None:
        raise InputError(_ONE_OF)
    _check_enrollable(loaded, name)
    token_uri = uri

    def read() -> TokenKeyRead:
        return read_key(token_uri, f"read the public key of {name}")

    explicit = attest or files.key_cert is not None
    checked = attested_by_default(
        loaded.plan, name, read, files, explicit, read_attestation, notify
    )
    return enroll_token_key(
        loaded,
        name,
        checked,
        now,
        entry,
        allow_imported=allow_imported,
        waived=waiver_of(loaded.plan, name),
    )


_ONE_OF = (
    "give exactly one of --uri (a key on a token; default: keys.NAME.uri in the "
    "plan) or --public-key FILE."
)
