"""The `ceremony` CLI end to end on the YubiKey rig: REAL libykcs11.so (and OpenSC's PIV driver)
talking through pcscd + vpcd to the PIV card emulator, each command its own process.

What runs: `ceremony tokens` (with and without --login, ykcs11 and OpenSC), `enroll --attest`
(chain to the test root passed as --attestation-ca; refused against the pinned Yubico root only;
plan attestation policy: EUCLEAK firmware, touch), a full rehearsal-plan root ceremony where one
root key is a PIN-always key on the emulated YubiKey, the PIN counter going low / final try /
locked through the CLI, a pulled device and a swapped key. The PIN is checked to be absent from
every output, every file of the ceremony directory and the transcript.

Keys are generated in slot 9c through ykcs11 as tests/rig/test_rig_pkcs11.py does (SO login with
the management key; ykcs11 then writes a certificate, without which it shows no key; its keys are
PIN policy always, touch never, as ykcs11 2.2.0 cannot set policies at keygen). A key with other
policies comes from the emulator's `startup_key`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pkcs11
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from pkcs11 import Attribute, KeyType
from pkcs11.util.ec import encode_named_curve_parameters

from tests.cli.conftest import snapshot_tree
from tests.rig.rig import PivRig, piv_card, piv_rig

__all__ = ["piv_card", "piv_rig"]

pytestmark = pytest.mark.rig

# Distinctive secrets (the default PIN 123456 and PUK 12345678 are substrings of the default
# serial, so they could not be searched for in the output).
PIN = "k7Qm2xPz"
PUK = "Vw4r9Tb1"
WRONG_PIN = "wr0ngPIN"
SOFT_PIN = "rehearsal-pin-8826"  # the software rehearsal token's PIN
SECRETS = (PIN, PUK, WRONG_PIN, SOFT_PIN)
FIRMWARE = "5.7.1"  # not affected by YSA-2024-03 (EUCLEAK): ECDSA keys are accepted
ID_9C = b"\x02"  # ykcs11's CKA_ID for slot 9c

PLAN = """\
repository: "yubikey-rig.example.org"
root:
  expires: 365d
roles:
  root:      {threshold: 2, keys: [root-yk, root-a, root-b]}
  targets:   {threshold: 1, keys: [targets-a]}
  snapshot:  {threshold: 1, keys: [online]}
  timestamp: {threshold: 1, keys: [online]}
keys:
  root-yk: {holder: "Yuki (YubiKey)"}
  root-a: {holder: "A"}
  root-b: {holder: "B"}
  targets-a: {holder: "A"}
  online: {holder: "Online service"}
rehearsal: true
"""


# --- running the CLI ---------------------------------------------------------------------------


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def run(rig: PivRig, *args: str | Path, stdin: Sequence[str] = (), columns: int = 200) -> Result:
    """`python -m ceremony ARGS` in its own process, on the rig's pcscd; no secret in the output."""
    env = dict(rig.env, COLUMNS=str(columns))
    env.pop("CEREMONY_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "ceremony", *map(str, args)],
        input="".join(f"{line}\n" for line in stdin),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    res = Result(proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in res.text, res.text
    assert "Internal error" not in res.text, res.text
    for secret in SECRETS:
        assert secret not in res.text, f"a secret appeared in the output of {args[:1]}"
    return res


def ok(rig: PivRig, *args: str | Path, stdin: Sequence[str] = (), columns: int = 200) -> Result:
    res = run(rig, *args, stdin=stdin, columns=columns)
    assert res.code == 0, f"exit {res.code}\n{res.text}"
    return res


def assert_no_secret_in(d: Path) -> None:
    """No PIN/PUK in any file of the ceremony directory (transcript included)."""
    for rel, data in snapshot_tree(d).items():
        for secret in SECRETS:
            assert secret.encode() not in data, (rel, "holds a secret")


def error_paragraph(res: Result) -> list[str]:
    """The error paragraph on stderr: the message line and the 'Next:' line."""
    return [line for line in res.err.splitlines() if line.strip()]


# --- the card ------------------------------------------------------------------------------------


@pytest.fixture
def card(piv_card: PivRig) -> Iterator[PivRig]:
    """A fresh card with our PIN/PUK and firmware 5.7.1 (no keys but f9)."""
    piv_card.reset(pin=PIN, puk=PUK, firmware=FIRMWARE)
    lib = pkcs11.lib(piv_card.ykcs11)
    lib.reinitialize()  # ykcs11 caches the firmware it saw
    yield piv_card
    # python-pkcs11 leaves a session open when C_Login fails; start the next test clean
    lib.reinitialize()


def generate_9c(rig: PivRig, curve: str = "secp256r1") -> None:
    """On-card keygen in 9c through ykcs11 (SO login = management key), as the rig tests do."""
    lib = pkcs11.lib(rig.ykcs11)
    token = lib.get_token(token_label=rig.token_label)
    with token.open(rw=True, so_pin=rig.mgmt_key) as s:
        params = s.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters(curve)}, local=True
        )
        params.generate_keypair(store=True, id=ID_9C)


