"""ceremony.attestation: chains, pinned roots, Yubico extensions, policies and advisories."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from securesystemslib.signer import SSlibKey

import ceremony
from ceremony import attestation as A
from ceremony.attestation import AttestationInfo, check_policy, verify_attestation
from ceremony.errors import AttestationError, StoreError

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)

# A REAL YubiKey 5 FIPS (firmware 5.4.3, serial 28557046) attestation chain, published in
# github.com/ipxe/secure-boot-ca (attestation-9a.crt, attestation-9c.crt and its slot f9
# certificate as attestation-intermediate.crt). Public certificates only.
REAL_ATT_9A = b"""-----BEGIN CERTIFICATE-----
MIICVTCCAT2gAwIBAgIQARe9zblHrPPgb8dXSkQF3DANBgkqhkiG9w0BAQsFADAh
MR8wHQYDVQQDDBZZdWJpY28gUElWIEF0dGVzdGF0aW9uMCAXDTE2MDMxNDAwMDAw
MFoYDzIwNTIwNDE3MDAwMDAwWjAlMSMwIQYDVQQDDBpZdWJpS2V5IFBJViBBdHRl
c3RhdGlvbiA5YTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABDU18uvwD4WzoUBh
7VIzWxz+/erdqfQCH0Ua0lQ7nAss9Ua7OIctX19AY+3TpHIpSRP2ieJWTr/AIts1
9qgmwMCjTjBMMBEGCisGAQQBgsQKAwMEAwUEAzAUBgorBgEEAYLECgMHBAYCBAGz
vvYwEAYKKwYBBAGCxAoDCAQCAgEwDwYKKwYBBAGCxAoDCQQBgTANBgkqhkiG9w0B
AQsFAAOCAQEAok2jMuf6aqOBF9O0NOLIJ7Tq8V/TG5WwdOTsasfsZzAOqLJrxQ9O
7a8Tn1qsL+ZNCtefJtHAgExuM0GQlaLoBcFCZasu5K8UJ8RRpoDBZkB9CoM+YUR2
7eI3gF0Xi4O9ocCpo6mLVynxB5VEF7lfqt6KklVspUkKpkvQqQrxFXyedf/z97ec
QPlVu6S/zqNUH0h+B9t7VObFCo/4ugZdg9Zqz7n/mJBV+jkzsWtRWg8UtrmtuqjA
8d4oRKA2bPjlbe+IujDXgT58RJGhMBepQbXRhhZ9S8fzwOO5ksvnNH6qsB+FAV+6
4QpE/FwBtIZAwXRjBXK0eZBh8WvpDlA22A==
-----END CERTIFICATE-----
"""
REAL_ATT_9C = b"""-----BEGIN CERTIFICATE-----
MIIDIDCCAgigAwIBAgIQARO1WDIsnoAhWAmXyHlVnjANBgkqhkiG9w0BAQsFADAh
MR8wHQYDVQQDDBZZdWJpY28gUElWIEF0dGVzdGF0aW9uMCAXDTE2MDMxNDAwMDAw
MFoYDzIwNTIwNDE3MDAwMDAwWjAlMSMwIQYDVQQDDBpZdWJpS2V5IFBJViBBdHRl
c3RhdGlvbiA5YzCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAKuoodJz
rcIb2AGyL2dtlyZv3uev5lbFS7B0GznvyjMMybULmvQ4zzENoH2XbIb/4i8MfKaM
/lKLWiXWLGtZLqWxjeK3BcCPHPUcsGkVj9gjZUpHV1ntt9rHItQPZS0iBrAHFI1Q
rmmHthyIga3cT4TUK9R92ddxP/1NzAMXArHielXwcBVURjGWgDlFuCHmXQdAsnZB
ShcGitCAjSqSiplDIFHeIw2vYDc1Rcj4TzEHBqXD3cr3KDIgFueSu5UcmjTtqCab
mHLNRVURles2DnOnw9JOS++uQtFefI4ouOaX80hNzf3Mmelu0OVHTO6M0lP5TP2U
wkdwdDYG/8z30HUCAwEAAaNOMEwwEQYKKwYBBAGCxAoDAwQDBQQDMBQGCisGAQQB
gsQKAwcEBgIEAbO+9jAQBgorBgEEAYLECgMIBAIDATAPBgorBgEEAYLECgMJBAGB
MA0GCSqGSIb3DQEBCwUAA4IBAQCrkz5HynWp3kjH8SpQFmSlcvRHGLaoMLFF1GL8
SH7nGopxw9nERH8KDorSzXCcJVO2amu0PLbtshEv7cEcaio0k9HtjAHrielqVVBv
VJv+WUY1BvQZcuBfKduewa+Rb5avRLfcMatDwE8JQMO+dG7rlObHWEuKeGNRVmUw
Tpyqnsf/Kk/ZxI54qnWQ/QTPSPvi8UxM91TGIC2+ioxQGsdm3ThK8n6rwtAPWFgg
25xQ8mayhHDM6YclxQMy7YUPvm2eHbmU7HbiXDF7ASH8B0Dd/twXPzo8LY/8//+0
0ZQoHllyJPJhq8PlIlWJb9hZOr5n2shMvzOuMDzOpNQESZ+6
-----END CERTIFICATE-----
"""
REAL_F9 = b"""-----BEGIN CERTIFICATE-----
MIIDDTCCAfWgAwIBAgIJAJrfc9rkKdzuMA0GCSqGSIb3DQEBCwUAMCsxKTAnBgNV
BAMMIFl1YmljbyBQSVYgUm9vdCBDQSBTZXJpYWwgMjYzNzUxMCAXDTE2MDMxNDAw
MDAwMFoYDzIwNTIwNDE3MDAwMDAwWjAhMR8wHQYDVQQDDBZZdWJpY28gUElWIEF0
dGVzdGF0aW9uMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAyxuU2atQ
MWgdBUJ/9ebFvorSlQC0ia6a9mDSnh9AAhUbwy89MC1GNKb+Blrqx+A/LHokn289
mGZ2dGEw1LZhiLC0m2KpGCoin2Cx3T1w3VNHzFFezTatYDwLvx1p250odzJJWRBD
pUGr9ey+mMz9v0byyLt3Zsy/vlzgZZfzswxDtLOXSz02pxQ2fLGzt7Ayw57ip1hP
AtrKjfAaA82z8fZZ9yvl2Fo+Tu/kCk1AG/2tfPXGLXSrZgwYUKlUohtBMLeaocJc
q3ympCdICuqykMq5YYjek9Gf6XLpc6AdYtyVaGBo0LubUBTu6LA7yPjOQYElCu0V
+lqCjVjFGgcbsQIDAQABozwwOjARBgorBgEEAYLECgMDBAMFBAMwEQYKKwYBBAGC
xAoDCgQDAgEHMBIGA1UdEwEB/wQIMAYBAf8CAQAwDQYJKoZIhvcNAQELBQADggEB
AGXyYgCspGVK12JwEbj6zFrNHttekQXI9lbYLdywZEw5xDBgQ3VtDm45naR9Nt0/
w4NmUxo6z2sw9/5tBsAr/RF+LFp+9Gv8qm/wXwYMZD2g+2RiujY0WeXIss9nS3t9
8G/B5OO5ePAKb2eTt3NfgX5wsigbY4KH1XibjuNZmcLJyaWwxQAImR9ibnqeLw9W
mm/jVJ3JA3u5WPNohbme39pX4dDdHTOvdmkaYcXr373HxTFRXM/D37jqrHBXy55S
pgX7kjtedi7QL2f+FymWu41topVIeFL4jTXEtgFqX4cpSpvSLW2W2+H+uvA4QoLy
rJno24gpVaPaAgPB6YUedZc=
-----END CERTIFICATE-----
"""
PINNED_FP = "63ECE914E54DD87915F34033C85AF4C0696BA1512F8ADD66CED738331207B546"


# --- building test chains (test root -> [intermediate] -> f9 -> attestation) ------------------

Key = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(
    cn: str,
    issuer: tuple[x509.Certificate, Key] | None = None,
    *,
    key: Key | None = None,
    ca: bool | None = True,
    start: dt.datetime = dt.datetime(2016, 3, 14, tzinfo=dt.UTC),
    end: dt.datetime = dt.datetime(2052, 4, 17, tzinfo=dt.UTC),
    extensions: list[tuple[x509.ObjectIdentifier, bytes]] = (),  # type: ignore[assignment]
) -> tuple[x509.Certificate, Key]:
    key = key or ec.generate_private_key(ec.SECP256R1())
    issuer_name, issuer_key = (issuer[0].subject, issuer[1]) if issuer else (_name(cn), key)
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
    )
    if ca is not None:
        b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    for oid, value in extensions:
        b = b.add_extension(x509.UnrecognizedExtension(oid, value), critical=False)
    return b.sign(issuer_key, hashes.SHA256()), key


def der_int(n: int) -> bytes:
    body = n.to_bytes(n.bit_length() // 8 + 1, "big", signed=True)
    return bytes([0x02, len(body)]) + body


def yubico_exts(
    *,
    firmware: bytes = b"\x05\x04\x03",
    serial: int = 12345678,
    policy: bytes = b"\x03\x01",
    form: bytes | None = b"\x01",
    fips: bool = False,
    cspn: bool = False,
) -> list[tuple[x509.ObjectIdentifier, bytes]]:
    exts = [(A.OID_FIRMWARE, firmware), (A.OID_SERIAL, der_int(serial)), (A.OID_POLICY, policy)]
    if form is not None:
        exts.append((A.OID_FORM_FACTOR, form))
    if fips:
        exts.append((A.OID_FIPS, b"\x01"))
    if cspn:
        exts.append((A.OID_CSPN, b"\x01"))
    return exts


def make_attestation(
    device: tuple[x509.Certificate, Key],
    subject_key: Any,
    *,
    slot: str = "9c",
    exts: list[tuple[x509.ObjectIdentifier, bytes]] | None = None,
) -> x509.Certificate:
    dev_cert, dev_key = device
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(f"YubiKey PIV Attestation {slot}"))
        .issuer_name(dev_cert.subject)
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dev_cert.not_valid_before_utc)
        .not_valid_after(dev_cert.not_valid_after_utc)
    )
    for oid, value in exts if exts is not None else yubico_exts():
        b = b.add_extension(x509.UnrecognizedExtension(oid, value), critical=False)
    return b.sign(dev_key, hashes.SHA256())


def pem(c: x509.Certificate) -> bytes:
    return c.public_bytes(serialization.Encoding.PEM)


def der(c: x509.Certificate) -> bytes:
    return c.public_bytes(serialization.Encoding.DER)


@dataclasses.dataclass
class Chain:
    root: x509.Certificate
    device: x509.Certificate
    att: x509.Certificate
    slot_key: ec.EllipticCurvePrivateKey
    sslib: Any
    device_key: Key


def make_chain(*, rsa_device: bool = True, **att_kwargs: Any) -> Chain:
    root = make_ca("Test Yubico PIV Root CA", key=rsa.generate_private_key(65537, 2048))
    dev_key: Key = (
        rsa.generate_private_key(65537, 2048)
        if rsa_device
        else ec.generate_private_key(ec.SECP384R1())
    )
    device = make_ca("Yubico PIV Attestation", root, key=dev_key)
    slot_key = ec.generate_private_key(ec.SECP256R1())
    att = make_attestation(device, slot_key, **att_kwargs)
    return Chain(
        root[0], device[0], att, slot_key, SSlibKey.from_crypto(slot_key.public_key()), dev_key
    )


@pytest.fixture(scope="module")
def chain() -> Chain:
    return make_chain()


def verify(c: Chain, **kw: Any) -> AttestationInfo:
    kw.setdefault("extra_cas", [pem(c.root)])
    kw.setdefault("now", NOW)
    return verify_attestation(der(c.att), der(c.device), c.sslib, **kw)


# --- the real format -----------------------------------------------------------------------


def test_real_yubikey_attestation_verifies_to_the_pinned_root() -> None:
    att = x509.load_pem_x509_certificate(REAL_ATT_9A)
    key = SSlibKey.from_crypto(att.public_key())
    info = verify_attestation(REAL_ATT_9A, REAL_F9, key, now=NOW)
    assert info == AttestationInfo(
        serial=28557046,
        firmware="5.4.3",
        pin_policy="once",
        touch_policy="never",
        form_factor="usb-a-keychain",
        fips=True,  # form factor 0x81: the FIPS bit
        cspn=False,
        slot="9a",
        root_fingerprint=PINNED_FP,
        root_name="Yubico PIV Root CA Serial 263751",
        root_source="pinned",
        chain_fingerprints=(
            A.fingerprint(att),
            A.fingerprint(x509.load_pem_x509_certificate(REAL_F9)),
            PINNED_FP,
        ),
    )


def test_real_rsa_attestation_and_key_mismatch() -> None:
    att9c = x509.load_pem_x509_certificate(REAL_ATT_9C)
    info = verify_attestation(
        REAL_ATT_9C, REAL_F9, SSlibKey.from_crypto(att9c.public_key()), now=NOW
    )
    assert (info.slot, info.pin_policy, info.touch_policy) == ("9c", "always", "never")
    att9a = x509.load_pem_x509_certificate(REAL_ATT_9A)
    with pytest.raises(AttestationError, match="different key"):
        verify_attestation(REAL_ATT_9C, REAL_F9, SSlibKey.from_crypto(att9a.public_key()), now=NOW)


def test_encodings_match_the_real_certificate() -> None:
    """Our test builder (and the rig emulator) encode exactly like the real YubiKey does."""
    real = x509.load_pem_x509_certificate(REAL_ATT_9A)
    raw = {
        e.oid.dotted_string: e.value.value
        for e in real.extensions
        if isinstance(e.value, x509.UnrecognizedExtension)
    }
    assert raw == {
        "1.3.6.1.4.1.41482.3.3": bytes.fromhex("050403"),
        "1.3.6.1.4.1.41482.3.7": bytes.fromhex("020401b3bef6"),  # DER INTEGER 28557046
        "1.3.6.1.4.1.41482.3.8": bytes.fromhex("0201"),
        "1.3.6.1.4.1.41482.3.9": bytes.fromhex("81"),
    }
    ours = {
        oid.dotted_string: v
        for oid, v in yubico_exts(serial=28557046, policy=b"\x02\x01", form=b"\x81")
    }
    assert ours == raw
    assert der_int(28557046) == bytes.fromhex("020401b3bef6")
    assert der_int(12345678) == bytes.fromhex("020400bc614e")  # leading 00 keeps it positive


def test_rig_emulator_certificates_parse() -> None:
    emu = pytest.importorskip("tests.rig.piv_emulator")
    ca = emu.TestCA.create()
    card = emu.PivCard.create(
        emu.CardConfig(
            serial=7654321,
            firmware="5.7.1",
            form_factor="usb-c-nano",
            fips=True,
            startup_key={
                "slot": "9a",
                "alg": "p384",
                "pin_policy": "once",
                "touch_policy": "cached",
            },
        ),
        ca,
    )
    att = card.attestation_certificate(0x9A)
    info = verify_attestation(
        der(att),
        der(card.device_cert),
        SSlibKey.from_crypto(att.public_key()),
        extra_cas=[pem(ca.cert)],
    )
    assert (info.serial, info.firmware, info.slot) == (7654321, "5.7.1", "9a")
    assert (info.pin_policy, info.touch_policy) == ("once", "cached")
    assert (info.form_factor, info.fips, info.root_source) == ("usb-c-nano", True, "operator")


# --- chains -----------------------------------------------------------------------------------


def test_good_chain(chain: Chain) -> None:
    info = verify(chain)
    assert info.serial == 12345678
    assert info.firmware == "5.4.3"
    assert (info.pin_policy, info.touch_policy) == ("always", "never")
    assert (info.form_factor, info.fips, info.cspn, info.slot) == (
        "usb-a-keychain",
        False,
        False,
        "9c",
    )
    assert info.root_source == "operator"
    assert info.root_name == "Test Yubico PIV Root CA"
    assert info.root_fingerprint == A.fingerprint(chain.root)
    assert info.chain_fingerprints == tuple(
        A.fingerprint(c) for c in (chain.att, chain.device, chain.root)
    )


def test_pem_and_der_accepted(chain: Chain) -> None:
    a = verify_attestation(
        pem(chain.att), pem(chain.device), chain.sslib, extra_cas=[der(chain.root)], now=NOW
    )
    assert a == verify(chain)


def test_ec_device_key() -> None:
    c = make_chain(rsa_device=False)
    assert verify(c).serial == 12345678


def test_wrong_key(chain: Chain) -> None:
    other = SSlibKey.from_crypto(ec.generate_private_key(ec.SECP256R1()).public_key())
    with pytest.raises(AttestationError, match="different key"):
        verify_attestation(
            der(chain.att), der(chain.device), other, extra_cas=[pem(chain.root)], now=NOW
        )
    ed = SSlibKey.from_crypto(ed25519.Ed25519PrivateKey.generate().public_key())
    with pytest.raises(AttestationError, match="Ed25519"):
        verify_attestation(
            der(chain.att), der(chain.device), ed, extra_cas=[pem(chain.root)], now=NOW
        )


def test_wrong_root(chain: Chain) -> None:
    """Without the test root as an extra CA, only the pinned Yubico root is trusted."""
    with pytest.raises(AttestationError, match="does not chain to a trusted root") as e:
        verify(chain, extra_cas=[])
    assert "Yubico PIV Root CA Serial 263751" in str(e.value)
    other_root, _ = make_ca("Test Yubico PIV Root CA")  # same name, different key
    with pytest.raises(AttestationError, match="does not chain"):
        verify(chain, extra_cas=[pem(other_root)])


def test_untrusted_extra_ca_vs_trusted(chain: Chain) -> None:
    unrelated, _ = make_ca("Some other CA")
    with pytest.raises(AttestationError):
        verify(chain, extra_cas=[pem(unrelated)])
    # A bundle with the unrelated CA and the right root works; the right root is recorded.
    info = verify(chain, extra_cas=[pem(unrelated) + pem(chain.root)])
    assert info.root_fingerprint == A.fingerprint(chain.root)
    # Intermediates are never trust anchors: passing the root there does not help.
    with pytest.raises(AttestationError):
        verify(chain, extra_cas=[], intermediates=[pem(chain.root)])


def test_chain_through_intermediates() -> None:
    """Firmware 5.7.4+ style: root -> intermediate -> device (f9) -> attestation."""
    root = make_ca("Test Attestation Root 1", key=ec.generate_private_key(ec.SECP384R1()))
    inter = make_ca("Test PIV Attestation CA", root)
    device = make_ca("Yubico PIV Attestation", inter)
    slot_key = ec.generate_private_key(ec.SECP384R1())
    att = make_attestation(device, slot_key, exts=yubico_exts(firmware=b"\x05\x07\x04"))
    key = SSlibKey.from_crypto(slot_key.public_key())
    with pytest.raises(AttestationError, match="does not chain"):
        verify_attestation(der(att), der(device[0]), key, extra_cas=[pem(root[0])], now=NOW)
    info = verify_attestation(
        der(att),
        der(device[0]),
        key,
        extra_cas=[pem(root[0])],
        intermediates=[pem(inter[0])],
        now=NOW,
    )
    assert info.firmware == "5.7.4"
    assert info.chain_fingerprints == tuple(
        A.fingerprint(c) for c in (att, device[0], inter[0], root[0])
    )
    # An intermediate that says it is not a CA cannot be part of the path.
    bad_inter = make_ca("Test PIV Attestation CA", root, key=inter[1], ca=False)
    with pytest.raises(AttestationError, match="does not chain"):
        verify_attestation(
            der(att),
            der(device[0]),
            key,
            extra_cas=[pem(root[0])],
            intermediates=[pem(bad_inter[0])],
            now=NOW,
        )


def _tamper_signature(cert: x509.Certificate) -> bytes:
    data = bytearray(der(cert))
    data[-5] ^= 0x01  # inside the signature value
    return bytes(data)


def test_tampered_attestation_signature(chain: Chain) -> None:
    with pytest.raises(AttestationError, match="not signed by this YubiKey"):
        verify_attestation(
            _tamper_signature(chain.att),
            der(chain.device),
            chain.sslib,
            extra_cas=[pem(chain.root)],
            now=NOW,
        )


def test_tampered_device_signature(chain: Chain) -> None:
    with pytest.raises(AttestationError, match="does not chain"):
        verify_attestation(
            der(chain.att),
            _tamper_signature(chain.device),
            chain.sslib,
            extra_cas=[pem(chain.root)],
            now=NOW,
        )


def test_attestation_from_another_device(chain: Chain) -> None:
    other = make_chain()
    with pytest.raises(AttestationError, match="different YubiKeys"):
        verify_attestation(
            der(chain.att),
            der(other.device),
            chain.sslib,
            extra_cas=[pem(chain.root), pem(other.root)],
            now=NOW,
        )


def test_validity_period(chain: Chain) -> None:
    with pytest.raises(AttestationError, match="expired"):
        verify(chain, now=dt.datetime(2060, 1, 1, tzinfo=dt.UTC))
    with pytest.raises(AttestationError, match="not valid before"):
        verify(chain, now=dt.datetime(2010, 1, 1, tzinfo=dt.UTC))
    # A naive datetime is taken as UTC.
    assert verify(chain, now=dt.datetime(2026, 1, 1)).serial == 12345678


def test_unreadable_inputs(chain: Chain) -> None:
    with pytest.raises(AttestationError, match=r"not a readable X\.509"):
        verify_attestation(b"garbage", der(chain.device), chain.sslib, now=NOW)
    with pytest.raises(AttestationError, match="holds 2 certificates"):
        verify_attestation(pem(chain.att) + pem(chain.att), der(chain.device), chain.sslib, now=NOW)


# --- extensions ---------------------------------------------------------------------------------


def _with_exts(
    exts: list[tuple[x509.ObjectIdentifier, bytes]], slot: str = "9c"
) -> tuple[Chain, x509.Certificate]:
    c = make_chain(rsa_device=False)
    att = make_attestation((c.device, c.device_key), c.slot_key, exts=exts, slot=slot)
    return c, att


def _verify_att(c: Chain, att: x509.Certificate) -> AttestationInfo:
    return verify_attestation(der(att), der(c.device), c.sslib, extra_cas=[pem(c.root)], now=NOW)


@pytest.mark.parametrize(
    ("exts", "message"),
    [
        ([e for e in yubico_exts() if e[0] != A.OID_SERIAL], "lacks the YubiKey extension"),
        ([], "not a YubiKey PIV attestation"),
        (yubico_exts(firmware=b"\x05\x04"), "firmware extension is malformed"),
        (yubico_exts(policy=b"\x03"), "PIN/touch policy extension is malformed"),
        (yubico_exts(policy=b"\x09\x01"), "unknown PIN policy"),
        (yubico_exts(policy=b"\x03\x07"), "unknown touch policy"),
        (yubico_exts(form=b"\x01\x02"), "form factor extension is malformed"),
    ],
)
def test_malformed_extensions(
    exts: list[tuple[x509.ObjectIdentifier, bytes]], message: str
) -> None:
    c, att = _with_exts(exts)
    with pytest.raises(AttestationError, match=message):
        _verify_att(c, att)


def test_serial_must_be_der_integer() -> None:
    exts = [(o, b"\x00\xbc\x61\x4e" if o == A.OID_SERIAL else v) for o, v in yubico_exts()]
    c, att = _with_exts(exts)
    with pytest.raises(AttestationError, match="serial number extension is malformed"):
        _verify_att(c, att)


def test_optional_extensions_and_slot() -> None:
    c, att = _with_exts(yubico_exts(form=None, cspn=True, fips=True, policy=b"\x05\x03"), slot="82")
    info = _verify_att(c, att)
    assert (info.form_factor, info.fips, info.cspn) == ("unknown", True, True)
    assert (info.pin_policy, info.touch_policy, info.slot) == ("match-always", "cached", "82")
    c, att = _with_exts(yubico_exts(form=b"\x07"), slot="not a slot")
    info = _verify_att(c, att)
    assert (info.form_factor, info.slot) == ("usb-c-bio", None)


# --- pinned roots ---------------------------------------------------------------------------------


ROOT_1_FP = "62760C6A6EF91679F454C8902B80FD009825B3F25DA90F1FBACE2EC6586CD5A8"
B2_1_FP = "0C90B7D184A36EDF50A35F9BE935F0C5689BFDCFE5BDD073366CAFB49061A440"


def test_bundled_roots_match_pins() -> None:
    roots = A.load_pinned_roots()
    assert [A.fingerprint(r) for r in roots] == [PINNED_FP, ROOT_1_FP]
    assert A.PINNED_ROOT_FILES == {
        "yubico-piv-root-ca-263751.pem": PINNED_FP,
        "yubico-attestation-root-1.pem": ROOT_1_FP,
    }


def test_bundled_intermediates_are_pinned_and_chain_to_root_1() -> None:
    inters = A.load_pinned_intermediates()
    names = sorted(A.common_name(c.subject) for c in inters)
    assert names == [
        "Yubico Attestation Intermediate A 1",
        "Yubico Attestation Intermediate B 1",
        "Yubico PIV Attestation A 1",
        "Yubico PIV Attestation B 1",
    ]
    root_1 = A.load_pinned_roots()[1]
    by_name = {A.common_name(c.subject): c for c in inters}
    for letter in "AB":
        piv = by_name[f"Yubico PIV Attestation {letter} 1"]
        mid = by_name[f"Yubico Attestation Intermediate {letter} 1"]
        piv.verify_directly_issued_by(mid)
        mid.verify_directly_issued_by(root_1)


def test_an_altered_intermediates_file_is_refused(tmp_path: Path) -> None:
    data_dir = Path(ceremony.__file__).parent / "data"
    name = "yubico-piv-attestation-intermediates-2024.pem"
    shutil.copy(data_dir / name, tmp_path)
    assert len(A.load_pinned_intermediates(tmp_path)) == 4
    other, _ = make_ca("Yubico PIV Attestation A 1")
    with (tmp_path / name).open("ab") as f:
        f.write(pem(other))
    with pytest.raises(AttestationError, match="installation was altered"):
        A.load_pinned_intermediates(tmp_path)


def test_a_device_certificate_under_no_known_ca_names_the_bundled_anchors(chain: Chain) -> None:
    with pytest.raises(AttestationError) as exc:
        verify(chain, extra_cas=[])
    assert "Yubico Attestation Root 1" in str(exc.value)
    assert "Yubico PIV Root CA Serial 263751" in str(exc.value)
    assert "--attestation-chain" in (exc.value.hint or "")


@pytest.mark.parametrize(
    "cn", ["Yubico PIV Attestation B2 1", "Yubico PIV Attestation A 1", "Yubico Attestation Root 1"]
)
def test_an_operator_certificate_named_like_a_yubico_ca_needs_its_pinned_fingerprint(
    cn: str,
) -> None:
    """A look-alike of a Yubico CA is refused, as an extra chain certificate or extra CA."""
    root = make_ca("Test Attestation Root 1")
    fake = make_ca(cn, root)
    device = make_ca("Yubico PIV Attestation", fake)
    slot_key = ec.generate_private_key(ec.SECP256R1())
    att = make_attestation(device, slot_key)
    key = SSlibKey.from_crypto(slot_key.public_key())
    for kwargs in (
        {"extra_cas": [pem(root[0])], "intermediates": [pem(fake[0])]},
        {"extra_cas": [pem(fake[0])]},
    ):
        with pytest.raises(AttestationError) as exc:
            verify_attestation(der(att), der(device[0]), key, now=NOW, **kwargs)
        assert f"'{cn}' has SHA-256 fingerprint {A.fingerprint(fake[0])}" in str(exc.value)
        assert "not Yubico's certificate" in str(exc.value)


def test_b2_1_from_the_operator_with_its_pinned_fingerprint_builds_the_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pin is what admits "Yubico PIV Attestation B2 1" (here a test CA of that name,
    pinned for the test by its own fingerprint; the real pin is Yubico's published one)."""
    assert A.OPERATOR_PINNED == {"Yubico PIV Attestation B2 1": B2_1_FP}
    root = make_ca("Test Attestation Root 1")
    b2 = make_ca("Yubico PIV Attestation B2 1", root)
    device = make_ca("Yubico PIV Attestation", b2)
    slot_key = ec.generate_private_key(ec.SECP256R1())
    att = make_attestation(device, slot_key)
    key = SSlibKey.from_crypto(slot_key.public_key())
    monkeypatch.setitem(A.OPERATOR_PINNED, "Yubico PIV Attestation B2 1", A.fingerprint(b2[0]))
    info = verify_attestation(
        der(att), der(device[0]), key, extra_cas=[pem(root[0])], intermediates=[pem(b2[0])], now=NOW
    )
    assert A.fingerprint(b2[0]) in info.chain_fingerprints


