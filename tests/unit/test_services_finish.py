"""Issue 11 in-process: a ceremony that knows it is finished, copies that know they are
copies, re-drafting over signatures, optional signatures, merge reporting every entry.

The same software-token kit as test_services_signing.py; the command line over the same
flows: tests/cli/test_finish_cli.py and the runbook scenarios (tests/runbooks/).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ceremony import transcript
from ceremony.errors import Declined, InputError
from ceremony.services import copies, drafts, export, merging, signing, status
from ceremony.services.drafts import DraftView
from ceremony.store.marks import load_exports
from ceremony.transcript import Entry
from tests.unit.services_kit import NOW, Kit, new_ceremony, plan


def yes(_view: DraftView) -> bool:
    return True


def sign(kit: Kit, key: str, *, reopen: bool = False) -> signing.SignOutcome:
    """Sign as `ceremony sign` does: the use case, then its transcript entry (export checks
    that every signature file is in one)."""
    entry = Entry("sign")
    outcome = signing.sign(kit.cdir, "root", key, kit.signer(), yes, NOW, entry, reopen=reopen)
    transcript.append(kit.cdir.root, entry, "ok", 0)
    return outcome


@pytest.fixture
def drafted(tmp_path: Path) -> Kit:
    kit = new_ceremony(tmp_path)
    drafts.draft(kit.cdir, "root", NOW, Entry("draft"))
    return kit


@pytest.fixture
def exported(drafted: Kit) -> Kit:
    sign(drafted, "root-alice")
    sign(drafted, "root-bob")
    export.export(drafted.cdir, None, NOW, Entry("export"))
    return drafted


# --- finished ----------------------------------------------------------------------------


def test_status_after_export_says_what_was_published_and_stops_pointing_at_export(
    exported: Kit,
) -> None:
    (root,) = status.status(exported.cdir, NOW).roles
    assert root.exported is not None and root.signed_since == ()
    assert root.exported.out == "published" and root.exported.at == "2026-01-01T12:00:00Z"
    files = root.exported.files
    assert set(files) >= {"1.root.json", "root.json", "SHA256SUMS", "ceremony-record.html"}
    data = (exported.root / "published" / "1.root.json").read_bytes()
    import hashlib

    assert files["1.root.json"] == hashlib.sha256(data).hexdigest()
    assert "export" not in root.next_step.split(":")[0]
    assert root.next_step.startswith("nothing more to do: root version 1 was exported")


def test_published_files_are_world_readable(exported: Kit) -> None:
    for f in (exported.root / "published").iterdir():
        assert f.stat().st_mode & 0o777 == 0o644, f.name


def test_sign_after_export_is_refused_unless_reopened_and_recorded(exported: Kit) -> None:
    before = sorted(p.name for p in (exported.root / "signatures" / "root").iterdir())
    with pytest.raises(InputError, match="this ceremony is finished") as exc:
        sign(exported, "root-carol")
    assert "--reopen" in (exc.value.hint or "")
    assert sorted(p.name for p in (exported.root / "signatures" / "root").iterdir()) == before
    with pytest.raises(InputError, match="--reopen is for signing a draft that was exported"):
        drafts_only = new_ceremony(exported.base / "other")
        drafts.draft(drafts_only.cdir, "root", NOW, Entry("draft"))
        sign(drafts_only, "root-alice", reopen=True)
    entry = Entry("sign")
    out = signing.sign(
        exported.cdir, "root", "root-carol", exported.signer(), yes, NOW, entry, reopen=True
    )
    assert out.view.signer is not None and out.view.signer.optional  # 2 of 2 already
    assert any(
        n.startswith("re-opened: root-carol signs root after its export") for n in entry.notes
    )
    (root,) = status.status(exported.cdir, NOW).roles
    assert root.signed_since == ("root-carol",)
    assert "--reopen" in root.next_step and "DIFFERENT 1.root.json" in root.next_step


def test_a_second_export_compares_with_the_first(exported: Kit, tmp_path: Path) -> None:
    # The same signatures to another folder: the same bytes, and said so.
    res = export.export(exported.cdir, tmp_path / "again", NOW, Entry("export"))
    assert res.differ == [] and res.same
    assert res.same[0].startswith("1.root.json is byte for byte the one exported")
    a = (exported.root / "published" / "1.root.json").read_bytes()
    assert (tmp_path / "again" / "1.root.json").read_bytes() == a
    # --reopen where nothing would differ is refused (an option that cannot apply).
    with pytest.raises(InputError, match="--reopen is for exporting a different file"):
        export.export(exported.cdir, tmp_path / "fourth", NOW, Entry("export"), reopen=True)
    # Into the same folder: nothing to do (the same bytes are there), and it says so.
    before = sorted((exported.root / "published").iterdir())
    done = export.export(exported.cdir, None, NOW, Entry("export"))
    assert done.already is not None and "exported and finished" in done.already
    assert done.files == {} and sorted((exported.root / "published").iterdir()) == before
    # A late signature (re-opened) would make a different 1.root.json: refused loudly...
    sign(exported, "root-carol", reopen=True)
    with pytest.raises(InputError, match=r"would DIFFER from the 1\.root\.json exported") as exc:
        export.export(exported.cdir, tmp_path / "third", NOW, Entry("export"))
    assert "Nothing was written" in str(exc.value)
    assert not (tmp_path / "third").exists() or not any((tmp_path / "third").iterdir())
    # ... unless re-opened on purpose: written, recorded, and the record says so.
    entry = Entry("export")
    res = export.export(exported.cdir, tmp_path / "third", NOW, entry, reopen=True)
    assert res.differ and any(n.startswith("re-opened export") for n in entry.notes)
    record = (tmp_path / "third" / "ceremony-record.md").read_text()
    assert "## RE-OPENED" in record and "Only one of the two may ever be published" in record
    assert "RE-OPENED" in (tmp_path / "third" / "ceremony-record.html").read_text()
    assert [e.reopened for e in load_exports(exported.cdir)] == [False, False, True]


def test_the_record_wording_and_warnings(exported: Kit) -> None:
    record = (exported.root / "published" / "ceremony-record.md").read_text()
    assert "- new root (version 1): 2 signatures, 2 required (met)" in record
    assert "of 2 required" not in record  # was "3 of 2 required"
    html = (exported.root / "published" / "ceremony-record.html").read_text()
    assert html.count('<section class="page">') == 1  # one page per role
    assert "REHEARSAL: signed with keys on rehearsal tokens (software token" in html
    assert "witness initials" in html and "<script" not in html
    for external in ("http", "src=", "url(", "@import", "<link"):  # no network, no assets
        assert external not in html.lower(), external


# --- copies ------------------------------------------------------------------------------


def test_copy_knows_it_is_one(drafted: Kit, tmp_path: Path) -> None:
    entry = Entry("copy")
    res = copies.copy(drafted.cdir, tmp_path / "usb-bob" / "c", NOW, entry)
    assert res.drafts and res.files > 3
    assert copies.copy_state(drafted.cdir) is None
    copy = Kit(drafted.base, type(drafted.cdir)(res.path))
    state = copies.copy_state(copy.cdir)
    assert state is not None and state.certain and state.origin == str(drafted.root)
    out = sign(copy, "root-bob")
    assert out.copy is not None and out.copy.certain
    assert status.status(copy.cdir, NOW).copy == out.copy
    assert not (res.path / ".ceremony.lock").exists()
    with pytest.raises(InputError, match="already exists and is not an empty folder"):
        copies.copy(drafted.cdir, res.path, NOW, Entry("copy"))


def test_a_copy_without_the_draft_says_take_a_fresh_copy_never_draft(
    tmp_path: Path,
) -> None:
    kit = new_ceremony(tmp_path)
    early = copies.copy(kit.cdir, tmp_path / "early", NOW, Entry("copy"))
    copy = Kit(kit.base, type(kit.cdir)(early.path))
    with pytest.raises(InputError, match="Take a fresh copy") as exc:
        sign(copy, "root-bob")
    assert "there is no draft of root yet" in str(exc.value)
    assert "Never draft in a copy" in str(exc.value)
    assert "ceremony draft" not in str(exc.value)
    with pytest.raises(InputError, match="a draft is made only in the administrator's"):
        drafts.draft(copy.cdir, "root", NOW, Entry("draft"))
    assert not (early.path / "drafts" / "root.json").exists()


def test_a_directory_made_by_init_elsewhere_is_probably_a_copy(tmp_path: Path) -> None:
    kit = new_ceremony(tmp_path)
    line = {"command": "init", "args": {"directory": "/somewhere/else"}, "host": "other"}
    (kit.root / "transcript.jsonl").write_text(json.dumps(line) + "\n")
    state = copies.copy_state(kit.cdir)
    assert state is not None and not state.certain and state.origin == "/somewhere/else"
    line["args"] = {"directory": str(kit.root)}
    line["host"] = os.uname().nodename
    (kit.root / "transcript.jsonl").write_text(json.dumps(line) + "\n")
    assert copies.copy_state(kit.cdir) is None


# --- re-drafting over signatures -----------------------------------------------------------


def test_redraft_over_signatures_needs_approval(drafted: Kit) -> None:
    sign(drafted, "root-alice")
    (drafted.root / "ceremony.yaml").write_text(plan().replace("365d", "300d"))
    with pytest.raises(InputError, match="would make the 1 signature collected"):
        drafts.draft(drafted.cdir, "root", NOW, Entry("draft"))
    asked: list[int] = []

    def no(n: int, _digest: str) -> bool:
        asked.append(n)
        return False

    with pytest.raises(Declined, match="its 1 signature still counts"):
        drafts.draft(drafted.cdir, "root", NOW, Entry("draft"), approve_stale=no)
    assert asked == [1]
    res = drafts.draft(drafted.cdir, "root", NOW, Entry("draft"), approve_stale=lambda n, d: True)
    assert res.stale_signatures == 1


# --- merge --------------------------------------------------------------------------------


def test_merge_lists_every_entry_it_does_not_take(drafted: Kit, tmp_path: Path) -> None:
    other = drafted.copy(tmp_path / "other")
    sign(other, "root-bob")
    sigs = other.root / "signatures" / "root"
    (sigs / "notes.txt").write_text("x")
    (sigs / ("0" * 64 + ".json")).symlink_to("/etc/hostname")
    (other.root / "signatures" / "linked").symlink_to(sigs)
    entry = Entry("merge")
    rep = merging.merge(drafted.cdir, [other.root], NOW, entry)
    assert len(rep.added) == 1
    assert any("linked: a symbolic link (never followed)" in r for r in rep.refused)
    assert any(r.endswith(".json: a symbolic link (never followed)") for r in rep.refused)
    assert any("notes.txt: not a signature file" in s for s in rep.skipped)
    # All or nothing: with anything refused, not even the good signature is written.
    assert rep.written is False and entry.files_written == {}
    assert not (drafted.root / "signatures").exists()
    for p in ((sigs / ("0" * 64 + ".json")), (other.root / "signatures" / "linked")):
        p.unlink()
    rep = merging.merge(drafted.cdir, [other.root], NOW, Entry("merge"))
    assert rep.written and len(rep.added) == 1 and not rep.refused
    assert len(list((drafted.root / "signatures" / "root").iterdir())) == 1


def test_merge_skips_signatures_of_an_earlier_draft_here(drafted: Kit, tmp_path: Path) -> None:
    other = drafted.copy(tmp_path / "other")
    sign(other, "root-bob")  # on the first draft
    (drafted.root / "ceremony.yaml").write_text(plan().replace("365d", "300d"))
    drafts.draft(drafted.cdir, "root", NOW, Entry("draft"))  # no signature here: no question
    rep = merging.merge(drafted.cdir, [other.root], NOW, Entry("merge"))
    assert rep.written and not rep.added and not rep.refused
    assert any("stale: it signs an earlier draft of root" in s for s in rep.skipped)


def test_a_copy_never_exports(drafted: Kit, tmp_path: Path) -> None:
    res = copies.copy(drafted.cdir, tmp_path / "usb-bob" / "c", NOW, Entry("copy"))
    copy = Kit(drafted.base, type(drafted.cdir)(res.path))
    sign(copy, "root-alice")
    sign(copy, "root-bob")
    with pytest.raises(InputError, match="is a holder's copy of") as exc:
        export.export(copy.cdir, None, NOW, Entry("export"))
    assert "ceremony merge" in (exc.value.hint or "")
    assert not (copy.root / "published").exists()


def test_draft_after_export_is_refused_unless_reopened(exported: Kit) -> None:
    before = (exported.root / "drafts" / "root.json").read_bytes()
    with pytest.raises(InputError, match="this ceremony is finished") as exc:
        drafts.draft(exported.cdir, "root", NOW, Entry("draft"))
    assert "--previous-ceremony" in (exc.value.hint or "") and "--reopen" in (exc.value.hint or "")
    (exported.root / "ceremony.yaml").write_text(plan().replace("365d", "300d"))
    with pytest.raises(InputError, match="this ceremony is finished"):
        drafts.draft(exported.cdir, "root", NOW, Entry("draft"), approve_stale=lambda n, d: True)
    assert (exported.root / "drafts" / "root.json").read_bytes() == before
    entry = Entry("draft")
    res = drafts.draft(
        exported.cdir, "root", NOW, entry, approve_stale=lambda n, d: True, reopen=True
    )
    assert res.draft.digest != res.previous_digest and res.stale_signatures == 2
    assert any(n.startswith("re-opened: root drafted again") for n in entry.notes)
    with pytest.raises(InputError, match="--reopen is for drafting again after an export"):
        drafts.draft(exported.cdir, "root", NOW, Entry("draft"), reopen=True)


def test_merge_refuses_a_copy_of_another_ceremony_by_name(drafted: Kit, tmp_path: Path) -> None:
    other = new_ceremony(tmp_path / "elsewhere")  # made by its own init: another ceremony
    drafts.draft(other.cdir, "root", NOW, Entry("draft"))
    sign(other, "root-alice")
    rep = merging.merge(drafted.cdir, [other.root], NOW, Entry("merge"))
    assert not rep.written and rep.added == []
    (line,) = rep.refused
    assert "not a copy of this ceremony: its transcript begins with another `init`" in line
    assert not (drafted.root / "signatures").exists()


def test_a_copy_complete_points_back_to_merge_not_export(drafted: Kit, tmp_path: Path) -> None:
    res = copies.copy(drafted.cdir, tmp_path / "usb-bob" / "c", NOW, Entry("copy"))
    copy = Kit(drafted.base, type(drafted.cdir)(res.path))
    sign(copy, "root-alice")
    out = sign(copy, "root-bob")
    assert out.next_step.startswith("every threshold is met: bring this copy back")
    assert f"`ceremony merge {drafted.root} {copy.root}`" in out.next_step
    assert "ceremony export" not in out.next_step
    (root,) = status.status(copy.cdir, NOW).roles
    assert root.next_step == out.next_step


def test_status_after_a_plan_edit_on_an_exported_ceremony_says_new_ceremony(
    exported: Kit,
) -> None:
    (exported.root / "ceremony.yaml").write_text(plan().replace("365d", "300d"))
    (root,) = status.status(exported.cdir, NOW).roles
    assert "a new version is a new ceremony" in root.next_step
    assert "--previous-ceremony" in root.next_step and "--reopen" in root.next_step