def expected_uri(rig: PivRig, label: str) -> str:
    """The canonical key URI `ceremony tokens` prints, spelled out independently."""
    return (
        f"pkcs11:token=YubiKey%20PIV%20%23{rig.serial};serial={rig.serial};"
        f"object={label.replace(' ', '%20')};id=%02;type=private"
    )


def table_row(out: str, first_cell: str) -> list[str]:
    """What `ceremony tokens` says of the key labelled `first_cell`, as one row: label, id,
    type, sensitive, extractable, always-sensitive, never-extractable, local,
    always-authenticate, URI (since issue 11 it prints a list, readable at 80 columns)."""
    lines = [line.strip() for line in out.splitlines()]
    for i, line in enumerate(lines):
        if line.startswith(f"Key '{first_cell}': id "):
            key_id, key_type = line.split(": id ", 1)[1].split(", ")
            attrs = [a.split(" ")[1] for a in lines[i + 1].split(" (?")[0].split(", ")]
            assert lines[i + 2].startswith("URI: "), lines[i + 2]
            return [first_cell, key_id, key_type, *attrs, lines[i + 2][len("URI: ") :]]
    raise AssertionError(f"no key {first_cell!r} in:\n{out}")


def uri_from_tokens(rig: PivRig, label: str) -> str:
    """The key's URI as `ceremony tokens` shows it (a terminal wide enough for the table)."""
    res = ok(rig, "tokens", "--module", rig.ykcs11, columns=1000)
    uri = table_row(res.out, label)[-1]
    assert uri.startswith("pkcs11:") and "…" not in uri, uri
    return uri


