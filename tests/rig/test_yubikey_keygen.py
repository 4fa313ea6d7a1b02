"""`ceremony.tokens.yubikey` with the REAL yubikit (yubikey-manager) over pcscd, on the PIV emulator.

Key generation on the device, attestation read and verified against the rig's test CA, the
refusals (default management key, PIN and PUK; wrong management key; occupied slot; key types
the firmware cannot make), and the hand-over to the PKCS#11 path: the key is then visible to
the real libykcs11.so with the same public key, and signs through `ceremony.tokens.open_signer`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pkcs11
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pkcs11 import Attribute, ObjectClass

from ceremony import attestation, errors
from ceremony.tokens import yubikey as yk
from ceremony.tokens.pkcs11 import open_signer, read_key
from tests.rig.rig import PivRig, piv_card, piv_rig
from tests.softhsm import RecordingPinProvider

__all__ = ["piv_card", "piv_rig"]

pytestmark = pytest.mark.rig

PIN = "24681357"
PUK = "97531864"
MGMT_3DES = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978"
MGMT_AES192 = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718"
DEFAULT_MGMT = "010203040506070801020304050607080102030405060708"
ALG_AES192 = 0x0A


@dataclass
class MgmtProvider:
    """A ManagementKeyProvider that answers `key` and records every request."""

    key: str
    requests: list[yk.ManagementKeyRequest] = field(default_factory=list)

    def __call__(self, request: yk.ManagementKeyRequest) -> str:
        self.requests.append(request)
        return self.key


def _never_asked(what: str) -> yk.ManagementKeyProvider:
    def provider(_request: object) -> str:
        raise AssertionError(f"the {what} must not be asked")

    return provider


def _no_pin(_request: object) -> str:
    raise AssertionError("the PIN must not be asked")


def _setup(rig: PivRig, **overrides: object) -> PivRig:
    """A card prepared by its holder (own PIN, PUK, management key) with `overrides`."""
    config: dict[str, object] = {"pin": PIN, "puk": PUK, "mgmt_key": MGMT_3DES}
    config.update(overrides)
    rig.reset(**config)
    pkcs11.lib(rig.ykcs11).reinitialize()  # ykcs11 caches the serial and firmware it saw
    return rig


@pytest.fixture
def card(piv_card: PivRig) -> Iterator[PivRig]:
    """Firmware 5.4.3, holder's PIN/PUK/3DES management key, no keys but f9."""
    yield _setup(piv_card)
    pkcs11.lib(piv_card.ykcs11).reinitialize()


def _generate(rig: PivRig, mgmt: str = MGMT_3DES, **kwargs: object) -> yk.GeneratedPivKey:
    notes: list[str] = kwargs.pop("notes", [])  # type: ignore[assignment]
    return yk.generate_piv_key(
        rig.serial,
        pin_provider=kwargs.pop("pin_provider", _no_pin),  # type: ignore[arg-type]
        management_key_provider=kwargs.pop("management_key_provider", MgmtProvider(mgmt)),  # type: ignore[arg-type]
        notify=notes.append,
        **kwargs,  # type: ignore[arg-type]
    )


def _verify(rig: PivRig, key: yk.GeneratedPivKey) -> attestation.AttestationInfo:
    """The chain check the enrolment does, with the rig's TEST root as the operator's CA."""
    return attestation.verify_attestation(
        key.attestation_certificate,
        key.device_certificate,
        key.public_key,
        extra_cas=[rig.ca_cert.read_bytes()],
    )


# --- listing -----------------------------------------------------------------------------------


def test_list_yubikeys_reads_serial_firmware_and_form_factor(piv_card: PivRig) -> None:
    _setup(piv_card, serial=7654321, firmware="5.7.1", form_factor="usb-c-nano")
    (info,) = yk.list_yubikeys()  # the empty second vpcd reader is skipped
    assert (info.serial, info.firmware, info.form_factor, info.fips) == (
        7654321,
        "5.7.1",
        "usb-c-nano",
        False,
    )
    assert info.reader.startswith("Yubico YubiKey")
    assert info.describe() == "YubiKey 7654321 (firmware 5.7.1, usb-c-nano)"


