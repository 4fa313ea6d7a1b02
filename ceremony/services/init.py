"""`ceremony init`: a new ceremony directory with a commented plan to review.

For a rotation, the trusted previous root is copied in and pinned by its SHA-256, and its
keys are enrolled; with the directory of the ceremony that made it, the key names, holders
and token URIs are carried over.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from pathlib import Path

from tuf.api.metadata import Metadata, Root

from ceremony import digest as digests
from ceremony.clientcheck import verify_chain
from ceremony.clock import iso
from ceremony.errors import InputError
from ceremony.files import MAX_INPUT_BYTES, MAX_ROOT_BYTES, json_bytes, read_input
from ceremony.keys import KEY_TYPES, SOURCE_PREVIOUS_ROOT, EnrolledKey, key_type_of, short
from ceremony.plan import TOP_LEVEL_ROLES, Plan
from ceremony.plan.parse import parse_plan
from ceremony.plan.template import default_template, plan_template
from ceremony.store import PLAN_FILE, CeremonyDir
from ceremony.store.records import load_keys
from ceremony.transcript import Entry
from ceremony.tufread import RootVerdict, judge_root, read_root


@dataclass(frozen=True)
class InitResult:
    """The new directory, where the previous root was copied (a rotation), the names its
    keys were enrolled under, what a holder must know about the previous root (how it was
    judged, keys left out), and its SHA-256 (pinned in the plan)."""

    path: Path
    previous_copy: str | None
    enrolled: list[str]
    notes: list[str] = field(default_factory=list)
    previous_sha256: str | None = None  # of the previous root, as pinned in the plan


def judged_previous_root(
    file: Path, trusted_chain: Sequence[Path], now: dt.datetime
) -> tuple[bytes, Metadata[Root], RootVerdict, list[str]]:
    """Read and judge the previous root given to `init` (issue 9, rule 2).

    It must be a root python-tuf reads and verify by its own threshold; with
    `trusted_chain` (the roots before it, from one the holder already trusts) it must also
    follow from them as a client's root update does (`clientcheck.verify_chain`).

    Returns its bytes, its metadata, the verdict and notes for the holder. Raises
    InputError (exit 2) naming the file, the rule and python-tuf's cause.
    """
    data = read_input(file, "the previous root ", MAX_ROOT_BYTES)
    try:
        md = read_root(data, str(file))
    except InputError as exc:
        raise InputError(
            f"the previous root {exc.message} A rotation starts from the root clients trust: get "
            "that root.json again (nothing was written)."
        ) from None
    verdict = judge_root(md)
    if not verdict.ok:
        raise InputError(
            f"the previous root {file} (version {verdict.version}) does not verify by its own "
            f"threshold: python-tuf says: {verdict.problem}. A client refuses to trust such a "
            "root, so no rotation can start from it: get the root.json your clients really trust "
            "(nothing was written)."
        )
    notes = [
        f"the previous root (version {verdict.version}) is signed by {len(verdict.signed)} of "
        f"its {verdict.listed} root keys (threshold {verdict.threshold})."
    ]
    if trusted_chain:
        report = verify_chain([*trusted_chain, file], None, now)
        failure = report.failure
        if failure is not None or report.steps[-1].version != verdict.version:
            why = failure.detail if failure is not None else "it is not the newest root given"
            raise InputError(
                f"the previous root {file} does not follow from the roots given with "
                f"--trusted-chain: {why}. A client that trusts them would refuse it (nothing was "
                "written)."
            )
        first = report.steps[0]
        notes.append(
            f"it follows from the root you trust (version {first.version}, {first.file}) as a "
            "client's root update would."
        )
    elif verdict.version > 1:
        notes.append(
            f"whether it follows from version {verdict.version - 1} and the roots before it was "
            "NOT checked: give them with --trusted-chain (1.root.json ...), or check the chain "
            "with `ceremony verify`."
        )
    return data, md, verdict, notes + verdict.notes()


def generated_key_names(root: Root, skip: Set[str] = frozenset()) -> dict[str, str]:
    """Generated names for a previous root's keys: root-1, targets-1, online-1, ... (not for
    the keyids in `skip`: those no new root can carry)."""
    names: dict[str, str] = {}
    counters: dict[str, int] = {}
    for role in TOP_LEVEL_ROLES:
        for kid in root.roles[role].keyids:
            if kid in names or kid in skip:
                continue
            base = "online" if role in ("snapshot", "timestamp") else role
            counters[base] = counters.get(base, 0) + 1
            names[kid] = f"{base}-{counters[base]}"
    return names


def _carried_keys(
    previous_ceremony: Path, root: Root
) -> tuple[dict[str, tuple[EnrolledKey, str]], Plan]:
    """keyid -> (enrolled key, holder) from the ceremony that made the previous root, and
    that ceremony's plan."""
    old = CeremonyDir(previous_ceremony)
    plan = parse_plan(
        old.read_bytes(PLAN_FILE, max_bytes=MAX_INPUT_BYTES).decode("utf-8", errors="replace"),
        str(old.plan_path),
    )
    out: dict[str, tuple[EnrolledKey, str]] = {}
    for rec in load_keys(old).values():
        if rec.keyid in root.keys:
            out[rec.keyid] = (rec, plan.holder(rec.name))
    return out, plan


