"""The signing use cases in-process: draft, show, sign, status, merge, export.

Real files, the software token through the real token selection, and fakes only for what
a real token cannot produce (a signature that does not verify) and for the holder's typed
confirmation (`Confirm`). The command line over the same flow: tests/cli/.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from securesystemslib.signer import CryptoSigner, Signer

from ceremony import transcript
from ceremony.errors import (
    EXIT_CHECK_FAILED,
    EXIT_INVALID_INPUT,
    EXIT_TOKEN,
    BadTokenSignature,
    Declined,
    InputError,
    StoreError,
    ThresholdNotMet,
)
from ceremony.keys import EnrolledKey
from ceremony.services import drafts, export, merging, signing, state, status
from ceremony.services.drafts import DraftView
from ceremony.tokens.types import SignerFactory
from ceremony.transcript import Entry
from tests.unit.services_kit import NOW, Kit, new_ceremony


def yes(_view: DraftView) -> bool:
    return True


def no(_view: DraftView) -> bool:
    return False


def sign(
    kit: Kit, key: str, role: str = "root", confirm: signing.Confirm = yes
) -> signing.SignOutcome:
    """Sign as `ceremony sign` does: the use case, then its transcript entry."""
    entry = Entry("sign")
    outcome = signing.sign(kit.cdir, role, key, kit.signer(), confirm, NOW, entry)
    transcript.append(kit.cdir.root, entry, "ok", 0)
    return outcome


@pytest.fixture
def drafted(tmp_path: Path) -> Kit:
    kit = new_ceremony(tmp_path)
    drafts.draft(kit.cdir, "root", NOW, Entry("draft"))
    return kit


def test_draft_freezes_the_root_and_returns_the_holders_view(tmp_path: Path) -> None:
    kit = new_ceremony(tmp_path)
    entry = Entry("draft")
    res = drafts.draft(kit.cdir, "root", NOW, entry)
    assert not res.unchanged and res.previous_digest is None
    assert res.view.digest == res.draft.digest and res.view.version == 1
    assert res.view.rehearsal and res.view.roles[0].role == "root"
    assert entry.notes == [f"draft root digest {res.draft.digest}"]
    meta = json.loads((kit.root / "drafts" / "root.meta.json").read_text())
    assert meta["digest"] == res.draft.digest and meta["version"] == 1
    again = drafts.draft(kit.cdir, "root", NOW, Entry("draft"))
    assert again.unchanged and again.draft.digest == res.draft.digest


def test_draft_of_an_unknown_role(tmp_path: Path) -> None:
    kit = new_ceremony(tmp_path)
    with pytest.raises(InputError, match="'bins' is not a role this ceremony can draft") as exc:
        drafts.draft(kit.cdir, "bins", NOW, Entry("draft"))
    assert exc.value.exit_code == EXIT_INVALID_INPUT


def test_show_needs_a_draft(tmp_path: Path) -> None:
    kit = new_ceremony(tmp_path)
    with pytest.raises(InputError, match="there is no draft of root yet"):
        drafts.show(kit.cdir, "root", NOW)


def test_sign_twice_then_status_is_complete(drafted: Kit) -> None:
    first = sign(drafted, "root-alice")
    assert not first.already_signed and first.record.holder == "Alice Example"
    assert first.next_step.startswith("more signatures needed; any of: ")
    assert sign(drafted, "root-alice").already_signed  # nothing to do the second time
    second = sign(drafted, "root-bob")
    assert second.status.complete
    assert second.next_step == f"every threshold is met: `ceremony export {drafted.root}`"
    report = status.status(drafted.cdir, NOW)
    assert report.rehearsal and report.repository == "services.example.org/simple"
    (root,) = report.roles
    assert root.status is not None and root.status.complete and not root.draft_outdated
    assert any("CER-SOFTWARE-KEY" in w for w in report.warnings)
    assert report.transcript_problems == []


def test_sign_declined_writes_nothing(drafted: Kit) -> None:
    with pytest.raises(Declined, match="root-alice \\(Alice Example\\) did not confirm") as exc:
        sign(drafted, "root-alice", confirm=no)
    assert exc.value.exit_code == EXIT_CHECK_FAILED
    assert not (drafted.root / "signatures").exists()


def test_sign_with_a_key_that_does_not_approve_the_role(drafted: Kit) -> None:
    with pytest.raises(
        InputError, match=r"key 'online' .* is not one of the keys that approve root"
    ):
        sign(drafted, "online")


def test_a_token_signature_that_does_not_verify_is_not_written(drafted: Kit) -> None:
    """A fault a real token cannot be made to produce: it signs with another key."""

    @contextlib.contextmanager
    def broken(key: EnrolledKey, purpose: str, before_pin: Callable[[], None]) -> Iterator[Signer]:
        before_pin()
        yield CryptoSigner.generate_ed25519()

    factory: SignerFactory = broken
    with pytest.raises(BadTokenSignature, match="does not verify with the enrolled") as exc:
        signing.sign(drafted.cdir, "root", "root-alice", factory, yes, NOW, Entry("sign"))
    assert exc.value.exit_code == EXIT_TOKEN
    assert not (drafted.root / "signatures").exists()


def test_merge_brings_in_a_copy_once(drafted: Kit, tmp_path: Path) -> None:
    sign(drafted, "root-alice")
    other = drafted.copy(tmp_path / "bob-stick")
    sign(other, "root-bob")
    entry = Entry("merge")
    rep = merging.merge(drafted.cdir, [other.root], NOW, entry)
    assert len(rep.added) == 1 and "root-bob (Bob Example)" in rep.added[0]
    assert len(rep.skipped) == 1 and "duplicate (root-alice already signed here)" in rep.skipped[0]
    assert rep.refused == []
    again = merging.merge(drafted.cdir, [other.root], NOW, Entry("merge"))
    assert again.added == [] and len(again.skipped) == 2
    with pytest.raises(InputError, match="is this ceremony directory itself"):
        merging.merge(drafted.cdir, [drafted.root], NOW, Entry("merge"))


def test_export_before_the_thresholds_are_met(drafted: Kit) -> None:
    sign(drafted, "root-alice")
    with pytest.raises(ThresholdNotMet, match="new root \\(version 1\\) has 1 of 2") as exc:
        export.export(drafted.cdir, None, NOW, Entry("export"))
    assert exc.value.exit_code == EXIT_CHECK_FAILED
    assert not (drafted.root / "published").exists()


def test_export_writes_once_and_never_overwrites(drafted: Kit) -> None:
    sign(drafted, "root-alice")
    sign(drafted, "root-bob")
    res = export.export(drafted.cdir, None, NOW, Entry("export"))
    assert res.rehearsal and res.out_dir == drafted.root / "published"
    assert sorted(res.files) == [  # the .html record is new with issue 11
        "1.root.json",
        "SHA256SUMS",
        "ceremony-record.html",
        "ceremony-record.md",
        "root.json",
    ]
    record = (res.out_dir / "ceremony-record.md").read_text()
    assert (
        "**REHEARSAL: signed with keys on rehearsal tokens (software token: keys kept in files). "
        "Never publish these files.**"
    ) in record
    # The same export again: the folder holds those bytes already, nothing is written.
    assert export.export(drafted.cdir, None, NOW, Entry("export")).already is not None
    # A folder holding another file of one of those names: never overwritten.
    other = drafted.base / "elsewhere"
    other.mkdir()
    (other / "root.json").write_text("not ours")
    with pytest.raises(StoreError, match="export never overwrites a file"):
        export.export(drafted.cdir, other, NOW, Entry("export"))
    assert (other / "root.json").read_text() == "not ours"


# --- the data flow: a command derives what it needs once -----------------------------------


def _count(monkeypatch: pytest.MonkeyPatch, name: str, *modules: object) -> list[int]:
    """Count the calls of function `name`, under that name in every module given."""
    calls: list[int] = []
    real = getattr(modules[0], name)

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)

    for module in modules:
        monkeypatch.setattr(module, name, counted)
    return calls


def test_sign_builds_the_authorities_once(drafted: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    made = _count(monkeypatch, "authorities", status)  # sign finds them through status
    sign(drafted, "root-alice")
    assert len(made) == 1


def test_export_loads_the_directory_once(drafted: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    sign(drafted, "root-alice")
    sign(drafted, "root-bob")
    loads = _count(monkeypatch, "load", state, status, export)
    export.export(drafted.cdir, None, NOW, Entry("export"))
    assert len(loads) == 1


def test_merge_finds_the_approving_keys_once_per_role(
    drafted: Kit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copies = []
    for n, key in enumerate(("root-alice", "root-bob", "root-carol")):
        copies.append(drafted.copy(tmp_path / f"copy-{n}"))
        sign(copies[-1], key)
    made = _count(monkeypatch, "authorities", status, merging)
    rep = merging.merge(drafted.cdir, [c.root for c in copies], NOW, Entry("merge"))
    assert len(rep.added) == 3 and len(made) == 1
