"""`ceremony keygen DIR NAME --yubikey SERIAL` and attestation by default, through the CLI on the
YubiKey rig: the REAL yubikit (yubikey-manager) generates the key on the PIV emulator behind
pcscd/vpcd, the attestation is verified at once, and the REAL libykcs11 then signs with it.

Each command is its own process; the management key and the PIN go through standard input and
never appear in any output or file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pkcs11
import pytest

from tests.cli.conftest import snapshot_tree
from tests.rig import test_cli_yubikey as base_tests
from tests.rig.rig import PivRig, piv_card, piv_rig
from tests.rig.test_cli_yubikey import (
    PIN,
    PUK,
    SOFT_PIN,
    Result,
    base,
    copy_of,
    error_paragraph,
    generate_9c,
)
from tests.rig.test_cli_yubikey import ok as ok_without_mgmt_check
from tests.rig.test_cli_yubikey import run as run_without_mgmt_check

__all__ = ["base", "piv_card", "piv_rig"]

pytestmark = pytest.mark.rig

MGMT = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978"  # the holder's 3DES management key
DEFAULT_MGMT = "010203040506070801020304050607080102030405060708"


@pytest.fixture
def card(piv_card: PivRig) -> Iterator[PivRig]:
    """A YubiKey prepared by its holder: own PIN, PUK and management key; firmware 5.7.1."""
    piv_card.reset(pin=PIN, puk=PUK, mgmt_key=MGMT, firmware="5.7.1")
    lib = pkcs11.lib(piv_card.ykcs11)
    lib.reinitialize()
    yield piv_card
    lib.reinitialize()


def run(rig: PivRig, *args: str | Path, stdin: Sequence[str] = ()) -> Result:
    """`ceremony ARGS` (tests/rig/test_cli_yubikey.run: no PIN, no traceback) and no
    management key in the output either."""
    res = run_without_mgmt_check(rig, *args, stdin=stdin)
    assert MGMT not in res.text, "the management key appeared in the output"
    return res


def ok(rig: PivRig, *args: str | Path, stdin: Sequence[str] = ()) -> Result:
    res = ok_without_mgmt_check(rig, *args, stdin=stdin)
    assert MGMT not in res.text, "the management key appeared in the output"
    return res


def keygen_yk(rig: PivRig, d: Path, *extra: str | Path, stdin: tuple[str, ...] = (MGMT,)) -> Result:
    """`keygen DIR root-yk --yubikey SERIAL --type ecdsa-p256 EXTRA`, the management key on stdin."""
    return run(
        rig,
        "keygen",
        d,
        "root-yk",
        "--yubikey",
        str(rig.serial),
        "--type",
        "ecdsa-p256",
        *extra,
        stdin=stdin,
    )


def record(d: Path, name: str = "root-yk") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((d / "keys" / f"{name}.json").read_text())
    return data


def assert_no_mgmt_key_in(d: Path) -> None:
    for rel, data in snapshot_tree(d).items():
        for secret in (MGMT, PIN, PUK, SOFT_PIN):
            assert secret.encode() not in data, (rel, "holds a secret")


# --- 1. keygen on the YubiKey, enrolled with its attestation, then signing with ykcs11 -----------


def test_keygen_on_a_yubikey_attests_enrols_and_signs(
    card: PivRig, base: Path, tmp_path: Path
) -> None:
    d = copy_of(base, tmp_path)
    res = keygen_yk(card, d, "--attestation-ca", card.ca_cert)
    assert res.code == 0, res.text
    # Asked once, like a PIN, naming the device and the key type; never echoed.
    assert res.out.count("Management key needed") == 1
    assert f"YubiKey {card.serial} (firmware 5.7.1" in res.out
    assert "TDES PIV management key, 48 hexadecimal digits" in res.out
    assert "PIN needed" not in res.out  # firmware 5.3+: the PIN/PUK defaults come from metadata
    assert f"Generated on YubiKey {card.serial}, PIV slot 9c: root-yk." in res.out
    assert (
        f"Attested: YubiKey serial {card.serial}, firmware 5.7.1, PIN policy always, touch policy "
        "always." in res.out
    )
    # On the card: generated with the plan's default policies (always/always).
    assert card.state()["keys"]["9c"] == {
        "alg": 0x11,
        "pin_policy": 3,
        "touch_policy": 2,
        "generated": True,
    }
    prov = record(d)["provenance"]
    assert prov["source"] == "pkcs11"
    assert prov["uri"] == (
        f"pkcs11:token=YubiKey%20PIV%20%23{card.serial};serial={card.serial};id=%02;type=private"
    )
    assert prov["token"]["module"] == card.ykcs11  # what `sign` loads
    assert prov["cka_id"] == "02"
    att = prov["attestation"]
    assert (att["serial"], att["firmware"], att["slot"]) == (card.serial, "5.7.1", "9c")
    assert (att["pin_policy"], att["touch_policy"]) == ("always", "always")
    assert (d / "keys" / "root-yk.attestation.pem").exists()
    # The transcript says what was made where (never a secret).
    last = json.loads((d / "transcript.jsonl").read_text().splitlines()[-1])
    assert last["command"] == "keygen" and last["args"]["yubikey"] == card.serial
    assert any("generated on YubiKey" in n and "PIV slot 9c" in n for n in last["notes"])

    # ykcs11 finds the key from the record alone (no --uri, no --module) and signs with it.
    ok(card, "draft", d)
    res = ok(card, "sign", d, "root", "--key", "root-yk", stdin=["Yes", PIN])
    assert "Signed root as 'root-yk'" in res.out
    assert res.out.count("PIN needed") == 1
    ok(card, "sign", d, "root", "--key", "root-a", stdin=["Yes", SOFT_PIN])
    ok(card, "export", d)
    ok(card, "attestation", "verify", d)
    assert_no_mgmt_key_in(d)


def test_keygen_uses_the_plans_touch_policy_and_slot(
    card: PivRig, base: Path, tmp_path: Path
) -> None:
    d = copy_of(base, tmp_path, "policy:\n  attestation:\n    touch: cached\n    pin: once\n")
    res = keygen_yk(card, d, "--slot", "9a", "--attestation-ca", card.ca_cert)
    assert res.code == 0, res.text
    assert "PIN policy once, touch policy cached" in res.out
    assert card.state()["keys"]["9a"]["pin_policy"] == 2
    assert card.state()["keys"]["9a"]["touch_policy"] == 3
    assert record(d)["provenance"]["uri"].endswith(";id=%01;type=private")


# --- 2. refusals -----------------------------------------------------------------------------------


def test_an_attestation_that_does_not_verify_says_the_key_was_made_but_not_enrolled(
    card: PivRig, base: Path, tmp_path: Path
) -> None:
    d = copy_of(base, tmp_path)
    res = keygen_yk(card, d)  # the emulator's chain ends at a TEST root, not Yubico's
    assert res.code == 1, res.text
    para = error_paragraph(res)
    assert para[0].startswith("Attestation failed: ") and "does not chain" in para[0]
    assert "was generated in PIV slot 9c" in para[0] and "NOT enrolled" in para[0]
    assert "--replace-existing" in para[0]
    assert not (d / "keys" / "root-yk.json").exists()
    # Starting over: the slot's key is replaced only when asked.
    res = keygen_yk(card, d, "--attestation-ca", card.ca_cert)
    assert res.code == 3 and "already holds a key" in res.err, res.text
    res = keygen_yk(card, d, "--attestation-ca", card.ca_cert, "--replace-existing")
    assert res.code == 0, res.text


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ({"mgmt_key": DEFAULT_MGMT}, "factory default PIV management key"),
        ({"pin": "123456"}, "factory default PIV PIN (123456)"),
        ({"puk": "12345678"}, "factory default PIV PUK (12345678)"),
    ],
)
def test_factory_credentials_are_refused_before_anything_is_asked(
    card: PivRig, base: Path, tmp_path: Path, override: dict[str, str], words: str
) -> None:
    card.reset(**{"pin": PIN, "puk": PUK, "mgmt_key": MGMT, "firmware": "5.7.1", **override})
    d = copy_of(base, tmp_path)
    res = keygen_yk(card, d, "--attestation-ca", card.ca_cert)
    assert res.code == 3, res.text
    assert words in res.err and "Nothing was generated" in res.err
    assert "Management key needed" not in res.out
    assert card.state()["keys"] == {}
    assert not (d / "keys" / "root-yk.json").exists()


def test_a_typed_default_management_key_is_refused_and_not_sent(
    card: PivRig, base: Path, tmp_path: Path
) -> None:
    d = copy_of(base, tmp_path)
    res = keygen_yk(card, d, "--attestation-ca", card.ca_cert, stdin=(DEFAULT_MGMT,))
    assert res.code == 3, res.text
    assert "is the factory default" in res.err and "not sent" in res.err
    assert card.state()["keys"] == {} and not card.state()["mgmt_authenticated"]


def test_eucleak_firmware_is_refused_before_generation_unless_the_plan_names_it(
    card: PivRig, base: Path, tmp_path: Path
) -> None:
    card.reset(pin=PIN, puk=PUK, mgmt_key=MGMT, firmware="5.4.3")
    d = copy_of(base, tmp_path)
    res = keygen_yk(card, d, "--attestation-ca", card.ca_cert)
    assert res.code == 1, res.text
    para = error_paragraph(res)
    assert "YSA-2024-03" in para[0] and "EUCLEAK" in para[0]
    assert "Nothing was generated and nothing was changed on the YubiKey" in para[0]
    assert "allow_advisories: [YSA-2024-03]" in para[1]
    assert "Management key needed" not in res.out
    assert card.state()["keys"] == {}

    (d / "ceremony.yaml").write_text(
        (d / "ceremony.yaml").read_text()
        + "policy:\n  attestation:\n    allow_advisories: [YSA-2024-03]\n"
    )
    res = keygen_yk(card, d, "--attestation-ca", card.ca_cert)
    assert res.code == 0, res.text
    assert "WARNING:" in res.out and "YSA-2024-03" in res.out
    assert "policy.attestation.allow_advisories" in res.out
    assert "YSA-2024-03" in ok(card, "status", d).out  # repeated on every status screen


# --- 3. attestation by default at enrolment --------------------------------------------------------


def test_enroll_attests_a_yubikey_key_by_default(card: PivRig, base: Path, tmp_path: Path) -> None:
    card.reset(pin=PIN, puk=PUK, firmware="5.7.1")  # ykcs11 2.2 keygen needs the 3DES default
    pkcs11.lib(card.ykcs11).reinitialize()
    generate_9c(card)
    d = copy_of(base, tmp_path)
    uri = base_tests.uri_from_tokens(card, "Public key for Digital Signature")
    enroll = ("enroll", d, "root-yk", "--uri", uri, "--module", card.ykcs11)
    # No --attest: the attestation is read anyway, and the emulator's TEST chain is refused.
    res = run(card, *enroll, stdin=[PIN])
    assert res.code == 1, res.text
    assert "does not chain to a trusted root" in res.err
    assert not (d / "keys" / "root-yk.json").exists()
    res = run(card, *enroll, "--attestation-ca", card.ca_cert, stdin=[PIN])
    assert res.code == 0, res.text
    assert f"Attested: YubiKey serial {card.serial}, firmware 5.7.1" in res.out


def test_a_waived_attestation_is_recorded_and_repeated(
    card: PivRig, base: Path, tmp_path: Path
) -> None:
    card.reset(pin=PIN, puk=PUK, firmware="5.7.1")
    pkcs11.lib(card.ykcs11).reinitialize()
    generate_9c(card)
    d = copy_of(base, tmp_path)
    plan = (
        (d / "ceremony.yaml")
        .read_text()
        .replace(
            'root-yk: {holder: "Yuki (YubiKey)"}',
            'root-yk: {holder: "Yuki (YubiKey)", waive_attestation: "f9 certificate replaced"}',
        )
    )
    (d / "ceremony.yaml").write_text(plan)
    uri = base_tests.uri_from_tokens(card, "Public key for Digital Signature")
    enroll = ("enroll", d, "root-yk", "--uri", uri, "--module", card.ykcs11)
    # An attestation option cannot apply to a key whose attestation the plan waives.
    res = run(card, *enroll, "--attestation-ca", card.ca_cert, stdin=[PIN])
    assert res.code == 2, res.text
    assert "--attestation-ca cannot apply: the plan waives the attestation of 'root-yk'" in res.err
    res = run(card, *enroll, stdin=[PIN])
    assert res.code == 0, res.text
    prov = record(d)["provenance"]
    assert prov["attestation_waived"] == "f9 certificate replaced" and "attestation" not in prov
    for out in (ok(card, "validate", d).out, ok(card, "status", d).out):
        assert "CER-ATTESTATION-WAIVED" in out and "f9 certificate replaced" in out
    ok(card, "draft", d)
    ok(card, "sign", d, "root", "--key", "root-a", stdin=["Yes", SOFT_PIN])
    ok(card, "sign", d, "root", "--key", "root-b", stdin=["Yes", SOFT_PIN])
    ok(card, "export", d)
    rec = (d / "published" / "ceremony-record.md").read_text()
    assert "WAIVED by the plan: f9 certificate replaced" in rec