def test_pinned_file_check(tmp_path: Path) -> None:
    data_dir = Path(ceremony.__file__).parent / "data"
    for name in A.PINNED_ROOT_FILES:
        shutil.copy(data_dir / name, tmp_path)
    assert A.load_pinned_roots(tmp_path)
    # Replace the root with another (valid) certificate: refused.
    other, _ = make_ca("Yubico PIV Root CA Serial 263751")
    (tmp_path / "yubico-piv-root-ca-263751.pem").write_bytes(pem(other))
    with pytest.raises(AttestationError, match="installation was altered"):
        A.load_pinned_roots(tmp_path)
    (tmp_path / "yubico-piv-root-ca-263751.pem").write_bytes(b"not a cert")
    with pytest.raises(AttestationError, match="not a readable certificate"):
        A.load_pinned_roots(tmp_path)
    (tmp_path / "yubico-piv-root-ca-263751.pem").unlink()
    with pytest.raises(AttestationError, match="cannot be read"):
        A.load_pinned_roots(tmp_path)


def test_verify_refuses_an_altered_bundle(monkeypatch: pytest.MonkeyPatch, chain: Chain) -> None:
    monkeypatch.setitem(A.PINNED_ROOT_FILES, "yubico-piv-root-ca-263751.pem", "00" * 32)
    with pytest.raises(AttestationError, match="pins 0000"):
        verify(chain)


