"""Signing: `ceremony sign` (one holder, one key, one session). Merging the signatures of
other copies is `services.merging`.

A signature is its own file, bound to the digest it signs, so copies made on different
machines merge by union. Nothing is written that does not verify with the enrolled key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace

from securesystemslib.signer import Signature

from ceremony import digest as digests
from ceremony import transcript
from ceremony.clock import iso
from ceremony.errors import BadTokenSignature, Declined, InputError, KeyPolicyError
from ceremony.files import json_bytes
from ceremony.keys import EnrolledKey
from ceremony.services.copies import CopyState, copy_state
from ceremony.services.drafts import DraftView, signer_line, view
from ceremony.services.state import current_draft, load, refuse_unknown_role
from ceremony.services.status import (
    approving_key,
    export_of,
    next_step,
    role_status,
    signed_since,
)
from ceremony.store import CeremonyDir
from ceremony.store.drafts import load_draft
from ceremony.store.marks import load_exports
from ceremony.store.records import counting_signature, put_signature
from ceremony.thresholds import (
    RoleStatus,
    SignatureRecord,
    verify_record,
)
from ceremony.tokens.types import SignerFactory, TokenInfo
from ceremony.transcript import Entry

# The holder's confirmation, after seeing the draft: True only for a typed "Yes".
Confirm = Callable[[DraftView], bool]


@dataclass(frozen=True)
class SignOutcome:
    """The signature (new, or the one already here), the role's status now, whether the
    key had already signed this draft, the view the holder confirmed, and the next step."""

    record: SignatureRecord
    status: RoleStatus
    already_signed: bool
    view: DraftView
    next_step: str
    copy: CopyState | None = None  # a holder's copy: it goes back for `ceremony merge`
    exported_at: str | None = None  # the draft was exported then (signing re-opened it)


def no_draft_message(cdir: CeremonyDir, role: str, copy: CopyState | None) -> str:
    """Why a holder cannot sign or see a draft that is not in this directory, and what to do:
    never draft in a copy (a new draft has a different digest: its signatures never merge)."""
    if copy is not None:
        made = f"copied {copy.since} from {copy.origin}" if copy.certain else "probably a copy"
        return (
            f"there is no draft of {role} yet in this directory ({made}), so there is "
            "nothing to sign here. Take a fresh copy of the administrator's directory after "
            "the administrator has drafted it (`ceremony copy`). Never draft in a copy: a new "
            "draft has a different digest, and its signatures could never be merged."
        )
    return (
        f"there is no draft of {role} yet. The administrator drafts it in the administrator's "
        f"directory (`ceremony draft {cdir.root} {role}`) and reads out its digest; a holder "
        "with a copy then takes a fresh copy. Never draft in a copy."
    )


def sign(
    cdir: CeremonyDir,
    role: str,
    key_name: str,
    open_signer: SignerFactory,
    confirm: Confirm,
    now: dt.datetime,
    entry: Entry,
    *,
    allow_imported: bool = False,
    reopen: bool = False,
) -> SignOutcome:
    """Sign the current draft of `role` with the enrolled key `key_name` (`ceremony sign`).

    The draft is checked (current, canonical), the holder confirms after seeing it (once
    the token is known to be present, right and unlocked), the token signs the canonical
    bytes, and the signature is verified with the enrolled public key before it is written
    to signatures/ROLE/KEYID.json. A stale or damaged signature by the key is kept aside.

    Args:
        cdir: the ceremony directory (the caller holds its lock).
        role: root, targets, or a delegated role of the plan.
        key_name: the enrolled key to sign with: its name in the plan, or its full keyid.
        open_signer: opens the key's signer (`tokens.select.signer_factory`; a fake in tests).
        confirm: shows the `DraftView` and returns True only for the holder's typed Yes.
        now: the signing time (recorded; timezone-aware UTC).
        entry: the transcript entry; receives the files read and written and the holder.
        allow_imported: --allow-imported-key was given (`open_signer` accepts a key that
            may have been imported); recorded in the signature file and the transcript.
        reopen: sign a draft that was exported already (`--reopen`; recorded).

    Returns:
        A `SignOutcome`; `already_signed` when the key's signature here still counts
        (then nothing is asked, signed or written). Its view's `signer` is the holder's
        key, with whether their signature is extra (every threshold met already).

    Raises:
        InputError (exit 2): no current draft (a copy is told to take a fresh copy), the
            key is not enrolled or does not approve `role`, the draft was exported and
            `reopen` was not given, or `reopen` was given for a draft not exported.
        Declined (exit 1): the holder did not confirm; nothing was signed or written.
        BadTokenSignature (exit 3): the token's signature does not verify (not written).
        TokenError (exit 3): the token, the key or the PIN is not right.
    """
    loaded = load(cdir, now, require_enrolled=True, files_read=entry.files_read)
    copy = copy_state(cdir)
    if load_draft(cdir, role) is None:
        refuse_unknown_role(loaded, role)
        raise InputError(no_draft_message(cdir, role, copy))
    d = current_draft(loaded, role, entry.files_read)
    d.check_canonical(f"drafts/{role}.json")
    chosen = approving_key(loaded, role, d, key_name)
    key_name, key, holder, auths = chosen.name, chosen.key, chosen.holder, chosen.auths
    entry.holder = holder
    v = view(loaded, d, auths=auths)
    v = replace(v, signer=signer_line(v, loaded.people.line(key.keyid)))
    exported = export_of(load_exports(cdir), role, d.digest)
    mine = counting_signature(cdir, role, key.keyid, key.key, d.digest, d.payload, loaded.people)
    if mine is not None:
        st = role_status(loaded, role, d, auths)
        since = signed_since(st, exported)
        step = next_step(cdir, role, st, False, exported=exported, since=since)
        at = exported.at if exported else None
        return SignOutcome(mine, st, True, v, step, copy, at)
    if exported is not None and not reopen:
        version = d.metadata.signed.version
        raise InputError(
            f"{role} version {version} was exported {exported.at} to {exported.out}: this "
            "ceremony is finished, and a signature made now would be in no exported file. "
            "Nothing was signed.",
            hint=f"Nothing to do if the exported files are published or on their way. Only to "
            "re-open the ceremony before anything was published, run the same command with "
            f"--reopen (recorded); a later export then makes a different {version}.{role}.json.",
        )
    if reopen and exported is None:
        raise InputError(
            f"--reopen is for signing a draft that was exported already, and this {role} draft "
            "was not exported. Run the command without --reopen."
        )
    if exported is not None:  # --reopen
        entry.notes.append(f"re-opened: {key_name} signs {role} after its export {exported.at}")
    confirmed = False

    def gate() -> None:
        """The holder confirms once the token is known to be present, right, and unlocked."""
        nonlocal confirmed
        if confirmed:
            return
        if not confirm(v):
            raise Declined(f"{key_name} ({holder}) did not confirm; nothing was signed or written.")
        confirmed = True

    purpose = (
        f"sign {role} v{d.metadata.signed.version} "
        f"(digest {digests.grouped_hex(d.digest[:16])} …) as {key_name}"
    )
    spec = loaded.plan.keys.get(key_name)
    if key.uri is None and spec is not None and spec.uri:
        key = replace(key, uri=spec.uri)  # where the plan says the key lives
    with open_signer(key, purpose, gate) as signer:
        used = _token_of(signer)
        if used is not None and used.is_rehearsal_token and not loaded.plan.rehearsal:
            kind = "SoftHSM2" if used.is_softhsm else "the built-in software token"
            raise KeyPolicyError(
                f"the key '{key_name}' was found on {used.describe()}: {kind} is a rehearsal "
                "token (its keys are files on this disk), refused in a plan without `rehearsal: "
                "true`, whoever enrolled the key's public part. Nothing was signed.",
                hint="Sign with the hardware token that holds this key. For a practice run, the "
                "plan says `rehearsal: true` (a reviewed change of the plan).",
            )
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
        holder=holder,
        signed_at=iso(now),
        extra={
            "version": d.metadata.signed.version,
            "device": _device(key, used),
            "rehearsal_only": key.is_rehearsal_only
            or (used is not None and used.is_rehearsal_token),
            # The transcript's head before this command's own entry (docs/adr/0005).
            "transcript_head": transcript.head(cdir.root).to_dict(),
            **({"allow_imported_key": True} if allow_imported else {}),
        },
    )
    data = json_bytes(rec.to_dict())
    path = put_signature(cdir, role, key.keyid, data)
    entry.files_written[cdir.rel(path)] = digests.sha256_hex(data)
    entry.notes.append(f"{key_name} signed {role} digest {d.digest}")
    if allow_imported:
        entry.notes.append(f"--allow-imported-key used for {key_name} at sign")
    st = role_status(loaded, role, d, auths)  # read back from the files, the new one included
    since = signed_since(st, exported)
    step = next_step(cdir, role, st, False, exported=exported, since=since)
    return SignOutcome(rec, st, False, v, step, copy, exported.at if exported else None)


def _token_of(signer: object) -> TokenInfo | None:
    """The PKCS#11 token a signer signs on (`Pkcs11Signer.token`), if it says."""
    token = getattr(signer, "token", None)
    return token if isinstance(token, TokenInfo) else None


def _device(key: EnrolledKey, used: TokenInfo | None) -> str:
    """The device to record for a signature: the enrolled key's, or, for a key enrolled from
    its public part only (a file, a previous root, imported metadata), the token it was
    found on now."""
    if key.token or used is None:
        return key.device()
    return f"{used.manufacturer} {used.model} serial {used.serial} (found by the key's public part)"
