"""Sigstore's published roots (made by tuf-on-ci; tests/corpus), imported as a signer would
import the signing event: each root N with root N-1. Every published signature verifies and
is kept, the empty placeholders are dropped, both thresholds are met, and `export` writes the
file back byte for byte (tuf-on-ci's layout) and as plain metadata with the same `signed`.

In-process, at a fixed time before each root expired (the roots are real and do expire)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata, Root

from ceremony import transcript
from ceremony.services import export, importing
from ceremony.store import CeremonyDir
from ceremony.transcript import Entry
from tests.corpus.test_corpus import corpus_file

pytestmark = pytest.mark.filterwarnings(
    "ignore:keytype 'ecdsa-sha2-nistp256' is deprecated:DeprecationWarning"
)


@pytest.mark.parametrize("version", [13, 14, 15, 16])
def test_sigstore_root_imports_and_exports_unchanged(version: int, tmp_path: Path) -> None:
    new = corpus_file(f"sigstore-prod-{version}.root")
    prev = corpus_file(f"sigstore-prod-{version - 1}.root")
    md = Metadata[Root].from_bytes(new.read_bytes())
    now = md.signed.expires - dt.timedelta(days=30)
    entry = Entry("import")
    res = importing.import_file(tmp_path / "d", new, now, entry, previous_root=prev)
    transcript.append(tmp_path / "d", entry, "ok", 0)  # as `ceremony import` does
    assert (res.role, res.version, res.format) == ("root", version, "tuf-on-ci")
    real = [k for k, s in md.signatures.items() if s.signature]
    assert len(res.kept) == len(real)
    assert len(res.dropped) == len(md.signatures) - len(real)
    assert all(line.startswith("placeholder") for line in res.dropped)
    assert res.view.status.complete
    assert all(n.startswith("@") for _, _, n in res.keys if "gcpkms" not in n)

    cdir = CeremonyDir(tmp_path / "d")
    out = export.export(cdir, tmp_path / "event", now, Entry("export"))
    assert out.format == "tuf-on-ci" and not out.notes
    written = tmp_path / "event" / "metadata"
    assert (written / "root.json").read_bytes() == new.read_bytes()
    assert (written / "root_history" / f"{version}.root.json").read_bytes() == new.read_bytes()

    plain = export.export(cdir, tmp_path / "plain", now, Entry("export"), fmt="metadata")
    assert set(plain.files) >= {f"{version}.root.json", "root.json"}
    again = Metadata[Root].from_bytes((tmp_path / "plain" / "root.json").read_bytes())
    assert again.signed_bytes == md.signed_bytes
    assert set(again.signatures) == set(real)