def test_known_root_names() -> None:
    assert A.KNOWN_ROOTS["62760C6A6EF91679F454C8902B80FD009825B3F25DA90F1FBACE2EC6586CD5A8"] == (
        "Yubico Attestation Root 1"
    )


# --- storage ------------------------------------------------------------------------------------


def test_to_dict_round_trip(chain: Chain) -> None:
    info = verify(chain)
    d = info.to_dict()
    assert d["chain_fingerprints"] == list(info.chain_fingerprints)
    assert AttestationInfo.from_dict(d) == info


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"serial": "123"}, "serial has the wrong type"),
        ({"serial": True}, "serial has the wrong type"),
        ({"firmware": "5.4"}, "firmware"),
        ({"pin_policy": "sometimes"}, "pin_policy"),
        ({"touch_policy": "maybe"}, "touch_policy"),
        ({"chain_fingerprints": [1]}, "chain_fingerprints"),
    ],
)
def test_from_dict_rejects(chain: Chain, change: dict[str, Any], message: str) -> None:
    d = {**verify(chain).to_dict(), **change}
    with pytest.raises(StoreError, match=message):
        AttestationInfo.from_dict(d)


def test_from_dict_missing_field(chain: Chain) -> None:
    d = verify(chain).to_dict()
    del d["root_fingerprint"]
    with pytest.raises(StoreError, match="root_fingerprint is missing"):
        AttestationInfo.from_dict(d, where="keys.alice.attestation")


