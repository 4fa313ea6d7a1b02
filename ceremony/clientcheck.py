"""Everything checked "as a client would": a chain of roots, a new root, the delegations.

- `verify_chain` (`rootchain`): a chain of root files, as a client walks it (`ceremony verify`).
- `client_check_root`: the new root of an export, loaded from the previous one.
- `check_delegation_chain`: every exported targets-type role, from root down.

python-tuf decides (`Root.get_root_verification_result`, `verify_delegate`: what
`tuf.ngclient`'s trusted-metadata logic calls) and securesystemslib verifies signatures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tuf.api.exceptions import RepositoryError
from tuf.api.metadata import Metadata, Root
from tuf.api.serialization import DeserializationError

from ceremony import digest as digests
from ceremony.clock import iso
from ceremony.delegations import delegation_problems, delegation_spec
from ceremony.errors import InputError, VerificationFailed
from ceremony.keys import EnrolledKey
from ceremony.plan import Plan
from ceremony.rootchain import (
    ChainReport,
    Step,
    judge_link,
    judge_own,
    parse_root,
    verify_chain,
)

__all__ = [
    "ChainReport",
    "Step",
    "check_delegation_chain",
    "client_check_delegate",
    "client_check_root",
    "verify_chain",
]

# --- an export, checked before it is written ---------------------------------------------


def check_delegation_chain(
    plan: Plan,
    keys: Mapping[str, EnrolledKey],
    previous: Metadata[Root] | None,
    exported: Mapping[str, bytes],
    now: dt.datetime,
    known: Mapping[str, tuple[bytes, dict[str, Any]]] | None = None,
) -> list[str]:
    """Check every exported targets-type role from root down, as a client would.

    Each file is parsed back from the exact bytes to be written and verified by python-tuf
    (`verify_delegate`) against the role that delegates to it: targets against the new root
    (or the trusted previous root), every delegated role against the targets being
    exported. Also: not expired, thresholds reachable, hash bins partition the hash space,
    the online keys of the bins are the enrolled ones. `exported` maps a role to the bytes
    of its file; `previous` is the trusted previous root (None for a first root). `known`
    maps a role to (payload, signed dict) the plan re-derived for it: when python-tuf's
    parse of the file gives that same dict back (`to_dict`, compared as values), the
    payload python-tuf would encode is that payload, and 3 MB are not encoded again.
    Raises VerificationFailed (exit 1); returns notes for the transcript.
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
            content = md.signed.to_dict()
            same = (known or {}).get(role)
            if same is not None and content == same[1]:
                payload = same[0]
            else:
                payload = digests.canonical_bytes(content)
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
    """Load the new root as a client would: trusted by its own threshold (a first root), or
    updated from the previous root (the next version, both thresholds met, by distinct
    keys): python-tuf's thresholds, as `TrustedMetadataSet` checks them (`rootchain`).
    Raises VerificationFailed (exit 1)."""
    why: str | None
    try:
        new = parse_root(new_bytes, Path("the new root"))
        if previous_bytes is None:
            why = judge_own(new)
        else:
            prev = parse_root(previous_bytes, Path("the previous root"))
            why = judge_own(prev)
            if why is not None:
                why = f"the trusted previous root does not verify by itself: {why}"
            else:
                why, _ = judge_link(prev, new)
    except InputError as exc:
        why = exc.message
    if why is not None:
        raise VerificationFailed(
            f"python-tuf's client logic rejects the new root: {why}. Nothing was written."
        )


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
