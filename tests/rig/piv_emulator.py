"""A YubiKey-like PIV card emulator for tests, talking to vpcd (vsmartcard's virtual reader).

This is TEST equipment, not product code. It lets the REAL `libykcs11.so` (yubico-piv-tool 2.2.0)
and OpenSC's `opensc-pkcs11.so` run end to end against a PIV card without hardware:

    pcscd (reader "Yubico YubiKey vpcd", driver libifdvpcd.so) <-TCP-> this emulator

vpcd protocol (vsmartcard `vpcd.c`): the emulator connects to vpcd (TCP, default
127.0.0.1:35963); every message in both directions is a 2-byte big-endian length plus payload.
A 1-byte message from vpcd is a control code: 0 power off, 1 power on, 2 reset, 4 get ATR
(answered with the ATR); anything longer is a command APDU, answered with a response APDU.
Closing the connection is a card removal; connecting again is an insertion.

What the card implements (YubiKey PIV applet, firmware 5.x behaviour; see the Yubico "PIV
extensions" page and NIST SP 800-73-4):

- SELECT PIV AID (and the OTP AID + `00 01 10 00` serial for firmware < 5), GET RESPONSE
  chaining (61xx), command chaining (CLA 0x10), short and extended APDUs.
- The Management application (AID A000000527471117, firmware >= 5): SELECT answers the firmware
  version as text, READ CONFIG (1D) the DeviceInfo TLVs (serial, firmware, form factor, FIPS
  bit), as yubikit's `ManagementSession.read_device_info` reads them.
- GET VERSION (FD), GET SERIAL (F8), GET METADATA (F7, firmware >= 5.3: PIN/PUK/management key
  with their "default value" flags, key slots; an empty slot, or 96 on a non-Bio key, is 6A88).
- VERIFY (20) with retry counter (63Cx), empty-data status query, lockout (6983), "unverify"
  (P1=FF); CHANGE REFERENCE DATA (24) for PIN/PUK; RESET RETRY COUNTER (2C) with the PUK;
  SET PIN RETRIES (FA); RESET (FB, only when PIN and PUK are blocked; keeps f9).
- Management key (slot 9B) mutual challenge-response authentication (GENERAL AUTHENTICATE 87,
  3DES or AES-128/192/256), SET MANAGEMENT KEY (FF).
- GENERATE ASYMMETRIC KEY PAIR (47) for P-256, P-384, RSA-1024/2048, and on firmware >= 5.7
  RSA-3072/4096, Ed25519 (E0) and X25519 (E1) (older firmware answers 6A80), with PIN policy
  (AA) and touch policy (AB) tags; IMPORT KEY (FE); MOVE/DELETE KEY (F6, firmware >= 5.7).
- The management key is 3DES unless CardConfig.mgmt_alg says otherwise (a factory 5.7 YubiKey
  has an AES-192 key with the same default bytes: mgmt_alg=0x0A; ykcs11 2.2 only speaks 3DES).
- GENERAL AUTHENTICATE (87) signing (tag 81) and ECDH (tag 85) with PIN policies enforced:
  "always" needs a fresh VERIFY before every private-key operation (consumed by it).
- GET DATA (CB) / PUT DATA (DB): discovery (7E), CHUID, CCC, certificates, any object; the
  "printed information" object 5FC109 (where ykman keeps a PIN-protected management key) is
  readable only after VERIFY PIN.
- ATTEST (F9): an X.509 certificate for a slot's key, signed by the f9 key, with the Yubico
  extensions 1.3.6.1.4.1.41482.3.3 (firmware, 3 raw bytes), .3.7 (serial, DER INTEGER), .3.8
  (PIN policy, touch policy: 2 raw bytes), .3.9 (form factor, 1 raw byte), .3.10 (FIPS) when
  configured. Imported keys are refused (6A80), like on a real YubiKey. The f9 certificate
  (object 5FFF01) is signed by a TEST root CA ("Test Yubico PIV Root CA") made by the rig.

Run as a program: `python -m tests.rig.piv_emulator --config card.json` (see `main`). The
control socket (a Unix socket, one JSON object per line) accepts {"cmd": "reset"} (fresh card
state, same device identity; {"cmd": "reset", "config": {...}} also changes CardConfig fields
such as serial or firmware), "remove", "insert", "state", "ping", "attestation" (slot), and
{"cmd": "set", "touch_ok": false} (touch-required operations then fail with 6985).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import os
import secrets
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, utils, x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import NameOID

log = logging.getLogger("piv_emulator")

# --- constants -----------------------------------------------------------------------------

PIV_AID = bytes.fromhex("A000000308")
OTP_AID_PREFIX = bytes.fromhex("A0000005272001")
# YubiKey 5 NFC ATR (historical bytes announce extended-length APDUs).
ATR = bytes.fromhex("3BFD1300008131FE158073C021C057597562694B657940")

ALG_3DES = 0x03
ALG_AES128 = 0x08
ALG_AES192 = 0x0A
ALG_AES256 = 0x0C
ALG_RSA1024 = 0x06
ALG_RSA2048 = 0x07
ALG_RSA3072 = 0x05  # firmware 5.7+
ALG_RSA4096 = 0x16  # firmware 5.7+
ALG_ECCP256 = 0x11
ALG_ECCP384 = 0x14
ALG_ED25519 = 0xE0  # firmware 5.7+ (Yubico extension)
ALG_X25519 = 0xE1  # firmware 5.7+ (key agreement only)
ALG_PIN = 0xFF

EC_CURVES: dict[int, ec.EllipticCurve] = {ALG_ECCP256: ec.SECP256R1(), ALG_ECCP384: ec.SECP384R1()}
RSA_BITS = {ALG_RSA1024: 1024, ALG_RSA2048: 2048, ALG_RSA3072: 3072, ALG_RSA4096: 4096}
# Key types a YubiKey only knows from firmware 5.7.0 (older firmware answers 6A80).
ALGS_5_7 = {ALG_RSA3072, ALG_RSA4096, ALG_ED25519, ALG_X25519}

PIN_POLICY = {"default": 0, "never": 1, "once": 2, "always": 3, "match-once": 4, "match-always": 5}
TOUCH_POLICY = {"default": 0, "never": 1, "always": 2, "cached": 3}
FORM_FACTORS = {
    "unknown": 0x00,
    "usb-a-keychain": 0x01,
    "usb-a-nano": 0x02,
    "usb-c-keychain": 0x03,
    "usb-c-nano": 0x04,
    "usb-c-lightning": 0x05,
    "usb-a-bio": 0x06,
    "usb-c-bio": 0x07,
}

SLOT_MGMT = 0x9B
SLOT_PIN = 0x80
SLOT_PUK = 0x81
SLOT_ATTEST = 0xF9
SLOT_BIO = 0x96  # YubiKey Bio only (metadata of the fingerprint match)
KEY_SLOTS = [0x9A, 0x9C, 0x9D, 0x9E, *range(0x82, 0x96), 0xF9]

# Default PIN policy by slot (YubiKey): 9c always, 9e never, the rest once. Touch: never.
DEFAULT_PIN_POLICY = {0x9C: 3, 0x9E: 1}

OBJ_DISCOVERY = 0x7E
OBJ_CHUID = 0x5FC102
OBJ_CCC = 0x5FC107
OBJ_ATTEST_CERT = 0x5FFF01
OBJ_PRINTED = 0x5FC109  # readable only after VERIFY PIN (ykman keeps a PIN-protected key there)

# The YubiKey Management application (DeviceInfo: serial, firmware, form factor).
MGMT_AID = bytes.fromhex("A000000527471117")
SW_REFERENCE_NOT_FOUND = 0x6A88


def slot_object(slot: int) -> int:
    """The certificate data object of a key slot (SP 800-73-4 + Yubico's 5FFF01 for f9)."""
    fixed = {0x9A: 0x5FC105, 0x9C: 0x5FC10A, 0x9D: 0x5FC10B, 0x9E: 0x5FC101, 0xF9: 0x5FFF01}
    if slot in fixed:
        return fixed[slot]
    if 0x82 <= slot <= 0x95:
        return 0x5FC10D + (slot - 0x82)
    raise ValueError(f"no certificate object for slot {slot:02x}")


# Yubico PIV attestation extension OIDs (arc 1.3.6.1.4.1.41482.3).
OID_FIRMWARE = x509.ObjectIdentifier("1.3.6.1.4.1.41482.3.3")
OID_SERIAL = x509.ObjectIdentifier("1.3.6.1.4.1.41482.3.7")
OID_POLICY = x509.ObjectIdentifier("1.3.6.1.4.1.41482.3.8")
OID_FORM_FACTOR = x509.ObjectIdentifier("1.3.6.1.4.1.41482.3.9")
OID_FIPS = x509.ObjectIdentifier("1.3.6.1.4.1.41482.3.10")
OID_CSPN = x509.ObjectIdentifier("1.3.6.1.4.1.41482.3.11")

SW_OK = 0x9000
SW_WRONG_LENGTH = 0x6700
SW_SECURITY = 0x6982
SW_AUTH_BLOCKED = 0x6983
SW_CONDITIONS = 0x6985
SW_WRONG_DATA = 0x6A80
SW_FUNC_NOT_SUPPORTED = 0x6A81
SW_NOT_FOUND = 0x6A82
SW_WRONG_P1P2 = 0x6A86
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00


class CardError(Exception):
    def __init__(self, sw: int) -> None:
        super().__init__(f"SW {sw:04X}")
        self.sw = sw


# --- TLV -------------------------------------------------------------------------------------


def tlv_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    if n < 0x100:
        return bytes([0x81, n])
    return bytes([0x82]) + n.to_bytes(2, "big")


def tlv(tag: int, value: bytes) -> bytes:
    tag_bytes = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
    return tag_bytes + tlv_len(len(value)) + value


def parse_tlvs(data: bytes) -> list[tuple[int, bytes]]:
    """Parse BER-TLV (1-3 byte tags, definite lengths) into (tag, value) pairs."""
    out: list[tuple[int, bytes]] = []
    i = 0
    while i < len(data):
        tag = data[i]
        i += 1
        if tag & 0x1F == 0x1F:  # multi-byte tag
            while True:
                tag = (tag << 8) | data[i]
                i += 1
                if not data[i - 1] & 0x80:
                    break
        length = data[i]
        i += 1
        if length == 0x81:
            length = data[i]
            i += 1
        elif length == 0x82:
            length = int.from_bytes(data[i : i + 2], "big")
            i += 2
        elif length > 0x82:
            raise CardError(SW_WRONG_DATA)
        value = data[i : i + length]
        if len(value) != length:
            raise CardError(SW_WRONG_DATA)
        out.append((tag, value))
        i += length
    return out


def tlv_dict(data: bytes) -> dict[int, bytes]:
    return dict(parse_tlvs(data))


def der_integer(value: int) -> bytes:
    """DER INTEGER (tag 02), minimal two's complement."""
    body = value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True)
    return b"\x02" + tlv_len(len(body)) + body


