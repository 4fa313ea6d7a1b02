"""`ceremony import`: a ceremony directory around a metadata file made by another tool.

The file's `signed` part becomes the frozen draft of its role, unchanged (unrecognized
fields and key annotations included); its keys are enrolled under readable names with their
own keyids and fields; signatures already in it that verify are kept as signature files;
placeholders (empty `sig`) and signatures that do not verify are listed and dropped. Who
must sign: for root, its own root role and (version N > 1) that of root N-1, given with
--previous-root and judged like `init --previous-root` judges it; for targets, role
'targets' of the root given with --root.

Everything is read, judged and written into a temporary folder next to DIR, then loaded
back exactly as `show` loads it; only then is the folder renamed into place. A refused
import writes nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from securesystemslib.signer import Key
from tuf.api.metadata import Metadata, Root
from tuf.api.serialization.json import JSONSerializer

from ceremony import digest as digests
from ceremony.clock import iso
from ceremony.drafting import Draft
from ceremony.errors import InputError
from ceremony.files import MAX_METADATA_BYTES, MAX_ROOT_BYTES, json_bytes, read_input
from ceremony.foreign.sources import FORMATS, ForeignSource, detect_format, parse_source
from ceremony.keys import short
from ceremony.plan.parse import parse_plan
from ceremony.services.drafts import DraftView, show
from ceremony.services.import_plan import (
    enrolled_keys,
    imported_spec,
    kept_record,
    plan_text,
)
from ceremony.services.imported import DELEGATOR_FILE, SOURCE_FILE, read_delegator
from ceremony.services.init import judged_previous_root
from ceremony.services.state import read_previous_root
from ceremony.store import PLAN_FILE, CeremonyDir
from ceremony.store.drafts import write_draft
from ceremony.store.records import put_signature
from ceremony.transcript import Entry
from ceremony.tufread import judge_root

# Which options apply to which files (anything else is refused, never ignored).
PREVIOUS_ROOT_FORMATS = ("metadata", "tuf-on-ci", "rstuf-update")


@dataclass(frozen=True)
class ImportResult:
    """The new directory, the role and version imported, its format, the keys enrolled
    (name, keyid, holder), the signatures kept (key names), those dropped (one line each,
    with the reason), and the holder's view of the draft as `show` gives it."""

    path: Path
    role: str
    version: int
    format: str
    keys: list[tuple[str, str, str]]
    kept: list[str]
    dropped: list[str]
    view: DraftView
    previous_copy: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Signers:
    """Who may sign the imported role: keyid -> key, and the root whose keys are named."""

    keys: dict[str, Key]
    root: Root  # the imported root, or the root that says who signs targets
    enrol: dict[str, Key]  # every key to enrol


def _role_of(src: ForeignSource, source_name: str) -> str:
    if src.role_type == "root":
        return "root"
    if src.role_type == "targets":
        named = unquote(re.sub(r"^[0-9]+\.", "", source_name).removesuffix(".json"))
        if named != "targets":
            raise InputError(
                f"{source_name} is targets-type metadata, and its file name says the role is "
                f"{named!r}. tuf-ceremony imports the top-level targets role (targets.json or "
                "N.targets.json, as the repository names it); delegated roles are not imported "
                "yet. Nothing was written."
            )
        return "targets"
    raise InputError(
        f"{source_name} is {src.role_type} metadata: the repository signs {src.role_type} "
        "online with its online key, never in an offline ceremony. Import root or targets."
    )


def _refuse_options(
    fmt: str, role: str, version: int, previous_root: Path | None, root: Path | None
) -> None:
    if previous_root is not None and (role != "root" or fmt not in PREVIOUS_ROOT_FORMATS):
        why = (
            "an RSTUF sign request carries its trusted root itself"
            if fmt == "rstuf-sign-request"
            else f"it applies to a root of version N > 1 (this file is {role} version {version})"
        )
        raise InputError(f"--previous-root does not apply here: {why}. Nothing was written.")
    if previous_root is not None and version == 1:
        raise InputError(
            "--previous-root does not apply to a root of version 1: a first root has no "
            "previous root. Nothing was written."
        )
    if root is not None and role != "targets":
        raise InputError(
            f"--root does not apply to {role} metadata: it names the root that says who signs a "
            "targets file. Nothing was written."
        )
    if role == "targets" and root is None:
        raise InputError(
            "targets is signed by the keys its root lists for the 'targets' role: give that root "
            "with --root ROOT.json. Nothing was written."
        )
    if role == "root" and version > 1 and previous_root is None and fmt != "rstuf-sign-request":
        raise InputError(
            f"this is root version {version}: its previous root (version {version - 1}) must "
            f"also sign it. Give that root with --previous-root {version - 1}.root.json (for "
            f"tuf-on-ci: metadata/root_history/{version - 1}.root.json on the main branch). "
            "Nothing was written."
        )


