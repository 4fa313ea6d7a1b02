"""TUF metadata from outside, read as python-tuf reads it, and judged as a client judges it.

Used wherever metadata made elsewhere comes in: `init --previous-root`, the previous root at
every command (`validate`, `draft`, ...), and `verify`. Issue 9, rule 2: a previous root is
judged before anything is built on it, and a refusal names python-tuf's own cause.

- `cause`: the underlying reason python-tuf gives for an exception, in its words
  ("Unsupported spec_version 2.0.0", "Multiple signatures found for keyid ..."), never the
  wrapper's "Failed to deserialize JSON".
- `read_metadata` / `read_root`: the file's JSON checked first (`files.parse_json`: UTF-8,
  bounded nesting, no float, naming where a float is), then python-tuf's own parser.
- `judge_root`: does a root verify by its own threshold (python-tuf's `verify_delegate`),
  and which keyids a role lists with no key object, and which keys no client can load.

Pure: bytes and python-tuf values in, values out; every refusal is the caller's error class.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from securesystemslib.exceptions import FormatError, UnverifiedSignatureError, VerificationError
from securesystemslib.signer import Key, Signature
from tuf.api.exceptions import RepositoryError, UnsignedMetadataError
from tuf.api.metadata import Metadata, Root
from tuf.api.serialization import DeserializationError, SerializationError

from ceremony.errors import CeremonyError, InputError
from ceremony.files import json_problem
from ceremony.keys import short

TOP_LEVEL = ("root", "targets", "snapshot", "timestamp")


def cause(exc: BaseException) -> str:
    """The reason python-tuf (or securesystemslib) gives for `exc`, in its own words.

    python-tuf wraps the real reason: `DeserializationError("Failed to deserialize JSON")`
    from `ValueError("Unsupported spec_version 2.0.0")`. This follows `__cause__` through
    such wrappers, names a missing field ("the field 'keys' is missing") and a number
    canonical JSON cannot encode, and never returns an empty string.
    """
    inner: BaseException = exc
    for _ in range(8):  # a chain of wrappers is short; never loop on a cycle
        wrapped = isinstance(inner, DeserializationError | SerializationError | VerificationError)
        if not wrapped or inner.__cause__ is None:
            break
        inner = inner.__cause__
    if isinstance(inner, KeyError):
        return f"the field {inner} is missing"
    text = str(inner).strip()
    if isinstance(inner, FormatError) and "cannot encode" in text:
        value = text.rsplit("cannot encode", 1)[1].strip(" .")
        return f"a float ({value}) cannot be canonical JSON, so no signature over it verifies"
    return text or type(inner).__name__


def read_metadata(
    data: bytes, source: str, *, error: type[CeremonyError] = InputError, kind: str = ""
) -> Metadata[Any]:
    """Any TUF metadata from the bytes of the file `source`, as python-tuf reads it.

    Raises `error` naming `source` and the cause: JSON that is not UTF-8, nests too deeply
    or holds a float (`files.json_problem`, with where it is), or python-tuf's own reason
    (`cause`: unsupported spec_version, two signatures for one keyid, a missing field).
    `kind` ("root ") says what the file should have been.
    """
    value, problem = json_problem(data)
    if problem is not None:
        raise error(f"{source} is not TUF {kind}metadata: it {problem}. A client refuses it too.")
    try:
        # The JSON is parsed once: python-tuf's parser takes the value checked above (what
        # `Metadata.from_bytes` does after its own `json.loads` of the same UTF-8 text).
        md: Metadata[Any] = Metadata.from_dict(value)
    except (DeserializationError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise error(
            f"{source} is not TUF {kind}metadata a client can read: python-tuf says: "
            f"{cause(exc)}. A client refuses it too."
        ) from None
    for keyid, key in (getattr(md.signed, "keys", None) or {}).items():
        if isinstance(key.keyval, dict) and "private" in key.keyval:
            raise error(
                f"{source} publishes the PRIVATE part of key {str(keyid)[:16]} (keyval.private): "
                "that key is compromised, and nothing is built on this file. Tell the repository's "
                "owners."
            )
    # python-tuf 7 takes any JSON value as a signature's `sig`; securesystemslib then fails
    # on it when verifying. A signature is a string of hex digits (TUF specification 4.2).
    for keyid, sig in md.signatures.items():
        if not isinstance(sig.signature, str):
            raise error(
                f"{source} is not TUF {kind}metadata a client can read: the signature of keyid "
                f"{str(keyid)[:16]} is a JSON {type(sig.signature).__name__}, not a string of "
                "hex digits. A client refuses it too."
            )
    return md


def read_root(
    data: bytes, source: str, *, error: type[CeremonyError] = InputError
) -> Metadata[Root]:
    """A root from the bytes of the file `source` (`read_metadata`, then: is it a root?)."""
    md = read_metadata(data, source, error=error, kind="root ")
    if not isinstance(md.signed, Root):
        raise error(f"{source} is '{md.signed.type}' metadata, not a root.")
    return md


# --- a root judged by itself -------------------------------------------------------------


@dataclass(frozen=True)
class UnusableKey:
    keyid: str
    roles: tuple[str, ...]
    reason: str  # why no client can load its public value


@dataclass(frozen=True)
class RootVerdict:
    """A root judged by itself, as a client judges a root it is given to trust."""

    version: int
    threshold: int
    listed: int  # keyids the root role lists
    signed: tuple[str, ...]  # keyids whose signature verifies
    problem: str | None  # why a client refuses it (None: its own threshold is met)
    missing_keys: tuple[tuple[str, str], ...]  # (role, keyid) listed with no key object
    unusable_keys: tuple[UnusableKey, ...]

    @property
    def ok(self) -> bool:
        return self.problem is None

    def dropped(self) -> set[str]:
        """Keyids no new root can carry: listed with no key object, or unloadable."""
        return {kid for _, kid in self.missing_keys} | {u.keyid for u in self.unusable_keys}

    def notes(self) -> list[str]:
        """One line per keyid a role lists without a key, and per key no client can load."""
        out = [
            f"role {role} lists keyid {short(kid)} but the root has no key object for it: no "
            "signature by it can ever be checked, so it is left out of the new root"
            for role, kid in self.missing_keys
        ]
        out += [
            f"key {short(u.keyid)} ({', '.join(u.roles)}) has a public value no client can load "
            f"({u.reason}): it can never sign, so it is left out of the new root"
            for u in self.unusable_keys
        ]
        return out


def _load_error(key: Key) -> str | None:
    """Why securesystemslib cannot load `key`'s public value; None when it can."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # legacy ecdsa-sha2-nistp256
        try:
            key.verify_signature(Signature(key.keyid, "00"), b"")
        except VerificationError as exc:  # (a subclass of UnverifiedSignatureError)
            return cause(exc.__cause__ or exc)
        except UnverifiedSignatureError:
            return None  # loaded, and (rightly) refused the dummy signature
        except Exception as exc:  # noqa: BLE001 - any failure to load is the answer
            return cause(exc)
    return None


