"""ECDSA r||s <-> DER conversion and CKA_EC_POINT unwrapping."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given
from hypothesis import strategies as st

from ceremony.tokens import encoding

P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P384_N = int(
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
    16,
)


def ecdsa_der_to_raw(der: bytes, half_len: int) -> bytes:
    """A DER ECDSA-Sig-Value as r||s with halves of `half_len` bytes: what a PKCS#11 token
    returns for CKM_ECDSA."""
    r, s = decode_dss_signature(der)
    return r.to_bytes(half_len, "big") + s.to_bytes(half_len, "big")


@given(
    st.sampled_from([(P256_N, 32), (P384_N, 48)]).flatmap(
        lambda nh: st.tuples(st.integers(1, nh[0] - 1), st.integers(1, nh[0] - 1), st.just(nh[1]))
    )
)
def test_raw_der_round_trip(rsh: tuple[int, int, int]) -> None:
    r, s, half = rsh
    raw = r.to_bytes(half, "big") + s.to_bytes(half, "big")
    der = encoding.ecdsa_raw_to_der(raw)
    assert decode_dss_signature(der) == (r, s)
    assert ecdsa_der_to_raw(der, half) == raw


@pytest.mark.parametrize(
    ("curve", "half", "hash_"),
    [(ec.SECP256R1(), 32, hashes.SHA256()), (ec.SECP384R1(), 48, hashes.SHA384())],
)
def test_converted_signature_verifies(
    curve: ec.EllipticCurve, half: int, hash_: hashes.HashAlgorithm
) -> None:
    key = ec.generate_private_key(curve)
    der = key.sign(b"payload", ec.ECDSA(hash_))
    raw = ecdsa_der_to_raw(der, half)  # what a PKCS#11 token returns
    assert len(raw) == 2 * half
    key.public_key().verify(encoding.ecdsa_raw_to_der(raw), b"payload", ec.ECDSA(hash_))


@pytest.mark.parametrize("raw", [b"", b"\x01" * 63, b"\x00" * 64, b"\x00" * 32 + b"\x01" * 32])
def test_bad_raw_signatures(raw: bytes) -> None:
    with pytest.raises(ValueError):
        encoding.ecdsa_raw_to_der(raw)


def test_unwrap_ec_point() -> None:
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    assert encoding.unwrap_ec_point(b"\x04\x41" + point) == point  # DER-wrapped (SoftHSM)
    assert encoding.unwrap_ec_point(point) == point  # raw
    p521 = (
        ec.generate_private_key(ec.SECP521R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    assert encoding.unwrap_ec_point(b"\x04\x81\x85" + p521) == p521  # long-form length
    ed = b"\x04" + bytes(range(31))  # a raw Ed25519 point that happens to start with 0x04
    assert encoding.unwrap_ec_point(ed, 32) == ed
    assert encoding.unwrap_ec_point(b"\x04\x20" + ed, 32) == ed


def test_curve_names() -> None:
    assert encoding.edwards_key_type(encoding.ED25519_OID_PARAMS) == "ed25519"
    assert encoding.edwards_key_type(bytes.fromhex("130c656477617264733235353139")) == "ed25519"
    assert encoding.ec_key_type(encoding.P384_PARAMS) == "ecdsa-p384"
    assert encoding.ec_key_type(b"\x06\x01\x00") is None
