"""Every scenario of runbooks/foreign-repositories.md, run as written (each command its own
`python -m ceremony` process, `openssl` for the key in cold storage) on SoftHSM2, with the
machinery of the rotation runbooks (tests/rotation/runbook.py). The inputs are what each
tool stages (tests/foreign/staging.py); then this file checks what the runbook cannot show:
the `signed` part of every file written back equals the staged one byte for byte, RSTUF's
payloads read back and pass RSTUF's own checks, tuf-on-ci's commit changes only `sig`
lines, and python-tuf AND tuf-js update from root 3 to the exported root 4 and fetch a
target through the exported targets.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from securesystemslib.signer import CryptoSigner, SSlibKey
from tuf.api.metadata import Metadata, Root

from ceremony.clientcheck import client_check_root
from ceremony.foreign import metadata_file, rstuf, tuf_on_ci
from ceremony.tokens import select
from tests.foreign import staging
from tests.interop.clients import run_both
from tests.interop.repo import build_repository
from tests.rotation.runbook import RUNBOOKS, Outcome, Runner, read_scenarios
from tests.softhsm import SO_PIN, USER_PIN, SoftHsm, require_softhsm

pytestmark = [pytest.mark.softhsm, pytest.mark.interop, pytest.mark.slow]

RUNBOOK = RUNBOOKS / "foreign-repositories.md"
ORDER = (
    "tuf-on-ci-signer",
    "rstuf-bootstrap",
    "rstuf-update",
    "rstuf-sign-request",
    "python-tuf-root",
    "python-tuf-targets",
)


def stdin_for(argv: list[str]) -> list[str]:
    if argv and argv[0] == "sign":
        return ["Yes", USER_PIN]
    if argv and argv[0] == "add-signature":
        return ["Yes"]
    return []


@dataclass
class Workspace:
    cwd: Path
    runner: Runner
    keys: dict[str, SSlibKey]
    staged: dict[str, bytes] = field(default_factory=dict)
    outcomes: dict[str, list[Outcome]] = field(default_factory=dict)
    py: staging.PythonTufStage | None = None
    alice: CryptoSigner = field(default_factory=CryptoSigner.generate_ed25519)
    online: CryptoSigner = field(default_factory=CryptoSigner.generate_ecdsa)

    def run(self, name: str) -> None:
        scenario = read_scenarios(RUNBOOK)[name]
        self.outcomes[name] = self.runner.run_scenario(scenario)


def token_key(hsm: SoftHsm, holder: str, key_type: str) -> SSlibKey:
    token = hsm.init_token(label=f"foreign-{holder}")
    generate = select.key_generator(hsm.module, pin_provider=lambda _r: USER_PIN)
    read = generate(f"{token.uri};object={holder}", holder, key_type)
    return read.public_key


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    hsm = require_softhsm()
    keys = {
        "alice": token_key(hsm, "alice", "ecdsa-p256"),
        "bob": token_key(hsm, "bob", "ecdsa-p256"),
        "holder": token_key(hsm, "holder", "ed25519"),
    }
    cwd = tmp_path_factory.mktemp("foreign-runbook")
    env = dict(os.environ, SOFTHSM2_CONF=str(hsm.conf), CEREMONY_PKCS11_MODULE=hsm.module)
    env["COLUMNS"] = "1000"
    for var in ("CEREMONY_DEBUG", "CEREMONY_TEST_MODE"):
        env.pop(var, None)
    variables: dict[str, str] = {}
    runner = Runner(
        cwd,
        env,
        lambda name: variables[name],
        stdin_for,
        secrets=(USER_PIN, SO_PIN),
        programs=("ceremony", "openssl"),
        plan_defaults={"rehearsal": True},  # SoftHSM2 stands in for the holders' tokens
    )
    w = Workspace(cwd, runner, keys)

    # Part A: the real tuf-on-ci event, @alice's key now on her token.
    for rel, data in staging.tuf_on_ci_event(keys["alice"]).items():
        path = cwd / "event" / "metadata" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    w.run("tuf-on-ci-signer")

    # Part B: alice signed at the administrator's machine; bob's key is on his token.
    root1 = staging.rstuf_root(w.alice, keys["bob"], w.online)
    w.staged["bootstrap"] = staging.bootstrap_payload(root1)
    (cwd / "ceremony-payload.json").write_bytes(w.staged["bootstrap"])
    w.run("rstuf-bootstrap")
    done = rstuf.parse_bootstrap_payload((cwd / "ceremony-payload-signed.json").read_bytes())
    (cwd / "1.root.json").write_bytes(staging.pretty(done.root))  # what RSTUF publishes
    root2 = staging.rstuf_update(done.root, w.alice)
    w.staged["update"] = staging.update_payload(root2, done.root)
    (cwd / "update-payload.json").write_bytes(w.staged["update"])
    w.run("rstuf-update")
    pending = staging.rstuf_root(w.alice, keys["bob"], w.online)
    w.staged["pending"] = staging.rstuf_sign_request(pending)
    (cwd / "pending.json").write_bytes(w.staged["pending"])
    w.run("rstuf-sign-request")

    # Part C: python-tuf staged root 4 and targets; a cold Ed25519 key signs with openssl.
    cold = CryptoSigner.generate_ed25519()
    (cwd / "cold.pem").write_bytes(staging.private_pem(cold))
    w.py = staging.python_tuf_stage(keys["holder"], cold=cold)
    w.py.write(cwd / "stick")
    variables["TOKEN_KEYID"] = keys["holder"].keyid
    variables["COLD_KEYID"] = cold.public_key.keyid
    w.run("python-tuf-root")
    w.run("python-tuf-targets")
    return w


def test_every_scenario_of_the_runbook_is_run() -> None:
    """A scenario added to the runbook without a place in ORDER would silently go untested;
    every command in it is a ceremony command or openssl (the cold machine)."""
    scenarios = read_scenarios(RUNBOOK)
    assert tuple(scenarios) == ORDER
    for scenario in scenarios.values():
        programs = {c.program for c in scenario.commands(("ceremony", "openssl"))}
        assert programs <= {"ceremony", "openssl"}
        assert any(c.argv[0] == "import" for c in scenario.commands(("ceremony", "openssl")))


def test_tuf_on_ci_signer_commits_only_the_signature(ws: Workspace) -> None:
    staged = (ws.cwd / "event" / "metadata" / "root.json").read_bytes()
    out = ws.cwd / "to-event" / "metadata"
    filled = (out / "root.json").read_bytes()
    assert (out / "root_history" / "1.root.json").read_bytes() == filled
    diff = [(a, b) for a, b in zip(staged.splitlines(), filled.splitlines(), strict=True) if a != b]
    assert len(diff) == 1 and diff[0][0] == b'   "sig": ""', diff
    assert diff[0][1].startswith(b'   "sig": "') and len(diff[0][1]) > 20
    again = metadata_file.parse_metadata_file(filled, source="root.json")
    before = metadata_file.parse_metadata_file(staged, source="root.json")
    assert again.canonical == before.canonical and not again.placeholders
    md = again.metadata
    md.signed.verify_delegate("root", md.signed_bytes, md.signatures)
    client_check_root(None, filled)  # a first root: python-tuf's client logic accepts it
    assert tuf_on_ci.serialize(json.loads(filled)) == filled  # tuf-on-ci's own layout


def test_rstuf_payloads_come_back_as_rstuf_reads_them(ws: Workspace) -> None:
    staged = rstuf.parse_bootstrap_payload(ws.staged["bootstrap"])
    done = rstuf.parse_bootstrap_payload((ws.cwd / "ceremony-payload-signed.json").read_bytes())
    assert done.root.signed_bytes == staged.root.signed_bytes
    assert done.settings == staged.settings and done.timeout == staged.timeout
    assert set(done.root.signatures) == set(done.root.signed.roles["root"].keyids)
    # what RSTUF's worker checks; and the same bytes RSTUF's CLI would write for this root
    exported = (ws.cwd / "ceremony-payload-signed.json").read_bytes()
    assert rstuf.bootstrap_payload_bytes(done.root, done.settings) == exported

    trusted = Metadata[Root].from_bytes((ws.cwd / "1.root.json").read_bytes())
    new = rstuf.parse_update_payload((ws.cwd / "update-payload-signed.json").read_bytes())
    assert new.signed_bytes == rstuf.parse_update_payload(ws.staged["update"]).signed_bytes
    assert (
        rstuf.update_payload_bytes(new, trusted)
        == (ws.cwd / "update-payload-signed.json").read_bytes()
    )  # both thresholds met, as RSTUF's worker requires
    client_check_root(staging.pretty(trusted), staging.pretty(new))

    request = rstuf.parse_sign_request(ws.staged["pending"], source="pending.json")
    sign = rstuf.parse_sign_payload((ws.cwd / "sign-payload.json").read_bytes())
    assert sign.role == "root" and sign.signature.keyid == ws.keys["bob"].keyid
    root = request.pending["root"]
    root.signatures[sign.signature.keyid] = sign.signature
    rstuf.bootstrap_payload_bytes(root, rstuf.BootstrapSettings())  # RSTUF completes it


def test_python_tuf_root_and_targets_signed_unchanged_and_clients_update(
    ws: Workspace, tmp_path: Path
) -> None:
    assert ws.py is not None
    pub_root = ws.cwd / "ceremony-4" / "published"
    root4 = (pub_root / "4.root.json").read_bytes()
    assert (pub_root / "root.json").read_bytes() == root4
    exported = Metadata[Root].from_bytes(root4)
    assert exported.signed_bytes == ws.py.root.signed_bytes  # signed part as staged
    assert exported.signed.to_dict() == ws.py.root.signed.to_dict()
    assert exported.unrecognized_fields == ws.py.root.unrecognized_fields
    assert set(exported.signatures) == {ws.py.pre.public_key.keyid, ws.py.cold.public_key.keyid,
                                        ws.keys["holder"].keyid}  # fmt: skip
    pub_targets = ws.cwd / "ceremony-targets" / "published"
    targets = (pub_targets / "targets.json").read_bytes()
    assert (pub_targets / "1.targets.json").read_bytes() == targets  # consistent_snapshot
    exported_t = Metadata.from_bytes(targets)
    assert exported_t.signed_bytes == ws.py.targets.signed_bytes
    assert len(exported_t.signatures) == 3

    previous = staging.pretty(ws.py.previous)
    signers = {"timestamp": ws.py.online, "snapshot": ws.py.online}
    repo = build_repository(
        tmp_path / "repo",
        [previous, root4],
        {staging.TARGET: staging.CONTENT},
        signers,
        presigned={"targets": targets},
        trusted_root=previous,
    )
    results = run_both(repo.path, previous, staging.TARGET)
    assert results.accepted, results
    assert results.python_tuf.root_version == results.tufjs.root_version == 4
    assert results.python_tuf.downloaded == staging.CONTENT