# --- the ceremony directory ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base(piv_rig: PivRig, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ceremony with every key but root-yk enrolled (software rehearsal token, online PEM)."""
    from ceremony.tokens.software_rehearsal import SoftwareToken, SoftwareUri

    top = tmp_path_factory.mktemp("yk-cli")
    d = top / "c"
    ok(piv_rig, "init", d)
    (d / "ceremony.yaml").write_text(PLAN)
    SoftwareToken.create(top / "tokens", "soft", SOFT_PIN)
    for name in ("root-a", "root-b", "targets-a"):
        uri = str(SoftwareUri(top / "tokens", "soft", name))
        ok(piv_rig, "keygen", d, name, "--uri", uri, "--type", "ed25519", stdin=[SOFT_PIN])
    pem = top / "online.pem"
    pem.write_bytes(
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    ok(piv_rig, "enroll", d, "online", "--public-key", pem)
    return d


def copy_of(base: Path, tmp_path: Path, policy: str = "") -> Path:
    """A copy of the base ceremony (software keys keep working: their URIs are absolute)."""
    d = tmp_path / "c"
    shutil.copytree(base, d)
    if policy:
        (d / "ceremony.yaml").write_text(PLAN + policy)
    return d


def enroll_yk(rig: PivRig, d: Path, *extra: str | Path, uri: str | None = None) -> Result:
    """`enroll DIR root-yk` with the 9c key's URI as `ceremony tokens` shows it."""
    uri = uri or uri_from_tokens(rig, "Public key for Digital Signature")
    return run(
        rig, "enroll", d, "root-yk", "--uri", uri, "--module", rig.ykcs11, *extra, stdin=[PIN]
    )


@pytest.fixture
def drafted(card: PivRig, base: Path, tmp_path: Path) -> Path:
    """The ceremony with root-yk (a fresh 9c key on the card) enrolled and root drafted."""
    generate_9c(card)
    d = copy_of(base, tmp_path)
    # A YubiKey key is attested by default; the emulator's chain ends at the rig's TEST root.
    res = enroll_yk(
        card,
        d,
        "--attestation-ca",
        card.ca_cert,
        uri=expected_uri(card, "Public key for Digital Signature"),
    )
    assert res.code == 0, res.text
    ok(card, "draft", d)
    return d


def sign_yk(rig: PivRig, d: Path, *answers: str) -> Result:
    return run(rig, "sign", d, "root", "--key", "root-yk", "--module", rig.ykcs11, stdin=answers)


def status_json(rig: PivRig, d: Path) -> dict[str, Any]:
    status: dict[str, Any] = json.loads(ok(rig, "status", d, "--json").out)
    return status


# --- 1. ceremony tokens ------------------------------------------------------------------------------


def test_tokens_lists_the_yubikey_and_its_9c_key(card: PivRig) -> None:
    generate_9c(card)
    res = ok(card, "tokens", "--module", card.ykcs11)
    assert f"PKCS#11 module: {card.ykcs11}" in res.out
    assert (
        f"Token 'YubiKey PIV #{card.serial}': Yubico (www.yubico.com) YubiKey YK5, "
        f"serial {card.serial}, firmware 5."
    ) in res.out
    token_line = next(line for line in res.out.splitlines() if line.startswith("Token "))
    assert token_line.endswith("; login required"), token_line  # no PIN count flag on a fresh card
    # Without login ykcs11 shows the public objects: the 9c key and the f9 attestation key.
    row = table_row(res.out, "Public key for Digital Signature")
    assert row[1:3] == ["02", "ecdsa-p256"]
    assert row[3:9] == ["?"] * 6  # private attributes need --login
    assert row[9].startswith(f"pkcs11:token=YubiKey%20PIV%20%23{card.serial};serial={card.serial}")
    assert table_row(res.out, "Public key for PIV Attestation")[1] == "19"
    # Wide enough, the whole canonical URI is in the table (test_enroll_* enrol with it).
    assert uri_from_tokens(card, "Public key for Digital Signature") == expected_uri(
        card, "Public key for Digital Signature"
    )

    res = ok(card, "tokens", "--module", card.ykcs11, "--login", stdin=[PIN])
    assert res.out.count("PIN needed") == 1
    assert "PIN read from standard input (not shown)." in res.out
    row = table_row(res.out, "Private key for Digital Signature")
    # label, id, type, sensitive, extractable, always-sens., never-extr., local, always-auth
    assert row[1:9] == ["02", "ecdsa-p256", "yes", "no", "yes", "yes", "yes", "yes"]
    assert row[9].startswith("pkcs11:")
    assert card.state()["pin_left"] == 3  # the good PIN reset nothing, spent nothing


def test_tokens_uri_is_ready_to_copy_at_a_normal_width(card: PivRig) -> None:
    generate_9c(card)
    res = ok(card, "tokens", "--module", card.ykcs11, columns=120)
    assert expected_uri(card, "Public key for Digital Signature") in res.out.split()


def test_tokens_shows_the_yubikey_firmware_as_major_minor_patch(card: PivRig) -> None:
    res = ok(card, "tokens", "--module", card.ykcs11)
    assert f"firmware {FIRMWARE};" in res.out, res.out


def test_tokens_with_opensc(card: PivRig) -> None:
    if card.opensc is None:
        pytest.skip("opensc-pkcs11.so is not installed")
    generate_9c(card)
    res = ok(card, "tokens", "--module", card.opensc)
    # OpenSC's PIV driver: one token per PIN-protected key, serial from the CHUID (none: 0s).
    assert "Token 'YubiKey PIV Slot 9c': piv_II PKCS#15 emulated, serial 00000000" in res.out
    assert "login required" in res.out
    row = table_row(res.out, "SIGN pubkey")
    assert row[1:3] == ["02", "ecdsa-p256"]
    assert row[9].startswith("pkcs11:token=YubiKey%20PIV%20Slot%209c;")
    res = ok(card, "tokens", "--module", card.opensc, "--login", stdin=[PIN])
    assert res.out.count("PIN needed") == 1
    row = table_row(res.out, "SIGN key")
    assert row[1:9] == ["02", "ecdsa-p256", "yes", "no", "yes", "yes", "yes", "yes"]
    assert card.state()["pin_left"] == 3


# --- 2. enroll --attest -------------------------------------------------------------------------


def test_enroll_with_attestation_records_the_yubikey(
    card: PivRig, base: Path, tmp_path: Path
) -> None:
    generate_9c(card)
    d = copy_of(base, tmp_path)

    # Against the pinned Yubico root only, the emulator's TEST chain fails: one paragraph.
    before = snapshot_tree(d)
    res = enroll_yk(card, d, "--attest")
    assert res.code == 1, res.text
    para = error_paragraph(res)
    assert len(para) == 2 and para[1].startswith("Next: "), res.err
    assert (
        para[0].startswith("Attestation failed: ") and "does not chain to a trusted root" in para[0]
    )
    assert "Yubico PIV Root CA Serial 263751" in para[0]
    assert snapshot_tree(d) == before

    # With the rig's test CA as an operator CA: enrolled with what the YubiKey attests.
    res = enroll_yk(card, d, "--attest", "--attestation-ca", card.ca_cert)
    assert res.code == 0, res.text
    assert res.out.count("PIN needed") == 1
    assert "Enrolled 'root-yk': ecdsa-sha2-nistp256" in res.out
    assert (
        f"Attested: YubiKey serial {card.serial}, firmware {FIRMWARE}, PIN policy always, "
        "touch policy never." in res.out
    )
    rec = json.loads((d / "keys" / "root-yk.json").read_text())["provenance"]
    att = rec["attestation"]
    assert {k: att[k] for k in ("serial", "firmware", "pin_policy", "touch_policy", "slot")} == {
        "serial": card.serial,
        "firmware": FIRMWARE,
        "pin_policy": "always",
        "touch_policy": "never",
        "slot": "9c",
    }
    assert att["form_factor"] == "usb-a-keychain" and att["fips"] is False
    assert att["root_source"] == "operator" and att["root_name"] == "Test Yubico PIV Root CA"
    assert rec["token"]["serial"] == str(card.serial)
    assert rec["uri"].startswith(f"pkcs11:token=YubiKey%20PIV%20%23{card.serial};serial=")
    assert rec["attributes"]["always_authenticate"] is True

    ok(card, "draft", d)
    res = ok(card, "show", d)
    assert (
        f"attested root-yk: YubiKey serial {card.serial}, firmware {FIRMWARE}, PIN always, "
        "touch never" in res.out
    )
    assert_no_secret_in(d)


def test_attestation_verify_rechecks_the_enrolled_yubikey(
    card: PivRig, base: Path, tmp_path: Path
) -> None:
    generate_9c(card)
    d = copy_of(base, tmp_path)
    res = enroll_yk(
        card,
        d,
        "--attest",
        "--attestation-ca",
        card.ca_cert,
        uri=expected_uri(card, "Public key for Digital Signature"),
    )
    assert res.code == 0, res.text
    # The certificates and the operator's CA are kept beside the key: no token needed to re-check.
    card.remove()
    try:
        res = ok(card, "attestation", "verify", d)
        facts = f"root-yk: YubiKey serial {card.serial}, firmware {FIRMWARE}, PIN always"
        assert re.search(r"ok\s+" + re.escape(facts), res.out), res.out
        # A recorded fact edited after enrolment no longer matches the certificates.
        path = d / "keys" / "root-yk.json"
        path.write_text(path.read_text().replace('"pin_policy": "always"', '"pin_policy": "once"'))
        res = run(card, "attestation", "verify", d)
        assert res.code == 1, res.text
        assert re.search(r"FAIL\s+root-yk", res.out), res.out
    finally:
        card.insert()


EUCLEAK_FIRMWARE = "5.4.3"


def test_enroll_refuses_eucleak_firmware_unless_the_plan_allows_it(
    card: PivRig, base: Path, tmp_path: Path
) -> None:
    card.reset(pin=PIN, puk=PUK, firmware=EUCLEAK_FIRMWARE)
    pkcs11.lib(card.ykcs11).reinitialize()
    generate_9c(card)
    d = copy_of(base, tmp_path)
    before = snapshot_tree(d)
    res = enroll_yk(card, d, "--attest", "--attestation-ca", card.ca_cert)
    assert res.code == 1, res.text
    para = error_paragraph(res)
    assert len(para) == 2 and para[1].startswith("Next: "), res.err
    assert "YSA-2024-03" in para[0] and "EUCLEAK" in para[0]
    assert f"firmware {EUCLEAK_FIRMWARE}" in para[0]
    assert snapshot_tree(d) == before

    (d / "ceremony.yaml").write_text(
        PLAN + "policy:\n  attestation:\n    allow_vulnerable_firmware: true\n"
    )
    res = enroll_yk(card, d, "--attest", "--attestation-ca", card.ca_cert)
    assert res.code == 0, res.text
    att = json.loads((d / "keys" / "root-yk.json").read_text())["provenance"]["attestation"]
    assert att["firmware"] == EUCLEAK_FIRMWARE


def test_allowed_eucleak_firmware_is_still_reported(
    card: PivRig, base: Path, tmp_path: Path
) -> None:
    card.reset(pin=PIN, puk=PUK, firmware=EUCLEAK_FIRMWARE)
    pkcs11.lib(card.ykcs11).reinitialize()
    generate_9c(card)
    d = copy_of(base, tmp_path, "policy:\n  attestation:\n    allow_vulnerable_firmware: true\n")
    res = enroll_yk(card, d, "--attest", "--attestation-ca", card.ca_cert)
    assert res.code == 0, res.text
    validate = run(card, "validate", d)
    assert "YSA-2024-03" in res.out and "YSA-2024-03" in validate.out


def test_enroll_applies_the_plans_touch_policy(card: PivRig, base: Path, tmp_path: Path) -> None:
    touch_always = "policy:\n  attestation:\n    touch: always\n"
    # ykcs11's keygen makes touch-never keys: refused under `touch: always`.
    generate_9c(card)
    d = copy_of(base, tmp_path, touch_always)
    before = snapshot_tree(d)
    res = enroll_yk(card, d, "--attest", "--attestation-ca", card.ca_cert)
    assert res.code == 1, res.text
    para = error_paragraph(res)
    assert len(para) == 2, res.err
    assert "touch policy is 'never' but the plan requires 'always'" in para[0]
    assert snapshot_tree(d) == before

    # A key generated on the card with touch always (as yubico-piv-tool/ykman would): accepted.
    card.reset(
        pin=PIN,
        puk=PUK,
        firmware=FIRMWARE,
        startup_key={"slot": "9c", "alg": "p256", "pin_policy": "always", "touch_policy": "always"},
    )
    uri = uri_from_tokens(card, "Public key for Digital Signature")
    res = run(
        card,
        "enroll", d, "root-yk", "--uri", uri, "--module", card.ykcs11,
        "--attest", "--attestation-ca", card.ca_cert,
        stdin=[PIN],
    )  # fmt: skip
    assert res.code == 0, res.text
    assert "PIN policy always, touch policy always" in res.out
    rec = json.loads((d / "keys" / "root-yk.json").read_text())["provenance"]
    assert rec["attestation"]["touch_policy"] == "always"


# --- 3. a full ceremony with one root key on the YubiKey ------------------------------------------


def test_full_ceremony_with_a_pin_always_yubikey_root_key(card: PivRig, drafted: Path) -> None:
    d = drafted
    before = snapshot_tree(d)
    res = sign_yk(card, d, "Yes", PIN)
    assert res.code == 0, res.text
    # One PIN prompt, although the key is always-authenticate (the CLI reuses it for the
    # context-specific login); the holder saw the digest before confirming.
    assert res.out.count("PIN needed") == 1
    assert "SHA-256 of the exact bytes" in res.out
    assert "Signed root as 'root-yk' (Yuki (YubiKey))" in res.out
    assert card.state()["pin_left"] == 3
    new = set(snapshot_tree(d)) - set(before)
    assert any(p.startswith("signatures/root/") for p in new), new

    st = status_json(card, d)["roles"]["root"]
    assert st["thresholds"][0]["signed"] == ["root-yk"] and st["complete"] is False
    assert "root-yk (Yuki (YubiKey))" in ok(card, "status", d).out
    # Signing again is a no-op (no PIN asked).
    res = ok(card, "sign", d, "root", "--key", "root-yk", "--module", card.ykcs11, stdin=["Yes"])
    assert "already signed" in res.out and "PIN needed" not in res.out

    ok(card, "sign", d, "root", "--key", "root-a", stdin=["Yes", SOFT_PIN])
    st = status_json(card, d)["roles"]["root"]
    assert st["complete"] is True
    assert sorted(st["thresholds"][0]["signed"]) == ["root-a", "root-yk"]

    res = ok(card, "export", d)
    pub = d / "published"
    assert {"1.root.json", "root.json", "SHA256SUMS"} <= {p.name for p in pub.iterdir()}
    root = json.loads((pub / "1.root.json").read_text())
    yk_keyid = json.loads((d / "keys" / "root-yk.json").read_text())["keyid"]
    assert yk_keyid in {s["keyid"] for s in root["signatures"]}
    assert root["signed"]["keys"][yk_keyid]["scheme"] == "ecdsa-sha2-nistp256"
    ok(card, "verify", pub / "1.root.json")
    assert_no_secret_in(d)


# --- 4. wrong PIN counting down to the lock -------------------------------------------------------


def test_wrong_pin_counts_down_to_lock_through_the_cli(card: PivRig, drafted: Path) -> None:
    d = drafted
    before = snapshot_tree(d)

    def flags() -> str:
        res = ok(card, "tokens", "--module", card.ykcs11)
        return next(line for line in res.out.splitlines() if line.startswith("Token "))

    # 1st wrong PIN: refused, how many tries may be left (the token's flags), nothing written.
    res = sign_yk(card, d, "Yes", WRONG_PIN)
    assert res.code == 3, res.text
    assert "Wrong PIN:" in res.err and "was not accepted" in res.err
    assert "low PIN count: few tries are left" in res.err
    assert "never retries" in res.err
    assert card.state()["pin_left"] == 2
    assert snapshot_tree(d) == before
    assert "PIN count low" in flags()

    # 2nd: the prompt warned about the low count first; now the next wrong PIN locks.
    res = sign_yk(card, d, "Yes", WRONG_PIN)
    assert res.code == 3, res.text
    warn = res.out.index("few PIN tries are left")
    assert warn < res.out.index("PIN read from standard input")
    assert "NEXT wrong PIN LOCKS it" in res.err
    assert card.state()["pin_left"] == 1
    assert snapshot_tree(d) == before
    assert "PIN: FINAL TRY" in flags()

    # FINAL TRY: an extra typed confirmation. Anything else (even the right PIN, typed one line
    # too early) stops: nothing written, the try NOT spent, the answer not echoed.
    for answer in ("no", PIN, "Final try"):
        res = sign_yk(card, d, "Yes", answer, PIN)
        assert res.code == 130, res.text
        assert "FINAL TRY" in res.out and "Type 'final try'" in res.out
        assert "stopped before the final PIN try" in res.err
        assert card.state()["pin_left"] == 1
        assert snapshot_tree(d) == before

    # Confirmed, and wrong again: locked, with the recovery path.
    res = sign_yk(card, d, "Yes", "final try", WRONG_PIN)
    assert res.code == 3, res.text
    assert "PIN locked:" in res.err and "has now LOCKED" in res.err
    assert "PUK" in res.err and "SO PIN" in res.err and "DESTROYS the keys" in res.err
    assert card.state()["pin_left"] == 0
    assert snapshot_tree(d) == before
    assert "PIN LOCKED" in flags()

    # Locked: stops BEFORE asking a PIN (even the right one is never sent to the card).
    res = sign_yk(card, d, "Yes", PIN)
    assert res.code == 3, res.text
    assert "PIN needed" not in res.out
    assert "is locked (too many wrong PINs), so no PIN was tried" in res.err
    assert "unblock the PIN with the PUK" in res.err and "ykman piv access unblock-pin" in res.err
    assert "if the PUK / SO PIN gets blocked too" in res.err and "DESTROYS the keys" in res.err
    assert card.state()["pin_left"] == 0
    assert snapshot_tree(d) == before
    assert_no_secret_in(d)


# --- 5. device removed ---------------------------------------------------------------------------


def test_device_removed_before_signing(card: PivRig, drafted: Path) -> None:
    d = drafted
    before = snapshot_tree(d)
    card.remove()
    try:
        res = sign_yk(card, d, "Yes", PIN)
    finally:
        card.insert()
    assert res.code == 3, res.text
    assert "PIN needed" not in res.out
    para = error_paragraph(res)
    assert len(para) == 2 and para[1].startswith("Next: "), res.err
    assert re.search(r"no (initialised )?token|device", para[0], re.IGNORECASE), para[0]
    assert f"serial {card.serial}" in para[0] or f"#{card.serial}" in para[0], para[0]
    assert snapshot_tree(d) == before
    # Back in: signing works again.
    res = sign_yk(card, d, "Yes", PIN)
    assert res.code == 0, res.text


# --- 6. a different key in the slot ---------------------------------------------------------------


def test_another_key_in_the_slot_is_a_mismatch(card: PivRig, drafted: Path) -> None:
    d = drafted
    enrolled = json.loads((d / "keys" / "root-yk.json").read_text())["keyid"]
    # Same YubiKey (serial), reset and a new 9c key: the URI still selects it.
    card.reset(pin=PIN, puk=PUK, firmware=FIRMWARE)
    generate_9c(card)
    before = snapshot_tree(d)
    res = sign_yk(card, d, "Yes", PIN)
    assert res.code == 3, res.text
    assert "Wrong key:" in res.err
    on_card = re.search(r"the token has keyid ([0-9a-f]{8})…", res.err)
    assert on_card is not None and on_card.group(1) != enrolled[:8], res.err
    assert f"the ceremony expects keyid {enrolled[:8]}…" in res.err
    assert "Nothing was signed" in res.err
    assert card.state()["pin_left"] == 3  # decided before any PIN was sent
    assert snapshot_tree(d) == before
