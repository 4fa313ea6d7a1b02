"""`enroll --attestation FILE --attestation-intermediate FILE` for a firmware 5.7.4+ style
chain (root -> Yubico intermediate -> device f9 -> key): the intermediate is given with
--attestation-chain, never trusted by itself; the recorded root is the real root; and
`attestation verify` re-checks it later from the stored evidence."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)
from cryptography.x509 import load_pem_x509_certificate

from ceremony.attestation import fingerprint
from ceremony.tokens.software_rehearsal import SoftwareToken, SoftwareUri
from tests.cli.conftest import snapshot_tree
from tests.cli.test_bad_inputs import PIN, run
from tests.unit.test_attestation import make_attestation, make_ca, pem, yubico_exts

PLAN = """\
repository: "attestation.example.org"
root: {expires: 365d}
roles:
  root:      {threshold: 1, keys: [root-yk]}
  targets:   {threshold: 1, keys: [root-yk]}
  snapshot:  {threshold: 1, keys: [online]}
  timestamp: {threshold: 1, keys: [online]}
keys:
  root-yk: {holder: "Yara", type: ecdsa-p256, require_attestation: true}
  online: {holder: "Online"}
rehearsal: true
"""


def test_enroll_with_an_intermediate_chain(tmp_path: Path) -> None:
    d = tmp_path / "c"
    assert run("init", d).returncode == 0
    (d / "ceremony.yaml").write_text(PLAN)
    tok = SoftwareToken.create(tmp_path / "tokens", "yk", PIN)
    sslib = tok.generate("root-yk", "ecdsa-p256", PIN)
    pub = load_pem_public_key(sslib.keyval["public"].encode())
    assert isinstance(pub, ec.EllipticCurvePublicKey)
    root = make_ca("Test Attestation Root 1", key=ec.generate_private_key(ec.SECP384R1()))
    inter = make_ca("Test PIV Attestation CA", root)
    device = make_ca("Yubico PIV Attestation", inter)
    att = make_attestation(
        device, SimpleNamespace(public_key=lambda: pub), exts=yubico_exts(firmware=b"\x05\x07\x04")
    )
    files = {}
    for name, cert in (("root", root[0]), ("inter", inter[0]), ("device", device[0]), ("att", att)):
        files[name] = tmp_path / f"{name}.pem"
        files[name].write_bytes(pem(cert))
    uri = str(SoftwareUri(tmp_path / "tokens", "yk", "root-yk"))
    base: list[str | Path] = [
        "enroll",
        d,
        "root-yk",
        "--uri",
        uri,
        "--attestation",
        files["att"],
        "--attestation-intermediate",
        files["device"],
        "--attestation-ca",
        files["root"],
    ]

    before = snapshot_tree(d)
    r = run(*base, stdin=[PIN])
    assert r.returncode == 1, r.stdout + r.stderr
    assert "--attestation-chain" in r.stdout + r.stderr  # the hint names the option to use
    assert snapshot_tree(d) == before

    r = run(*base, "--attestation-chain", files["inter"], stdin=[PIN])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Attested: YubiKey serial 12345678, firmware 5.7.4" in r.stdout
    rec = json.loads((d / "keys" / "root-yk.json").read_text())["provenance"]["attestation"]
    assert rec["root_fingerprint"] == fingerprint(root[0])  # the root, not the intermediate
    assert (d / "keys" / "root-yk.attestation-chain.pem").exists()

    r = run("attestation", "verify", d)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok   root-yk" in r.stdout
    # The recorded facts are checked against the certificates: an edit is caught.
    key_file = d / "keys" / "root-yk.json"
    data = json.loads(key_file.read_text())
    data["provenance"]["attestation"]["root_fingerprint"] = "00" * 32
    key_file.write_text(json.dumps(data))
    r = run("attestation", "verify", d)
    assert r.returncode == 1 and "FAIL root-yk" in r.stdout


def _attested_key(tmp_path: Path, policy: bytes) -> tuple[str, dict[str, Path]]:
    tok = SoftwareToken.create(tmp_path / "tokens", "yk", PIN)
    sslib = tok.generate("root-yk", "ecdsa-p256", PIN)
    pub = load_pem_public_key(sslib.keyval["public"].encode())
    root = make_ca("Test Attestation Root 1", key=ec.generate_private_key(ec.SECP384R1()))
    device = make_ca("Yubico PIV Attestation", root)
    att = make_attestation(
        device,
        SimpleNamespace(public_key=lambda: pub),
        exts=yubico_exts(firmware=b"\x05\x07\x04", policy=policy),
    )
    files = {}
    for name, cert in (("root", root[0]), ("device", device[0]), ("att", att)):
        files[name] = tmp_path / f"{name}.pem"
        files[name].write_bytes(pem(cert))
    return str(SoftwareUri(tmp_path / "tokens", "yk", "root-yk")), files


def test_plan_can_require_pin_policy_always(tmp_path: Path) -> None:
    d = tmp_path / "c"
    assert run("init", d).returncode == 0
    uri, files = _attested_key(tmp_path, policy=b"\x02\x02")  # PIN once, touch always
    plan = PLAN.replace("rehearsal: true", "rehearsal: true\npolicy:\n  attestation: {pin: always}")
    # The plan's keys.NAME.uri is the default for enroll (no --uri on the command line).
    plan = plan.replace('root-yk: {holder: "Yara",', f'root-yk: {{uri: "{uri}", holder: "Yara",')
    (d / "ceremony.yaml").write_text(plan)
    args: list[str | Path] = [
        "enroll",
        d,
        "root-yk",
        "--attestation",
        files["att"],
        "--attestation-intermediate",
        files["device"],
        "--attestation-ca",
        files["root"],
    ]
    before = snapshot_tree(d)
    r = run(*args, stdin=[PIN])
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Using the URI the plan gives for 'root-yk'" in r.stdout
    assert "PIN policy is 'once' but the plan requires 'always'" in r.stdout + r.stderr
    assert snapshot_tree(d) == before
    (d / "ceremony.yaml").write_text(plan.replace("{pin: always}", "{pin: once}"))
    r = run(*args, stdin=[PIN])
    assert r.returncode == 0, r.stdout + r.stderr


def test_status_reports_an_edited_transcript(tmp_path: Path) -> None:
    d = tmp_path / "c"
    assert run("init", d).returncode == 0
    (d / "ceremony.yaml").write_text(PLAN)
    for _ in range(3):
        assert run("validate", d).returncode == 0
    lines = (d / "transcript.jsonl").read_text().splitlines()
    assert len(lines) >= 3
    entry = json.loads(lines[1])
    entry["os_user"] = "someone-else"
    lines[1] = json.dumps(entry, sort_keys=True)
    (d / "transcript.jsonl").write_text("\n".join(lines) + "\n")
    r = run("status", d)
    assert "transcript:" in r.stdout and "does not chain" in r.stdout
    st = json.loads(run("status", d, "--json").stdout)
    assert st["transcript_problems"]


# --- enrolment from published evidence (no token attached) --------------------------------------


def _published(
    tmp_path: Path, *, firmware: bytes = b"\x05\x07\x04", curve: ec.EllipticCurve | None = None
) -> dict[str, Path]:
    """What a key holder publishes (as Sigstore's do): the public key, the slot's attestation
    certificate and the f9 device certificate; plus a test root and intermediate (a 5.7.4+
    style chain) standing in for Yubico's."""
    slot_key = ec.generate_private_key(curve or ec.SECP256R1())
    root = make_ca("Test Attestation Root 1", key=ec.generate_private_key(ec.SECP384R1()))
    inter = make_ca("Test PIV Attestation CA", root)
    device = make_ca("Yubico PIV Attestation", inter)
    att = make_attestation(device, slot_key, exts=yubico_exts(firmware=firmware))
    files = {}
    for name, cert in (("root", root[0]), ("inter", inter[0]), ("device", device[0]), ("att", att)):
        files[name] = tmp_path / f"{name}.pem"
        files[name].write_bytes(pem(cert))
    files["key"] = tmp_path / "root-yk.pub.pem"
    files["key"].write_bytes(
        slot_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    return files


def _evidence_args(d: Path, files: dict[str, Path], key: str = "key") -> list[str | Path]:
    return [
        "enroll", d, "root-yk", "--public-key", files[key],
        "--attestation", files["att"], "--attestation-intermediate", files["device"],
        "--attestation-chain", files["inter"], "--attestation-ca", files["root"],
    ]  # fmt: skip


def test_enroll_from_published_evidence_verifies_and_records_the_device(tmp_path: Path) -> None:
    d = tmp_path / "c"
    assert run("init", d).returncode == 0
    (d / "ceremony.yaml").write_text(PLAN)
    files = _published(tmp_path)
    r = run(*_evidence_args(d, files))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PIN needed" not in r.stdout  # no token: nothing asked
    assert "Attested: YubiKey serial 12345678, firmware 5.7.4, PIN policy always" in r.stdout
    rec = json.loads((d / "keys" / "root-yk.json").read_text())
    prov = rec["provenance"]
    assert prov["source"] == "public-key" and "token" not in prov
    att = prov["attestation"]
    assert (att["serial"], att["firmware"], att["pin_policy"], att["touch_policy"]) == (
        12345678,
        "5.7.4",
        "always",
        "never",  # what the test chain's policy extension says (yubico_exts' default)
    )
    assert att["root_fingerprint"] == fingerprint(
        load_pem_x509_certificate(files["root"].read_bytes())
    )
    for suffix in ("attestation.pem", "attestation-chain.pem", "attestation-cas.pem"):
        assert (d / "keys" / f"root-yk.{suffix}").exists(), suffix
    # The plan's require_attestation is met; `attestation verify` re-checks the evidence kept.
    res = run("validate", d)
    assert "CER-ATTESTATION-REQUIRED" not in res.stdout, res.stdout
    res = run("attestation", "verify", d)
    assert res.returncode == 0 and "root-yk: YubiKey serial 12345678" in res.stdout, res.stdout


def test_published_evidence_for_another_key_is_refused(tmp_path: Path) -> None:
    d = tmp_path / "c"
    assert run("init", d).returncode == 0
    (d / "ceremony.yaml").write_text(PLAN)
    files = _published(tmp_path)
    (tmp_path / "other").mkdir()
    files["other"] = _published(tmp_path / "other")["key"]
    before = snapshot_tree(d)
    r = run(*_evidence_args(d, files, key="other"))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "The attestation is for a different key" in r.stderr
    assert snapshot_tree(d) == before


def test_published_evidence_with_eucleak_firmware_is_an_error_unless_allowed(
    tmp_path: Path,
) -> None:
    d = tmp_path / "c"
    assert run("init", d).returncode == 0
    (d / "ceremony.yaml").write_text(PLAN)
    files = _published(tmp_path, firmware=b"\x05\x04\x03")
    before = snapshot_tree(d)
    r = run(*_evidence_args(d, files))
    assert r.returncode == 1, r.stdout + r.stderr
    assert (
        "YSA-2024-03" in r.stderr and "EUCLEAK" in r.stderr and "Nothing was enrolled" in r.stderr
    )
    assert snapshot_tree(d) == before
    (d / "ceremony.yaml").write_text(
        PLAN + "policy:\n  attestation:\n    allow_advisories: [YSA-2024-03]\n"
    )
    r = run(*_evidence_args(d, files))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "WARNING:" in r.stdout and "policy.attestation.allow_advisories" in r.stdout
    assert "CER-ATTESTATION-ADVISORY" in run("status", d).stdout


@pytest.mark.parametrize(
    ("extra", "drop", "words"),
    [
        (["--attest"], (), "--attest cannot apply to a key from a file (--public-key)"),
        (["--allow-imported-key"], (), "--allow-imported-key cannot apply to a key from a file"),
        (["--module", "/usr/lib/none.so"], (), "--module cannot apply to a key from a file"),
        ([], ("--attestation",), "--attestation-intermediate (the device's f9 certificate) "
         "cannot apply without --attestation"),
        ([], ("--attestation", "--attestation-intermediate"),
         "--attestation-ca, --attestation-chain cannot apply without --attestation"),
        ([], ("--attestation-intermediate",), "--attestation (the key's attestation certificate) "
         "and --attestation-intermediate (the slot f9 device certificate) go together"),
    ],
)  # fmt: skip
def test_options_that_cannot_apply_to_a_key_file_are_refused(
    tmp_path: Path, extra: list[str], drop: tuple[str, ...], words: str
) -> None:
    d = tmp_path / "c"
    assert run("init", d).returncode == 0
    (d / "ceremony.yaml").write_text(PLAN)
    files = _published(tmp_path)
    args = _evidence_args(d, files)
    for option in drop:
        i = args.index(option)
        del args[i : i + 2]
    before = snapshot_tree(d)
    r = run(*args, *extra)
    assert r.returncode == 2, r.stdout + r.stderr
    assert words in r.stderr, r.stderr
    assert snapshot_tree(d) == before
