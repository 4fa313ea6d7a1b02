"""Who must sign each draft, how far each threshold is, and the next step: `ceremony status`.

The pure rules are `thresholds`' (which signatures count, the authority builders); this
module finds the roots and drafts that say who approves a role, reads the signature files,
and puts each role's state into words.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from tuf.api.metadata import Root

from ceremony.delegations import delegation_spec, draftable_text
from ceremony.drafting import Draft
from ceremony.errors import CeremonyError, InputError
from ceremony.keys import EnrolledKey
from ceremony.review import People
from ceremony.services.audit import transcript_state
from ceremony.services.copies import CopyState, copy_state
from ceremony.services.imported import delegated_authority
from ceremony.services.state import Loaded, draft_is_current, load, resolve_key
from ceremony.store import CeremonyDir
from ceremony.store.drafts import drafted_roles, load_draft
from ceremony.store.marks import ExportRecord, load_exports
from ceremony.store.records import load_signatures
from ceremony.thresholds import (
    Authority,
    RoleStatus,
    authority,
    evaluate,
    root_authorities,
    status_notes,
)
from ceremony.transcript import GENESIS, Head

# The check IDs every status screen repeats: deliberate exceptions a holder must not forget.
REPEATED_WARNINGS = frozenset(
    {
        "CER-KEY-IMPORTED",
        "CER-SOFTWARE-KEY",
        "CER-KEY-SOFTHSM",
        "CER-ATTESTATION-ADVISORY",
        "CER-ATTESTATION-WAIVED",
    }
)


def authorities(loaded: Loaded, role: str, d: Draft) -> list[Authority]:
    """The key sets and thresholds that must approve the draft `d` of `role`.

    Root: the previous root's root role (a rotation) AND the draft's own; targets: role
    'targets' of the root draft here, else of the trusted previous root; a delegated role:
    its delegation in the targets draft; an imported targets role: role 'targets' of the
    root given at import. Raises InputError (exit 2) when the role is not one this ceremony
    signs, or the root or targets it depends on is not drafted.
    """
    people = loaded.people
    if loaded.imported is not None and role == loaded.imported.role and role != "root":
        return [delegated_authority(loaded.imported, people)]
    if role == "root":
        notes = status_notes(loaded.plan, loaded.keys)
        return root_authorities(loaded.keys, loaded.previous_root, d.metadata.signed, people, notes)
    if role == "targets":
        return [_targets_authority(loaded, people)]
    if delegation_spec(loaded.plan, role) is not None:
        return [_delegation_authority(loaded, role, people)]
    raise InputError(
        f"'{role}' is not a role this ceremony can sign; {draftable_text(loaded.plan)}"
    )


@dataclass(frozen=True)
class ApprovingKey:
    """The enrolled key a holder named for a role's draft: its plan name, record and holder,
    and the authorities that approve the draft (previous root and new root, or delegator)."""

    name: str
    key: EnrolledKey
    holder: str
    auths: list[Authority]


def approving_key(loaded: Loaded, role: str, d: Draft, given: str) -> ApprovingKey:
    """The enrolled key `given` names (a plan name or a full keyid), which must be one of the
    keys that approve `role` (`sign`, `add-signature`).

    Raises InputError (exit 2) naming the key and the authorities when it approves nothing
    here, or when no enrolled key matches `given`.
    """
    name = resolve_key(loaded, given)
    key = loaded.keys[name]
    holder = loaded.plan.holder(name)
    auths = authorities(loaded, role, d)
    if not any(key.keyid in a.keys for a in auths):
        raise InputError(
            f"key '{name}' ({holder}) is not one of the keys that approve {role}: it is in "
            "neither " + " nor ".join(a.label for a in auths) + ". Nothing was written."
        )
    return ApprovingKey(name, key, holder, auths)


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


def role_status(
    loaded: Loaded, role: str, d: Draft, auths: list[Authority] | None = None
) -> RoleStatus:
    """The signature files of `role` sorted into valid, stale and invalid (and disputed: a
    valid signature whose file names another key than its keyid's), and each threshold's
    count. `auths`: the authorities, when the caller has them already. The
    files are read now, so a status after a write reflects the file written."""
    if auths is None:
        auths = authorities(loaded, role, d)
    records = load_signatures(loaded.cdir, role)
    return evaluate(role, d.payload, d.digest, auths, records, loaded.people)


@dataclass(frozen=True)
class RoleReport:
    """One role's state: its draft (None: not drafted), its signatures and thresholds,
    whether the plan or keys changed since it was drafted, the next step in words, the
    latest export of this very draft (None: not exported), and who signed after it."""

    role: str
    draft: Draft | None
    status: RoleStatus | None
    draft_outdated: bool
    next_step: str
    exported: ExportRecord | None = None
    signed_since: tuple[str, ...] = ()


def export_of(exports: list[ExportRecord], role: str, digest: str) -> ExportRecord | None:
    """The latest export that holds this draft (`digest`) of `role`, if any."""
    for e in reversed(exports):
        r = e.roles.get(role)
        if r is not None and r.digest == digest:
            return e
    return None


def signed_since(st: RoleStatus, exported: ExportRecord | None) -> tuple[str, ...]:
    """The keys whose valid signatures are not in the exported file (signed after it)."""
    if exported is None or st.role not in exported.roles:
        return ()
    done = set(exported.roles[st.role].signers)
    return tuple(r.key_name or r.keyid[:16] for r in st.valid if r.keyid not in done)


@dataclass(frozen=True)
class StatusReport:
    """What `ceremony status` shows: every role, the warnings every status screen repeats
    (deliberate exceptions such as --allow-imported-key), and the transcript: its problems
    (a damaged, cut or rewritten transcript), its head, and notes on older files."""

    loaded: Loaded
    roles: list[RoleReport]
    warnings: list[str]
    transcript_problems: list[str]
    transcript_head: Head = field(default_factory=lambda: Head(0, GENESIS))
    transcript_notes: list[str] = field(default_factory=list)
    exports: list[ExportRecord] = field(default_factory=list)
    copy: CopyState | None = None

    @property
    def repository(self) -> str:
        return self.loaded.plan.repository

    @property
    def rehearsal(self) -> bool:
        return self.loaded.rehearsal


def role_reports(loaded: Loaded) -> list[RoleReport]:
    """A report for each drafted role (root, targets, then delegated roles); root alone,
    not drafted yet, when nothing is drafted."""
    cdir = loaded.cdir
    exports = load_exports(cdir)
    reports = []
    for role in drafted_roles(cdir) or ["root"]:
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
        exp = export_of(exports, role, d.digest)
        since = signed_since(st, exp)
        step = next_step(cdir, role, st, outdated, exported=exp, since=since)
        reports.append(RoleReport(role, d, st, outdated, step, exp, since))
    return reports


def status_warnings(loaded: Loaded) -> list[str]:
    """The check lines every status screen repeats (`REPEATED_WARNINGS`)."""
    return [c.line() for c in loaded.checks if c.id in REPEATED_WARNINGS]


def status(cdir: CeremonyDir, now: dt.datetime) -> StatusReport:
    """Every drafted role's thresholds, who signed and who is missing, and the next step.

    Args:
        cdir: the ceremony directory (read only; it may be a read-only copy).
        now: the time the plan's checks judge expiry by.

    Returns:
        A `StatusReport`; a check that fails is reported (in `loaded.checks`), not raised.

    Raises:
        PlanError or StoreError (exit 2): the plan does not parse, or a key file, the
        previous root or a draft file is damaged.
        InputError (exit 2): a drafted role's signers cannot be known (e.g. targets drafted
        with neither a root draft nor a previous root).
    """
    loaded = load(cdir, now, enforce=False)
    audit = transcript_state(cdir)
    return StatusReport(
        loaded,
        role_reports(loaded),
        status_warnings(loaded),
        audit.problems,
        audit.head,
        audit.notes,
        load_exports(cdir),
        copy_state(cdir),
    )


def next_step(
    cdir: CeremonyDir,
    role: str,
    st: RoleStatus,
    outdated: bool,
    *,
    exported: ExportRecord | None = None,
    since: tuple[str, ...] = (),
) -> str:
    """The next step for `role`, as a sentence with the command to run. After an export of
    this draft: nothing, or (signatures made after it) what a second export would mean."""
    if outdated and exported is not None:  # `draft` refuses without --reopen there
        return (
            f"the plan or keys changed since this draft was exported ({exported.at}): a new "
            f"version is a new ceremony, `ceremony init NEW-DIR --previous-ceremony {cdir.root}`; "
            "only to re-open this one before anything was published: "
            f"`ceremony draft {cdir.root} {role} --reopen`"
        )
    if outdated:
        return f"the plan or keys changed since drafting: `ceremony draft {cdir.root} {role}` again"
    if exported is not None:
        version = exported.roles[role].version
        if since:
            return (
                f"{', '.join(since)} signed after the export of {exported.at}, so no exported "
                f"file holds {'that signature' if len(since) == 1 else 'those signatures'}. "
                "Leave it so if the exported files are published or on their way. Otherwise, "
                f"export again to a new folder with `ceremony export {cdir.root} --out NEW-FOLDER "
                f"--reopen`: it makes a DIFFERENT {version}.{role}.json for version {version}, and "
                "only one of the two may ever be published"
            )
        return (
            f"nothing more to do: {role} version {version} was exported {exported.at} to "
            f"{exported.out}. Publish those files; keep this directory in the ceremony archive"
        )
    if st.complete:
        copy = copy_state(cdir)
        if copy is not None and copy.certain:  # a copy never exports: it goes back
            return (
                "every threshold is met: bring this copy back to the administrator for "
                f"`ceremony merge {copy.origin} {cdir.root}`, then export there"
            )
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
