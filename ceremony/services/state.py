"""The state every use case starts from: the directory loaded once, and draft currency.

`load` reads the plan, the enrolled keys and the previous root, and runs every named check;
a command calls it once and passes the `Loaded` value down. Nothing is cached across
commands: state is derived from the files every time, so it can never disagree with them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import MutableMapping
from dataclasses import dataclass
from functools import cached_property

from tuf.api.metadata import Metadata, Root

from ceremony import __version__, drafting
from ceremony import digest as digests
from ceremony.checks import CheckContext, CheckResult, errors, run_checks
from ceremony.clock import iso
from ceremony.delegations import draftable_roles, draftable_text
from ceremony.drafting import Draft
from ceremony.errors import InputError, PlanError, StoreError
from ceremony.files import MAX_INPUT_BYTES, MAX_ROOT_BYTES
from ceremony.keys import EnrolledKey
from ceremony.plan import Plan
from ceremony.plan.parse import parse_plan
from ceremony.review import People, people_of
from ceremony.services.imported import Imported, read_imported
from ceremony.store import PLAN_FILE, CeremonyDir
from ceremony.store.drafts import load_draft
from ceremony.store.records import load_keys
from ceremony.tufread import judge_root, read_root


@dataclass
class Loaded:
    """A ceremony directory as one command sees it: read once, checked, passed down.

    `plan_bytes` and `previous_bytes` are the files' exact bytes (the draft fingerprint and
    the client check use them); `checks` holds every named check's result.
    """

    cdir: CeremonyDir
    plan: Plan
    plan_bytes: bytes
    keys: dict[str, EnrolledKey]
    previous: Metadata[Root] | None
    previous_bytes: bytes | None
    checks: list[CheckResult]
    imported: Imported | None = None  # the role made by another tool (`ceremony import`)

    @property
    def previous_root(self) -> Root | None:
        """The trusted previous root's signed part (None for a first root)."""
        return self.previous.signed if self.previous is not None else None

    @cached_property
    def people(self) -> People:
        """Who each enrolled keyid is (name, holder, device, type, status), made once."""
        return people_of(self.plan, self.keys)

    @property
    def rehearsal(self) -> bool:
        """True for a rehearsal: the plan says `rehearsal: true`, or a key is on a rehearsal
        token (the software token, SoftHSM). Every screen and record says so."""
        return self.plan.rehearsal or any(k.is_rehearsal_only for k in self.keys.values())

    @property
    def rehearsal_tokens(self) -> list[str]:
        """The rehearsal tokens the enrolled keys are on ("software token", "SoftHSM")."""
        kinds = {
            "software token" if k.is_software else "SoftHSM"
            for k in self.keys.values()
            if k.is_rehearsal_only
        }
        return sorted(kinds)


def read_previous_root(data: bytes, where: str) -> Metadata[Root]:
    """The trusted previous root from the bytes of the plan's `previous_root.path` file.

    Raises StoreError (exit 2) naming `where` and python-tuf's own cause
    (`tufread.read_root`) when a client could not read it as a root.
    """
    try:
        return read_root(data, where, error=StoreError)
    except StoreError as exc:
        raise StoreError(
            f"the previous root {exc.message} Check that the plan's previous_root.path names the "
            "trusted root.json the plan's reviewers approved."
        ) from None