def test_a_yubikey_that_is_not_plugged_in_is_named(card: PivRig) -> None:
    with pytest.raises(errors.TokenNotFound) as exc:
        yk.generate_piv_key(
            99999999,
            pin_provider=_no_pin,
            management_key_provider=_never_asked("management key"),
            notify=lambda _m: None,
        )
    assert "YubiKey 99999999 is not plugged in" in str(exc.value)
    assert f"YubiKey {card.serial}" in str(exc.value)  # what it saw instead


# --- generation and attestation ----------------------------------------------------------------


def test_generate_9c_pin_always_touch_always_attested(card: PivRig) -> None:
    mgmt = MgmtProvider(MGMT_3DES)
    notes: list[str] = []
    key = _generate(card, management_key_provider=mgmt, notes=notes)

    assert (key.slot, key.key_type, key.pin_policy, key.touch_policy) == (
        "9c",
        "ecdsa-p256",
        "always",
        "always",
    )
    assert key.serial == card.serial and key.firmware == "5.4.3"
    assert not key.certificate_written and not key.replaced
    # The management key was asked once, like a PIN, saying which device and key type.
    (request,) = mgmt.requests
    assert request.device.serial == card.serial
    assert (request.algorithm, request.hex_length) == ("TDES", 48)
    assert any("Generating an ECDSA P-256 key" in n for n in notes)
    # On the card: generated (not imported) with the policies asked for; no certificate.
    state = card.state()
    assert state["keys"]["9c"] == {
        "alg": 0x11,
        "pin_policy": 3,
        "touch_policy": 2,
        "generated": True,
    }
    assert "5fc10a" not in state["objects"]
    # The attestation verifies to the (test) root and describes this key and device.
    info = _verify(card, key)
    assert (info.serial, info.firmware, info.slot) == (card.serial, "5.4.3", "9c")
    assert (info.pin_policy, info.touch_policy) == ("always", "always")
    assert info.root_source == "operator"
    f9 = x509.load_der_x509_certificate(key.device_certificate)
    assert f9.public_bytes(serialization.Encoding.PEM) == card.device_cert.read_bytes()


def test_generated_key_is_visible_to_ykcs11_and_signs(card: PivRig) -> None:
    key = _generate(card)
    provider = RecordingPinProvider(PIN)
    found = read_key(key.pkcs11_uri(), module=card.ykcs11, pin_provider=provider)
    assert found.key_id == b"\x02"
    assert found.public_key is not None
    assert found.public_key.keyval == key.public_key.keyval  # the same public key
    assert found.attributes is not None and found.attributes.always_authenticate
    notes: list[str] = []
    with open_signer(
        found.uri,
        module=card.ykcs11,
        public_key=key.public_key,
        pin_provider=provider,
        notify=notes.append,
        purpose="sign root",
    ) as signer:
        signature = signer.sign(b"payload")
    key.public_key.verify_signature(signature, b"payload")
    assert any(n.startswith("Touch ") for n in notes)


def test_ykcs11_shows_a_key_without_a_certificate_opensc_does_not(card: PivRig) -> None:
    """Why no certificate is written by default: libykcs11 2.2 finds the key from the slot
    metadata; OpenSC 0.23 shows nothing for a slot without a certificate."""
    key = _generate(card)
    assert "5fc10a" not in card.state()["objects"]
    token = pkcs11.lib(card.ykcs11).get_token(token_label=card.token_label)
    with token.open() as session:
        pubs = list(session.get_objects({Attribute.CLASS: ObjectClass.PUBLIC_KEY}))
        assert b"\x02" in [bytes(p[Attribute.ID]) for p in pubs]
    if card.opensc is None:
        pytest.skip("opensc-pkcs11.so is not installed")
    assert _opensc_public_keys(card) == []
    del key