# --- configuration and keys ----------------------------------------------------------------


@dataclass
class CardConfig:
    serial: int = 12345678
    firmware: str = "5.4.3"
    pin: str = "123456"
    puk: str = "12345678"
    mgmt_key: str = "010203040506070801020304050607080102030405060708"
    mgmt_alg: int = ALG_3DES
    pin_retries: int = 3
    puk_retries: int = 3
    form_factor: str = "usb-a-keychain"
    fips: bool = False
    cspn: bool = False
    # Optional key generated on the card at start-up (origin "generated", attestable):
    # {"slot": "9c", "alg": "p256", "pin_policy": "always", "touch_policy": "never"}
    startup_key: dict[str, str] | None = None
    touch_ok: bool = True
    # Write a CHUID (factory YubiKeys have none; ykman/yubico-piv-tool set one). OpenSC takes
    # its token serial from the CHUID's GUID, so with chuid=False it reports 00000000.
    chuid: bool = False

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CardConfig:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    @property
    def version(self) -> tuple[int, int, int]:
        a, b, c = (int(x) for x in self.firmware.split("."))
        return (a, b, c)


PrivateKey = (
    ec.EllipticCurvePrivateKey
    | rsa.RSAPrivateKey
    | ed25519.Ed25519PrivateKey
    | x25519.X25519PrivateKey
)
# The keys that sign certificates (a CA's, the device's f9 key): never X25519.
SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


@dataclass
class SlotKey:
    private_key: PrivateKey
    alg: int
    pin_policy: int  # resolved (1..5)
    touch_policy: int  # resolved (1..3)
    generated: bool


def generate_private_key(alg: int) -> PrivateKey:
    if alg in EC_CURVES:
        return ec.generate_private_key(EC_CURVES[alg])
    if alg in RSA_BITS:
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS[alg])
    if alg == ALG_ED25519:
        return ed25519.Ed25519PrivateKey.generate()
    if alg == ALG_X25519:
        return x25519.X25519PrivateKey.generate()
    raise CardError(SW_WRONG_DATA)