def _counted(root: Root, md: Metadata[Root]) -> tuple[str, ...]:
    """The root role's keyids whose signature verifies (a failure to load counts as none)."""
    payload = md.signed_bytes
    out = []
    for kid in root.roles["root"].keyids:
        key, sig = root.keys.get(kid), md.signatures.get(kid)
        if key is None or sig is None:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                key.verify_signature(sig, payload)
            except Exception:  # noqa: BLE001, S112 - an unverifiable signature does not count
                continue
        out.append(kid)
    return tuple(out)


def judge_root(md: Metadata[Root], roles: Sequence[str] = TOP_LEVEL) -> RootVerdict:
    """Judge a root by itself, as a client judges the root it is told to trust.

    Its own root threshold by python-tuf's `verify_delegate`; also every keyid of `roles`
    with no key object, and every key of those roles whose public value securesystemslib
    cannot load (a client ignores both; a new root must not carry them).
    """
    root = md.signed
    problem: str | None = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            root.verify_delegate("root", md.signed_bytes, md.signatures)
    except UnsignedMetadataError as exc:
        problem = cause(exc)
    except (RepositoryError, VerificationError, SerializationError, ValueError) as exc:
        problem = cause(exc)
    missing: list[tuple[str, str]] = []
    by_key: dict[str, list[str]] = {}
    for role in roles:
        if role not in root.roles:
            continue
        for kid in root.roles[role].keyids:
            if kid not in root.keys:
                missing.append((role, kid))
            else:
                by_key.setdefault(kid, []).append(role)
    unusable = []
    for kid, in_roles in by_key.items():
        reason = _load_error(root.keys[kid])
        if reason is not None:
            unusable.append(UnusableKey(kid, tuple(in_roles), reason))
    return RootVerdict(
        version=root.version,
        threshold=root.roles["root"].threshold,
        listed=len(root.roles["root"].keyids),
        signed=_counted(root, md),
        problem=problem,
        missing_keys=tuple(missing),
        unusable_keys=tuple(unusable),
    )