def test_write_certificate_makes_the_key_visible_to_opensc(card: PivRig) -> None:
    pins = RecordingPinProvider(PIN)
    notes: list[str] = []
    key = _generate(card, write_certificate=True, pin_provider=pins, notes=notes)
    assert key.certificate_written
    assert len(pins.requests) == 1  # PIN-always: verified just before the one signature
    assert any(n.startswith("Touch ") for n in notes)
    assert "5fc10a" in card.state()["objects"]
    if card.opensc is None:
        pytest.skip("opensc-pkcs11.so is not installed")
    assert _opensc_public_keys(card) == [key.public_key_der]


def _opensc_public_keys(rig: PivRig) -> list[bytes]:
    """SubjectPublicKeyInfo of every certificate OpenSC shows for the card (no login)."""
    assert rig.opensc is not None
    lib = pkcs11.lib(rig.opensc)
    lib.reinitialize()
    try:
        (slot,) = lib.get_slots(token_present=True)
        with slot.get_token().open() as session:
            certs = session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE})
            return [
                x509.load_der_x509_certificate(bytes(c[Attribute.VALUE]))
                .public_key()
                .public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                )
                for c in certs
            ]
    finally:
        lib.reinitialize()


def test_ed25519_on_firmware_5_7_with_an_aes_management_key(piv_card: PivRig) -> None:
    _setup(piv_card, firmware="5.7.1", mgmt_key=MGMT_AES192, mgmt_alg=ALG_AES192)
    mgmt = MgmtProvider(MGMT_AES192)
    key = _generate(piv_card, key_type="ed25519", management_key_provider=mgmt, slot="9a")
    assert mgmt.requests[0].algorithm == "AES-192"
    assert key.public_key.keytype == "ed25519" and key.slot == "9a"
    assert piv_card.state()["keys"]["9a"]["alg"] == 0xE0
    info = _verify(piv_card, key)
    assert (info.slot, info.firmware, info.pin_policy) == ("9a", "5.7.1", "always")


@pytest.mark.parametrize(("key_type", "name"), [("ed25519", "Ed25519"), ("rsa-3072", "RSA-3072")])
def test_firmware_before_5_7_refuses_ed25519_and_rsa_3072(
    card: PivRig, key_type: str, name: str
) -> None:
    with pytest.raises(errors.MechanismNotSupported) as exc:
        _generate(card, key_type=key_type, management_key_provider=_never_asked("mgmt key"))
    message = str(exc.value)
    assert f"cannot generate {name} keys" in message
    assert "firmware 5.7.0 or later" in message and "5.4.3" in message
    assert "cannot be upgraded" in message
    assert f"YubiKey {card.serial}" in message
    assert exc.value.exit_code == 3
    assert card.state()["keys"] == {}


# --- refusals: default credentials -------------------------------------------------------------


def test_default_management_key_on_the_card_is_refused_before_asking(piv_card: PivRig) -> None:
    _setup(piv_card, mgmt_key=DEFAULT_MGMT)
    with pytest.raises(errors.TokenError) as exc:
        _generate(piv_card, management_key_provider=_never_asked("management key"))
    assert "factory default PIV management key" in str(exc.value)
    assert "change-management-key" in (exc.value.hint or "")
    assert piv_card.state()["keys"] == {}


def test_default_management_key_typed_is_refused_and_not_sent(card: PivRig) -> None:
    with pytest.raises(errors.TokenError) as exc:
        _generate(card, mgmt=DEFAULT_MGMT)
    assert "is the factory default" in str(exc.value)
    assert "not sent" in str(exc.value)
    state = card.state()
    assert state["keys"] == {} and not state["mgmt_authenticated"]


@pytest.mark.parametrize(
    ("override", "words"),
    [({"pin": "123456"}, "PIN (123456)"), ({"puk": "12345678"}, "PUK (12345678)")],
)
def test_default_pin_or_puk_is_refused_from_the_metadata(
    piv_card: PivRig, override: dict[str, str], words: str
) -> None:
    _setup(piv_card, **override)
    with pytest.raises(errors.TokenError) as exc:
        _generate(piv_card, management_key_provider=_never_asked("management key"))
    assert f"factory default PIV {words}" in str(exc.value)
    assert "Nothing was generated" in str(exc.value)
    state = piv_card.state()
    assert state["keys"] == {} and state["pin_left"] == 3 and state["puk_left"] == 3


