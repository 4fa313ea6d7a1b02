"""A short run of every fuzz target (tests/fuzz/targets.py): adversarial plans, key files,
metadata, signature files of merged copies, pkcs11: URIs and attestation certificates, each
fed to the CLI as a user feeds it. The contract (tests/fuzz/harness.py): exit 0-3 with a
message, never a traceback or an "Internal error", nothing written on a refusal.

Deterministic (``derandomize``) and small (FUZZ_EXAMPLES per target, default 20); the long run
is ``python fuzz/run.py --minutes 10``. Crashes not fixed yet are listed in
tests/fuzz/known_crashes.py: each minimal input runs here as xfail(strict=True), and the
property tests tolerate only that symptom.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.harness import Crash
from tests.fuzz.known_crashes import FIXED, KNOWN, KnownCrash, known_crash
from tests.fuzz.targets import TARGETS, FuzzEnv, Target, build_env

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))

SHORT = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.function_scoped_fixture,
    ],
)

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzEnv]:
    yield build_env(tmp_path_factory.mktemp("fuzz"))


def check(target: Target, env: FuzzEnv, value: Any) -> None:
    """Run ``value`` through ``target``; a crash fails unless it is a known one."""
    try:
        target.run(env, value)
    except Crash as crash:
        if known_crash(target.name, str(crash)) is None:
            raise


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz_target(name: str, fuzz_env: FuzzEnv) -> None:
    target = TARGETS[name]

    @SHORT
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        check(target, fuzz_env, data.draw(target.strategy(fuzz_env), label="input"))

    fuzz()


@pytest.mark.parametrize(
    "known",
    [
        pytest.param(
            k, id=k.id, marks=pytest.mark.xfail(strict=True, raises=Crash, reason=k.reason)
        )
        for k in KNOWN
    ],
)
def test_known_crash_is_fixed(known: KnownCrash, fuzz_env: FuzzEnv) -> None:
    """The minimal input of a crash found by fuzzing: passes once the crash is fixed."""
    TARGETS[known.target].run(fuzz_env, known.make(fuzz_env))


@pytest.mark.parametrize("fixed", [pytest.param(k, id=k.id) for k in FIXED])
def test_fixed_crash_stays_fixed(fixed: KnownCrash, fuzz_env: FuzzEnv) -> None:
    """The minimal input of a crash that was found and fixed: a message or success, never
    a crash again (the contract of tests/fuzz/harness.py)."""
    TARGETS[fixed.target].run(fuzz_env, fixed.make(fuzz_env))


def test_known_crashes_are_recognized(fuzz_env: FuzzEnv) -> None:
    """Each known crash's minimal input gives exactly the symptom its entry tolerates (so the
    tolerance in the property tests covers what it claims, and no more)."""
    for known in KNOWN:
        try:
            TARGETS[known.target].run(fuzz_env, known.make(fuzz_env))
        except Crash as crash:  # (no crash: fixed, and test_known_crash_is_fixed says so)
            assert known_crash(known.target, str(crash)) is known, (known.id, str(crash)[:500])


def test_tree_state_sees_every_write(tmp_path: Path) -> None:
    """The 'nothing written' check sees a new file, a changed byte, a new empty directory and a
    removed file; only the empty lock file a writer opens is ignored."""
    from tests.fuzz.harness import LOCK_FILE, _changes, tree_state

    (tmp_path / "a.json").write_bytes(b"{}")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"x")
    before = tree_state(tmp_path)
    (tmp_path / LOCK_FILE).touch()
    assert _changes(before, tree_state(tmp_path)) == []
    (tmp_path / "a.json").write_bytes(b"{ }")
    (tmp_path / "new").mkdir()
    (tmp_path / "sub" / "b").unlink()
    (tmp_path / "c").write_bytes(b"")
    assert _changes(before, tree_state(tmp_path)) == [
        "a.json: changed",
        "c: added",
        "new: added",
        "sub/b: removed",
    ]