def load(
    cdir: CeremonyDir,
    now: dt.datetime,
    *,
    require_enrolled: bool = False,
    files_read: MutableMapping[str, str] | None = None,
    enforce: bool = True,
) -> Loaded:
    """Read the plan, the enrolled keys and the previous root, and run every check.

    Args:
        cdir: the ceremony directory.
        now: the time the checks judge expiry by (timezone-aware UTC).
        require_enrolled: a key the plan names but nobody enrolled is an error (drafting
            and signing), not a warning.
        files_read: receives relative path -> SHA-256 of every file read (the transcript).
        enforce: raise when a check fails; False to report (validate, status, enrol).

    Raises:
        PlanError (exit 2): the plan is not UTF-8, does not parse, or (with `enforce`) fails
            a check, listing every failed check.
        StoreError (exit 2): a key file or the previous root is missing or malformed, or
            an imported file no longer matches the plan's pin.
    """
    plan_bytes = cdir.read_bytes(PLAN_FILE, max_bytes=MAX_INPUT_BYTES)
    if files_read is not None:
        files_read[PLAN_FILE] = digests.sha256_hex(plan_bytes)
    try:
        text = plan_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise PlanError(f"{PLAN_FILE} is not UTF-8 text.") from None
    plan = parse_plan(text, PLAN_FILE)
    keys = load_keys(cdir, files_read)
    previous = None
    previous_bytes = None
    previous_sha = None
    if plan.previous_root is not None:
        previous_bytes = cdir.read_bytes(plan.previous_root.path, max_bytes=MAX_ROOT_BYTES)
        previous_sha = digests.sha256_hex(previous_bytes)
        if files_read is not None:
            files_read[plan.previous_root.path] = previous_sha
        previous = read_previous_root(previous_bytes, plan.previous_root.path)
    ctx = CheckContext(
        plan,
        keys,
        previous.signed if previous else None,
        previous_sha,
        now,
        require_enrolled=require_enrolled,
        previous_verdict=judge_root(previous) if previous else None,
    )
    results = run_checks(ctx)
    imported = read_imported(cdir, plan, files_read)
    loaded = Loaded(cdir, plan, plan_bytes, keys, previous, previous_bytes, results, imported)
    bad = errors(results)
    if enforce and bad:
        raise PlanError(
            f"the plan does not pass {len(bad)} check{'s' if len(bad) != 1 else ''}:\n  - "
            + "\n  - ".join(r.line() for r in bad),
            problems=[r.line() for r in bad],
            hint="Fix ceremony.yaml (or enrol the missing keys), then run `ceremony validate DIR`.",
        )
    return loaded


# --- draft currency ---------------------------------------------------------------------


def draft_inputs(loaded: Loaded, role: str, drafted_at: dt.datetime) -> str:
    """Fingerprint (SHA-256 hex) of everything a draft is built from: the tool version, the
    role, the drafting time, the plan's bytes, every key file and the previous root.
    Drafting is a pure function of these."""
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
    they are unchanged, and rebuild only when they changed. An imported role is current when
    it is the imported file's signed part: it is never rebuilt from the plan.
    """
    if loaded.imported is not None and d.role == loaded.imported.role:
        return loaded.imported.is_current(d)
    if (
        not thorough
        and d.inputs is not None
        and d.inputs == draft_inputs(loaded, d.role, d.drafted_at)
    ):
        return True
    expected, text, signed = drafting.expected_draft(
        loaded.plan, loaded.keys, loaded.previous, d.role, d.drafted_at
    )
    if expected != d.payload:
        return False
    if text is not None and signed is not None:
        d.adopt(text, signed)  # the content is known now: parse it for display, not the text
    return True


def refuse_unknown_role(loaded: Loaded, role: str) -> None:
    """Raise InputError (exit 2) when `role` is not one this ceremony drafts (root; targets
    and its delegated roles when the plan has them), naming those it does."""
    if role not in draftable_roles(loaded.plan):
        raise InputError(f"'{role}' is not a role of this ceremony: {draftable_text(loaded.plan)}")


def current_draft(
    loaded: Loaded, role: str, files_read: MutableMapping[str, str] | None = None
) -> Draft:
    """The role's draft, refusing one that no longer matches the plan and keys.

    Raises InputError (exit 2) when there is no draft, or the plan or keys changed since
    it was drafted; StoreError (exit 2) when the draft file is damaged or was edited.
    """
    d = load_draft(loaded.cdir, role, files_read)
    if d is None:
        refuse_unknown_role(loaded, role)  # never suggest a `draft` that would fail
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


def resolve_key(loaded: Loaded, given: str) -> str:
    """The plan name of the enrolled key `given` names: a plan name, or a full keyid (64 hex
    digits, either case): holders of an imported root know their keyid, not our names.

    Raises InputError (exit 2) naming the enrolled keys when nothing matches.
    """
    if given in loaded.keys:
        return given
    wanted = given.strip().lower()
    if len(wanted) == 64 and all(c in "0123456789abcdef" for c in wanted):
        for name, key in loaded.keys.items():
            if key.keyid == wanted:
                return name
        raise InputError(
            f"no enrolled key has the keyid {wanted[:16]}…. Enrolled: "
            + ", ".join(f"{n} ({k.keyid[:8]}…)" for n, k in sorted(loaded.keys.items()))
            + "."
        )
    raise InputError(
        f"'{given}' is not an enrolled key of this ceremony (give its name in the plan or its "
        "full keyid, 64 hex digits). Enrolled: "
        + (", ".join(f"{n} ({k.keyid[:8]}…)" for n, k in sorted(loaded.keys.items())) or "none")
        + "."
    )