def public_key_tlvs(key: PrivateKey) -> bytes:
    """Public key as the card encodes it inside 7F49 (GENERATE) or tag 04 (METADATA)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        point = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return tlv(0x86, point)
    if isinstance(key, ed25519.Ed25519PrivateKey | x25519.X25519PrivateKey):
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return tlv(0x86, raw)
    nums = key.public_key().public_numbers()
    n = nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")
    e = nums.e.to_bytes((nums.e.bit_length() + 7) // 8, "big")
    return tlv(0x81, n) + tlv(0x82, e)


def pad_pin(pin: str) -> bytes:
    raw = pin.encode()
    return raw + b"\xff" * (8 - len(raw))


# --- device identity (f9) and the test CA --------------------------------------------------


TEST_ROOT_NAME = "Test Yubico PIV Root CA"


@dataclass
class TestCA:
    __test__ = False  # not a pytest test class

    key: SigningKey
    cert: x509.Certificate

    @classmethod
    def create(cls, name: str = TEST_ROOT_NAME, *, ec_key: bool = False) -> TestCA:
        key: SigningKey = (
            ec.generate_private_key(ec.SECP384R1())
            if ec_key
            else rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365 * 30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    def save(self, directory: Path) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        cert_path = directory / "test-root-ca.pem"
        key_path = directory / "test-root-ca.key"
        cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_path, key_path

    @classmethod
    def load(cls, cert_path: Path, key_path: Path) -> TestCA:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
        return cls(key, cert)


def make_device_cert(
    ca: TestCA, device_key: SigningKey, *, firmware: tuple[int, int, int]
) -> x509.Certificate:
    """The slot f9 "Yubico PIV Attestation" certificate, as on a real YubiKey (CA-signed)."""
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Yubico PIV Attestation")])
        )
        .issuer_name(ca.cert.subject)
        .public_key(device_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365 * 25))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.UnrecognizedExtension(OID_FIRMWARE, bytes(firmware)), critical=False)
        .sign(ca.key, hashes.SHA256())
    )


def sign_hash_alg(key: PrivateKey) -> hashes.HashAlgorithm:
    return hashes.SHA256()


# --- the card --------------------------------------------------------------------------------


@dataclass
class Session:
    selected: str = ""
    pin_verified: bool = False
    pin_fresh: bool = False  # consumed by a PIN-always operation
    mgmt_authenticated: bool = False
    mgmt_witness: bytes | None = None
    chain: bytes = b""
    chain_head: tuple[int, int, int] | None = None
    pending: bytes = b""


@dataclass
class PivCard:
    config: CardConfig
    device_key: SigningKey
    device_cert: x509.Certificate
    keys: dict[int, SlotKey] = field(default_factory=dict)
    objects: dict[int, bytes] = field(default_factory=dict)
    session: Session = field(default_factory=Session)
    pin: bytes = b""
    puk: bytes = b""
    pin_default: bool = True
    puk_default: bool = True
    pin_total: int = 3
    puk_total: int = 3
    pin_left: int = 3
    puk_left: int = 3
    mgmt_key: bytes = b""
    mgmt_alg: int = ALG_3DES
    mgmt_default: bool = True
    touch_ok: bool = True
    log_apdus: list[str] = field(default_factory=list)

    @classmethod
    def create(
        cls,
        config: CardConfig,
        ca: TestCA,
        device_key: SigningKey | None = None,
        device_cert: x509.Certificate | None = None,
    ) -> PivCard:
        if device_key is None:
            device_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if device_cert is None:
            device_cert = make_device_cert(ca, device_key, firmware=config.version)
        card = cls(config=config, device_key=device_key, device_cert=device_cert)
        card.factory_reset()
        if config.startup_key:
            sk = config.startup_key
            slot = int(sk.get("slot", "9c"), 16)
            alg = {
                "p256": ALG_ECCP256,
                "p384": ALG_ECCP384,
                "rsa2048": ALG_RSA2048,
                "rsa3072": ALG_RSA3072,
                "ed25519": ALG_ED25519,
            }[sk.get("alg", "p256")]
            key = generate_private_key(alg)
            assert not isinstance(key, x25519.X25519PrivateKey)  # the table above has no X25519
            card.keys[slot] = SlotKey(
                key,
                alg,
                card._resolve_pin_policy(slot, PIN_POLICY[sk.get("pin_policy", "default")]),
                card._resolve_touch_policy(TOUCH_POLICY[sk.get("touch_policy", "default")]),
                generated=sk.get("origin", "generated") == "generated",
            )
            card.objects[slot_object(slot)] = card._wrap_cert(
                _self_signed(key, f"emulated {slot:02x}")
            )
        return card

    # -- state --

    def factory_reset(self) -> None:
        """PIV reset: keys (except f9), objects, PIN/PUK/management key back to defaults."""
        c = self.config
        self.keys = {}
        self.objects = {}
        self.objects[OBJ_DISCOVERY] = tlv(
            0x7E, tlv(0x4F, bytes.fromhex("A000000308000010000100")) + tlv(0x5F2F, b"\x40\x00")
        )
        self.objects[OBJ_ATTEST_CERT] = self._wrap_cert(self.device_cert)
        if c.chuid:
            # Layout of yubico-piv-tool's default CHUID: FASC-N, GUID (16 bytes), expiry, an
            # empty signature. The GUID is derived from the serial so it is stable.
            guid = c.serial.to_bytes(4, "big") * 4
            fascn = bytes.fromhex("D4E739DA739CED39CE739D836858210842108421C84210C3EB")
            self.objects[OBJ_CHUID] = tlv(
                0x53,
                tlv(0x30, fascn)
                + tlv(0x34, guid)
                + tlv(0x35, b"20301231")
                + tlv(0x3E, b"")
                + tlv(0xFE, b""),
            )
        self.pin, self.puk = pad_pin(c.pin), pad_pin(c.puk)
        self.pin_default = c.pin == "123456"
        self.puk_default = c.puk == "12345678"
        self.pin_total = self.pin_left = c.pin_retries
        self.puk_total = self.puk_left = c.puk_retries
        self.mgmt_key = bytes.fromhex(c.mgmt_key)
        self.mgmt_alg = c.mgmt_alg
        self.mgmt_default = c.mgmt_key.lower() == "010203040506070801020304050607080102030405060708"
        self.touch_ok = c.touch_ok
        self.session = Session()

    def power_on(self) -> None:
        self.session = Session()

    def summary(self) -> dict[str, Any]:
        return {
            "serial": self.config.serial,
            "firmware": self.config.firmware,
            "pin_left": self.pin_left,
            "puk_left": self.puk_left,
            "pin_verified": self.session.pin_verified,
            "mgmt_authenticated": self.session.mgmt_authenticated,
            "keys": {
                f"{s:02x}": {
                    "alg": k.alg,
                    "pin_policy": k.pin_policy,
                    "touch_policy": k.touch_policy,
                    "generated": k.generated,
                }
                for s, k in self.keys.items()
            },
            "objects": sorted(f"{t:06x}" for t in self.objects),
        }

    def _wrap_cert(self, cert: x509.Certificate) -> bytes:
        der = cert.public_bytes(serialization.Encoding.DER)
        return tlv(0x53, tlv(0x70, der) + tlv(0x71, b"\x00") + tlv(0xFE, b""))

    def _resolve_pin_policy(self, slot: int, policy: int) -> int:
        return policy or DEFAULT_PIN_POLICY.get(slot, 2)

    def _resolve_touch_policy(self, policy: int) -> int:
        return policy or 1

    # -- APDU framing --

    def process(self, apdu: bytes) -> bytes:
        try:
            cla, ins, p1, p2, data, extended = parse_apdu(apdu)
        except CardError as e:
            return e.sw.to_bytes(2, "big")
        s = self.session
        if ins == 0xC0:  # GET RESPONSE
            return self._respond(s.pending, SW_OK, extended)
        s.pending = b""
        if cla & 0x10:  # command chaining, not the last block
            if s.chain_head not in (None, (ins, p1, p2)):
                s.chain, s.chain_head = b"", None
                return SW_CONDITIONS.to_bytes(2, "big")
            s.chain += data
            s.chain_head = (ins, p1, p2)
            return SW_OK.to_bytes(2, "big")
        if s.chain_head is not None:
            if s.chain_head == (ins, p1, p2):
                data = s.chain + data
            s.chain, s.chain_head = b"", None
        if cla & ~0x10 & 0xFF not in (0x00,):
            return SW_CLA_NOT_SUPPORTED.to_bytes(2, "big")
        try:
            body, sw = self.dispatch(ins, p1, p2, data)
        except CardError as e:
            body, sw = b"", e.sw
        except Exception:  # a bug in the emulator: answer like a confused card
            log.exception("emulator error on INS %02X", ins)
            body, sw = b"", 0x6F00
        return self._respond(body, sw, extended)

    def _respond(self, body: bytes, sw: int, extended: bool) -> bytes:
        if extended or len(body) <= 256:
            self.session.pending = b""
            return body + sw.to_bytes(2, "big")
        chunk, rest = body[:256], body[256:]
        self.session.pending = rest
        # Remaining data after this chunk: 61xx, xx = remaining bytes (00 = 256 or more).
        return chunk + bytes([0x61, len(rest) if len(rest) < 256 else 0])

    # -- dispatch --

    def dispatch(self, ins: int, p1: int, p2: int, data: bytes) -> tuple[bytes, int]:
        s = self.session
        if ins == 0xA4:
            return self.select(p1, data)
        if s.selected == "otp":
            if ins == 0x01 and p1 == 0x10:
                return self.config.serial.to_bytes(4, "big"), SW_OK
            raise CardError(SW_INS_NOT_SUPPORTED)
        if s.selected == "mgmt":
            if ins == 0x1D:
                return self.device_info(p1), SW_OK
            raise CardError(SW_INS_NOT_SUPPORTED)
        if s.selected != "piv":
            raise CardError(SW_INS_NOT_SUPPORTED)
        handlers = {
            0xFD: self.get_version,
            0xF8: self.get_serial,
            0xF7: self.get_metadata,
            0x20: self.verify,
            0x24: self.change_reference,
            0x2C: self.reset_retry,
            0xFA: self.set_pin_retries,
            0xFB: self.reset,
            0xFF: self.set_mgmt_key,
            0x87: self.general_authenticate,
            0x47: self.generate,
            0xFE: self.import_key,
            0xF6: self.move_delete_key,
            0xCB: self.get_data,
            0xDB: self.put_data,
            0xF9: self.attest,
        }
        handler = handlers.get(ins)
        if handler is None:
            raise CardError(SW_INS_NOT_SUPPORTED)
        return handler(p1, p2, data)

    def select(self, p1: int, data: bytes) -> tuple[bytes, int]:
        if p1 != 0x04:
            raise CardError(SW_NOT_FOUND)
        self.session = Session()  # selecting resets the security status
        if data and PIV_AID.startswith(data[: len(PIV_AID)]) and data[:5] == PIV_AID:
            self.session.selected = "piv"
            apt = tlv(0x4F, bytes.fromhex("000010000100")) + tlv(0x79, tlv(0x4F, PIV_AID))
            return tlv(0x61, apt), SW_OK
        if data.startswith(OTP_AID_PREFIX) and self.config.version[0] < 5:
            self.session.selected = "otp"
            return bytes(self.config.version) + b"\x00\x00\x00", SW_OK
        if data == MGMT_AID and self.config.version >= (5, 0, 0):
            # A YubiKey 5 answers its firmware version as text (yubikit's ManagementSession).
            self.session.selected = "mgmt"
            return self.config.firmware.encode(), SW_OK
        raise CardError(SW_NOT_FOUND)

    def device_info(self, page: int) -> bytes:
        """Management READ CONFIG (INS 1D): DeviceInfo TLVs behind a 1-byte length (yubikit's
        `DeviceInfo.parse_tlvs`). USB capabilities OTP|U2F|OpenPGP|PIV|OATH|FIDO2 (0x023B)."""
        if page != 0:
            return b"\x00"
        c = self.config
        form = FORM_FACTORS[c.form_factor] | (0x80 if c.fips else 0)
        body = (
            tlv(0x01, b"\x02\x3b")  # USB supported
            + tlv(0x02, c.serial.to_bytes(4, "big"))
            + tlv(0x03, b"\x02\x3b")  # USB enabled
            + tlv(0x04, bytes([form]))
            + tlv(0x05, bytes(c.version))
            + tlv(0x0A, b"\x00")  # configuration not locked
        )
        return bytes([len(body)]) + body

    def get_version(self, p1: int, p2: int, data: bytes) -> tuple[bytes, int]:
        return bytes(self.config.version), SW_OK

    def get_serial(self, p1: int, p2: int, data: bytes) -> tuple[bytes, int]:
        if self.config.version < (5, 0, 0):
            raise CardError(SW_INS_NOT_SUPPORTED)
        return self.config.serial.to_bytes(4, "big"), SW_OK

    def get_metadata(self, p1: int, p2: int, data: bytes) -> tuple[bytes, int]:
        if self.config.version < (5, 3, 0):
            raise CardError(SW_INS_NOT_SUPPORTED)
        if p2 == SLOT_PIN:
            return (
                tlv(0x01, bytes([ALG_PIN]))
                + tlv(0x05, bytes([int(self.pin_default)]))
                + tlv(0x06, bytes([self.pin_total, self.pin_left]))
            ), SW_OK
        if p2 == SLOT_PUK:
            return (
                tlv(0x01, bytes([ALG_PIN]))
                + tlv(0x05, bytes([int(self.puk_default)]))
                + tlv(0x06, bytes([self.puk_total, self.puk_left]))
            ), SW_OK
        if p2 == SLOT_MGMT:
            return (
                tlv(0x01, bytes([self.mgmt_alg]))
                + tlv(0x02, b"\x00\x01")
                + tlv(0x05, bytes([int(self.mgmt_default)]))
            ), SW_OK
        key = self.keys.get(p2)
        if key is None:  # an empty slot, or slot 96 on a YubiKey that is not a Bio
            raise CardError(SW_REFERENCE_NOT_FOUND)
        return (
            tlv(0x01, bytes([key.alg]))
            + tlv(0x02, bytes([key.pin_policy, key.touch_policy]))
            + tlv(0x03, b"\x01" if key.generated else b"\x02")
            + tlv(0x04, public_key_tlvs(key.private_key))
        ), SW_OK

    # -- PIN / PUK --

    def verify(self, p1: int, p2: int, data: bytes) -> tuple[bytes, int]:
        s = self.session
        if p2 != SLOT_PIN:
            raise CardError(SW_WRONG_P1P2)
        if p1 == 0xFF:  # "unverify"
            s.pin_verified = s.pin_fresh = False
            return b"", SW_OK
        if not data:
            if self.pin_left == 0:
                raise CardError(SW_AUTH_BLOCKED)
            if s.pin_verified:
                return b"", SW_OK
            return b"", 0x63C0 | self.pin_left
        if len(data) != 8:
            raise CardError(SW_WRONG_DATA)
        if self.pin_left == 0:
            raise CardError(SW_AUTH_BLOCKED)
        if secrets.compare_digest(data, self.pin):
            self.pin_left = self.pin_total
            s.pin_verified = s.pin_fresh = True
            return b"", SW_OK
        self.pin_left -= 1
        s.pin_verified = s.pin_fresh = False
        if self.pin_left == 0:
            raise CardError(SW_AUTH_BLOCKED)
        return b"", 0x63C0 | self.pin_left

    def _check_ref(self, which: str, value: bytes) -> int | None:
        """Check a PIN or PUK; returns an error SW or None. Updates counters."""
        left = self.pin_left if which == "pin" else self.puk_left
        ref = self.pin if which == "pin" else self.puk
        if left == 0:
            return SW_AUTH_BLOCKED
        if secrets.compare_digest(value, ref):
            if which == "pin":
                self.pin_left = self.pin_total
            else:
                self.puk_left = self.puk_total
            return None
        left -= 1
        if which == "pin":
            self.pin_left = left
        else:
            self.puk_left = left
        return SW_AUTH_BLOCKED if left == 0 else 0x63C0 | left

    @staticmethod
    def _valid_new(value: bytes) -> bool:
        raw = value.rstrip(b"\xff")
        return 6 <= len(raw) <= 8 and b"\xff" not in raw

    def change_reference(self, p1: int, p2: int, data: bytes) -> tuple[bytes, int]:
        if p2 not in (SLOT_PIN, SLOT_PUK) or len(data) != 16:
            raise CardError(SW_WRONG_DATA)
        which = "pin" if p2 == SLOT_PIN else "puk"
        err = self._check_ref(which, data[:8])
        if err is not None:
            return b"", err
        if not self._valid_new(data[8:]):
            raise CardError(SW_WRONG_DATA)
        if which == "pin":
            self.pin, self.pin_default = data[8:], False
        else:
            self.puk, self.puk_default = data[8:], False
        return b"", SW_OK

    def reset_retry(self, p1: int, p2: int, data: bytes) -> tuple[bytes, int]:
        if p2 != SLOT_PIN or len(data) != 16:
            raise CardError(SW_WRONG_DATA)
        err = self._check_ref("puk", data[:8])
        if err is not None:
            return b"", err
        if not self._valid_new(data[8:]):
            raise CardError(SW_WRONG_DATA)
        self.pin, self.pin_left, self.pin_default = data[8:], self.pin_total, False
        return b"", SW_OK

    def set_pin_retries(self, p1: int, p2: int, data: bytes) -> tuple[bytes, int]:
        s = self.session
        if not (s.mgmt_authenticated and s.pin_verified):
            raise CardError(SW_SECURITY)
        if not p1 or not p2:
            raise CardError(SW_WRONG_P1P2)
        self.pin_total = self.pin_left = p1
        self.puk_total = self.puk_left = p2
        self.pin, self.puk = pad_pin("123456"), pad_pin("12345678")
        self.pin_default = self.puk_default = True
        return b"", SW_OK

    def reset(self, p1: int, p2: int, data: bytes) -> tuple[bytes, int]:
        if self.pin_left or self.puk_left:
            raise CardError(SW_CONDITIONS)
        cfg = self.config
        self.config = CardConfig(
            **{
                **cfg.__dict__,
                "pin": "123456",
                "puk": "12345678",
                "mgmt_key": "010203040506070801020304050607080102030405060708",
                "mgmt_alg": ALG_3DES,
            }
        )
        self.factory_reset()
        self.config = cfg
        self.session.selected = "piv"
        return b"", SW_OK

    # -- management key --

    def _mgmt_cipher(self) -> Cipher[Any]:
        if self.mgmt_alg == ALG_3DES:
            return Cipher(TripleDES(self.mgmt_key), modes.ECB())
        return Cipher(algorithms.AES(self.mgmt_key), modes.ECB())

    def _mgmt_block(self) -> int:
        return 8 if self.mgmt_alg == ALG_3DES else 16

    def set_mgmt_key(self, p1: int, p2: int, data: bytes) -> tuple[bytes, int]:
        if not self.session.mgmt_authenticated:
            raise CardError(SW_SECURITY)
        if len(data) < 3 or data[1] != SLOT_MGMT or data[2] != len(data) - 3:
            raise CardError(SW_WRONG_DATA)
        alg, key = data[0], data[3:]
        sizes = {ALG_3DES: 24, ALG_AES128: 16, ALG_AES192: 24, ALG_AES256: 32}
        if sizes.get(alg) != len(key):
            raise CardError(SW_WRONG_DATA)
        self.mgmt_alg, self.mgmt_key, self.mgmt_default = alg, key, False
        return b"", SW_OK

    def _mgmt_auth(self, p1: int, fields: dict[int, bytes]) -> tuple[bytes, int]:
        s = self.session
        if p1 != self.mgmt_alg:
            raise CardError(SW_WRONG_P1P2)
        bs = self._mgmt_block()
        if 0x80 in fields and fields[0x80] == b"":
            # Step 1: host asks for a witness; send it encrypted with the key.
            s.mgmt_authenticated = False
            s.mgmt_witness = secrets.token_bytes(bs)
            enc = self._mgmt_cipher().encryptor()
            return tlv(0x7C, tlv(0x80, enc.update(s.mgmt_witness) + enc.finalize())), SW_OK
        if 0x80 in fields and 0x81 in fields:
            # Step 2: host returns the decrypted witness plus its own challenge.
            witness, s.mgmt_witness = s.mgmt_witness, None
            if witness is None or not secrets.compare_digest(fields[0x80], witness):
                s.mgmt_authenticated = False
                raise CardError(SW_SECURITY)
            s.mgmt_authenticated = True
            enc = self._mgmt_cipher().encryptor()
            return tlv(0x7C, tlv(0x82, enc.update(fields[0x81]) + enc.finalize())), SW_OK
        if 0x81 in fields and 0x82 in fields and fields[0x82] == b"":
            # Single (card-only) authentication: host sends a challenge, card encrypts.
            raise CardError(SW_CONDITIONS)
        raise CardError(SW_WRONG_DATA)

    # -- private key operations --

    def _check_key_use(self, key: SlotKey) -> None:
        s = self.session
        if key.pin_policy in (2, 4):
            if not s.pin_verified:
                raise CardError(SW_SECURITY)
        elif key.pin_policy in (3, 5):
            if not s.pin_fresh:
                raise CardError(SW_SECURITY)
            s.pin_fresh = False
        if key.touch_policy in (2, 3) and not self.touch_ok:
            raise CardError(SW_CONDITIONS)

    def general_authenticate(self, p1: int, p2: int, data: bytes) -> tuple[bytes, int]:
        outer = tlv_dict(data)
        if 0x7C not in outer:
            raise CardError(SW_WRONG_DATA)
        fields = tlv_dict(outer[0x7C])
        if p2 == SLOT_MGMT:
            return self._mgmt_auth(p1, fields)
        key = self.keys.get(p2)
        if key is None:
            raise CardError(SW_NOT_FOUND)
        if p1 != key.alg:
            raise CardError(SW_WRONG_P1P2)
        self._check_key_use(key)
        priv = key.private_key
        if 0x81 in fields:  # sign (EC: a digest; RSA: a padded block, raw RSA)
            msg = fields[0x81]
            if isinstance(priv, ed25519.Ed25519PrivateKey):
                return tlv(0x7C, tlv(0x82, priv.sign(msg))), SW_OK
            if isinstance(priv, x25519.X25519PrivateKey):
                raise CardError(SW_WRONG_DATA)
            if isinstance(priv, ec.EllipticCurvePrivateKey):
                size = (priv.curve.key_size + 7) // 8
                digest = msg[:size] if len(msg) >= size else b"\x00" * (size - len(msg)) + msg
                halg: hashes.HashAlgorithm = hashes.SHA256() if size == 32 else hashes.SHA384()
                sig = priv.sign(digest, ec.ECDSA(utils.Prehashed(halg)))
            else:
                nums = priv.private_numbers()
                n = nums.public_numbers.n
                size = (n.bit_length() + 7) // 8
                if len(msg) != size or int.from_bytes(msg, "big") >= n:
                    raise CardError(SW_WRONG_DATA)
                sig = pow(int.from_bytes(msg, "big"), nums.d, n).to_bytes(size, "big")
            return tlv(0x7C, tlv(0x82, sig)), SW_OK
        if 0x85 in fields and isinstance(priv, ec.EllipticCurvePrivateKey):  # ECDH
            peer = ec.EllipticCurvePublicKey.from_encoded_point(priv.curve, fields[0x85])
            return tlv(0x7C, tlv(0x82, priv.exchange(ec.ECDH(), peer))), SW_OK
        if 0x85 in fields and isinstance(priv, x25519.X25519PrivateKey):
            x_peer = x25519.X25519PublicKey.from_public_bytes(fields[0x85])
            return tlv(0x7C, tlv(0x82, priv.exchange(x_peer))), SW_OK
        raise CardError(SW_WRONG_DATA)

    def generate(self, p1: int, p2: int, data: bytes) -> tuple[bytes, int]:
        if not self.session.mgmt_authenticated:
            raise CardError(SW_SECURITY)
        if p2 not in KEY_SLOTS or p2 == SLOT_ATTEST:
            raise CardError(SW_NOT_FOUND)
        outer = tlv_dict(data)
        if 0xAC not in outer:
            raise CardError(SW_WRONG_DATA)
        fields = tlv_dict(outer[0xAC])
        alg = fields.get(0x80, b"\x00")[0]
        if alg not in EC_CURVES and alg not in RSA_BITS and alg not in ALGS_5_7:
            raise CardError(SW_WRONG_DATA)
        if alg in ALGS_5_7 and self.config.version < (5, 7, 0):
            raise CardError(SW_WRONG_DATA)
        pin_policy = fields.get(0xAA, b"\x00")[0]
        touch_policy = fields.get(0xAB, b"\x00")[0]
        if pin_policy > 3 or touch_policy > 3:
            raise CardError(SW_WRONG_DATA)
        key = generate_private_key(alg)
        self.keys[p2] = SlotKey(
            key,
            alg,
            self._resolve_pin_policy(p2, pin_policy),
            self._resolve_touch_policy(touch_policy),
            generated=True,
        )
        return tlv(0x7F49, public_key_tlvs(key)), SW_OK

    def import_key(self, p1: int, p2: int, data: bytes) -> tuple[bytes, int]:
        if not self.session.mgmt_authenticated:
            raise CardError(SW_SECURITY)
        if p2 not in KEY_SLOTS or p2 == SLOT_ATTEST:
            raise CardError(SW_NOT_FOUND)
        fields = tlv_dict(data)
        key: PrivateKey
        if p1 in ALGS_5_7 and self.config.version < (5, 7, 0):
            raise CardError(SW_WRONG_DATA)
        if p1 == ALG_ED25519 and 0x07 in fields:
            key = ed25519.Ed25519PrivateKey.from_private_bytes(fields[0x07])
        elif p1 == ALG_X25519 and 0x08 in fields:
            key = x25519.X25519PrivateKey.from_private_bytes(fields[0x08])
        elif p1 in EC_CURVES and 0x06 in fields:
            key = ec.derive_private_key(int.from_bytes(fields[0x06], "big"), EC_CURVES[p1])
        elif p1 in RSA_BITS and all(t in fields for t in (1, 2, 3, 4, 5)):
            p, q = (int.from_bytes(fields[t], "big") for t in (1, 2))
            e = 65537
            d = pow(e, -1, (p - 1) * (q - 1))
            key = rsa.RSAPrivateNumbers(
                p,
                q,
                d,
                rsa.rsa_crt_dmp1(d, p),
                rsa.rsa_crt_dmq1(d, q),
                rsa.rsa_crt_iqmp(p, q),
                rsa.RSAPublicNumbers(e, p * q),
            ).private_key()
        else:
            raise CardError(SW_WRONG_DATA)
        pin_policy = fields.get(0xAA, b"\x00")[0]
        touch_policy = fields.get(0xAB, b"\x00")[0]
        self.keys[p2] = SlotKey(
            key,
            p1,
            self._resolve_pin_policy(p2, pin_policy),
            self._resolve_touch_policy(touch_policy),
            generated=False,
        )
        return b"", SW_OK

    def move_delete_key(self, p1: int, p2: int, data: bytes) -> tuple[bytes, int]:
        if self.config.version < (5, 7, 0):
            raise CardError(SW_INS_NOT_SUPPORTED)
        if not self.session.mgmt_authenticated:
            raise CardError(SW_SECURITY)
        if p2 not in self.keys:
            raise CardError(SW_NOT_FOUND)
        if p1 == 0xFF:
            del self.keys[p2]
        else:
            self.keys[p1] = self.keys.pop(p2)
        return b"", SW_OK

    # -- data objects --

    def get_data(self, p1: int, p2: int, data: bytes) -> tuple[bytes, int]:
        if (p1, p2) != (0x3F, 0xFF):
            raise CardError(SW_WRONG_P1P2)
        fields = tlv_dict(data)
        if 0x5C not in fields:
            raise CardError(SW_WRONG_DATA)
        tag = int.from_bytes(fields[0x5C], "big")
        if tag == OBJ_PRINTED and not self.session.pin_verified:
            raise CardError(SW_SECURITY)
        obj = self.objects.get(tag)
        if obj is None:
            raise CardError(SW_NOT_FOUND)
        return obj, SW_OK

    def put_data(self, p1: int, p2: int, data: bytes) -> tuple[bytes, int]:
        if not self.session.mgmt_authenticated:
            raise CardError(SW_SECURITY)
        if (p1, p2) != (0x3F, 0xFF):
            raise CardError(SW_WRONG_P1P2)
        pairs = parse_tlvs(data)
        if len(pairs) < 1:
            raise CardError(SW_WRONG_DATA)
        if pairs[0][0] == 0x7E:  # discovery object
            raise CardError(SW_SECURITY)
        if pairs[0][0] != 0x5C or len(pairs) != 2:
            raise CardError(SW_WRONG_DATA)
        tag = int.from_bytes(pairs[0][1], "big")
        value = tlv(pairs[1][0], pairs[1][1])
        if pairs[1][0] != 0x53:
            raise CardError(SW_WRONG_DATA)
        if pairs[1][1] == b"":
            self.objects.pop(tag, None)
        else:
            self.objects[tag] = value
        return b"", SW_OK

    # -- attestation --

    def attest(self, p1: int, p2: int, data: bytes) -> tuple[bytes, int]:
        if self.config.version < (4, 3, 0):
            raise CardError(SW_INS_NOT_SUPPORTED)
        key = self.keys.get(p1)
        if key is None:
            raise CardError(SW_NOT_FOUND)
        if not key.generated:
            raise CardError(SW_WRONG_DATA)
        return self.attestation_certificate(p1).public_bytes(serialization.Encoding.DER), SW_OK

    def attestation_certificate(self, slot: int) -> x509.Certificate:
        key = self.keys[slot]
        c = self.config
        form = FORM_FACTORS[c.form_factor] | (0x80 if c.fips else 0)
        device = self.device_cert
        builder = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [x509.NameAttribute(NameOID.COMMON_NAME, f"YubiKey PIV Attestation {slot:02x}")]
                )
            )
            .issuer_name(device.subject)
            .public_key(key.private_key.public_key())
            .serial_number(secrets.randbits(127) | 1)
            .not_valid_before(device.not_valid_before_utc)
            .not_valid_after(device.not_valid_after_utc)
            .add_extension(
                x509.UnrecognizedExtension(OID_FIRMWARE, bytes(c.version)), critical=False
            )
            .add_extension(
                x509.UnrecognizedExtension(OID_SERIAL, der_integer(c.serial)), critical=False
            )
            .add_extension(
                x509.UnrecognizedExtension(OID_POLICY, bytes([key.pin_policy, key.touch_policy])),
                critical=False,
            )
            .add_extension(
                x509.UnrecognizedExtension(OID_FORM_FACTOR, bytes([form])), critical=False
            )
        )
        if c.fips:
            builder = builder.add_extension(
                x509.UnrecognizedExtension(OID_FIPS, b"\x01"), critical=False
            )
        if c.cspn:
            builder = builder.add_extension(
                x509.UnrecognizedExtension(OID_CSPN, b"\x01"), critical=False
            )
        return builder.sign(self.device_key, hashes.SHA256())


def _self_signed(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey, cn: str
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(key, None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256())
    )


def parse_apdu(apdu: bytes) -> tuple[int, int, int, int, bytes, bool]:
    """(cla, ins, p1, p2, data, extended) for ISO 7816-4 cases 1-4, short or extended."""
    if len(apdu) < 4:
        raise CardError(SW_WRONG_LENGTH)
    cla, ins, p1, p2 = apdu[:4]
    body = apdu[4:]
    if not body:  # case 1
        return cla, ins, p1, p2, b"", False
    if len(body) == 1:  # case 2 short
        return cla, ins, p1, p2, b"", False
    if body[0] == 0 and len(body) >= 3:  # extended
        if len(body) == 3:  # case 2 extended
            return cla, ins, p1, p2, b"", True
        lc = int.from_bytes(body[1:3], "big")
        data = body[3 : 3 + lc]
        if len(data) != lc or len(body) - 3 - lc not in (0, 2):
            raise CardError(SW_WRONG_LENGTH)
        return cla, ins, p1, p2, data, True
    lc = body[0]
    data = body[1 : 1 + lc]
    if len(data) != lc or len(body) - 1 - lc not in (0, 1):
        raise CardError(SW_WRONG_LENGTH)
    return cla, ins, p1, p2, data, False


# --- vpcd connection and control socket -----------------------------------------------------


class Emulator:
    """Connects a PivCard to vpcd and serves the control socket."""

    def __init__(self, card_factory: Any, *, host: str, port: int, control: str | None) -> None:
        self.card_factory = card_factory
        self.card: PivCard = card_factory()
        self.host, self.port = host, port
        self.control_path = control
        self.lock = threading.RLock()
        self.inserted = threading.Event()
        self.inserted.set()
        self.stop = threading.Event()
        self.sock: socket.socket | None = None
        self.connected = threading.Event()

    # vpcd side

    def serve_vpcd(self) -> None:
        while not self.stop.is_set():
            self.inserted.wait()
            try:
                sock = socket.create_connection((self.host, self.port), timeout=2)
            except OSError:
                time.sleep(0.2)
                continue
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock = sock
            log.info("connected to vpcd %s:%d", self.host, self.port)
            self.connected.set()
            try:
                self._loop(sock)
            except OSError as e:
                log.info("vpcd connection ended: %s", e)
            finally:
                self.connected.clear()
                self.sock = None
                with contextlib.suppress(OSError):
                    sock.close()
            if not self.stop.is_set():
                time.sleep(0.2)

    def _recv_exact(self, sock: socket.socket, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            # vpcd writes the length and the payload separately; without quick ACKs Nagle
            # plus delayed ACK cost ~40 ms per APDU.
            if hasattr(socket, "TCP_QUICKACK"):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise OSError("vpcd closed the connection")
            buf += chunk
        return buf

    def _loop(self, sock: socket.socket) -> None:
        while True:
            (length,) = struct.unpack(">H", self._recv_exact(sock, 2))
            msg = self._recv_exact(sock, length)
            with self.lock:
                if length == 1:
                    code = msg[0]
                    if code == 4:
                        sock.sendall(struct.pack(">H", len(ATR)) + ATR)
                    elif code in (0, 1, 2):
                        self.card.power_on()
                    continue
                resp = self.card.process(msg)
                log.debug("> %s", msg.hex())
                log.debug("< %s", resp.hex())
            sock.sendall(struct.pack(">H", len(resp)) + resp)

    def remove(self) -> None:
        self.inserted.clear()
        sock = self.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def insert(self) -> None:
        self.inserted.set()

    # control side

    def serve_control(self) -> None:
        assert self.control_path is not None
        path = self.control_path
        if os.path.exists(path):
            os.unlink(path)
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        os.chmod(path, 0o600)
        srv.listen(4)
        while not self.stop.is_set():
            conn, _ = srv.accept()
            threading.Thread(target=self._control_conn, args=(conn,), daemon=True).start()

    def _control_conn(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as f:
            for line in f:
                try:
                    req = json.loads(line)
                    reply = self.control(req)
                except Exception as e:
                    reply = {"ok": False, "error": repr(e)}
                f.write(json.dumps(reply).encode() + b"\n")
                f.flush()

    def control(self, req: dict[str, Any]) -> dict[str, Any]:
        cmd = req.get("cmd")
        if cmd == "ping":
            return {"ok": True, "connected": self.connected.is_set()}
        if cmd == "state":
            with self.lock:
                return {"ok": True, "state": self.card.summary()}
        if cmd == "reset":
            with self.lock:
                selected = self.card.session.selected
                self.card = self.card_factory(self.card, req.get("config"))
                # The applet stays selected (like a PIV reset from another application).
                self.card.session.selected = selected
            return {"ok": True}
        if cmd == "remove":
            self.remove()
            deadline = time.monotonic() + 5
            while self.connected.is_set() and time.monotonic() < deadline:
                time.sleep(0.02)
            return {"ok": True}
        if cmd == "insert":
            self.insert()
            ok = self.connected.wait(5)
            return {"ok": ok}
        if cmd == "set":
            with self.lock:
                if "touch_ok" in req:
                    self.card.touch_ok = bool(req["touch_ok"])
            return {"ok": True}
        if cmd == "attestation":  # test helper: the attestation cert without PKCS#11
            with self.lock:
                slot = int(req["slot"], 16)
                der = self.card.attestation_certificate(slot).public_bytes(
                    serialization.Encoding.DER
                )
            return {"ok": True, "der": der.hex()}
        return {"ok": False, "error": f"unknown command {cmd!r}"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="YubiKey-like PIV card emulator for vpcd (tests only)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=35963)
    ap.add_argument("--control", help="Unix socket path for control commands")
    ap.add_argument("--config", help="JSON file with CardConfig fields")
    ap.add_argument("--ca-cert", required=True, help="test root CA certificate (PEM)")
    ap.add_argument("--ca-key", required=True, help="test root CA private key (PEM)")
    ap.add_argument("--device-cert-out", help="write the f9 device certificate (PEM) here")
    ap.add_argument("-v", "--verbose", action="count", default=0)
    args = ap.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG
        if args.verbose > 1
        else logging.INFO
        if args.verbose
        else logging.WARNING,
        format="%(asctime)s piv_emulator %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    config = CardConfig()
    if args.config:
        config = CardConfig.from_dict(json.loads(Path(args.config).read_text()))
    ca = TestCA.load(Path(args.ca_cert), Path(args.ca_key))
    first = PivCard.create(config, ca)
    if args.device_cert_out:
        Path(args.device_cert_out).write_bytes(
            first.device_cert.public_bytes(serialization.Encoding.PEM)
        )

    # One f9 key for the device's life; its certificate carries the firmware version, so keep
    # one per firmware (the original one for the configured firmware).
    device_certs = {first.config.version: first.device_cert}

    def factory(
        previous: PivCard | None = None, overrides: dict[str, Any] | None = None
    ) -> PivCard:
        if previous is None:
            return first
        # Fresh card state, same device identity (f9 key and certificate survive a reset).
        new_config = CardConfig.from_dict({**config.__dict__, **(overrides or {})})
        if new_config.version not in device_certs:
            device_certs[new_config.version] = make_device_cert(
                ca, first.device_key, firmware=new_config.version
            )
        device_cert = device_certs[new_config.version]
        if args.device_cert_out:
            Path(args.device_cert_out).write_bytes(
                device_cert.public_bytes(serialization.Encoding.PEM)
            )
        return PivCard.create(new_config, ca, first.device_key, device_cert)

    emu = Emulator(factory, host=args.host, port=args.port, control=args.control)
    if args.control:
        threading.Thread(target=emu.serve_control, daemon=True).start()
    with contextlib.suppress(KeyboardInterrupt):
        emu.serve_vpcd()
    return 0


if __name__ == "__main__":
    sys.exit(main())
