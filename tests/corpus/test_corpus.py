"""Real published TUF metadata from other tools, judged by tuf-ceremony as a client judges it.

Each entry of tests/corpus/MANIFEST.toml is one real file (extracted by tests/corpus/fetch.py
into build/corpus/files/). Its `checks` say which tests below apply:

* clients: python-tuf's verdict (``Metadata.from_bytes`` + ``verify_delegate``: a root by
  itself, a chain link also by the root before it, other metadata by its delegator) is the
  manifest's `expect`, and tuf-js (its own TrustedMetadataStore / models) agrees.
* verify: ``ceremony verify FILE`` (``PREVIOUS FILE`` for a link) agrees: exit 0 accept,
  1 reject (a root python-tuf accepts but that has expired today included: a client refuses
  an expired final root), 2 unreadable with python-tuf's reason in the message.
* verify-refuses: ``ceremony verify`` on non-root metadata is refused (exit 2) by naming what
  the file is, never a crash.
* init-validate: ``ceremony init DIR --previous-root FILE``, holders filled in (the only edit
  the runbook asks for), ``ceremony validate DIR`` passes.
* expiry-only: then ``ceremony draft DIR``: drafts/root.json's signed part differs from the
  previous root's only in ``version`` (+1) and ``expires``.
* refuse-previous: a previous root a client would refuse is refused by ``init`` (or by
  ``validate``, naming the previous root and its signatures), exit 2, no traceback.

Entries whose check fails today carry `xfail.CHECK = "issue 9 rule ..."` in the manifest and
run as ``xfail(strict=True)``: the day the rule lands the test turns red; delete the line.
Every command is run through the installed CLI in a subprocess, as a holder runs it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from securesystemslib.exceptions import UnverifiedSignatureError
from tuf.api.exceptions import RepositoryError
from tuf.api.metadata import Metadata, Root
from tuf.api.serialization import DeserializationError

from tests.corpus.fetch import DEFAULT_DEST, load_manifest
from tests.interop.clients import find_node, in_ci, require_tufjs

HERE = Path(__file__).resolve().parent
FILES = DEFAULT_DEST / "files"
MANIFEST = load_manifest()
ENTRIES: dict[str, dict[str, Any]] = {e["id"]: e for e in MANIFEST["entry"]}
HOLDER_TODO = re.compile(r"TODO: holder of key [0-9a-f]*")
CEREMONY_TIMEOUT_S = 120

# python-tuf verifies the legacy keytype of Sigstore's older roots, with a deprecation warning.
pytestmark = pytest.mark.filterwarnings(
    "ignore:keytype 'ecdsa-sha2-nistp256' is deprecated:DeprecationWarning"
)


def _params(check: str) -> list[Any]:
    """One pytest param per manifest entry that lists ``check``, xfail(strict) where marked."""
    out = []
    for entry in MANIFEST["entry"]:
        if check not in entry["checks"]:
            continue
        reason = entry.get("xfail", {}).get(check)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        out.append(pytest.param(entry["id"], id=entry["id"], marks=marks))
    return out


def corpus_file(entry_id: str) -> Path:
    """The extracted file of ``entry_id``; skips (fails in CI) when the corpus is not fetched."""
    path = FILES / f"{entry_id}.json"
    if not path.is_file():
        why = f"{path} is missing: run `python tests/corpus/fetch.py` (needs the registries once)"
        if in_ci():
            pytest.fail(f"CI=true but {why}", pytrace=False)
        pytest.skip(why)
    return path


# --- the clients' verdicts ------------------------------------------------------------------


def python_tuf_verdict(entry: dict[str, Any]) -> tuple[str, str]:
    """(accept | reject | unreadable, python-tuf's reason) for ``entry``."""
    data = corpus_file(entry["id"]).read_bytes()
    try:
        md = Metadata.from_bytes(data)
    except DeserializationError as exc:
        return "unreadable", str(exc.__cause__ or exc)
    try:
        if "previous" in entry:
            prev = Metadata[Root].from_bytes(corpus_file(entry["previous"]).read_bytes())
            prev.signed.verify_delegate("root", md.signed_bytes, md.signatures)
            if md.signed.version != prev.signed.version + 1:
                return (
                    "reject",
                    f"version {md.signed.version} does not follow {prev.signed.version}",
                )
        if md.signed.type == "root":
            md.signed.verify_delegate("root", md.signed_bytes, md.signatures)
        elif "delegator" in entry:
            delegator = Metadata.from_bytes(corpus_file(entry["delegator"]).read_bytes())
            delegator.signed.verify_delegate(
                entry["delegated_role"], md.signed_bytes, md.signatures
            )
    except (RepositoryError, UnverifiedSignatureError, ValueError) as exc:
        return "reject", f"{type(exc).__name__}: {exc}"
    return "accept", ""


def _tufjs_job(entry: dict[str, Any]) -> dict[str, Any]:
    job: dict[str, Any] = {"id": entry["id"], "file": str(corpus_file(entry["id"]))}
    if "previous" in entry:
        job.update(kind="link", previous=str(corpus_file(entry["previous"])))
    elif entry["role"] == "root":
        job.update(kind="root")
    elif "delegator" in entry:
        job.update(
            kind="delegate",
            delegator=str(corpus_file(entry["delegator"])),
            role=entry["delegated_role"],
        )
    else:
        job.update(kind="parse", role=entry["role"])
    return job


@pytest.fixture(scope="module")
def tufjs_verdicts() -> dict[str, dict[str, Any]]:
    """tuf-js's {ok, error} for every entry, from one node process."""
    require_tufjs()
    node = find_node()
    assert node is not None
    jobs = [_tufjs_job(e) for e in MANIFEST["entry"]]
    proc = subprocess.run(
        [node, str(HERE / "tufjs_judge.mjs")],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    verdicts: dict[str, dict[str, Any]] = json.loads(proc.stdout)
    return verdicts


@pytest.mark.parametrize("entry_id", _params("clients"))
def test_python_tuf_verdict_is_the_manifests(entry_id: str) -> None:
    entry = ENTRIES[entry_id]
    verdict, reason = python_tuf_verdict(entry)
    assert verdict == entry["expect"], reason


@pytest.mark.parametrize("entry_id", _params("clients"))
def test_tufjs_agrees_with_python_tuf(
    entry_id: str, tufjs_verdicts: dict[str, dict[str, Any]]
) -> None:
    entry = ENTRIES[entry_id]
    verdict, reason = python_tuf_verdict(entry)
    got = tufjs_verdicts[entry_id]
    assert got["ok"] == (verdict == "accept"), (verdict, reason, got)


# --- tuf-ceremony through its CLI -----------------------------------------------------------


def ceremony(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed ``ceremony`` CLI; fail on a traceback or an internal error."""
    env = dict(os.environ, COLUMNS="200")
    env.pop("CEREMONY_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "ceremony", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=CEREMONY_TIMEOUT_S,
        check=False,
    )
    text = proc.stdout + proc.stderr
    assert "Traceback" not in text, text
    assert "Internal error" not in text, text
    return proc


EXIT_FOR = {"accept": 0, "reject": 1, "unreadable": 2}


def expired_now(entry_id: str) -> bool:
    """python-tuf's `is_expired` for the entry today: a client refuses an expired final root
    at its next refresh (TUF specification 5.3.10), so `verify` does too."""
    return bool(Metadata.from_bytes(corpus_file(entry_id).read_bytes()).signed.is_expired())


@pytest.mark.parametrize("entry_id", _params("verify"))
def test_verify_agrees_with_python_tuf(entry_id: str) -> None:
    entry = ENTRIES[entry_id]
    verdict, reason = python_tuf_verdict(entry)
    if verdict == "accept" and expired_now(entry_id):
        verdict, reason = "reject", "the root has expired"
    files = [corpus_file(entry["previous"])] if "previous" in entry else []
    proc = ceremony("verify", *files, corpus_file(entry_id))
    out = proc.stdout + proc.stderr
    assert proc.returncode == EXIT_FOR[verdict], f"python-tuf: {verdict} {reason}\n{out}"
    if verdict == "unreadable":
        assert reason in out, f"python-tuf's reason {reason!r} is not in the message:\n{out}"
    if reason == "the root has expired":
        assert "expired on" in out and "a client refuses to use an expired root" in out, out


@pytest.mark.parametrize("entry_id", _params("verify-refuses"))
def test_verify_refuses_non_root_metadata_by_name(entry_id: str) -> None:
    entry = ENTRIES[entry_id]
    verdict, reason = python_tuf_verdict(entry)
    proc = ceremony("verify", corpus_file(entry_id))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    if verdict == "unreadable":
        assert reason in out, f"python-tuf's reason {reason!r} is not in the message:\n{out}"
    else:
        assert f"'{Metadata.from_bytes(corpus_file(entry_id).read_bytes()).signed.type}'" in out
        assert "not a root" in out, out


class Rotation:
    """One ``init --previous-root`` + holders + ``validate`` per entry, shared by two tests."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.done: dict[str, tuple[Path, subprocess.CompletedProcess[str]]] = {}

    def prepared(self, entry_id: str) -> tuple[Path, subprocess.CompletedProcess[str]]:
        if entry_id not in self.done:
            d = self.base / entry_id
            init = ceremony("init", d, "--previous-root", corpus_file(entry_id))
            assert init.returncode == 0, init.stdout + init.stderr
            plan = d / "ceremony.yaml"
            plan.write_text(HOLDER_TODO.sub("Someone", plan.read_text()))
            self.done[entry_id] = (d, ceremony("validate", d))
        return self.done[entry_id]


@pytest.fixture(scope="module")
def rotation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rotation]:
    yield Rotation(tmp_path_factory.mktemp("corpus-rotation"))


@pytest.mark.parametrize("entry_id", _params("init-validate"))
def test_init_from_previous_root_then_validate_passes(entry_id: str, rotation: Rotation) -> None:
    _, val = rotation.prepared(entry_id)
    assert val.returncode == 0, val.stdout + val.stderr


def _differences(a: Any, b: Any, where: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if k not in b:
                out.append(f"{where}/{k} removed")
            elif k not in a:
                out.append(f"{where}/{k} added")
            else:
                out += _differences(a[k], b[k], f"{where}/{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, f"{where}/{i}")
        ]
    return [] if a == b and type(a) is type(b) else [f"{where}: {a!r} -> {b!r}"]


@pytest.mark.parametrize("entry_id", _params("expiry-only"))
def test_expiry_only_rotation_changes_only_version_and_expiry(
    entry_id: str, rotation: Rotation
) -> None:
    d, val = rotation.prepared(entry_id)
    assert val.returncode == 0, val.stdout + val.stderr
    draft = ceremony("draft", d)
    assert draft.returncode == 0, draft.stdout + draft.stderr
    before = json.loads(corpus_file(entry_id).read_bytes())["signed"]
    after = json.loads((d / "drafts" / "root.json").read_bytes())["signed"]
    assert after["version"] == before["version"] + 1
    changed = [
        x for x in _differences(before, after) if not x.startswith(("/version:", "/expires:"))
    ]
    assert changed == [], "the draft changes more than version and expires:\n" + "\n".join(changed)


@pytest.mark.parametrize("entry_id", _params("refuse-previous"))
def test_previous_root_a_client_refuses_is_refused(entry_id: str, tmp_path: Path) -> None:
    entry = ENTRIES[entry_id]
    verdict, reason = python_tuf_verdict(entry)
    assert verdict != "accept"
    d = tmp_path / "c"
    init = ceremony("init", d, "--previous-root", corpus_file(entry_id))
    if init.returncode != 0:
        out = init.stdout + init.stderr
        assert init.returncode == 2, out
        if verdict == "unreadable":
            assert reason in out, f"python-tuf's reason {reason!r} is not in:\n{out}"
        else:
            assert re.search(r"threshold|signed by|signature", out), out
        assert "previous_root.path" not in out, f"the file was given with --previous-root:\n{out}"
        return
    plan = d / "ceremony.yaml"
    plan.write_text(HOLDER_TODO.sub("Someone", plan.read_text()))
    val = ceremony("validate", d)
    errors = [ln for ln in (val.stdout + val.stderr).splitlines() if "ERROR" in ln]
    assert val.returncode == 2, val.stdout + val.stderr
    assert any(
        "previous" in ln and re.search(r"threshold|signed by|signature", ln) for ln in errors
    ), "validate does not refuse the previous root itself:\n" + "\n".join(errors)
