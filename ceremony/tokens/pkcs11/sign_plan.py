"""How to make each TUF signature scheme on a token: mechanism, parameters, pre-hash.

Mechanisms (PKCS#11 v2.40 current mechanisms specification; EdDSA: v3.0):
- ed25519: CKM_EDDSA over the message itself (PureEdDSA, RFC 8032);
- ecdsa-sha2-nistp*: the digest is made here and signed with CKM_ECDSA, which returns
  r||s (converted to DER for TUF by the signer);
- rsassa-pss-sha*: CKM_SHA*_RSA_PKCS_PSS (the token hashes), else CKM_RSA_PKCS_PSS over a
  digest made here; CK_RSA_PKCS_PSS_PARAMS: the same hash for MGF1, salt length = hash
  length in bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pkcs11 import MGF, Mechanism
from securesystemslib.signer import SSlibKey

from ceremony.errors import MechanismNotSupported
from ceremony.tokens.pkcs11.session import TokenHandle, mechanisms, unsupported
from ceremony.tokens.types import KEY_TYPES


@dataclass(frozen=True)
class SignPlan:
    """One way to sign: C_SignInit(mechanism, param) over prehash(payload) or the payload;
    der: the result is ECDSA r||s, to be DER-encoded."""

    mechanism: Mechanism
    param: Any  # CK_RSA_PKCS_PSS_PARAMS as (hash mechanism, MGF, salt bytes), or None
    prehash: Callable[[bytes], bytes] | None
    der: bool


def _digest(name: str) -> Callable[[bytes], bytes]:
    def run(data: bytes) -> bytes:
        return hashlib.new(name, data).digest()

    return run


# TUF scheme -> (hashlib name, combined mechanism, hash mechanism, MGF1, salt length)
_PSS: dict[str, tuple[str, Mechanism, Mechanism, MGF, int]] = {
    "rsassa-pss-sha256": (
        "sha256",
        Mechanism.SHA256_RSA_PKCS_PSS,
        Mechanism.SHA256,
        MGF.SHA256,
        32,
    ),
    "rsassa-pss-sha384": (
        "sha384",
        Mechanism.SHA384_RSA_PKCS_PSS,
        Mechanism.SHA384,
        MGF.SHA384,
        48,
    ),
    "rsassa-pss-sha512": (
        "sha512",
        Mechanism.SHA512_RSA_PKCS_PSS,
        Mechanism.SHA512,
        MGF.SHA512,
        64,
    ),
}
# TUF scheme -> hashlib name of the digest CKM_ECDSA signs
_ECDSA: dict[str, str] = {
    "ecdsa-sha2-nistp256": "sha256",
    "ecdsa-sha2-nistp384": "sha384",
    "ecdsa-sha2-nistp521": "sha512",
}


def sign_plan(tok: TokenHandle, public_key: SSlibKey) -> SignPlan:
    """The plan for the enrolled key's scheme on this token. Raises MechanismNotSupported
    when the token lacks the mechanism (if it lists its mechanisms) or for another scheme."""
    scheme = public_key.scheme
    mechs = mechanisms(tok)

    def has(m: Mechanism) -> bool:
        return mechs is None or m in mechs

    if scheme == "ed25519":
        if not has(Mechanism.EDDSA):
            raise unsupported(tok, "Ed25519", "sign with")
        return SignPlan(Mechanism.EDDSA, None, None, der=False)
    if scheme in _ECDSA:
        if not has(Mechanism.ECDSA):
            raise unsupported(tok, "ECDSA", "sign with")
        return SignPlan(Mechanism.ECDSA, None, _digest(_ECDSA[scheme]), der=True)
    if scheme in _PSS:
        hname, combined, hmech, mgf, salt = _PSS[scheme]
        if mechs is None or combined in mechs:
            return SignPlan(combined, (hmech, mgf, salt), None, der=False)
        if Mechanism.RSA_PKCS_PSS in mechs:
            return SignPlan(Mechanism.RSA_PKCS_PSS, (hmech, mgf, salt), _digest(hname), der=False)
        raise unsupported(tok, "RSA-PSS", "sign with")
    raise MechanismNotSupported(
        f"The enrolled key uses the signature scheme {scheme!r}, which tuf-ceremony cannot "
        "make on a token.",
        hint=f"Use one of: {', '.join(s for _, s in KEY_TYPES.values())}.",
    )
