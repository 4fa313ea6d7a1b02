"""Drafting and showing: `ceremony draft` freezes a role's unsigned metadata, `ceremony show`
is what a key holder checks before signing.

A draft is a pure function of the plan, the enrolled keys, the previous root and the time
(`drafting`); drafting again what is already current changes nothing, and a new draft
makes the signatures of the old one stale (kept, never counted).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from ceremony import digest as digests
from ceremony import drafting
from ceremony.attestation import summary
from ceremony.checks import CheckResult, warnings
from ceremony.delegations import delegation_problems
from ceremony.drafting import Draft
from ceremony.errors import Declined, InputError, PlanError
from ceremony.review import (
    Change,
    DelegationsSummary,
    KeyLine,
    RoleLine,
    delegation_lines,
    device_swaps,
    full_listing,
    root_diff,
    root_roles,
    summarize,
)
from ceremony.services.copies import copy_state
from ceremony.services.imported import foreign_fields
from ceremony.services.state import Loaded, current_draft, draft_inputs, draft_is_current, load
from ceremony.services.status import export_of, role_status
from ceremony.store import CeremonyDir
from ceremony.store.drafts import archive_draft, load_draft, write_draft
from ceremony.store.marks import load_exports
from ceremony.store.records import load_signatures
from ceremony.thresholds import Authority, RoleStatus
from ceremony.transcript import Entry


@dataclass(frozen=True)
class SignerLine:
    """The key a holder is about to sign with (`ceremony sign`): its line, each threshold it
    counts for with how far it is, and whether all of them are met already (the signature
    is then extra: optional, and it still counts)."""

    key: KeyLine
    counts_for: list[str]
    optional: bool


@dataclass(frozen=True)
class DraftView:
    """What a holder sees of a draft before signing (`ceremony show`): the version, expiry,
    roles and keys in holder terms, the changes from the previous root, the digest, the
    signatures so far, the plan's warnings, and for targets-type roles a delegation summary.
    """

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
    attestations: dict[str, str] = field(default_factory=dict)  # key name -> summary line
    details: list[str] = field(default_factory=list)  # delegations summary (targets, bins)
    full: list[str] | None = None  # one line per delegated role (`show --full`)
    problems: list[str] = field(default_factory=list)  # delegations a client could not use
    imported: list[str] = field(default_factory=list)  # where an imported role came from
    previous: RoleLine | None = None  # a rotation: the previous root's root role (threshold, keys)
    previous_version: int | None = None
    previous_expires: dt.datetime | None = None
    signer: SignerLine | None = None  # `sign`: the holder's key
    rehearsal_plan: bool = False  # the plan says `rehearsal: true` (SoftHSM keys, say)


def signer_line(v: DraftView, key: KeyLine) -> SignerLine:
    """What the holder signing with `key` must know about it: the thresholds it counts for
    (`label: N of M signed so far`) and whether every one is met already."""
    counts = [
        t
        for t in v.status.thresholds
        if key.keyid in t.signed_keyids or key.keyid in t.missing_keyids
    ]
    return SignerLine(
        key,
        [f"{t.label}: {t.count} of {t.threshold} signed so far" for t in counts],
        bool(counts) and all(t.met for t in counts),
    )


def view(
    loaded: Loaded,
    d: Draft,
    *,
    full: bool = False,
    auths: list[Authority] | None = None,
    delegations: DelegationsSummary | None = None,
) -> DraftView:
    """The holder's view of the draft `d` (`full`: one line per delegated role too).
    `auths`, `delegations`: the draft's authorities and delegation summary (with its partition
    check), when the caller has them already."""
    people = loaded.people
    signed = d.metadata.signed
    details: list[str] = []
    problems: list[str] = []
    listing: list[str] | None = None
    previous: RoleLine | None = None
    prev = loaded.previous_root
    if d.role == "root":
        roles = root_roles(signed, people)
        changes = root_diff(prev, signed, people)
        swaps = device_swaps(prev, signed, people)
        cs = signed.consistent_snapshot
        if prev is not None:
            previous = root_roles(prev, people)[0]
    else:
        dsum = delegations if delegations is not None else summarize(signed)
        roles, details = delegation_lines(dsum, people)
        details.append(f"size: {len(d.payload):,} bytes of canonical JSON are signed")
        problems = delegation_problems(
            signed, dsum.bins.partition if dsum.bins is not None else None
        )
        changes, swaps, cs = [], [], None
        if full:
            listing = list(full_listing(signed))
    att = {k.name: summary(k.attestation) for k in loaded.keys.values() if k.attestation}
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
        role_status(loaded, d.role, d, auths),
        warnings(loaded.checks),
        loaded.rehearsal,
        att,
        details,
        listing,
        problems,
        imported_lines(loaded, d),
        previous,
        prev.version if prev is not None else None,
        prev.expires if prev is not None else None,
        None,
        loaded.plan.rehearsal,
    )


def imported_lines(loaded: Loaded, d: Draft) -> list[str]:
    """For an imported role: where it came from, that it is signed unchanged, and every
    field outside the TUF specification it carries (signed as it is)."""
    imp = loaded.imported
    if imp is None or d.role != imp.role:
        return []
    signed = imp.source.signed
    lines = [
        f"{d.role} is the signed part of {imp.spec.path} ({imp.format}), unchanged: this tool "
        "did not draft it and signs exactly these bytes."
    ]
    if isinstance(signed.get("targets"), dict) and signed["targets"]:
        lines.append(f"it lists {len(signed['targets']):,} target file(s) of its own")
    extra = foreign_fields(signed)
    if extra:
        lines.append(f"{len(extra)} field(s) outside the TUF specification, signed as they are:")
        lines += [f"  {line}" for line in extra]
    return lines


@dataclass(frozen=True)
class DraftResult:
    """The draft made (or found current: `unchanged`), how many signatures of the draft it
    replaces are now stale, that draft's digest, and the holder's view of the new draft."""

    draft: Draft
    unchanged: bool
    stale_signatures: int
    previous_digest: str | None
    view: DraftView


# Asked before a new draft makes collected signatures stale: (how many, the old digest) ->
# True to go on. None (the default) refuses.
ApproveStale = Callable[[int, str], bool]


def draft(
    cdir: CeremonyDir,
    role: str,
    now: dt.datetime,
    entry: Entry,
    *,
    approve_stale: ApproveStale | None = None,
    reopen: bool = False,
) -> DraftResult:
    """Build the unsigned draft of `role` from the plan, the enrolled keys and the previous
    root, and freeze it in drafts/ROLE.json (`ceremony draft`).

    Args:
        cdir: the ceremony directory (the caller holds its lock).
        role: root, targets, or a delegated role of the plan (e.g. bins).
        now: the drafting time; expiry durations count from it (timezone-aware UTC).
        entry: the transcript entry; receives the files read and written and the digest.
        approve_stale: asked when the new draft would make signatures of the current one
            stale (`draft --replace`, or the administrator's typed Yes); None refuses.
        reopen: draft again although the current draft of `role` was exported (`--reopen`,
            recorded): only before anything was published.

    Returns:
        A `DraftResult`. A draft that already says what the plan says is left as it is.

    Raises:
        InputError (exit 2): this directory is a holder's copy (never drafted in), the
            current draft was exported and `reopen` is False (or `reopen` without an export),
            or signatures would become stale and `approve_stale` is None.
        Declined (exit 1): `approve_stale` said no; nothing was written.
        PlanError (exit 2): the plan fails a check (every key must be enrolled), or the
            draft would have delegations no client could use (nothing is written).
        InputError (exit 2): `role` is not a role this ceremony drafts (e.g. an online bin),
            or it was imported (`ceremony import`).
        StoreError (exit 2): a file in the directory is damaged.
    """
    loaded = load(cdir, now, require_enrolled=True, files_read=entry.files_read)
    copy = copy_state(cdir)
    if copy is not None and copy.certain:
        raise InputError(
            f"this directory is a holder's copy of {copy.origin} (made {copy.since}); a "
            "draft is made only in the administrator's directory. A draft made here would "
            "have a different digest, and its signatures could never be merged. Nothing was "
            "written.",
            hint="Bring this copy back to the administrator; for a new draft, take a fresh "
            "copy after the administrator has drafted it (`ceremony copy`).",
        )
    if loaded.imported is not None and role == loaded.imported.role:
        raise InputError(
            f"{role} was imported from {loaded.imported.spec.path} ({loaded.imported.format}): "
            "its draft is that file's signed part, never made from the plan. To change it, have "
            "the repository's own tool stage a new file and import it into a new directory."
        )
    existing = load_draft(cdir, role)
    exported = export_of(load_exports(cdir), role, existing.digest) if existing else None
    if existing is not None and exported is not None and not reopen:
        version = existing.metadata.signed.version
        raise InputError(
            f"{role} version {version} was exported {exported.at} to {exported.out}: this "
            f"ceremony is finished, and a new draft would make a different "
            f"{version}.{role}.json. Nothing was written.",
            hint="A new version is a new ceremony: `ceremony init NEW-DIR --previous-ceremony "
            f"{cdir.root}`. Only to re-open this one before anything was published: the same "
            "command with --reopen (recorded).",
        )
    if reopen and exported is None:
        raise InputError(
            f"--reopen is for drafting again after an export, and the {role} draft here was not "
            "exported. Run the command without --reopen."
        )
    if exported is not None:
        entry.notes.append(f"re-opened: {role} drafted again after its export {exported.at}")
    if existing is not None and draft_is_current(loaded, existing):
        return DraftResult(existing, True, 0, existing.digest, view(loaded, existing))
    text, md = drafting.new_draft(loaded.plan, loaded.keys, loaded.previous, role, now)
    payload = digests.canonical_from_json(text)
    digest = digests.sha256_hex(payload)
    stale = 0
    if existing is not None:
        stale = sum(1 for r in load_signatures(cdir, role) if r.digest == existing.digest)
        if stale and approve_stale is None:
            raise InputError(
                f"a new {role} draft would make the {stale} signature"
                f"{'s' if stale != 1 else ''} collected for the current one "
                f"({existing.digest[:16]}…) stale: they would no longer count. Nothing was "
                "written.",
                hint="Confirm with a typed Yes at a terminal, or give --replace.",
            )
        if stale and approve_stale is not None and not approve_stale(stale, existing.digest):
            raise Declined(
                f"the {role} draft was not replaced; its {stale} signature"
                f"{'s still count' if stale != 1 else ' still counts'}. Nothing was written."
            )
        archive_draft(cdir, existing)
    problems: list[str] = []
    dsum = None
    if role != "root":  # the partition is checked once, for the refusal and for the view
        dsum = summarize(md.signed)
        bins = dsum.bins
        problems = delegation_problems(md.signed, bins.partition if bins is not None else None)
    if problems:
        raise PlanError(
            f"the {role} draft would have delegations no client could use:\n  - "
            + "\n  - ".join(problems)
        )
    d = Draft(role, text, payload, digest, now, draft_inputs(loaded, role, now), md)
    data = write_draft(cdir, d)
    entry.files_written[f"drafts/{role}.json"] = digests.sha256_hex(data)
    entry.notes.append(f"draft {role} digest {digest}")
    previous = existing.digest if existing else None
    return DraftResult(d, False, stale, previous, view(loaded, d, delegations=dsum))


def show(cdir: CeremonyDir, role: str, now: dt.datetime, *, full: bool = False) -> DraftView:
    """What a key holder checks before signing `role` (`ceremony show`).

    Args:
        cdir: the ceremony directory (read only).
        role: root, targets, or a delegated role of the plan.
        now: the time the plan's checks judge expiry by (timezone-aware UTC).
        full: also list every delegated role (16,384 lines for PEP 458 bins).

    Returns:
        The `DraftView` of the current draft, with the signatures collected so far.

    Raises:
        PlanError (exit 2): the plan fails a check.
        InputError (exit 2): `role` is not drafted, or the plan or keys changed since, or
            `full` for root.
        StoreError (exit 2): the draft was edited after drafting, or a file is damaged.
    """
    if full and role == "root":
        raise InputError(
            "--full cannot apply to root: it lists the roles a targets-type role delegates "
            f"to. Use `ceremony show {cdir.root} targets --full` (or a delegated role)."
        )
    loaded = load(cdir, now)
    return view(loaded, current_draft(loaded, role), full=full)
