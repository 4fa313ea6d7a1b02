"""The bundled Yubico certificates (ceremony/data/) match their pinned SHA-256 fingerprints,
and the 2024 intermediates chain under "Yubico Attestation Root 1"."""

from __future__ import annotations

import hashlib
from importlib import resources

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

# SHA-256 of the DER certificates, as Yubico publishes them (also in ceremony/data/README.md).
ROOT_1 = "62760C6A6EF91679F454C8902B80FD009825B3F25DA90F1FBACE2EC6586CD5A8"
PIV_ROOT_263751 = "63ECE914E54DD87915F34033C85AF4C0696BA1512F8ADD66CED738331207B546"
PIV_ATTESTATION_A1 = "6DE693F05376F5D8CA29069261E1C8626C75D503BD2EDBFD75354CAD1F722870"
INTERMEDIATE_A1 = "4698A1D3389C3EC60016C216250F1D0439922832D65142327436376DC2942B55"
PIV_ATTESTATION_B1 = "2D55B7998F4E42569D6D8FA382B6DC77D1DACF07358B19701163892922B17052"
INTERMEDIATE_B1 = "D4CC3F456FDAF4E7812A21AAB1DFE9D8E27D24E2FD2D6F21C9940109F0DAA754"

# The expected chain of each intermediate: fingerprint -> (subject CN, issuer fingerprint).
INTERMEDIATES = {
    PIV_ATTESTATION_A1: ("Yubico PIV Attestation A 1", INTERMEDIATE_A1),
    INTERMEDIATE_A1: ("Yubico Attestation Intermediate A 1", ROOT_1),
    PIV_ATTESTATION_B1: ("Yubico PIV Attestation B 1", INTERMEDIATE_B1),
    INTERMEDIATE_B1: ("Yubico Attestation Intermediate B 1", ROOT_1),
}


def _certs(name: str) -> list[x509.Certificate]:
    data = resources.files("ceremony").joinpath("data", name).read_bytes()
    return x509.load_pem_x509_certificates(data)


def _fp(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()


def _cn(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value)


def _is_ca(cert: x509.Certificate) -> bool:
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    return bc.ca


@pytest.mark.parametrize(
    ("name", "pinned", "cn"),
    [
        ("yubico-attestation-root-1.pem", ROOT_1, "Yubico Attestation Root 1"),
        ("yubico-piv-root-ca-263751.pem", PIV_ROOT_263751, "Yubico PIV Root CA Serial 263751"),
    ],
)
def test_bundled_roots_match_their_pinned_fingerprints(name: str, pinned: str, cn: str) -> None:
    (root,) = _certs(name)
    assert _fp(root) == pinned
    assert _cn(root) == cn
    root.verify_directly_issued_by(root)  # self-signed
    assert _is_ca(root)


def test_intermediates_file_holds_exactly_the_pinned_certificates() -> None:
    certs = _certs("yubico-piv-attestation-intermediates-2024.pem")
    assert sorted(_fp(c) for c in certs) == sorted(INTERMEDIATES)
    for cert in certs:
        assert _cn(cert) == INTERMEDIATES[_fp(cert)][0]
        assert _is_ca(cert)


def test_intermediates_verify_under_root_1() -> None:
    (root,) = _certs("yubico-attestation-root-1.pem")
    by_fp = {_fp(c): c for c in _certs("yubico-piv-attestation-intermediates-2024.pem")}
    by_fp[ROOT_1] = root
    for fp, (_, issuer_fp) in INTERMEDIATES.items():
        cert, issuer = by_fp[fp], by_fp[issuer_fp]
        assert cert.issuer == issuer.subject
        cert.verify_directly_issued_by(issuer)  # raises InvalidSignature on a bad signature
        assert issuer.not_valid_before_utc <= cert.not_valid_before_utc
    # Each "PIV Attestation" CA reaches Root 1 in two steps.
    for fp in (PIV_ATTESTATION_A1, PIV_ATTESTATION_B1):
        assert INTERMEDIATES[INTERMEDIATES[fp][1]][1] == ROOT_1


def test_root_1_does_not_sign_the_piv_attestation_cas_directly() -> None:
    """Guards the chain shape: a verifier must use the Intermediate certificates."""
    (root,) = _certs("yubico-attestation-root-1.pem")
    by_fp = {_fp(c): c for c in _certs("yubico-piv-attestation-intermediates-2024.pem")}
    for fp in (PIV_ATTESTATION_A1, PIV_ATTESTATION_B1):
        with pytest.raises(ValueError):  # issuer name mismatch
            by_fp[fp].verify_directly_issued_by(root)
