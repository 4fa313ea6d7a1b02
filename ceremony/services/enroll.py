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
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from securesystemslib.exceptions import FormatError
from securesystemslib.signer import Key, SSlibKey

from ceremony import digest as digests
from ceremony.attestation import AttestationInfo, advisories, attestation_problems, summary
from ceremony.clock import iso
from ceremony.errors import AttestationError, InputError
from ceremony.files import MAX_SMALL_FILE_BYTES, parse_json, read_input
from ceremony.keys import (
    KEY_TYPES,
    SOURCE_PKCS11,
    SOURCE_PUBLIC_KEY,
    SOURCE_SOFTWARE,
    EnrolledKey,
    TokenKeyRead,
    content_keyid,
    key_type_of,
    public_key_of,
    short,
    strength_problem,
)
from ceremony.services.attestation import AttestationFiles, attested
from ceremony.services.state import Loaded, load
from ceremony.store import CeremonyDir
from ceremony.store.records import write_key
from ceremony.tokens.types import AttestationReader, KeyGenerator, KeyReader
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


def _check_enrollable(loaded: Loaded, name: str) -> None:
    if name not in loaded.plan.keys:
        raise InputError(
            f"'{name}' is not a key in the plan. Add it under `keys:` in ceremony.yaml (with its "
            "holder) and to the roles it serves, then enrol it."
        )


def _result(rec: EnrolledKey, new: bool) -> EnrollResult:
    a = rec.attestation
    if not a:
        return EnrollResult(rec, new)
    found = advisories(AttestationInfo.from_dict(a), key_type_of(rec.key))
    return EnrollResult(rec, new, summary(a, "enrolled"), tuple(found))


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
            return _result(existing, False)
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
    return _result(rec, True)


def public_key_from_file(path: Path, data: bytes) -> SSlibKey:
    """A public key from the bytes `data` of a PEM (SubjectPublicKeyInfo) or TUF key JSON
    file `path`. Raises InputError (exit 2) for anything else (a private key included)."""
    text = data.decode("utf-8", errors="replace").strip()
    key = _parse_key_file(path, data, text)
    try:
        public_key_of(key)  # the material itself, whatever the labels say
    except ValueError as exc:
        raise InputError(
            f"{path}: the public key in it cannot be read ({exc}). Give the key as a PEM "
            "public key or as TUF key JSON (keytype, scheme, keyval)."
        ) from None
    return key


def _parse_key_file(path: Path, data: bytes, text: str) -> SSlibKey:
    if text.startswith("{"):
        try:
            obj = parse_json(data, str(path))
            if not isinstance(obj, dict):
                raise TypeError("the file holds JSON that is not an object")
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
        except (KeyError, TypeError, ValueError, AttributeError, FormatError) as exc:
            raise InputError(
                f"{path} is not a TUF public key (keytype, scheme, keyval): {exc}."
            ) from None
    try:
        pub = load_pem_public_key(data)
        key = SSlibKey.from_crypto(pub)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InputError(
            f"{path} is neither a PEM public key nor TUF key JSON ({exc}). A private key file is "
            "never accepted."
        ) from None
    return key


def _enroll_file(
    loaded: Loaded, name: str, file: Path, now: dt.datetime, entry: Entry
) -> EnrollResult:
    data = read_input(file, "the public key file ", MAX_SMALL_FILE_BYTES)
    key = public_key_from_file(file, data)
    rec = EnrolledKey(
        name=name,
        key=SSlibKey(content_keyid(key.to_dict()), key.keytype, key.scheme, key.keyval),
        source=SOURCE_PUBLIC_KEY,
        enrolled_at=iso(now),
        extra={"from_file_sha256": digests.sha256_hex(data)},
    )
    return record_enrolled(loaded, rec, entry, where=f"from {file}")


