"""Issue 9 rules 6 and 7 in-process: what a signature file proves (merge, status, the
record) and what export writes (the names clients fetch; nothing a client would refuse).

Real files, the software token through the real token selection (tests/unit/services_kit).
The command line over the same rules: tests/cli/test_publish_rules.py.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from ceremony import transcript
from ceremony.errors import EXIT_CHECK_FAILED, CheckFailed, VerificationFailed
from ceremony.services import drafts, export, merging, signing, status
from ceremony.services.export_files import PUBLISH_MARGIN
from ceremony.transcript import Entry
from tests.cli.conftest import snapshot_tree
from tests.unit.services_kit import NOW, Kit, new_ceremony, plan
from tests.unit.test_services_signing import sign, yes

EXPIRES = NOW + dt.timedelta(days=365)  # the plan's 365d, drafted at NOW


def signed(tmp_path: Path, plan_text: str | None = None) -> Kit:
    kit = new_ceremony(tmp_path, plan_text=plan_text)
    drafts.draft(kit.cdir, "root", NOW, Entry("draft"))
    sign(kit, "root-alice")
    sign(kit, "root-bob")
    return kit


# --- rule 7: nothing a client would refuse --------------------------------------------------


@pytest.mark.parametrize(
    ("at", "words"),
    [
        (EXPIRES + dt.timedelta(seconds=1), "root version 1 (drafts/root.json) expired on"),
        (EXPIRES - PUBLISH_MARGIN + dt.timedelta(minutes=1), "less than an hour from now"),
    ],
)
def test_export_refuses_a_root_that_expires_before_it_can_be_published(
    tmp_path: Path, at: dt.datetime, words: str
) -> None:
    kit = signed(tmp_path)
    before = snapshot_tree(kit.root)
    with pytest.raises(VerificationFailed, match=re.escape(words)) as exc:
        export.export(kit.cdir, None, at, Entry("export"))
    assert exc.value.exit_code == EXIT_CHECK_FAILED
    assert "a client would refuse this at its next refresh, so nothing was written" in str(
        exc.value
    )
    assert snapshot_tree(kit.root) == before
    res = export.export(kit.cdir, None, EXPIRES - PUBLISH_MARGIN, Entry("export"))
    assert "1.root.json" in res.files


def test_a_targets_draft_expiring_soon_is_refused_too(tmp_path: Path) -> None:
    text = plan().replace("rehearsal: true\n", "targets:\n  expires: 30d\nrehearsal: true\n")
    kit = signed(tmp_path, text)
    drafts.draft(kit.cdir, "targets", NOW, Entry("draft"))
    sign(kit, "targets-alice", "targets")
    with pytest.raises(
        VerificationFailed, match=re.escape("targets version 1 (drafts/targets.json) expired on")
    ):
        export.export(kit.cdir, None, NOW + dt.timedelta(days=31), Entry("export"))
    assert not (kit.root / "published").exists()


@pytest.mark.parametrize(
    ("consistent", "names"),
    [(True, ["1.targets.json", "targets.json"]), (False, ["targets.json", "1.targets.json"])],
)
def test_export_names_the_files_as_clients_fetch_them(
    tmp_path: Path, consistent: bool, names: list[str]
) -> None:
    text = plan().replace("rehearsal: true\n", "targets:\n  expires: 300d\nrehearsal: true\n")
    if not consistent:
        text = text.replace("consistent_snapshot: true", "consistent_snapshot: false")
        assert "consistent_snapshot: false" in text
    kit = signed(tmp_path, text)
    drafts.draft(kit.cdir, "targets", NOW, Entry("draft"))
    sign(kit, "targets-alice", "targets")
    res = export.export(kit.cdir, None, NOW, Entry("export"))
    assert res.consistent_snapshot is consistent
    exported = sorted(n for n in res.files if n.endswith(".json"))
    assert exported == sorted(["1.root.json", "root.json", *names])
    sums = (res.out_dir / "SHA256SUMS").read_text()
    assert all(f"  {n}\n" in sums for n in exported)
    # Clients fetch the first name; the other is the same file.
    assert (res.out_dir / "targets.json").read_bytes() == (
        res.out_dir / "1.targets.json"
    ).read_bytes()


# --- rule 6: a signature file proves a keyid and a signature --------------------------------


def spoof(path: Path) -> None:
    data = json.loads(path.read_text())
    data.update(key_name="root-carol", holder="Carol Example", device="YubiKey 5 serial 1")
    path.write_text(json.dumps(data))


def test_merge_refuses_a_files_names_and_keeps_its_signature_as_the_enrolled_keys(
    tmp_path: Path,
) -> None:
    kit = new_ceremony(tmp_path)
    drafts.draft(kit.cdir, "root", NOW, Entry("draft"))
    sign(kit, "root-alice")
    other = kit.copy(tmp_path / "bob-stick")
    bob = signing.sign(other.cdir, "root", "root-bob", other.signer(), yes, NOW, Entry("s"))
    theirs = other.cdir.signature_path("root", bob.record.keyid)
    spoof(theirs)
    merged = Entry("merge")
    rep = merging.merge(kit.cdir, [other.root], NOW, merged)
    transcript.append(kit.cdir.root, merged, "ok", 0)  # as `ceremony merge` does
    assert any("root-bob (Bob Example)" in a for a in rep.added), rep
    assert len(rep.names_refused) == 1 and rep.refused == []
    assert any(n.startswith("names refused ") and "root-carol" in n for n in merged.notes)
    why = rep.names_refused[0]
    assert "key name 'root-carol'" in why and "is 'root-bob'" in why
    assert "holder 'Carol Example'" in why and "device 'YubiKey 5 serial 1'" in why
    assert "root-carol (Carol" not in " ".join(rep.added)
    mine = json.loads(kit.cdir.signature_path("root", bob.record.keyid).read_text())
    assert (mine["key_name"], mine["holder"]) == ("root-bob", "Bob Example")
    assert mine["sig"] == json.loads(theirs.read_text())["sig"]
    root = status.status(kit.cdir, NOW).roles[0]
    assert root.status is not None and root.status.complete and root.status.disputed == []
    res = export.export(kit.cdir, None, NOW, Entry("export"))
    record = (res.out_dir / "ceremony-record.md").read_text()
    signers = record.split("| key | holder | signed at | device |")[1].split("\n\n")[0]
    assert "| root-bob | Bob Example |" in signers and "Carol" not in signers


def test_status_and_the_record_name_the_enrolled_key_of_an_edited_file(tmp_path: Path) -> None:
    kit = signed(tmp_path)
    bob = kit.cdir.signature_path("root", _keyid(kit, "root-bob"))
    spoof(bob)
    st = status.status(kit.cdir, NOW).roles[0].status
    assert st is not None and st.complete  # the signature is valid: it counts, as Bob's
    assert [t.signed for t in st.thresholds] == [["root-alice", "root-bob"]]
    assert len(st.disputed) == 1 and st.disputed[0].key == "root-bob"
    assert "key name 'root-carol'" in st.disputed[0].detail
    # The edited file is in no transcript entry (issue 13): export stops until the operator
    # accepts it with a reason; the record then names the enrolled key, never the file's.
    with pytest.raises(CheckFailed, match="is in no transcript entry"):
        export.export(kit.cdir, None, NOW, Entry("export"))
    res = export.export(
        kit.cdir, None, NOW, Entry("export"), accept_transcript_problems="edited by the test"
    )
    record = (res.out_dir / "ceremony-record.md").read_text()
    signers = record.split("| key | holder | signed at | device |")[1].split("\n\n")[0]
    assert "| root-bob | Bob Example |" in signers
    assert "Carol" not in signers and "YubiKey" not in signers


def test_sign_replaces_its_own_file_when_the_names_in_it_were_edited(tmp_path: Path) -> None:
    kit = signed(tmp_path)
    path = kit.cdir.signature_path("root", _keyid(kit, "root-bob"))
    spoof(path)
    out = sign(kit, "root-bob")
    assert not out.already_signed  # a file naming another key is not "already signed"
    assert json.loads(path.read_text())["key_name"] == "root-bob"
    assert list((kit.root / "signatures" / "stale" / "root").glob("*.json"))


def _keyid(kit: Kit, name: str) -> str:
    rec = json.loads((kit.root / "keys" / f"{name}.json").read_text())
    return str(rec["keyid"])
