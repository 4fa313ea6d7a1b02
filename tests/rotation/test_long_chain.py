"""`ceremony verify` over a chain of 1,000 roots: it passes, it names the first broken link with
its version and the keys that did not sign, and its work grows linearly with the chain.

The chain is made in-process with python-tuf and CryptoSigner (not through the CLI, which would
take minutes): root 2 of 3 Ed25519 keys, one key replaced every 50 versions, each version signed
by two keys that both the previous and the new root list.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from securesystemslib.signer import CryptoSigner, SSlibKey
from tuf.api.metadata import Metadata, Root

from ceremony.clientcheck import verify_chain

N = 1000
BROKEN = 537
ROTATE_EVERY = 50


class Chain:
    def __init__(self, n: int) -> None:
        self.online = CryptoSigner.generate_ed25519()
        self.keys = [CryptoSigner.generate_ed25519() for _ in range(3)]
        self.expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=365)
        self.roles: list[list[CryptoSigner]] = []  # root keys of version i + 1
        self.mds: list[Metadata[Root]] = []
        current = list(self.keys)
        for version in range(1, n + 1):
            if version > 1 and version % ROTATE_EVERY == 0:
                new = CryptoSigner.generate_ed25519()
                self.keys.append(new)
                current = [*current[1:], new]  # the oldest key leaves
            self.roles.append(list(current))
            self.mds.append(self._root(version, current))

    def _root(self, version: int, keys: list[CryptoSigner]) -> Metadata[Root]:
        root = Root(version=version, expires=self.expires, consistent_snapshot=True)
        for signer in keys:
            root.add_key(signer.public_key, "root")
        for role in ("targets", "snapshot", "timestamp"):
            root.add_key(self.online.public_key, role)
        root.roles["root"].threshold = 2
        return Metadata(root)

    def common(self, version: int) -> list[CryptoSigner]:
        """Keys listed by both version-1 and version (all of version 1's for version 1)."""
        now = self.roles[version - 1]
        before = self.roles[version - 2] if version > 1 else now
        ids = {s.public_key.keyid for s in before}
        return [s for s in now if s.public_key.keyid in ids]

    def write(self, out: Path, signers: dict[int, list[CryptoSigner]] | None = None) -> list[Path]:
        out.mkdir(parents=True, exist_ok=True)
        files = []
        for md in self.mds:
            v = md.signed.version
            md.signatures.clear()
            for s in (signers or {}).get(v, self.common(v)[:2]):
                md.sign(s, append=True)
            path = out / f"{v}.root.json"
            path.write_bytes(md.to_bytes())
            files.append(path)
        return files


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> tuple[Chain, list[Path]]:
    c = Chain(N)
    return c, c.write(tmp_path_factory.mktemp("chain") / "good")


def verify_cli(files: list[Path], *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ceremony", "verify", *options, *map(str, files)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "400"},
        timeout=300,
        check=False,
    )


def test_thousand_roots_verify(chain: tuple[Chain, list[Path]]) -> None:
    c, files = chain
    assert len(c.keys) == 3 + N // ROTATE_EVERY  # 20 rotations: 23 keys came and went
    res = verify_cli(files[::-1], "--verbose")  # any order: verify sorts by version
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"The chain is valid up to root version {N} ({N} roots checked)." in res.stdout
    assert res.stdout.count("\nok ") + res.stdout.startswith("ok ") == N
    assert "version 999 -> 1000: previous root 2/2, new root 2/2" in res.stdout


def test_first_broken_link_is_reported_with_missing_keys(
    chain: tuple[Chain, list[Path]], tmp_path: Path
) -> None:
    c, _ = chain
    # Version 537 signed by one key only; version 800 broken too: only the first is reported.
    lone = c.common(BROKEN)[0]
    files = c.write(tmp_path / "broken", {BROKEN: [lone], 800: c.roles[799][:1]})
    quiet = verify_cli(files)  # without --verbose: the failing root's line and the error only
    assert quiet.returncode == 1, quiet.stdout + quiet.stderr
    assert quiet.stdout.count("\nok ") + quiet.stdout.startswith("ok ") == 0
    assert f"FAIL {files[BROKEN - 1]}" in " ".join(quiet.stdout.split())
    assert f"the chain breaks at version {BROKEN}" in quiet.stdout + quiet.stderr
    res = verify_cli(files, "--verbose")
    text = res.stdout + res.stderr
    assert res.returncode == 1, text
    assert f"the chain breaks at version {BROKEN}" in text
    assert f"FAIL {files[BROKEN - 1]}" in " ".join(text.split())
    assert text.count("\nok ") + text.startswith("ok ") == BROKEN - 1  # stops at the first
    assert "version 800" not in text
    prev_missing = [s.public_key.keyid[:8] for s in c.roles[BROKEN - 2] if s is not lone]
    new_missing = [s.public_key.keyid[:8] for s in c.roles[BROKEN - 1] if s is not lone]
    assert "previous root threshold not met: 1 of 2 valid signatures" in text
    assert "new root threshold not met: 1 of 2 valid signatures" in text
    for kid in prev_missing + new_missing:
        assert kid in text, f"missing key {kid} not named"


def test_verification_work_grows_linearly(
    chain: tuple[Chain, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signature checks and file parses per link are constant: the total is linear in N."""
    _, files = chain
    counts = {"sig": 0, "parse": 0}
    real_verify = SSlibKey.verify_signature
    real_parse = Metadata.from_bytes

    def verify(self: SSlibKey, *args: object, **kwargs: object) -> None:
        counts["sig"] += 1
        real_verify(self, *args, **kwargs)  # type: ignore[arg-type]

    def parse(data: bytes, *args: object, **kwargs: object) -> Metadata:  # type: ignore[type-arg]
        counts["parse"] += 1
        return real_parse(data, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(SSlibKey, "verify_signature", verify)
    monkeypatch.setattr(Metadata, "from_bytes", staticmethod(parse))
    now = datetime.now(UTC)
    work = {}
    for n in (250, 500, N):
        counts.update(sig=0, parse=0)
        report = verify_chain(files[:n], None, now)
        assert report.ok and len(report.steps) == n
        work[n] = dict(counts)
    for kind in ("sig", "parse"):
        per_link = (work[N][kind] - work[500][kind]) / (N - 500)
        assert work[500][kind] - work[250][kind] == per_link * 250, (kind, work)
        assert per_link <= 24, (kind, work)  # a handful per link (14 signature checks today)


# --- issue 12's targets, counted (not timed) --------------------------------------------
# Before issue 12, `verify_chain` checked 14 signatures per link (python-tuf's client loop:
# 4) and computed each root's canonical bytes 5 times; these pin the targets: 2 and 1.


def _key_material(key: SSlibKey) -> tuple[str, str, str]:
    return (key.keytype, key.scheme, str(key.keyval.get("public", "")))


def test_each_signature_is_verified_once(
    chain: tuple[Chain, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each (public key, signature, payload) is verified once, even when the key is listed by
    both the previous and the new root: 2 verifications per root in this chain (two keys
    sign each version, both in both roots), linear in N."""
    import hashlib

    _, files = chain
    calls: list[tuple[tuple[str, str, str], str, str]] = []
    real_verify = SSlibKey.verify_signature

    def verify(self: SSlibKey, signature: Any, data: bytes) -> None:
        calls.append((_key_material(self), signature.signature, hashlib.sha256(data).hexdigest()))
        real_verify(self, signature, data)

    monkeypatch.setattr(SSlibKey, "verify_signature", verify)
    now = datetime.now(UTC)
    done = {}
    for n in (250, 500, N):
        calls.clear()
        report = verify_chain(files[:n], None, now)
        assert report.ok and len(report.steps) == n
        unique = set(calls)
        # Not vacuous: every signature of every root was checked (2 per root here) ...
        assert len(unique) == 2 * n, (n, len(unique))
        # ... and none twice.
        assert len(calls) == len(unique), f"{len(calls) / n:.1f} verifications per root"
        done[n] = len(calls)
    assert done[N] - done[500] == 2 * (done[500] - done[250])  # linear


def _count_root_encodes(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count canonical/sorted JSON encodings of a root's `signed` dict, by any path:
    securesystemslib's `encode_canonical` (wherever it was imported by name: python-tuf's
    serializer, ceremony modules) and the stdlib JSON encoder (`json.dumps`, `JSONEncoder`)."""
    import json
    import sys

    from securesystemslib import formats

    counts = {"encodes": 0}
    real_canonical = formats.encode_canonical
    real_encode = json.JSONEncoder.encode

    def is_root(obj: object) -> bool:
        return isinstance(obj, dict) and obj.get("_type") == "root"

    def canonical(obj: Any, *args: Any, **kwargs: Any) -> Any:
        counts["encodes"] += is_root(obj)
        return real_canonical(obj, *args, **kwargs)

    def encode(self: json.JSONEncoder, obj: Any) -> str:
        counts["encodes"] += is_root(obj)
        return real_encode(self, obj)

    for module in list(sys.modules.values()):
        if getattr(module, "encode_canonical", None) is real_canonical:
            monkeypatch.setattr(module, "encode_canonical", canonical)
    monkeypatch.setattr(json.JSONEncoder, "encode", encode)
    return counts


def test_canonical_bytes_once_per_file(
    chain: tuple[Chain, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each root's canonical bytes are computed once, linear in N."""
    _, files = chain
    counts = _count_root_encodes(monkeypatch)
    now = datetime.now(UTC)
    done = {}
    for n in (250, 500, N):
        counts["encodes"] = 0
        report = verify_chain(files[:n], None, now)
        assert report.ok and len(report.steps) == n
        done[n] = counts["encodes"]
        assert done[n] <= n, f"{done[n] / n:.1f} canonical encodings per root file"
    assert done[N] - done[500] == 2 * (done[500] - done[250])  # linear


def test_encode_counter_sees_todays_encodes(
    chain: tuple[Chain, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The counter above is not blind: it sees the encodings verify_chain does today (at
    least one per root: the signed bytes must come from somewhere)."""
    _, files = chain
    counts = _count_root_encodes(monkeypatch)
    report = verify_chain(files[:20], None, datetime.now(UTC))
    assert report.ok
    assert counts["encodes"] >= 20, counts


def test_one_summary_line_and_per_root_lines_only_when_verbose(
    chain: tuple[Chain, list[Path]],
) -> None:
    _, files = chain
    res = verify_cli(files[:20])
    assert res.returncode == 0, res.stdout + res.stderr
    lines = [line for line in res.stdout.splitlines() if line.strip()]
    assert lines == ["The chain is valid up to root version 20 (20 roots checked)."], lines
    res = subprocess.run(
        [sys.executable, "-m", "ceremony", "verify", "--verbose", *map(str, files[:20])],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "400"},
        timeout=300,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("\nok ") + res.stdout.startswith("ok ") == 20
    assert "The chain is valid up to root version 20 (20 roots checked)." in res.stdout
