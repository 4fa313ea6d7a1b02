"""The import use cases in-process: import, show, sign (by keyid), payload, add-signature,
status, merge and export of metadata a python-tuf script staged (tests/foreign/staging.py).

Real files; the key "on a token" is a software rehearsal token key reached through the real
token selection (`tokens.select`); the key in cold storage is a `CryptoSigner` whose
signature comes back as a file. The command line over the same flow, on SoftHSM, with the
clients: tests/foreign/test_runbook.py and test_import_cli.py.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, Root

from ceremony import transcript
from ceremony.errors import (
    EXIT_CHECK_FAILED,
    EXIT_INVALID_INPUT,
    Declined,
    InputError,
    StoreError,
    ThresholdNotMet,
    VerificationFailed,
)
from ceremony.services import drafts, export, external, importing, merging, signing, state, status
from ceremony.services.drafts import DraftView
from ceremony.store import CeremonyDir
from ceremony.tokens import select
from ceremony.tokens.software_rehearsal import SoftwareToken, SoftwareUri
from ceremony.transcript import Entry
from tests.foreign import staging
from tests.unit.services_kit import NOW, PIN, pin, quiet


def yes(_view: DraftView) -> bool:
    return True


def no(_view: DraftView) -> bool:
    return False


class Imported:
    """A python-tuf staged root 4 imported into DIR, with a software-token key and a cold key."""

    def __init__(self, tmp: Path, *, cold: CryptoSigner | None = None) -> None:
        tok = SoftwareToken.create(tmp / "tokens", "token-holder", PIN)
        self.uri = str(SoftwareUri(tmp / "tokens", "token-holder", "holder"))
        token_key = tok.generate("holder", "ed25519", PIN)
        self.stage = staging.python_tuf_stage(token_key, cold=cold)
        self.stick = tmp / "stick"
        self.stage.write(self.stick)
        self.entry = Entry("import")
        self.result = importing.import_file(
            tmp / "ceremony",
            self.stick / "4.root.json",
            NOW,
            self.entry,
            previous_root=self.stick / "3.root.json",
        )
        self.cdir = CeremonyDir(tmp / "ceremony")
        self.tmp = tmp
        transcript.append(self.cdir.root, self.entry, "ok", 0)  # as `ceremony import` does
        # The holder's key is on the software token, a rehearsal token: a rehearsal plan.
        plan = self.cdir.root / "ceremony.yaml"
        plan.write_text(plan.read_text() + "rehearsal: true\n")

    @property
    def token_keyid(self) -> str:
        return str(self.stage.token.keyid)

    def sign(self) -> signing.SignOutcome:
        """`ceremony sign`: the use case, then its transcript entry."""
        factory = select.signer_factory(self.uri, None, pin_provider=pin, notify=quiet)
        entry = Entry("sign")
        out = signing.sign(self.cdir, "root", self.token_keyid, factory, yes, NOW, entry)
        transcript.append(self.cdir.root, entry, "ok", 0)
        return out

    def external(self, sig_file: Path, key: str | None = None) -> signing.SignOutcome:
        """`ceremony add-signature`: the use case, then its transcript entry."""
        key = key or self.stage.cold.public_key.keyid
        entry = Entry("add-signature")
        out = external.add_signature(self.cdir, "root", key, sig_file, yes, NOW, entry)
        transcript.append(self.cdir.root, entry, "ok", 0)
        return out

    def payload(self, name: str = "root.payload") -> bytes:
        out = self.tmp / name
        external.payload(self.cdir, "root", out, NOW, Entry("payload"))
        return out.read_bytes()


@pytest.fixture
def imp(tmp_path: Path) -> Imported:
    return Imported(tmp_path)


def test_import_keeps_the_staged_signed_part_and_sorts_its_signatures(imp: Imported) -> None:
    res = imp.result
    assert (res.role, res.version, res.format) == ("root", 4, "metadata")
    assert len(res.kept) == 1 and res.dropped == [
        f"placeholder (empty sig) for key {imp.token_keyid[:8]}"
    ]
    d = state.current_draft(state.load(imp.cdir, NOW), "root")
    assert d.payload == imp.stage.root.signed_bytes  # the digest covers these exact bytes
    assert res.view.digest == d.digest
    texts = [c.text for c in res.view.changes]
    assert "version 3 -> 4" in texts and any("root: add key-" in t for t in texts)
    assert any("x-acme-policy" in line for line in res.view.imported)
    assert any("roles.root.x-acme-expiry-period: 365" in line for line in res.view.imported)
    (prev, new) = res.view.status.thresholds
    assert (prev.count, prev.threshold, new.count, new.threshold) == (1, 2, 1, 3)
    meta = json.loads(imp.cdir.read_bytes("drafts/root.meta.json"))
    assert meta["imported"]["path"] == "imported/source.json"
    assert imp.cdir.read_bytes("imported/source.json") == (imp.stick / "4.root.json").read_bytes()
    assert "imported/source.json" in imp.entry.files_written


def test_sign_by_keyid_payload_add_signature_and_export(imp: Imported) -> None:
    out = imp.sign()
    assert out.record.key_name.startswith("key-") and not out.already_signed
    data = imp.payload()
    assert data == imp.stage.root.signed_bytes
    sig = imp.tmp / "root.sig"
    sig.write_bytes(bytes.fromhex(imp.stage.cold.sign(data).signature))  # raw bytes
    added = imp.external(sig)
    assert added.record.extra["external"]["encoding"] == "raw"  # type: ignore[index]
    assert added.status.complete
    st = status.status(imp.cdir, NOW)
    assert st.roles[0].status is not None and st.roles[0].status.complete
    res = export.export(imp.cdir, None, NOW, Entry("export"))
    assert set(res.files) == {"4.root.json", "root.json", "SHA256SUMS", "ceremony-record.md"}
    written = (res.out_dir / "4.root.json").read_bytes()
    md = Metadata[Root].from_bytes(written)
    assert md.signed_bytes == imp.stage.root.signed_bytes
    assert md.unrecognized_fields == imp.stage.root.unrecognized_fields
    keyids = [imp.stage.pre.public_key.keyid, imp.stage.cold.public_key.keyid, imp.token_keyid]
    assert next(iter(md.signatures)) == keyids[0]  # the staged signature stays first
    assert set(md.signatures) == set(keyids)
    record = (res.out_dir / "ceremony-record.md").read_text()
    assert "external signature" in record and "signature found in 4.root.json" in record


def test_an_ecdsa_cold_key_may_bring_raw_r_s(tmp_path: Path) -> None:
    cold = CryptoSigner.generate_ecdsa()
    imp = Imported(tmp_path, cold=cold)
    der = bytes.fromhex(cold.sign(imp.payload()).signature)
    r, s = decode_dss_signature(der)
    raw = tmp_path / "rs.b64"
    raw.write_text(base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode())
    added = imp.external(raw)
    ext = added.record.extra["external"]
    assert ext["encoding"] == "base64" and "converted to DER" in ext["note"]  # type: ignore[index]


def test_a_signature_that_does_not_verify_writes_nothing(imp: Imported) -> None:
    before = sorted(p.name for p in imp.cdir.root.rglob("*"))
    bad = imp.tmp / "bad.sig"
    bad.write_text(imp.stage.cold.sign(b"another payload").signature)
    with pytest.raises(VerificationFailed) as err:
        imp.external(bad)
    assert err.value.exit_code == EXIT_CHECK_FAILED
    with pytest.raises(Declined):
        good = imp.tmp / "good.sig"
        good.write_text(imp.stage.cold.sign(imp.payload("p2")).signature)
        external.add_signature(
            imp.cdir, "root", imp.stage.cold.public_key.keyid, good, no, NOW, Entry("x")
        )
    assert sorted(p.name for p in imp.cdir.root.rglob("*")) == before
    with pytest.raises(StoreError):  # a payload never overwrites a file
        imp.payload("p2")


def test_export_waits_for_every_threshold_and_draft_never_remakes_it(imp: Imported) -> None:
    with pytest.raises(ThresholdNotMet):
        export.export(imp.cdir, None, NOW, Entry("export"))
    assert not imp.cdir.path("published").exists()
    with pytest.raises(InputError, match="never made from the plan") as err:
        drafts.draft(imp.cdir, "root", NOW, Entry("draft"))
    assert err.value.exit_code == EXIT_INVALID_INPUT
    with pytest.raises(InputError, match="no enrolled key has the keyid 0000"):
        imp.external(imp.tmp / "none", key="0" * 64)


def test_merge_brings_signatures_from_another_copy(imp: Imported, tmp_path: Path) -> None:
    other = tmp_path / "copy"
    shutil.copytree(imp.cdir.root, other)
    copy_cdir = CeremonyDir(other)
    factory = select.signer_factory(imp.uri, None, pin_provider=pin, notify=quiet)
    signing.sign(copy_cdir, "root", imp.token_keyid, factory, yes, NOW, Entry("sign"))
    report = merging.merge(imp.cdir, [other], NOW, Entry("merge"))
    assert len(report.added) == 1 and not report.refused


def test_a_changed_imported_file_is_refused(imp: Imported) -> None:
    path = imp.cdir.path("imported/source.json")
    path.write_bytes(path.read_bytes().replace(b"4821", b"4822"))
    with pytest.raises(StoreError, match="changed after `ceremony import`"):
        state.load(imp.cdir, NOW)


def test_hostile_import_writes_nothing(tmp_path: Path) -> None:
    imp = Imported(tmp_path)
    doc = json.loads((imp.stick / "4.root.json").read_bytes())
    doc["signatures"].append({"keyid": "ab" * 32, "sig": "cd" * 64})
    hostile = tmp_path / "hostile.json"
    hostile.write_text(json.dumps(doc))
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(InputError, match="not a key that may sign"):
        importing.import_file(
            tmp_path / "new",
            hostile,
            NOW,
            Entry("import"),
            previous_root=imp.stick / "3.root.json",
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_payload_and_add_signature_work_for_a_draft_made_here(tmp_path: Path) -> None:
    from tests.unit.services_kit import new_ceremony

    kit = new_ceremony(tmp_path)
    drafts.draft(kit.cdir, "root", NOW, Entry("draft"))
    out = tmp_path / "root.payload"
    res = external.payload(kit.cdir, "root", out, NOW, Entry("payload"))
    d = state.current_draft(state.load(kit.cdir, NOW), "root")
    assert out.read_bytes() == d.payload and res.digest == d.digest
    key = state.load(kit.cdir, NOW).keys["root-bob"]
    tok = SoftwareToken(tmp_path / "tokens", "token-root-bob")
    signer = tok.signer("root-bob", PIN, key.key)  # type: ignore[arg-type]
    sig = tmp_path / "bob.sig"
    sig.write_text(signer.sign(out.read_bytes()).signature + "\n")  # hex, with a newline
    added = external.add_signature(kit.cdir, "root", key.keyid, sig, yes, NOW, Entry("add"))
    assert added.record.key_name == "root-bob" and added.record.extra["external"]
    assert [t.signed for t in added.status.thresholds] == [["root-bob"]]


def test_an_rstuf_root_rotated_in_a_ceremony_made_here(tmp_path: Path) -> None:
    """RSTUF's root 1 (alice, bob: 2 of 2; one online key) -> `init --previous-root`, root 2
    drafted here, bob signs on his token, alice's cold key through payload/add-signature,
    `export --format rstuf-update`: the payload RSTUF's worker takes."""
    from ceremony.foreign import rstuf
    from ceremony.services import init

    tok = SoftwareToken.create(tmp_path / "tokens", "token-bob", PIN)
    uri = str(SoftwareUri(tmp_path / "tokens", "token-bob", "bob"))
    bob = tok.generate("bob", "ecdsa-p256", PIN)
    alice = CryptoSigner.generate_ed25519()
    root1 = staging.rstuf_root(alice, bob, CryptoSigner.generate_ecdsa(), version=1)
    root1.signatures[bob.keyid] = tok.signer("bob", PIN, bob).sign(root1.signed_bytes)
    (tmp_path / "1.root.json").write_bytes(staging.pretty(root1))
    d = tmp_path / "rotation"
    made = Entry("init", {"directory": str(d)})
    init.init(d, tmp_path / "1.root.json", NOW, made)
    transcript.append(d, made, "ok", 0)  # as `ceremony init` does
    plan = (d / "ceremony.yaml").read_text()
    plan = plan.replace("TODO: holder of key", "holder") + "rehearsal: true\n"  # software token
    (d / "ceremony.yaml").write_text(plan)
    cdir = CeremonyDir(d)
    drafts.draft(cdir, "root", NOW, Entry("draft"))
    factory = select.signer_factory(uri, None, pin_provider=pin, notify=quiet)
    entry = Entry("sign")
    signing.sign(cdir, "root", bob.keyid, factory, yes, NOW, entry)
    transcript.append(cdir.root, entry, "ok", 0)  # as `ceremony sign` does
    payload = tmp_path / "root.payload"
    external.payload(cdir, "root", payload, NOW, Entry("payload"))
    sig = tmp_path / "alice.sig"
    sig.write_text(alice.sign(payload.read_bytes()).signature)
    entry = Entry("add-signature")
    external.add_signature(cdir, "root", alice.public_key.keyid, sig, yes, NOW, entry)
    transcript.append(cdir.root, entry, "ok", 0)  # as `ceremony add-signature` does
    out = tmp_path / "update-payload.json"
    res = export.export(cdir, out, NOW, Entry("export"), fmt="rstuf-update")
    assert res.format == "rstuf-update" and set(res.files) == {"update-payload.json"}
    new = rstuf.parse_update_payload(out.read_bytes())
    assert new.signed.version == 2
    assert rstuf.update_payload_bytes(new, root1) == out.read_bytes()  # as RSTUF checks it