def _previous(
    src: ForeignSource, previous_root: Path | None, now: dt.datetime
) -> tuple[Metadata[Root], bytes, list[str]] | None:
    """The previous root, judged as `init --previous-root` judges it (read by python-tuf,
    verified by its own threshold), its bytes and the notes for the holder; None for a
    first root or a targets file."""
    if src.role_type != "root" or src.version == 1:
        return None
    if previous_root is not None:
        data, prev, _verdict, notes = judged_previous_root(previous_root, (), now)
        where = str(previous_root)
    else:
        assert src.trusted_root is not None  # parse_sign_request requires it for N > 1
        data = bytes(src.trusted_root.to_bytes(JSONSerializer(compact=False)))
        where = "the sign request's trusted_root"
        prev = read_previous_root(data, where)
        verdict = judge_root(prev)
        if not verdict.ok:
            raise InputError(
                f"{where} (version {verdict.version}) does not verify by its own threshold: "
                f"python-tuf says: {verdict.problem}. Nothing was written."
            )
        notes = verdict.notes()
    if prev.signed.version != src.version - 1:
        raise InputError(
            f"{where} is root version {prev.signed.version}, but the imported root is version "
            f"{src.version}: the root that authorises it is version {src.version - 1}. Give root "
            f"{src.version - 1}. Nothing was written."
        )
    return prev, data, notes


def _check_roles(root: Root, where: str) -> None:
    for name, role in root.roles.items():
        unknown = [k for k in role.keyids if k not in root.keys]
        if unknown:
            raise InputError(
                f"{where}: role {name} lists the keyid(s) {', '.join(short(k) for k in unknown)} "
                "with no key in `keys`: no client could verify them. Nothing was written."
            )
        if role.threshold > len(role.keyids):
            raise InputError(
                f"{where}: role {name} needs {role.threshold} signatures but lists "
                f"{len(role.keyids)} key(s): it could never be signed. Nothing was written."
            )


def _signers(
    src: ForeignSource, prev: Metadata[Root] | None, delegator: Metadata[Root] | None
) -> _Signers:
    if src.role_type == "root":
        new: Root = src.metadata.signed
        keys = {k: new.keys[k] for k in new.roles["root"].keyids}
        enrol = dict(new.keys)
        if prev is not None:
            for k in prev.signed.roles["root"].keyids:
                keys.setdefault(k, prev.signed.keys[k])
                enrol.setdefault(k, prev.signed.keys[k])
        return _Signers(keys, new, enrol)
    assert delegator is not None
    root = delegator.signed
    return _Signers({k: root.keys[k] for k in root.roles["targets"].keyids}, root, dict(root.keys))


def _sort_signatures(
    src: ForeignSource, signers: _Signers, source_name: str
) -> tuple[dict[str, str], list[str]]:
    """keyid -> sig of the signatures that verify; one line per placeholder or bad one.
    Raises InputError for a signature or placeholder by a key that may not sign."""
    unknown = [k for k in (*src.order, *src.placeholders) if k not in signers.keys]
    if unknown:
        raise InputError(
            f"{source_name} holds signature entries by {', '.join(short(k) for k in unknown)}, "
            f"which {'are' if len(unknown) > 1 else 'is'} not a key that may sign this "
            f"{src.role_type}: the file was not staged for the root(s) given. Check the file and "
            "--previous-root/--root. Nothing was written."
        )
    kept: dict[str, str] = {}
    dropped = [f"placeholder (empty sig) for key {short(k)}" for k in src.placeholders]
    for keyid, sig in src.metadata.signatures.items():
        try:
            signers.keys[keyid].verify_signature(sig, src.canonical)
        except Exception:  # noqa: BLE001 - securesystemslib raises several types; all mean "no"
            dropped.append(f"signature by key {short(keyid)}: does not verify, dropped")
            continue
        kept[keyid] = sig.signature
    return kept, dropped


def _new_directory(path: Path) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InputError(
            f"{path} already exists and is not empty. An import makes a new ceremony directory; "
            "choose another path (nothing was written)."
        )


