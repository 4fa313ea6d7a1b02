"""Every rotation and recovery example of runbooks/, end to end through the CLI on SoftHSM2.

Each scenario's commands are read from the runbook and run as written (tests/rotation/runbook.py),
each in its own `python -m ceremony` process, with the expected output lines the runbook
shows. Then this file checks what the runbook cannot show: `status --json` (both thresholds,
who signed, notes on compromised keys), the exported files, and the verdict of two independent
TUF clients (python-tuf's Updater and tuf-js 6), bootstrapped with version 1, on a loopback
repository whose online metadata is signed with the online key in force.

Key types: every scenario runs with one key type by default (replace-one-key with all four);
TUF_ROTATION_FULL=1 runs the whole product (scenario x key type).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from securesystemslib.signer import Signer
from tuf.api.metadata import Metadata

from tests.interop.clients import BothResults, run_both
from tests.interop.repo import build_repository, read_exported
from tests.rotation.conftest import CONTENT, FULL_MATRIX, KEY_TYPES, TARGET, Run, Suite
from tests.rotation.runbook import RUNBOOKS, read_scenarios

pytestmark = [pytest.mark.softhsm, pytest.mark.interop]

ROT = "key-rotation.md"
REC = "compromise-recovery.md"


@dataclass(frozen=True)
class Expect:
    """What status --json must say at the end, and how the clients are checked."""

    version: int
    previous: tuple[int, set[str]]  # threshold, who signed (key names)
    new: tuple[int, set[str]]
    notes: dict[str, str] = field(default_factory=dict)  # previous-root notes
    first: str = "plain"
    after: str | None = None
    online_rotated: bool = False
    presigned: bool = False  # targets/bins re-signed in the ceremony
    out_of_band: bool = False
    v1_clients_accept: bool = True
    default_types: tuple[str, ...] = ("ed25519",)


SCENARIOS: dict[tuple[str, str], Expect] = {
    (ROT, "expiry-only"): Expect(
        2,
        (2, {"root-alice", "root-bob"}),
        (2, {"root-alice", "root-bob"}),
        default_types=("ecdsa-p256",),
    ),
    (ROT, "replace-one-key"): Expect(
        2,
        (2, {"root-alice", "root-carol"}),
        (2, {"root-alice", "root-carol-2"}),
        default_types=KEY_TYPES,
    ),
    (ROT, "replace-threshold"): Expect(
        2,
        (2, {"root-bob", "root-carol"}),
        (2, {"root-dave", "root-erin"}),
        default_types=("rsa-3072",),
    ),
    (ROT, "threshold-up"): Expect(
        2,
        (2, {"root-alice", "root-bob"}),
        (3, {"root-alice", "root-bob", "root-dave"}),
        default_types=("ecdsa-p384",),
    ),
    (ROT, "threshold-down"): Expect(
        3,
        (3, {"root-alice", "root-bob", "root-dave"}),
        (2, {"root-alice", "root-bob"}),
        after="threshold-up",
        default_types=("ecdsa-p384",),
    ),
    (ROT, "rotate-online"): Expect(
        2,
        (2, {"root-alice", "root-bob"}),
        (2, {"root-alice", "root-bob"}),
        online_rotated=True,
        default_types=("ed25519",),
    ),
    (REC, "online-targets-compromised"): Expect(
        2,
        (2, {"root-alice", "root-bob"}),
        (2, {"root-alice", "root-bob"}),
        first="pep458",
        online_rotated=True,
        presigned=True,
    ),
    (REC, "root-key-compromised"): Expect(
        2,
        (2, {"root-alice", "root-bob"}),
        (2, {"root-alice", "root-bob-2"}),
        notes={"root-bob": "compromised"},
        default_types=("ecdsa-p256",),
    ),
    (REC, "root-threshold-compromised"): Expect(
        2,
        (2, {"root-alice", "root-carol"}),
        (2, {"root-alice-2", "root-carol-2"}),
        notes={"root-alice": "compromised", "root-bob": "compromised"},
        out_of_band=True,
        default_types=("ed25519",),
    ),
    (REC, "root-threshold-lost"): Expect(
        2,
        (2, {"root-alice"}),
        (2, {"root-alice", "root-dave"}),
        notes={"root-bob": "lost", "root-carol": "lost"},
        out_of_band=True,
        v1_clients_accept=False,
        default_types=("ecdsa-p384",),
    ),
}


def _params() -> list[object]:
    out: list[object] = []
    for (runbook, name), exp in SCENARIOS.items():
        for key_type in KEY_TYPES:
            if FULL_MATRIX or key_type in exp.default_types:
                out.append(pytest.param(runbook, name, key_type, id=f"{name}-{key_type}"))
    return out


def test_every_runbook_scenario_is_in_the_matrix() -> None:
    """A scenario added to a runbook without expectations here would silently go untested."""
    found = {(rb, name) for rb in (ROT, REC) for name in read_scenarios(RUNBOOKS / rb)}
    assert found == set(SCENARIOS)
    for rb, name in SCENARIOS:
        commands = read_scenarios(RUNBOOKS / rb)[name].commands()
        assert [c.argv[0] for c in commands][:1] == ["init"], name
        assert any(c.argv[0] == "export" for c in commands), name
        assert any(c.argv[0] == "verify" for c in commands), name


def run_of(suite: Suite, runbook: str, name: str, key_type: str) -> Run:
    exp = SCENARIOS[(runbook, name)]
    return suite.scenario_run(runbook, name, key_type, first=exp.first, after=exp.after)


def signers_for(suite: Suite, run: Run, exp: Expect) -> dict[str, Signer]:
    online = run.online if exp.online_rotated else suite.online
    signers: dict[str, Signer] = {"timestamp": online, "snapshot": online}
    signers[online.public_key.keyid] = online  # bin-n, found by keyid
    if exp.first == "plain":
        signers["targets"] = suite.targets
    return signers


def clients(
    suite: Suite, run: Run, exp: Expect, out: Path, *, trusted: int = 1, override: bool = False
) -> tuple[BothResults, int]:
    # The chain up to this scenario's root (a later scenario may continue in the same place).
    roots = [p.read_bytes() for p in run.root_files()][: exp.version]
    presigned = None
    if exp.presigned:
        presigned = read_exported(run.published(exp.version)).presigned
    repo = build_repository(
        out,
        roots,
        {TARGET: CONTENT},
        signers_for(suite, run, exp),
        presigned=presigned,
        trusted_root=roots[trusted - 1],
        override=override,
    )
    return run_both(repo.path, repo.trusted_root, TARGET), repo.root_version


@pytest.mark.parametrize(("runbook", "name", "key_type"), _params())
def test_runbook_scenario(
    suite: Suite, runbook: str, name: str, key_type: str, tmp_path: Path
) -> None:
    exp = SCENARIOS[(runbook, name)]
    run = run_of(suite, runbook, name, key_type)  # the runbook's commands and expected lines
    d = f"ceremony-{exp.version}"

    # Both thresholds, by key name, as status --json reports them.
    st = suite.status(run, d)["roles"]["root"]
    previous_met = len(exp.previous[1]) >= exp.previous[0]  # not when a threshold was lost
    assert st["complete"] is previous_met and st["version"] == exp.version
    prev, new = st["thresholds"]
    assert (prev["of"], prev["label"]) == ("previous", f"previous root (version {exp.version - 1})")
    assert (new["of"], new["label"]) == ("new", f"new root (version {exp.version})")
    assert (prev["threshold"], set(prev["signed"])) == exp.previous
    assert (new["threshold"], set(new["signed"])) == exp.new
    assert prev["notes"] == exp.notes
    assert not set(new["notes"])  # compromised or lost keys are never in the new root
    assert not st["stale"] and not st["invalid"]

    # The export: files, record, and the new root's content.
    pub = run.published(exp.version)
    root = Metadata.from_bytes((pub / f"{exp.version}.root.json").read_bytes())
    assert root.signed.version == exp.version
    assert len(root.signatures) == len(exp.previous[1] | exp.new[1])
    record = (pub / "ceremony-record.md").read_text()
    assert ("## OUT OF BAND" in record) == exp.out_of_band
    if exp.out_of_band:  # the record says whether clients of the previous root can follow
        assert ("threshold was NOT met" in record) is not previous_met, record
    assert "TEST-ONLY" not in record
    for key, note in exp.notes.items():  # a compromised key's signature, marked as such
        marked = f"| {key} ({note}: counts toward the previous root only) |"
        assert (marked in record) == (key in exp.previous[1]), record

    # Two independent clients, bootstrapped with version 1, update through the chain.
    if exp.v1_clients_accept:
        results, version = clients(suite, run, exp, tmp_path / "repo")
        assert results.accepted, results
        assert results.python_tuf.root_version == results.tufjs.root_version == exp.version
        assert version == exp.version and results.python_tuf.downloaded == CONTENT
    else:
        results, _ = clients(suite, run, exp, tmp_path / "repo-v1", override=True)
        assert results.rejected, results
        assert results.python_tuf.root_version == results.tufjs.root_version == 1
    if exp.out_of_band:
        # The out-of-band root is a trust anchor by itself: clients given it accept the repository.
        results, _ = clients(suite, run, exp, tmp_path / "repo-new", trusted=exp.version)
        assert results.accepted, results
        assert results.python_tuf.root_version == results.tufjs.root_version == exp.version