def _enroll_token_key(
    loaded: Loaded,
    name: str,
    read: Callable[[], TokenKeyRead],
    now: dt.datetime,
    entry: Entry,
    *,
    allow_imported: bool,
) -> EnrollResult:
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
                f"the attestation of '{name}' ({info.summary('device')}) does not meet the "
                "plan's policy: " + "; ".join(problems) + ". Nothing was enrolled.",
                hint="Use a key that meets the policy, or change policy.attestation in the plan "
                "(reviewed) if this is a deliberate exception.",
            )
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
    read_attestation: AttestationReader | None = None,
    inform: Callable[[str], None] = lambda _: None,
    notify: Callable[[str], None] = lambda _: None,
) -> EnrollResult:
    """Record the public part of the plan's key `name` (`ceremony enroll`).

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
        attestation: the YubiKey attestation to verify before anything is written (read
            from the token by `read_attestation`, or given as files).
        inform: prints a line for the holder; `notify` announces a token operation.

    Returns:
        An `EnrollResult`.

    Raises:
        InputError (exit 2): not exactly one of URI and file, a name not in the plan, a key
            of the wrong type, a different key already enrolled under the name, the key
            enrolled under another name, or an unreadable key file.
        AttestationError (exit 1): the attestation does not verify or breaks the plan's policy.
        TokenError (exit 3): the token, the key or the PIN is not right.
    """
    if uri is not None and public_key is not None:
        raise InputError(_ONE_OF)
    loaded = load(cdir, now, files_read=entry.files_read, enforce=False)
    if uri is None and public_key is None:
        spec = loaded.plan.keys.get(name)
        if spec is not None and spec.uri:
            uri = spec.uri
            inform(f"Using the URI the plan gives for '{name}': {uri}")
    if public_key is not None:
        _check_enrollable(loaded, name)
        return _enroll_file(loaded, name, public_key, now, entry)
    if uri is None:
        raise InputError(_ONE_OF)
    _check_enrollable(loaded, name)
    token_uri = uri

    def read() -> TokenKeyRead:
        return read_key(token_uri, f"read the public key of {name}")

    if attestation is not None:
        if read_attestation is None:
            raise InputError("reading an attestation from a token is not possible here.")
        read = attested(read, token_uri, attestation, read_attestation, notify)
    return _enroll_token_key(loaded, name, read, now, entry, allow_imported=allow_imported)


_ONE_OF = (
    "give exactly one of --uri (a key on a token; default: keys.NAME.uri in the "
    "plan) or --public-key FILE."
)


def keygen(
    cdir: CeremonyDir,
    name: str,
    uri: str,
    key_type: str,
    now: dt.datetime,
    entry: Entry,
    *,
    generate: KeyGenerator,
    attest: bool = False,
) -> EnrollResult:
    """Generate the plan's key `name` ON the token at `uri` and enrol it (`ceremony keygen`).

    Args:
        uri: the token (serial or label) and the new key's label (`object=`).
        key_type: one of `keys.KEY_TYPES` (ed25519, ecdsa-p256, ecdsa-p384, rsa-3072).
        generate: makes the key pair on the token (`tokens.select.key_generator`):
            (uri, name, key_type) -> the new key's public part.
        attest: refused with the reason (YubiKey PIV keys are made with ykman).

    Returns:
        An `EnrollResult` (always new).

    Raises:
        InputError (exit 2): an unknown type, a name not in the plan or already enrolled, a
            type other than the plan's, `attest`, or a bad URI; nothing is generated.
        TokenError (exit 3): the token refused or failed to generate the key.
    """
    if key_type not in KEY_TYPES:
        raise InputError(f"--type {key_type} is not one of {', '.join(KEY_TYPES)}.")
    loaded = load(cdir, now, files_read=entry.files_read, enforce=False)
    if name not in loaded.plan.keys:
        raise InputError(f"'{name}' is not a key in the plan; add it under keys: first.")
    if name in loaded.keys:
        raise InputError(f"'{name}' is already enrolled; keygen never replaces a key.")
    planned = loaded.plan.keys[name].type
    if planned is not None and planned != key_type:
        raise InputError(
            f"the plan says keys.{name}.type: {planned}, but --type is {key_type}. Nothing "
            "was generated: fix the command (or the reviewed plan) first."
        )
    if attest:
        raise InputError(
            "--attest after keygen needs a YubiKey, and YubiKey PIV keys are generated with "
            "ykman, not through PKCS#11 (runbooks/token-preparation.md); HSMs here give no "
            "PIV attestation. Nothing was generated. Generate the YubiKey key with ykman, "
            "then `ceremony enroll DIR NAME --uri URI --attest`."
        )
    return _enroll_token_key(
        loaded, name, lambda: generate(uri, name, key_type), now, entry, allow_imported=False
    )
