"""`ceremony init`: a new ceremony directory with a commented plan to review.

For a rotation, the trusted previous root is copied in and pinned by its SHA-256, and its
keys are enrolled; with the directory of the ceremony that made it, the key names, holders
and token URIs are carried over.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from tuf.api.metadata import Root

from ceremony import digest as digests
from ceremony.clock import iso
from ceremony.errors import InputError
from ceremony.files import json_bytes, read_input
from ceremony.keys import SOURCE_PREVIOUS_ROOT, EnrolledKey, key_type_of, short
from ceremony.plan import TOP_LEVEL_ROLES, Plan
from ceremony.plan.parse import parse_plan
from ceremony.plan.template import default_template, plan_template
from ceremony.services.state import read_previous_root
from ceremony.store import PLAN_FILE, CeremonyDir
from ceremony.store.records import load_keys
from ceremony.transcript import Entry


@dataclass(frozen=True)
class InitResult:
    """The new directory, where the previous root was copied (a rotation), and the names
    its keys were enrolled under."""

    path: Path
    previous_copy: str | None
    enrolled: list[str]


def generated_key_names(root: Root) -> dict[str, str]:
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


def _carried_keys(
    previous_ceremony: Path, root: Root
) -> tuple[dict[str, tuple[EnrolledKey, str]], Plan]:
    """keyid -> (enrolled key, holder) from the ceremony that made the previous root, and
    that ceremony's plan."""
    old = CeremonyDir(previous_ceremony)
    plan = parse_plan(
        old.read_bytes(PLAN_FILE).decode("utf-8", errors="replace"), str(old.plan_path)
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

    Raises:
        InputError (exit 2): `path` exists and is not empty, `previous_ceremony` without
            `previous_root_file`, or the previous root cannot be read. StoreError (exit 2): it is not a TUF root. PlanError (exit 2): the
            previous ceremony's plan does not parse. Nothing is written on any error.
    """
    if previous_ceremony is not None and previous_root_file is None:
        raise InputError(
            "--previous-ceremony cannot apply without --previous-root: it carries key names, "
            "holders and token URIs over to a rotation of that trusted root. Give both "
            "(nothing was written)."
        )
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
    names = generated_key_names(root)
    carried: dict[str, tuple[EnrolledKey, str]] = {}
    old_plan: Plan | None = None
    if previous_ceremony is not None:
        carried, old_plan = _carried_keys(previous_ceremony, root)
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
    for kid, (old_key, _holder) in carried.items():
        if old_key.attestation_waived is not None:  # the waiver the old plan gave, again
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
    return InitResult(path, rel, enrolled)


def previous_root_pin(directory: Path) -> tuple[str, str] | None:
    """(path, SHA-256) of the previous root that the plan in `directory` pins; None for a
    first root. Raises PlanError (exit 2) when the plan does not parse."""
    cdir = CeremonyDir(directory)
    plan = parse_plan(cdir.read_bytes(PLAN_FILE).decode("utf-8", errors="replace"), PLAN_FILE)
    if plan.previous_root is None:
        return None
    return plan.previous_root.path, plan.previous_root.sha256
