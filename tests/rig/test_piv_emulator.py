"""The PIV emulator's APDU logic on its own (no pcscd, no vpcd: runs everywhere)."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from .piv_emulator import CardConfig, PivCard, TestCA, parse_tlvs, tlv

DEFAULT_MGMT = bytes.fromhex("010203040506070801020304050607080102030405060708")


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA.create(ec_key=True)


@pytest.fixture
def card(ca: TestCA) -> PivCard:
    c = PivCard.create(CardConfig(), ca)
    assert send(c, "00A4040005A000000308").endswith(b"\x90\x00")
    return c


def send(card: PivCard, hexapdu: str) -> bytes:
    return card.process(bytes.fromhex(hexapdu))


def sw(resp: bytes) -> int:
    return int.from_bytes(resp[-2:], "big")


def verify_pin(card: PivCard, pin: bytes = b"123456") -> int:
    data = pin + b"\xff" * (8 - len(pin))
    return sw(card.process(bytes([0, 0x20, 0, 0x80, 8]) + data))


def mgmt_auth(card: PivCard, key: bytes = DEFAULT_MGMT) -> int:
    r = send(card, "0087039B047C028000")
    assert sw(r) == 0x9000
    witness_enc = dict(parse_tlvs(dict(parse_tlvs(r[:-2]))[0x7C]))[0x80]
    dec = Cipher(TripleDES(key), modes.ECB()).decryptor()
    witness = dec.update(witness_enc) + dec.finalize()
    challenge = b"\x11" * 8
    body = tlv(0x7C, tlv(0x80, witness) + tlv(0x81, challenge))
    r = card.process(bytes([0, 0x87, 3, 0x9B, len(body)]) + body)
    if sw(r) != 0x9000:
        return sw(r)
    enc = Cipher(TripleDES(key), modes.ECB()).encryptor()
    assert dict(parse_tlvs(dict(parse_tlvs(r[:-2]))[0x7C]))[0x82] == enc.update(challenge)
    return 0x9000


def test_version_serial_and_pin_counter(card: PivCard) -> None:
    assert send(card, "00FD000000") == bytes.fromhex("0504039000")
    assert send(card, "00F8000000") == (12345678).to_bytes(4, "big") + b"\x90\x00"
    assert sw(send(card, "0020008000")) == 0x63C3
    assert verify_pin(card, b"000000") == 0x63C2
    assert verify_pin(card, b"000000") == 0x63C1
    assert verify_pin(card) == 0x9000
    assert sw(send(card, "0020008000")) == 0x9000  # verified in this session
    for expected in (0x63C2, 0x63C1, 0x6983, 0x6983):
        assert verify_pin(card, b"000000") == expected
    assert verify_pin(card) == 0x6983
    # Unblock with the PUK (RESET RETRY COUNTER), new PIN 654321.
    data = b"12345678" + b"654321\xff\xff"
    assert sw(card.process(bytes([0, 0x2C, 0, 0x80, 16]) + data)) == 0x9000
    assert verify_pin(card, b"654321") == 0x9000


def test_mgmt_auth_keygen_sign_pin_always_and_attest(card: PivCard, ca: TestCA) -> None:
    assert sw(send(card, "0047009C05AC03800111")) == 0x6982  # needs mgmt auth
    assert mgmt_auth(card, b"\x00" * 24) == 0x6982
    assert mgmt_auth(card) == 0x9000
    r = send(card, "0047009C08AC06800111AB0102")  # P-256, touch always
    assert sw(r) == 0x9000
    point = dict(parse_tlvs(dict(parse_tlvs(r[:-2]))[0x7F49]))[0x86]
    pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(b"msg")
    body = tlv(0x7C, tlv(0x82, b"") + tlv(0x81, digest.finalize()))
    sign = bytes([0, 0x87, 0x11, 0x9C, len(body)]) + body
    assert sw(card.process(sign)) == 0x6982  # PIN always: no VERIFY yet
    assert verify_pin(card) == 0x9000
    r = card.process(sign)
    assert sw(r) == 0x9000
    sig = dict(parse_tlvs(dict(parse_tlvs(r[:-2]))[0x7C]))[0x82]
    pub.verify(sig, b"msg", ec.ECDSA(hashes.SHA256()))
    assert sw(card.process(sign)) == 0x6982  # consumed
    card.touch_ok = False
    assert verify_pin(card) == 0x9000
    assert sw(card.process(sign)) == 0x6985  # touch required, nobody touched
    # Attestation: DER certificate, longer than 256 bytes -> 61xx + GET RESPONSE.
    r = send(card, "00F99C0000")
    data = r[:-2]
    while r[-2] == 0x61:
        r = send(card, "00C0000000")
        data += r[:-2]
    assert sw(r) == 0x9000
    att = x509.load_der_x509_certificate(data)
    assert att.public_key() == pub
    att.verify_directly_issued_by(card.device_cert)
    card.device_cert.verify_directly_issued_by(ca.cert)
    ext = {e.oid.dotted_string: e.value.value for e in att.extensions}
    assert ext["1.3.6.1.4.1.41482.3.8"] == b"\x03\x02"
    assert ext["1.3.6.1.4.1.41482.3.7"] == bytes.fromhex("020400bc614e")


def test_imported_key_not_attestable_and_command_chaining(card: PivCard) -> None:
    assert mgmt_auth(card) == 0x9000
    k = ec.generate_private_key(ec.SECP256R1())
    body = tlv(0x06, k.private_numbers().private_value.to_bytes(32, "big"))
    assert sw(card.process(bytes([0, 0xFE, 0x11, 0x9A, len(body)]) + body)) == 0x9000
    assert sw(send(card, "00F99A0000")) == 0x6A80
    # PUT DATA with a certificate > 255 bytes, sent with command chaining (CLA 0x10).
    cert = card.device_cert.public_bytes(serialization.Encoding.DER)
    obj = tlv(0x5C, bytes.fromhex("5FC105")) + tlv(0x53, tlv(0x70, cert) + tlv(0x71, b"\x00"))
    chunks = [obj[i : i + 255] for i in range(0, len(obj), 255)]
    for i, chunk in enumerate(chunks):
        cla = 0x10 if i < len(chunks) - 1 else 0x00
        assert sw(card.process(bytes([cla, 0xDB, 0x3F, 0xFF, len(chunk)]) + chunk)) == 0x9000
    # Read back with an extended-length GET DATA (all in one response).
    r = card.process(bytes.fromhex("00CB3FFF0000055C035FC1050000"))
    assert sw(r) == 0x9000
    assert dict(parse_tlvs(dict(parse_tlvs(r[:-2]))[0x53]))[0x70] == cert


def test_reset_needs_blocked_pin_and_puk(card: PivCard) -> None:
    assert sw(send(card, "00FB000000")) == 0x6985
    for _ in range(3):
        verify_pin(card, b"000000")
    bad_puk = b"00000000" + b"123456\xff\xff"
    for _ in range(3):
        card.process(bytes([0, 0x2C, 0, 0x80, 16]) + bad_puk)
    assert sw(send(card, "00FB000000")) == 0x9000
    assert verify_pin(card) == 0x9000
    assert 0x5FFF01 in card.objects  # f9 survives


def test_metadata(card: PivCard) -> None:
    r = send(card, "00F7008000")
    assert sw(r) == 0x9000
    assert dict(parse_tlvs(r[:-2]))[0x06] == b"\x03\x03"
    # An empty slot: 6A88 (reference data not found), which is what yubikit/ykman treat as "no
    # key stored in slot" (ykman.piv._list_keys, `ykman piv keys info`).
    assert sw(send(card, "00F7009C00")) == 0x6A88


def test_management_application_reports_device_info(ca: TestCA) -> None:
    c = PivCard.create(CardConfig(serial=7654321, firmware="5.7.1", form_factor="usb-c-nano"), ca)
    r = send(c, "00A4040008A000000527471117")
    assert sw(r) == 0x9000 and r[:-2] == b"5.7.1"
    r = send(c, "001D000000")
    assert sw(r) == 0x9000
    body = r[:-2]
    assert body[0] == len(body) - 1
    info = dict(parse_tlvs(body[1:]))
    assert info[0x02] == (7654321).to_bytes(4, "big")
    assert info[0x04] == b"\x04"  # USB-C nano
    assert info[0x05] == bytes([5, 7, 1])
    # A YubiKey 4 has no such application here.
    old = PivCard.create(CardConfig(firmware="4.3.7"), ca)
    assert sw(send(old, "00A4040008A000000527471117")) == 0x6A82


@pytest.mark.parametrize(("firmware", "expected"), [("5.4.3", 0x6A80), ("5.7.1", 0x9000)])
def test_ed25519_generation_needs_firmware_5_7(ca: TestCA, firmware: str, expected: int) -> None:
    c = PivCard.create(CardConfig(firmware=firmware), ca)
    assert sw(send(c, "00A4040005A000000308")) == 0x9000
    assert mgmt_auth(c) == 0x9000
    r = send(c, "0047009C05AC038001E0")
    assert sw(r) == expected
    if expected == 0x9000:
        point = dict(parse_tlvs(dict(parse_tlvs(r[:-2]))[0x7F49]))[0x86]
        assert len(point) == 32
        assert c.keys[0x9C].alg == 0xE0
        # The attestation carries the Ed25519 key; a PIN-always signature is over the message.
        att = x509.load_der_x509_certificate(send(c, "00F99C00000000")[:-2])
        assert (
            att.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
            == point
        )
        assert verify_pin(c) == 0x9000
        msg = b"message to sign"
        body = tlv(0x7C, tlv(0x82, b"") + tlv(0x81, msg))
        r = c.process(bytes([0, 0x87, 0xE0, 0x9C, len(body)]) + body)
        assert sw(r) == 0x9000
        sig = dict(parse_tlvs(dict(parse_tlvs(r[:-2]))[0x7C]))[0x82]
        att_key = att.public_key()
        assert isinstance(att_key, ed25519.Ed25519PublicKey)
        att_key.verify(sig, msg)


def test_printed_object_needs_the_pin(card: PivCard) -> None:
    assert mgmt_auth(card) == 0x9000
    obj = tlv(0x5C, bytes.fromhex("5FC109")) + tlv(0x53, tlv(0x88, tlv(0x89, b"\x01" * 24)))
    assert sw(card.process(bytes([0, 0xDB, 0x3F, 0xFF, len(obj)]) + obj)) == 0x9000
    assert sw(send(card, "00CB3FFF055C035FC109")) == 0x6982
    assert verify_pin(card) == 0x9000
    assert sw(send(card, "00CB3FFF055C035FC109")) == 0x9000
