"""The trust anchors of YubiKey PIV attestation, and reading certificates.

The bundled Yubico root (`ceremony/data/`) is pinned by its SHA-256 fingerprint, as Yubico
publishes it; roots we know by fingerprint but do not bundle are named when an operator
passes them (`--attestation-ca`). Sources: see `ceremony.attestation.verify`.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from ceremony.errors import AttestationError

# Bundled roots (file in ceremony/data -> SHA-256 of the DER certificate, as Yubico publishes).
PINNED_ROOT_FILES: dict[str, str] = {
    "yubico-piv-root-ca-263751.pem": (
        "63ECE914E54DD87915F34033C85AF4C0696BA1512F8ADD66CED738331207B546"
    ),
}
# Roots we know by fingerprint but do not bundle; the operator passes them as extra CAs.
KNOWN_ROOTS: dict[str, str] = {
    "63ECE914E54DD87915F34033C85AF4C0696BA1512F8ADD66CED738331207B546": (
        "Yubico PIV Root CA Serial 263751"
    ),
    "62760C6A6EF91679F454C8902B80FD009825B3F25DA90F1FBACE2EC6586CD5A8": (
        "Yubico Attestation Root 1"
    ),
}

HINT_REDO = (
    "Make the attestation again on the YubiKey that holds the key (ceremony enroll --attest) "
    "and pass the files unchanged."
)


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, upper-case hex (the form Yubico publishes)."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()


def common_name(name: x509.Name) -> str:
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = attrs[0].value if attrs else name.rfc4514_string()
    return value if isinstance(value, str) else value.decode(errors="replace")


def load_certs(data: bytes, what: str) -> list[x509.Certificate]:
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except ValueError as e:
        raise AttestationError(
            f"The {what} is not a readable X.509 certificate (PEM or DER): {e}. "
            "The file may be truncated or is not a certificate.",
            hint=HINT_REDO,
        ) from e
    if not certs:
        raise AttestationError(f"The {what} contains no certificate.", hint=HINT_REDO)
    return certs


def load_one(data: bytes, what: str) -> x509.Certificate:
    certs = load_certs(data, what)
    if len(certs) != 1:
        raise AttestationError(
            f"The {what} holds {len(certs)} certificates; expected exactly one.",
            hint=HINT_REDO,
        )
    return certs[0]


def load_pinned_roots(data_dir: Path | None = None) -> list[x509.Certificate]:
    """The bundled Yubico roots, each checked against its pinned SHA-256 fingerprint.

    Refuses (AttestationError) when a bundled file is missing, unreadable or does not match:
    the installation was altered and no attestation can be trusted with it.
    """
    roots = []
    for name, pinned in PINNED_ROOT_FILES.items():
        try:
            if data_dir is None:
                data = resources.files("ceremony").joinpath("data", name).read_bytes()
            else:
                data = (data_dir / name).read_bytes()
        except OSError as e:
            raise AttestationError(
                f"The bundled Yubico root certificate '{name}' cannot be read ({e}). The "
                "installation of tuf-ceremony is incomplete, so no YubiKey attestation can be "
                "checked.",
                hint="Reinstall tuf-ceremony from a verified release.",
            ) from e
        try:
            cert = x509.load_pem_x509_certificate(data)
        except ValueError as e:
            raise AttestationError(
                f"The bundled Yubico root certificate '{name}' is not a readable certificate. "
                "The installation of tuf-ceremony was altered.",
                hint="Reinstall tuf-ceremony from a verified release.",
            ) from e
        found = fingerprint(cert)
        if found != pinned:
            raise AttestationError(
                f"The bundled Yubico root certificate '{name}' has SHA-256 fingerprint {found}, "
                f"but tuf-ceremony pins {pinned}. The installation was altered; refusing to "
                "use it to check attestations.",
                hint="Reinstall tuf-ceremony from a verified release.",
            )
        roots.append(cert)
    return roots