def import_file(
    path: Path,
    file: Path,
    now: dt.datetime,
    entry: Entry,
    *,
    previous_root: Path | None = None,
    root: Path | None = None,
    fmt: str = "auto",
) -> ImportResult:
    """Make the ceremony directory `path` around `file` (`ceremony import`).

    Args:
        path: the new directory (absent, or an empty folder).
        file: the metadata file or RSTUF payload to import (see `foreign.sources`).
        now: the import time (recorded); an expired file is refused by it.
        entry: the transcript entry; receives the files read and written.
        previous_root: root N-1, for a root of version N > 1.
        root: for a targets file, the root that says who signs it.
        fmt: "auto" (from the file's fields) or one of `foreign.sources.FORMATS`.

    Returns:
        An `ImportResult`, with the holder's view of the new draft.

    Raises:
        InputError (exit 2): `path` is not new, an option does not apply to this file, the
            file or a root given is not what it must be (wrong role type, not strict JSON,
            not canonical, unknown keyids, expired, a previous root of the wrong version).
        StoreError (exit 2): the previous root or --root is not a TUF root.
        PlanError (exit 2): the imported metadata fails a check no tool may waive.
        Nothing is written on any error.
    """
    _new_directory(path)
    data = read_input(file, "the file to import ", MAX_METADATA_BYTES)
    entry.files_read[str(file)] = digests.sha256_hex(data)
    name = file.name
    if fmt == "auto":
        fmt = detect_format(data, source=name)
    elif fmt not in FORMATS:
        raise InputError(f"--format {fmt} is not one of auto, {', '.join(FORMATS)}.")
    src = parse_source(data, fmt, source=name)
    role = _role_of(src, name)
    _refuse_options(fmt, role, src.version, previous_root, root)
    if fmt == "rstuf-bootstrap" and src.version != 1:
        raise InputError(f"{name}: an RSTUF bootstrap payload holds root version 1.")
    if src.metadata.signed.is_expired(now):
        raise InputError(
            f"{name}: {role} version {src.version} expired on "
            f"{iso(src.metadata.signed.expires)}; clients would refuse it. Have the repository's "
            "tool stage it again with a later expiry. Nothing was written."
        )
    found = _previous(src, previous_root, now)
    delegator: Metadata[Root] | None = None
    delegator_bytes = b""
    if root is not None:
        delegator_bytes = read_input(root, "the root given with --root ", MAX_ROOT_BYTES)
        entry.files_read[str(root)] = digests.sha256_hex(delegator_bytes)
        delegator = read_delegator(delegator_bytes, str(root))
        _check_roles(delegator.signed, str(root))
    if src.role_type == "root":
        _check_roles(src.metadata.signed, name)
    signers = _signers(src, found[0] if found else None, delegator)
    kept, dropped = _sort_signatures(src, signers, name)
    records, holders = enrolled_keys(signers.enrol, name, now)
    return _write(path, src, role, data, found, delegator_bytes, signers, kept, dropped,
                  records, holders, now, entry, name)  # fmt: skip


def _write(
    path: Path,
    src: ForeignSource,
    role: str,
    data: bytes,
    found: tuple[Metadata[Root], bytes, list[str]] | None,
    delegator_bytes: bytes,
    signers: _Signers,
    kept: dict[str, str],
    dropped: list[str],
    records: dict[str, Any],
    holders: dict[str, str],
    now: dt.datetime,
    entry: Entry,
    name: str,
) -> ImportResult:
    """Write the directory into a temporary folder, load it back, then rename it into place."""
    files: dict[str, bytes] = {SOURCE_FILE: data}
    previous = None
    if found is not None:
        prev, prev_bytes, _notes = found
        previous = (f"previous/{prev.signed.version}.root.json", digests.sha256_hex(prev_bytes))
        files[previous[0]] = prev_bytes
    delegator = None
    if delegator_bytes:
        delegator = (DELEGATOR_FILE, digests.sha256_hex(delegator_bytes))
        files[DELEGATOR_FILE] = delegator_bytes
    spec = imported_spec(role, src.format, digests.sha256_hex(data), delegator)
    version = src.version if role == "root" and src.version > 1 else None
    text = plan_text(
        name,
        signers.root,
        version=version,
        previous=previous,
        records=records,
        holders=holders,
        spec=spec,
    )
    parse_plan(text, PLAN_FILE)  # the plan written must read back (raises PlanError)
    files[PLAN_FILE] = text.encode()
    for key_name, rec in records.items():
        files[f"keys/{key_name}.json"] = json_bytes(rec.to_dict())
    draft_text = digests.json_text(src.signed)
    payload = digests.canonical_from_json(draft_text)
    if payload != src.canonical:  # pragma: no cover - two canonical encoders disagree
        raise InputError(f"{name}: its signed part has no single canonical form.")
    d = Draft(role, draft_text, payload, digests.sha256_hex(payload), now, None)
    by_id = {rec.keyid: rec for rec in records.values()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.import-", dir=path.parent))
    try:
        cdir = CeremonyDir(tmp, must_exist=False)
        for rel in sorted(files):
            cdir.write(rel, files[rel])
        write_draft(cdir, d, {"path": spec.path, "sha256": spec.sha256, "format": spec.format})
        for keyid, sig in kept.items():
            record = kept_record(
                role, keyid, sig, d.digest, by_id[keyid], holders[keyid], src.version, name
            )
            put_signature(cdir, role, keyid, json_bytes(record.to_dict()))
        view = show(CeremonyDir(tmp), role, now)  # read back as every later command reads it
        written = {  # relative to the directory (cdir.root is absolute; tmp may not be)
            cdir.rel(p): digests.sha256_hex(p.read_bytes())
            for p in cdir.root.rglob("*")
            if p.is_file()
        }
        with contextlib.suppress(OSError):
            path.rmdir()  # an empty folder given as DIR is replaced
        os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    entry.files_written.update(written)
    entry.notes.append(f"imported {role} v{src.version} ({src.format}) digest {d.digest}")
    return ImportResult(
        path,
        role,
        src.version,
        src.format,
        [(rec.name, rec.keyid, holders[rec.keyid]) for rec in records.values()],
        [by_id[k].name for k in kept],
        dropped,
        view,
        previous[0] if previous else None,
        found[2] if found else [],
    )