# --- policy -------------------------------------------------------------------------------------


def info_with(**kw: Any) -> AttestationInfo:
    base = AttestationInfo(
        serial=1,
        firmware="5.7.1",
        pin_policy="always",
        touch_policy="always",
        form_factor="usb-c-nano",
        fips=False,
        cspn=False,
        slot="9c",
        root_fingerprint=PINNED_FP,
        root_name="r",
        root_source="pinned",
    )
    return dataclasses.replace(base, **kw)


def problems(info: AttestationInfo, **kw: Any) -> list[str]:
    args: dict[str, Any] = {
        "key_type": "ecdsa-p256",
        "require_touch": None,
        "forbid_pin_never": True,
        "allow_vulnerable_firmware": False,
    }
    args.update(kw)
    return check_policy(info, **args)


def test_policy_ok() -> None:
    assert problems(info_with(), require_touch="always") == []


@pytest.mark.parametrize(
    ("touch", "required", "ok"),
    [
        ("always", "always", True),
        ("cached", "always", False),
        ("never", "always", False),
        ("default", "always", False),
        ("always", "cached", True),
        ("cached", "cached", True),
        ("never", "cached", False),
        ("never", None, True),
    ],
)
def test_touch_requirement(touch: str, required: str | None, ok: bool) -> None:
    p = problems(info_with(touch_policy=touch), require_touch=required)
    assert (p == []) is ok, p
    if not ok:
        assert "touch policy" in p[0]


