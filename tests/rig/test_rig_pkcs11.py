"""The rig through the REAL PKCS#11 modules: Yubico's libykcs11.so and OpenSC's opensc-pkcs11.so.

These tests pin the behaviour of the real modules that tuf-ceremony relies on (labels, CKA_IDs,
PIN-always, PIN counters, attestation objects), with the emulator standing in for the card.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pkcs11
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass, TokenFlag
from pkcs11.types import SignMixin
from pkcs11.util.ec import (
    encode_ec_public_key,
    encode_ecdsa_signature,
    encode_named_curve_parameters,
)

from .rig import PivRig

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as Pkcs11Lib

pytestmark = pytest.mark.rig

ID_9A, ID_9C, ID_F9 = b"\x01", b"\x02", b"\x19"  # ykcs11 CKA_IDs: 9a=1, 9c=2, f9=25


@pytest.fixture
def ykcs11(piv_card: PivRig) -> Iterator[Pkcs11Lib]:
    lib = pkcs11.lib(piv_card.ykcs11)
    yield lib
    # python-pkcs11 0.10.1 leaves the session open when C_Login fails (wrong PIN); on ykcs11 a
    # leaked read-only session then makes SO login fail (SessionReadOnlyExists). Start clean.
    lib.reinitialize()


@pytest.fixture
def token(piv_card: PivRig, ykcs11: Pkcs11Lib) -> pkcs11.Token:
    return ykcs11.get_token(token_label=piv_card.token_label)


def generate(
    token: pkcs11.Token, rig: PivRig, curve: str = "secp256r1", key_id: bytes = ID_9C
) -> None:
    """On-card keygen through ykcs11 (SO login = management key); it also writes a cert."""
    with token.open(rw=True, so_pin=rig.mgmt_key) as s:
        params = s.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters(curve)}, local=True
        )
        params.generate_keypair(store=True, id=key_id)


def public_key(session: pkcs11.Session, key_id: bytes) -> ec.EllipticCurvePublicKey:
    pub = session.get_key(object_class=ObjectClass.PUBLIC_KEY, id=key_id)
    assert isinstance(pub, pkcs11.PublicKey)
    key = serialization.load_der_public_key(encode_ec_public_key(pub))
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


@pytest.fixture
def opensc(piv_card: PivRig) -> Iterator[Pkcs11Lib]:
    if piv_card.opensc is None:
        pytest.skip("opensc-pkcs11.so is not installed")
    lib = pkcs11.lib(piv_card.opensc)
    yield lib
    lib.reinitialize()


# --- token listing ---------------------------------------------------------------------------


def test_ykcs11_lists_the_token(piv_card: PivRig, ykcs11: Pkcs11Lib) -> None:
    tokens = [s.get_token() for s in ykcs11.get_slots(token_present=True)]
    assert [t.label for t in tokens] == [f"YubiKey PIV #{piv_card.serial}"]
    t = tokens[0]
    assert t.model == "YubiKey YK5"
    assert t.manufacturer_id.startswith("Yubico")
    assert t.serial.decode().strip() == str(piv_card.serial)
    assert t.flags & TokenFlag.LOGIN_REQUIRED
    assert not t.flags & (TokenFlag.USER_PIN_COUNT_LOW | TokenFlag.USER_PIN_FINAL_TRY)
    # The slot description is the reader name; the vpcd reader is named "Yubico ...".
    slot = next(iter(ykcs11.get_slots(token_present=True)))
    assert slot.slot_description.startswith("Yubico YubiKey vpcd")


def test_fresh_card_has_only_f9(token: pkcs11.Token) -> None:
    with token.open() as s:
        certs = {
            c[Attribute.ID]: c[Attribute.LABEL]
            for c in s.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE})
        }
    assert certs == {ID_F9: "X.509 Certificate for PIV Attestation"}


# --- keygen, public key, signing ------------------------------------------------------------


@pytest.mark.parametrize(
    ("curve", "mech", "halg"),
    [
        ("secp256r1", Mechanism.ECDSA_SHA256, hashes.SHA256()),
        ("secp384r1", Mechanism.ECDSA_SHA384, hashes.SHA384()),
    ],
)
def test_keygen_and_sign_pin_always(
    piv_card: PivRig, token: pkcs11.Token, curve: str, mech: Mechanism, halg: hashes.HashAlgorithm
) -> None:
    generate(token, piv_card, curve)
    state = piv_card.state()
    assert state["keys"]["9c"] == {
        "alg": 0x11 if curve == "secp256r1" else 0x14,
        "pin_policy": 3,
        "touch_policy": 1,
        "generated": True,
    }
    with token.open(user_pin=piv_card.pin) as s:
        priv = s.get_key(object_class=ObjectClass.PRIVATE_KEY, id=ID_9C)
        assert isinstance(priv, SignMixin)  # CKA_SIGN: python-pkcs11 adds sign()
        assert priv.label == "Private key for Digital Signature"
        assert priv[Attribute.ALWAYS_AUTHENTICATE] is True
        assert priv[Attribute.SENSITIVE] is True
        assert priv[Attribute.EXTRACTABLE] is False
        assert priv[Attribute.LOCAL] is True
        pub = public_key(s, ID_9C)
        for msg in (b"first", b"second"):  # PIN always: every signature needs pin=
            sig = priv.sign(msg, mechanism=mech, pin=piv_card.pin)
            pub.verify(encode_ecdsa_signature(sig), msg, ec.ECDSA(halg))
        with pytest.raises(pkcs11.exceptions.UserNotLoggedIn):
            priv.sign(b"third", mechanism=mech)
        # Host-side hashing + raw CKM_ECDSA (what securesystemslib's HSMSigner does).
        digest = hashes.Hash(halg)
        digest.update(b"raw")
        sig = priv.sign(digest.finalize(), mechanism=Mechanism.ECDSA, pin=piv_card.pin)
        pub.verify(encode_ecdsa_signature(sig), b"raw", ec.ECDSA(halg))


def test_keygen_needs_the_management_key(piv_card: PivRig, token: pkcs11.Token) -> None:
    with pytest.raises(pkcs11.exceptions.PinIncorrect):
        token.open(rw=True, so_pin="00" * 24).__enter__()
    assert piv_card.state()["keys"] == {}


# --- PIN counter, lockout, PUK ---------------------------------------------------------------


def test_wrong_pin_counts_down_to_lock(piv_card: PivRig, ykcs11: Pkcs11Lib) -> None:
    expected = [
        (TokenFlag.USER_PIN_COUNT_LOW, 2),
        (TokenFlag.USER_PIN_FINAL_TRY, 1),
        (TokenFlag.USER_PIN_LOCKED, 0),
    ]
    for flag, left in expected:
        tok = ykcs11.get_token(token_label=piv_card.token_label)
        exc = pkcs11.exceptions.PinLocked if left == 0 else pkcs11.exceptions.PinIncorrect
        with pytest.raises(exc):
            tok.open(user_pin="000000").__enter__()
        tok = ykcs11.get_token(token_label=piv_card.token_label)
        assert tok.flags & flag, (TokenFlag(tok.flags), left)
        assert piv_card.state()["pin_left"] == left
    tok = ykcs11.get_token(token_label=piv_card.token_label)
    with pytest.raises(pkcs11.exceptions.PinLocked):
        tok.open(user_pin=piv_card.pin).__enter__()


def test_good_pin_resets_the_counter(piv_card: PivRig, ykcs11: Pkcs11Lib) -> None:
    tok = ykcs11.get_token(token_label=piv_card.token_label)
    with pytest.raises(pkcs11.exceptions.PinIncorrect):
        tok.open(user_pin="000000").__enter__()
    assert piv_card.state()["pin_left"] == 2
    with tok.open(user_pin=piv_card.pin):
        pass
    assert piv_card.state()["pin_left"] == 3
    tok = ykcs11.get_token(token_label=piv_card.token_label)
    assert not tok.flags & TokenFlag.USER_PIN_COUNT_LOW


def test_puk_unblocks_with_yubico_piv_tool(piv_card: PivRig, ykcs11: Pkcs11Lib) -> None:
    """RESET RETRY COUNTER with the PUK (yubico-piv-tool, since ykcs11 has no unblock)."""
    tool = "yubico-piv-tool"
    try:
        subprocess.run([tool, "--version"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("yubico-piv-tool is not installed")
    tok = ykcs11.get_token(token_label=piv_card.token_label)
    for _ in range(3):
        with pytest.raises((pkcs11.exceptions.PinIncorrect, pkcs11.exceptions.PinLocked)):
            tok.open(user_pin="000000").__enter__()
    assert piv_card.state()["pin_left"] == 0
    r = subprocess.run(
        [tool, "-r", "Yubico", "-a", "unblock-pin", "-P", piv_card.puk, "-N", "654321"],
        env=piv_card.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert piv_card.state()["pin_left"] == 3
    tok = ykcs11.get_token(token_label=piv_card.token_label)
    with tok.open(user_pin="654321"):
        pass


# --- attestation through PKCS#11 ------------------------------------------------------------


def _certs(session: pkcs11.Session) -> dict[str, x509.Certificate]:
    # Only the attestation certificates: the placeholder certificate ykcs11 2.2.0 writes after
    # keygen has serial number 0, which cryptography deprecates (and will refuse to load).
    return {
        c[Attribute.LABEL]: x509.load_der_x509_certificate(c[Attribute.VALUE])
        for c in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE})
        if "Attestation" in c[Attribute.LABEL]
    }


def test_attestation_objects(piv_card: PivRig, token: pkcs11.Token) -> None:
    generate(token, piv_card)
    with token.open() as s:
        by_id: dict[bytes, list[str]] = {}
        for c in s.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}):
            by_id.setdefault(c[Attribute.ID], []).append(c[Attribute.LABEL])
        certs = _certs(s)
        pub = public_key(s, ID_9C)
    assert sorted(by_id[ID_9C]) == [
        "X.509 Certificate for Digital Signature",
        "X.509 Certificate for PIV Attestation 9c",
    ]
    assert by_id[ID_F9] == ["X.509 Certificate for PIV Attestation"]
    att = certs["X.509 Certificate for PIV Attestation 9c"]
    f9 = certs["X.509 Certificate for PIV Attestation"]
    root = x509.load_pem_x509_certificate(piv_card.ca_cert.read_bytes())
    # Chain: attestation <- f9 <- test root; the attested key is the slot's key.
    att.verify_directly_issued_by(f9)
    f9.verify_directly_issued_by(root)
    assert att.public_key() == pub
    assert att.subject.rfc4514_string() == "CN=YubiKey PIV Attestation 9c"
    assert f9.public_bytes(serialization.Encoding.PEM) == piv_card.device_cert.read_bytes()
    ext = {e.oid.dotted_string: e.value for e in att.extensions}
    assert ext["1.3.6.1.4.1.41482.3.3"].value == bytes([5, 4, 3])
    assert ext["1.3.6.1.4.1.41482.3.8"].value == b"\x03\x01"  # PIN always, touch never


def test_attestation_verifies_with_ceremony_attestation(
    piv_card: PivRig, token: pkcs11.Token
) -> None:
    from securesystemslib.signer import SSlibKey

    from ceremony.attestation import verify_attestation

    generate(token, piv_card)
    with token.open() as s:
        certs = {
            c[Attribute.LABEL]: c[Attribute.VALUE]
            for c in s.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE})
        }
        pub = public_key(s, ID_9C)
    key = SSlibKey.from_crypto(pub)
    info = verify_attestation(
        certs["X.509 Certificate for PIV Attestation 9c"],
        certs["X.509 Certificate for PIV Attestation"],
        key,
        extra_cas=[piv_card.ca_cert.read_bytes()],
    )
    assert info.serial == piv_card.serial
    assert info.firmware == piv_card.firmware
    assert info.pin_policy == "always"
    assert info.touch_policy == "never"
    assert info.slot == "9c"


def test_imported_key_is_not_attestable(piv_card: PivRig, token: pkcs11.Token) -> None:
    k = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=imported"))
        .issuer_name(x509.Name.from_rfc4514_string("CN=imported"))
        .public_key(k.public_key())
        .serial_number(1)
        .not_valid_before(
            x509.load_pem_x509_certificate(piv_card.ca_cert.read_bytes()).not_valid_before_utc
        )
        .not_valid_after(
            x509.load_pem_x509_certificate(piv_card.ca_cert.read_bytes()).not_valid_after_utc
        )
        .sign(k, hashes.SHA256())
    )
    with token.open(rw=True, so_pin=piv_card.mgmt_key) as s:
        # Note: do not repr() the handle create_object returns here: with ykcs11 2.2.0
        # python-pkcs11's key_length lookup on it segfaults.
        s.create_object(
            {
                Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                Attribute.KEY_TYPE: KeyType.EC,
                Attribute.ID: ID_9A,
                Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1"),
                Attribute.VALUE: k.private_numbers().private_value.to_bytes(32, "big"),
            }
        )
        s.create_object(
            {
                Attribute.CLASS: ObjectClass.CERTIFICATE,
                Attribute.CERTIFICATE_TYPE: pkcs11.CertificateType.X_509,
                Attribute.ID: ID_9A,
                Attribute.VALUE: cert.public_bytes(serialization.Encoding.DER),
            }
        )
    assert piv_card.state()["keys"]["9a"]["generated"] is False
    with token.open() as s:
        labels = {
            c[Attribute.LABEL]
            for c in s.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.ID: ID_9A})
        }
    assert labels == {"X.509 Certificate for PIV Authentication"}  # no "... Attestation 9a"


# --- OpenSC ---------------------------------------------------------------------------------


def test_opensc_lists_and_signs_the_same_key(
    piv_card: PivRig, token: pkcs11.Token, opensc: Pkcs11Lib
) -> None:
    generate(token, piv_card)
    with token.open() as s:
        pub = public_key(s, ID_9C)
    # OpenSC binds the card (and caches its objects) when it first sees it; keys made through
    # another module since then only show up after C_Finalize + C_Initialize.
    opensc.reinitialize()
    tokens = [sl.get_token() for sl in opensc.get_slots(token_present=True)]
    assert [t.label for t in tokens] == ["YubiKey PIV Slot 9c"]
    tok = tokens[0]
    with tok.open(user_pin=piv_card.pin) as s:
        priv = s.get_key(object_class=ObjectClass.PRIVATE_KEY, id=ID_9C)
        assert isinstance(priv, SignMixin)  # CKA_SIGN: python-pkcs11 adds sign()
        assert priv.label == "SIGN key"
        assert priv[Attribute.ALWAYS_AUTHENTICATE] is True
        for msg in (b"one", b"two"):
            sig = priv.sign(msg, mechanism=Mechanism.ECDSA_SHA256, pin=piv_card.pin)
            pub.verify(encode_ecdsa_signature(sig), msg, ec.ECDSA(hashes.SHA256()))


# --- card presence, touch ----------------------------------------------------------------------


def test_card_removal_and_insertion(piv_card: PivRig, ykcs11: Pkcs11Lib) -> None:
    """Pull the card and put it back. ykcs11 2.2.0 keeps a dead card handle after a
    re-insertion in the same process (SCardTransmit fails, the token shows no objects) until
    C_Finalize + C_Initialize: the CLI must reinitialize the module after DeviceRemoved."""
    piv_card.remove()
    try:
        assert list(ykcs11.get_slots(token_present=True)) == []
    finally:
        piv_card.insert()
    ykcs11.reinitialize()
    tokens = [s.get_token() for s in ykcs11.get_slots(token_present=True)]
    assert [t.label for t in tokens] == [piv_card.token_label]
    with tokens[0].open() as s:
        ids = {c[Attribute.ID] for c in s.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE})}
    assert ids == {ID_F9}


def test_policies_and_touch(piv_card: PivRig, ykcs11: Pkcs11Lib) -> None:
    """A touch-always key made with yubico-piv-tool (ykcs11 2.2.0 cannot set policies at keygen)
    is attested with its policies, and fails to sign when nobody touches the card."""
    tool = "yubico-piv-tool"
    r = subprocess.run(
        [
            tool,
            "-r",
            "Yubico",
            "-a",
            "generate",
            "-s",
            "9a",
            "-A",
            "ECCP256",
            "--pin-policy=once",
            "--touch-policy=always",
            f"--key={piv_card.mgmt_key}",
        ],
        env=piv_card.env,
        capture_output=True,
        timeout=60,
    )
    if r.returncode != 0 and b"not found" in r.stderr:
        pytest.skip("yubico-piv-tool is not installed")
    assert r.returncode == 0, r.stderr
    assert piv_card.state()["keys"]["9a"]["touch_policy"] == 2
    pub = serialization.load_pem_public_key(r.stdout)
    info = piv_card.control("attestation", slot="9a")
    att = x509.load_der_x509_certificate(bytes.fromhex(info["der"]))
    ext = {e.oid.dotted_string: e.value for e in att.extensions}
    assert ext["1.3.6.1.4.1.41482.3.8"].value == b"\x02\x02"  # PIN once, touch always
    assert att.public_key() == pub

    # ykcs11 2.2.0 only shows keys that have a certificate: store one for the key.
    signer = ec.generate_private_key(ec.SECP256R1())
    root = x509.load_pem_x509_certificate(piv_card.ca_cert.read_bytes())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=touch"))
        .issuer_name(x509.Name.from_rfc4514_string("CN=other"))
        .public_key(pub)  # type: ignore[arg-type]
        .serial_number(2)
        .not_valid_before(root.not_valid_before_utc)
        .not_valid_after(root.not_valid_after_utc)
        .sign(signer, hashes.SHA256())
    )
    token = ykcs11.get_token(token_label=piv_card.token_label)
    with token.open(rw=True, so_pin=piv_card.mgmt_key) as s:
        s.create_object(
            {
                Attribute.CLASS: ObjectClass.CERTIFICATE,
                Attribute.CERTIFICATE_TYPE: pkcs11.CertificateType.X_509,
                Attribute.ID: ID_9A,
                Attribute.VALUE: cert.public_bytes(serialization.Encoding.DER),
            }
        )
    token = ykcs11.get_token(token_label=piv_card.token_label)
    with token.open(user_pin=piv_card.pin) as s:
        priv = s.get_key(object_class=ObjectClass.PRIVATE_KEY, id=ID_9A)
        assert isinstance(priv, SignMixin)  # CKA_SIGN: python-pkcs11 adds sign()
        assert priv[Attribute.ALWAYS_AUTHENTICATE] is False
        sig = priv.sign(b"touched", mechanism=Mechanism.ECDSA_SHA256)
        assert isinstance(pub, ec.EllipticCurvePublicKey)
        pub.verify(encode_ecdsa_signature(sig), b"touched", ec.ECDSA(hashes.SHA256()))
        piv_card.set_touch(False)
        try:
            with pytest.raises(pkcs11.exceptions.PKCS11Error):
                priv.sign(b"not touched", mechanism=Mechanism.ECDSA_SHA256)
        finally:
            piv_card.set_touch(True)


# --- RSA, other firmware and serials ------------------------------------------------------------


def test_rsa2048_keygen_and_sign(piv_card: PivRig, token: pkcs11.Token) -> None:
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    with token.open(rw=True, so_pin=piv_card.mgmt_key) as s:
        s.generate_keypair(KeyType.RSA, 2048, store=True, id=ID_9C)
    assert piv_card.state()["keys"]["9c"]["alg"] == 0x07
    with token.open(user_pin=piv_card.pin) as s:
        pub_obj = s.get_key(object_class=ObjectClass.PUBLIC_KEY, id=ID_9C)
        pub = rsa.RSAPublicNumbers(
            int.from_bytes(pub_obj[Attribute.PUBLIC_EXPONENT], "big"),
            int.from_bytes(pub_obj[Attribute.MODULUS], "big"),
        ).public_key()
        priv = s.get_key(object_class=ObjectClass.PRIVATE_KEY, id=ID_9C)
        assert isinstance(priv, SignMixin)  # CKA_SIGN: python-pkcs11 adds sign()
        sig = priv.sign(b"rsa", mechanism=Mechanism.SHA256_RSA_PKCS, pin=piv_card.pin)
    pub.verify(sig, b"rsa", padding.PKCS1v15(), hashes.SHA256())


def test_roca_firmware_blocks_rsa_keygen(piv_card: PivRig, ykcs11: Pkcs11Lib) -> None:
    """Firmware 4.3.4 (YSA-2017-01): ykcs11 itself refuses on-chip RSA keygen; EC works.
    (Firmware < 5 also takes ykcs11's other path to the serial: the OTP applet.)"""
    piv_card.reset(firmware="4.3.4", serial=4343)
    ykcs11.reinitialize()
    token = ykcs11.get_token(token_label="YubiKey PIV #4343")
    assert token.firmware_version == (4, 34)
    with (
        token.open(rw=True, so_pin=piv_card.mgmt_key) as s,
        pytest.raises(pkcs11.exceptions.FunctionFailed),
    ):
        s.generate_keypair(KeyType.RSA, 2048, store=True, id=ID_9C)
    generate(token, piv_card)
    assert piv_card.state()["keys"]["9c"]["generated"] is True


def test_serial_and_firmware_overrides(piv_card: PivRig, ykcs11: Pkcs11Lib) -> None:
    """ykcs11 reports firmware 5.7.1 as CK_VERSION (5, 71): minor = 10 * minor + patch."""
    piv_card.reset(serial=7777777, firmware="5.7.1")
    ykcs11.reinitialize()
    tok = ykcs11.get_token(token_label="YubiKey PIV #7777777")
    assert tok.serial.decode().strip() == "7777777"
    assert piv_card.token_label == "YubiKey PIV #7777777"
    assert tok.firmware_version == (5, 71)


def test_opensc_token_serial_comes_from_the_chuid(piv_card: PivRig, opensc: Pkcs11Lib) -> None:
    """Factory YubiKeys have no CHUID: OpenSC then reports serial 00000000 and label PIV_II.
    With a CHUID, OpenSC's serial is the GUID's first 8 bytes in hex (not the YubiKey serial)."""
    (tok,) = [s.get_token() for s in opensc.get_slots(token_present=True)]
    assert (tok.label, tok.serial) == ("PIV_II", b"00000000")
    piv_card.reset(chuid=True)  # the emulator's GUID is the serial, four times
    opensc.reinitialize()
    (tok,) = [s.get_token() for s in opensc.get_slots(token_present=True)]
    assert tok.serial == f"{piv_card.serial:08x}{piv_card.serial:08x}".encode()
