"""Pure byte-level helpers for PKCS#11 key material (no PKCS#11 import).

- EC domain parameters (CKA_EC_PARAMS) of the curves the ceremony knows, in both the
  OID form and, for Edwards curves, the PKCS#11 3.0 PrintableString form.
- CKA_EC_POINT unwrapping: most tokens return a DER OCTET STRING, some the raw point.
- ECDSA signature conversion: PKCS#11 returns r||s, TUF/securesystemslib want DER.
- The ceremony's key type name from what a token reports.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

# --- EC domain parameters ------------------------------------------------------------------

P256_PARAMS = bytes.fromhex("06082a8648ce3d030107")  # OID 1.2.840.10045.3.1.7
P384_PARAMS = bytes.fromhex("06052b81040022")  # OID 1.3.132.0.34
P521_PARAMS = bytes.fromhex("06052b81040023")  # OID 1.3.132.0.35
ED25519_OID_PARAMS = bytes.fromhex("06032b6570")  # OID 1.3.101.112
# PrintableString "edwards25519": what ykcs11 accepts and returns; SoftHSM >= 2.6 accepts both.
ED25519_STRING_PARAMS = bytes.fromhex("130c656477617264733235353139")
ED448_OID_PARAMS = bytes.fromhex("06032b6571")
ED448_STRING_PARAMS = b"\x13\x0a" + b"edwards448"

# curve name -> (ceremony key type, byte length of one coordinate / of the point)
EC_CURVES: dict[bytes, str] = {
    P256_PARAMS: "ecdsa-p256",
    P384_PARAMS: "ecdsa-p384",
    P521_PARAMS: "ecdsa-p521",
}
EDWARDS_CURVES: dict[bytes, str] = {
    ED25519_OID_PARAMS: "ed25519",
    ED25519_STRING_PARAMS: "ed25519",
    ED448_OID_PARAMS: "ed448",
    ED448_STRING_PARAMS: "ed448",
}

CRYPTO_CURVES: dict[str, ec.EllipticCurve] = {
    "ecdsa-p256": ec.SECP256R1(),
    "ecdsa-p384": ec.SECP384R1(),
    "ecdsa-p521": ec.SECP521R1(),
}


def ec_key_type(params: bytes) -> str | None:
    """The ceremony key type of a Weierstrass curve's CKA_EC_PARAMS, or None if unknown."""
    return EC_CURVES.get(bytes(params))


def edwards_key_type(params: bytes) -> str | None:
    """'ed25519' / 'ed448' for an Edwards curve's CKA_EC_PARAMS (OID or string form)."""
    return EDWARDS_CURVES.get(bytes(params))


# --- DER OCTET STRING ----------------------------------------------------------------------


def _der_octet_string(data: bytes) -> bytes | None:
    """The content of `data` if it is exactly one DER OCTET STRING, else None."""
    if len(data) < 2 or data[0] != 0x04:
        return None
    first = data[1]
    if first < 0x80:
        length, offset = first, 2
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or len(data) < 2 + n:
            return None
        length = int.from_bytes(data[2 : 2 + n], "big")
        if length < 0x80:  # not minimal: not DER
            return None
        offset = 2 + n
    if offset + length != len(data):
        return None
    return data[offset:]


def unwrap_ec_point(raw: bytes, expected_len: int | None = None) -> bytes:
    """CKA_EC_POINT as the bare point.

    PKCS#11 says the point is DER-wrapped in an OCTET STRING (SoftHSM, ykcs11, OpenSC do
    this); some tokens return it raw. `expected_len` (32 for Ed25519) resolves the case
    where a raw point happens to start with 0x04.
    """
    raw = bytes(raw)
    if expected_len is not None and len(raw) == expected_len:
        return raw
    inner = _der_octet_string(raw)
    if inner is not None and (expected_len is None or len(inner) == expected_len):
        return inner
    return raw


# --- ECDSA signatures ----------------------------------------------------------------------


def ecdsa_raw_to_der(raw: bytes) -> bytes:
    """Convert a PKCS#11 ECDSA signature (r||s, equal halves) to DER ECDSA-Sig-Value."""
    if len(raw) == 0 or len(raw) % 2:
        raise ValueError(
            f"an ECDSA signature from PKCS#11 must be r||s of even length, got {len(raw)}"
        )
    half = len(raw) // 2
    r = int.from_bytes(raw[:half], "big")
    s = int.from_bytes(raw[half:], "big")
    if r == 0 or s == 0:
        raise ValueError("an ECDSA signature with r or s equal to zero is invalid")
    return encode_dss_signature(r, s)