def test_pin_never_forbidden() -> None:
    p = problems(info_with(pin_policy="never"))
    assert len(p) == 1 and "PIN policy is 'never'" in p[0]
    assert problems(info_with(pin_policy="never"), forbid_pin_never=False) == []
    # "default" resolves by slot: 9e is never, 9c always, others once.
    assert problems(info_with(pin_policy="default", slot="9e"))
    assert problems(info_with(pin_policy="default", slot="9c")) == []
    assert problems(info_with(pin_policy="default", slot="9a")) == []
    assert "cannot be shown" in problems(info_with(pin_policy="default", slot=None))[0]


@pytest.mark.parametrize(
    ("firmware", "form", "key_type", "advisory"),
    [
        ("5.4.3", "usb-a-keychain", "ecdsa-p256", "YSA-2024-03"),
        ("5.6.9", "usb-c-nano", "ecdsa-sha2-nistp384", "YSA-2024-03"),
        ("5.7.0", "usb-c-nano", "ecdsa-p256", None),
        ("5.7.1", "usb-c-bio", "ecdsa-p256", "YSA-2024-03"),  # Bio: fixed in 5.7.2
        ("5.7.2", "usb-a-bio", "ecdsa-p256", None),
        ("5.4.3", "usb-a-keychain", "rsa-3072", None),
        ("5.4.3", "usb-a-keychain", "ed25519", None),
        ("4.3.4", "unknown", "rsa", "YSA-2017-01"),
        ("4.2.6", "unknown", "rsa-2048", "YSA-2017-01"),
        ("4.3.5", "unknown", "rsa", None),
        ("4.3.4", "unknown", "ecdsa-p256", None),
        ("4.4.2", "unknown", "ecdsa-p256", "YSA-2019-02"),  # YubiKey FIPS, low entropy
        ("4.4.4", "unknown", "rsa-2048", "YSA-2019-02"),
        ("4.4.5", "unknown", "ecdsa-p256", None),
    ],
)
def test_firmware_advisories(firmware: str, form: str, key_type: str, advisory: str | None) -> None:
    info = info_with(firmware=firmware, form_factor=form)
    p = problems(info, key_type=key_type)
    if advisory is None:
        assert p == []
    else:
        assert len(p) == 1 and advisory in p[0] and firmware in p[0]
        words = {"YSA-2024-03": "EUCLEAK", "YSA-2017-01": "ROCA", "YSA-2019-02": "FIPS"}
        assert words[advisory] in p[0]
        assert problems(info, key_type=key_type, allow_vulnerable_firmware=True) == []
        # Allowed by name: only the named advisory.
        assert problems(info, key_type=key_type, allowed_advisories=[advisory]) == []
        other = [a for a in words if a != advisory]
        assert len(problems(info, key_type=key_type, allowed_advisories=other)) == 1
        assert f"allow_advisories: [{advisory}]" in p[0]


def test_several_problems_reported_together() -> None:
    p = problems(
        info_with(firmware="5.2.7", pin_policy="never", touch_policy="never"),
        require_touch="cached",
    )
    assert len(p) == 3