def test_wrong_management_key_changes_nothing(card: PivRig) -> None:
    before = card.state()
    with pytest.raises(errors.TokenError) as exc:
        _generate(card, mgmt="ff" * 24)
    assert f"management key is wrong for YubiKey {card.serial}" in str(exc.value)
    assert "Nothing was changed" in str(exc.value)
    assert exc.value.exit_code == 3
    after = card.state()
    assert after["keys"] == {} and after["objects"] == before["objects"]
    assert after["pin_left"] == before["pin_left"]


def test_malformed_management_key_is_an_input_error(card: PivRig) -> None:
    with pytest.raises(errors.InputError) as exc:
        _generate(card, mgmt="0102")
    assert "48 hexadecimal digits" in str(exc.value)
    assert card.state()["keys"] == {}


# --- refusals: the slot ------------------------------------------------------------------------


def test_slot_already_holding_a_key_is_refused_unless_replacing(card: PivRig) -> None:
    first = _generate(card)
    with pytest.raises(errors.TokenError) as exc:
        _generate(card, management_key_provider=_never_asked("management key"))
    assert "PIV slot 9c" in str(exc.value) and "already holds a key" in str(exc.value)
    assert "never overwritten silently" in str(exc.value)
    # The first key is still there, unchanged.
    again = yk.read_piv_attestation(card.serial, "9c")
    assert again.public_key.keyval == first.public_key.keyval
    # Explicitly replacing makes a new key.
    second = _generate(card, replace_existing=True)
    assert second.replaced and second.public_key.keyval != first.public_key.keyval


def test_slot_holding_only_a_certificate_is_refused_and_the_stale_one_removed(
    card: PivRig,
) -> None:
    import datetime as dt

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from ykman.pcsc import ScardSmartCardConnection, list_readers
    from yubikit.piv import SLOT, PivSession

    other = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name.from_rfc4514_string("CN=an old key")
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(other.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(other, hashes.SHA256())
    )
    reader = next(r for r in list_readers() if r.name.endswith(" 00 00"))
    conn = ScardSmartCardConnection(reader.createConnection())
    try:
        piv = PivSession(conn)
        piv.authenticate(bytes.fromhex(MGMT_3DES))
        piv.put_certificate(SLOT.KEY_MANAGEMENT, cert)
    finally:
        conn.close()
    with pytest.raises(errors.TokenError) as exc:
        _generate(card, slot="9d")
    assert "PIV slot 9d" in str(exc.value) and "already holds a certificate" in str(exc.value)
    assert card.state()["keys"] == {}
    # Replacing: the new key, and the old key's certificate is gone (PKCS#11 modules would
    # otherwise show the old public key for the slot).
    key = _generate(card, slot="9d", replace_existing=True)
    assert key.replaced
    state = card.state()
    assert "9d" in state["keys"] and "5fc10b" not in state["objects"]


@pytest.mark.parametrize("slot", ["9b", "f9", "9f", "zz"])
def test_slots_that_cannot_hold_a_ceremony_key_are_input_errors(card: PivRig, slot: str) -> None:
    with pytest.raises(errors.InputError):
        _generate(card, slot=slot, management_key_provider=_never_asked("management key"))


# --- management key protected by the PIN (ykman --protect) -------------------------------------