def init(
    path: Path,
    previous_root_file: Path | None,
    now: dt.datetime,
    entry: Entry,
    *,
    previous_ceremony: Path | None = None,
    trusted_chain: Sequence[Path] = (),
) -> InitResult:
    """Create a new ceremony directory with a commented plan (`ceremony init`).

    Args:
        path: the new directory (absent, or an empty folder).
        previous_root_file: the trusted previous root.json, for a rotation: it is copied to
            previous/N.root.json and pinned by its SHA-256 in the plan, and its keys are
            enrolled (as root-1, targets-1, online-1, ... with TODO holders).
        now: the time recorded for keys taken from the previous root.
        entry: the transcript entry; receives the files written.
        previous_ceremony: the directory that made the previous root: its key names,
            holders, token URIs and repository are carried over.
        trusted_chain: the roots before the previous root, from one the holder already
            trusts: the previous root must follow from them (`judged_previous_root`).

    Raises:
        InputError (exit 2): `path` exists and is not empty; the previous root cannot be
            read, is not a root python-tuf reads, does not verify by its own threshold or
            does not follow from `trusted_chain`; a role of it has no key a client can load;
            an option that cannot apply (`previous_ceremony` or `trusted_chain` without
            `previous_root_file`). PlanError (exit 2): the previous ceremony's plan does not
            parse. Nothing is written on any error.
    """
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InputError(
            f"{path} already exists and is not empty. A ceremony starts in a new directory; "
            "choose another path (nothing was written)."
        )
    if previous_root_file is None:
        if previous_ceremony is not None or trusted_chain:
            raise InputError(
                "--previous-ceremony and --trusted-chain describe a previous root: give it with "
                "--previous-root (nothing was written)."
            )
        text = default_template()
        path.mkdir(parents=True, exist_ok=True)
        cdir = CeremonyDir(path, must_exist=False)
        cdir.write(PLAN_FILE, text.encode())
        entry.files_written[PLAN_FILE] = digests.sha256_hex(text.encode())
        return InitResult(path, None, [])

    data, prev, verdict, notes = judged_previous_root(previous_root_file, trusted_chain, now)
    root = prev.signed
    dropped = verdict.dropped()
    names = generated_key_names(root, dropped)
    carried: dict[str, tuple[EnrolledKey, str]] = {}
    old_plan: Plan | None = None
    if previous_ceremony is not None:
        carried, old_plan = _carried_keys(previous_ceremony, root)
    for kid, (rec, _holder) in carried.items():
        names[kid] = rec.name
    sha = digests.sha256_hex(data)
    rel = f"previous/{root.version}.root.json"
    roles = _roles_kept(root, names, str(previous_root_file))
    keys_spec: dict[str, dict[str, str]] = {}
    for kid, name in names.items():
        # --previous-ceremony: the holder from that plan; else a placeholder to fill in.
        spec = {
            "holder": carried[kid][1] if kid in carried else f"TODO: holder of key {short(kid)}"
        }
        ktype = key_type_of(root.keys[kid])
        if ktype in KEY_TYPES:  # else no `type:` (e.g. RSA-PSS-SHA512): the plan has no name
            spec["type"] = ktype
        keys_spec[name] = spec
    for kid, (old_key, _holder) in carried.items():
        if old_key.attestation_waived is not None and kid in names:  # the old plan's waiver
            keys_spec[names[kid]]["waive_attestation"] = old_key.attestation_waived
    repository = old_plan.repository if old_plan is not None else "example.org/simple"
    text = plan_template(
        repository,
        (rel, sha),
        root.version + 1,
        "365d",
        bool(root.consistent_snapshot),
        roles,
        keys_spec,
        rehearsal=old_plan is not None and old_plan.rehearsal,
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
                attestation_waived=old.attestation_waived,
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
    entry.notes.extend(notes)
    return InitResult(path, rel, enrolled, notes, sha)


def _roles_kept(
    root: Root, names: Mapping[str, str], file: str
) -> dict[str, tuple[int, list[str]]]:
    """Each role's threshold and key names for the plan: the keys no new root can carry are
    left out (the threshold is lowered to what remains; `show` lists both changes)."""
    roles: dict[str, tuple[int, list[str]]] = {}
    for role in TOP_LEVEL_ROLES:
        kept = [names[k] for k in root.roles[role].keyids if k in names]
        if not kept:
            raise InputError(
                f"the previous root {file}: its {role} role has no key a client can load, so the "
                f"repository cannot work as it is. Write the plan by hand (`ceremony init DIR`) "
                "with new keys for that role (nothing was written)."
            )
        roles[role] = (min(root.roles[role].threshold, len(kept)), kept)
    return roles


def previous_root_pin(directory: Path) -> tuple[str, str] | None:
    """(path, SHA-256) of the previous root that the plan in `directory` pins; None for a
    first root. Raises PlanError (exit 2) when the plan does not parse."""
    cdir = CeremonyDir(directory)
    plan = parse_plan(
        cdir.read_bytes(PLAN_FILE, max_bytes=MAX_INPUT_BYTES).decode("utf-8", errors="replace"),
        PLAN_FILE,
    )
    if plan.previous_root is None:
        return None
    return plan.previous_root.path, plan.previous_root.sha256