def test_pin_protected_management_key_asks_only_the_pin(card: PivRig) -> None:
    from ykman.pcsc import ScardSmartCardConnection, list_readers
    from ykman.piv import pivman_set_mgm_key
    from yubikit.piv import MANAGEMENT_KEY_TYPE, PivSession

    # What `ykman piv access change-management-key --generate --protect` does.
    reader = next(r for r in list_readers() if r.name.endswith(" 00 00"))
    conn = ScardSmartCardConnection(reader.createConnection())  # shared: ykcs11 may hold it
    try:
        piv = PivSession(conn)
        piv.authenticate(bytes.fromhex(MGMT_3DES))
        piv.verify_pin(PIN)
        pivman_set_mgm_key(
            piv, bytes.fromhex(MGMT_AES192), MANAGEMENT_KEY_TYPE.TDES, store_on_device=True
        )
    finally:
        conn.close()

    pins = RecordingPinProvider(PIN)
    key = _generate(card, pin_provider=pins, management_key_provider=_never_asked("mgmt key"))
    assert len(pins.requests) == 1
    assert "protected by the PIN" in pins.requests[0].purpose
    assert pins.requests[0].token.serial == str(card.serial)
    assert card.state()["keys"]["9c"]["generated"]
    _verify(card, key)


# --- firmware without PIV metadata (before 5.3) ------------------------------------------------


@pytest.fixture
def old_card(piv_card: PivRig) -> Iterator[PivRig]:
    yield _setup(piv_card, firmware="5.2.7")
    pkcs11.lib(piv_card.ykcs11).reinitialize()


def test_old_firmware_verifies_the_pin_and_warns_about_the_puk(old_card: PivRig) -> None:
    pins = RecordingPinProvider(PIN)
    notes: list[str] = []
    key = _generate(old_card, pin_provider=pins, notes=notes)
    assert len(pins.requests) == 1
    assert any("PUK" in n and "cannot be checked" in n for n in notes)
    # No metadata: the policies come from the attestation.
    assert (key.pin_policy, key.touch_policy) == ("always", "always")
    _verify(old_card, key)


def test_old_firmware_refuses_a_default_pin_without_sending_it(old_card: PivRig) -> None:
    with pytest.raises(errors.TokenError) as exc:
        _generate(old_card, pin_provider=RecordingPinProvider("123456"))
    assert "factory default PIN" in str(exc.value)
    state = old_card.state()
    assert state["pin_left"] == 3 and state["keys"] == {}


def test_old_firmware_wrong_pin_says_how_many_tries_are_left(old_card: PivRig) -> None:
    with pytest.raises(errors.PinIncorrect) as exc:
        _generate(old_card, pin_provider=RecordingPinProvider("11112222"))
    assert "2 tries left" in str(exc.value)
    assert old_card.state()["keys"] == {}


# --- after the generation ----------------------------------------------------------------------


def test_touch_not_detected_for_the_certificate_says_the_key_was_generated(card: PivRig) -> None:
    card.set_touch(False)
    with pytest.raises(errors.TouchNotDetected) as exc:
        _generate(card, write_certificate=True, pin_provider=RecordingPinProvider(PIN))
    message = str(exc.value)
    assert "touch was not detected" in message
    assert "already generated in PIV slot 9c" in message
    assert card.state()["keys"]["9c"]["generated"]  # the key is there, without certificate
    assert "5fc10a" not in card.state()["objects"]


def test_an_imported_key_has_no_attestation(card: PivRig) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec
    from ykman.pcsc import ScardSmartCardConnection, list_readers
    from yubikit.piv import SLOT, PivSession

    reader = next(r for r in list_readers() if r.name.endswith(" 00 00"))
    conn = ScardSmartCardConnection(reader.createConnection())
    try:
        piv = PivSession(conn)
        piv.authenticate(bytes.fromhex(MGMT_3DES))
        piv.put_key(SLOT.KEY_MANAGEMENT, ec.generate_private_key(ec.SECP256R1()))
    finally:
        conn.close()
    with pytest.raises(errors.KeyNotFound) as exc:
        yk.read_piv_attestation(card.serial, "9d")
    assert "imported" in str(exc.value) and "slot 9d" in str(exc.value)
    # keygen refuses the slot (the imported key is found through the metadata)
    with pytest.raises(errors.TokenError, match="already holds a key"):
        _generate(card, slot="9d")
