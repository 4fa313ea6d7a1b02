"""The trust anchors of YubiKey PIV attestation, and reading certificates.

The bundled Yubico roots and the published PIV intermediates under "Yubico Attestation Root 1"
(`ceremony/data/`, see its README) are pinned by their SHA-256 fingerprints, as Yubico
publishes them: a bundled file is trusted only when it matches. An operator may pass more
certificates (`--attestation-ca`, `--attestation-chain`); one that carries the name of a
Yubico CA we know (e.g. "Yubico PIV Attestation B2 1", published but not bundled) is accepted
only with that CA's pinned fingerprint. Sources: see `ceremony.attestation.verify`.
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
    "yubico-attestation-root-1.pem": (
        "62760C6A6EF91679F454C8902B80FD009825B3F25DA90F1FBACE2EC6586CD5A8"
    ),
}
# Bundled intermediates (never trust anchors: they only build the path to a pinned root),
# file -> {SHA-256 -> common name}; the file must hold exactly these certificates.
PINNED_INTERMEDIATE_FILES: dict[str, dict[str, str]] = {
    "yubico-piv-attestation-intermediates-2024.pem": {
        "6DE693F05376F5D8CA29069261E1C8626C75D503BD2EDBFD75354CAD1F722870": (
            "Yubico PIV Attestation A 1"
        ),
        "4698A1D3389C3EC60016C216250F1D0439922832D65142327436376DC2942B55": (
            "Yubico Attestation Intermediate A 1"
        ),
        "2D55B7998F4E42569D6D8FA382B6DC77D1DACF07358B19701163892922B17052": (
            "Yubico PIV Attestation B 1"
        ),
        "D4CC3F456FDAF4E7812A21AAB1DFE9D8E27D24E2FD2D6F21C9940109F0DAA754": (
            "Yubico Attestation Intermediate B 1"
        ),
    },
}
# Yubico CAs published but not bundled: accepted from the operator only with this SHA-256.
OPERATOR_PINNED: dict[str, str] = {
    "Yubico PIV Attestation B2 1": (
        "0C90B7D184A36EDF50A35F9BE935F0C5689BFDCFE5BDD073366CAFB49061A440"
    ),
}
# The Yubico roots we know by fingerprint (the name an attestation record gives its anchor).
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


_REINSTALL = "Reinstall tuf-ceremony from a verified release."


def _bundled(name: str, what: str, data_dir: Path | None) -> list[x509.Certificate]:
    """The certificates of the bundled file `name` (AttestationError when unreadable)."""
    try:
        if data_dir is None:
            data = resources.files("ceremony").joinpath("data", name).read_bytes()
        else:
            data = (data_dir / name).read_bytes()
    except OSError as e:
        raise AttestationError(
            f"The bundled Yubico {what} '{name}' cannot be read ({e}). The installation of "
            "tuf-ceremony is incomplete, so no YubiKey attestation can be checked.",
            hint=_REINSTALL,
        ) from e
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as e:
        raise AttestationError(
            f"The bundled Yubico {what} '{name}' is not a readable certificate. The "
            "installation of tuf-ceremony was altered.",
            hint=_REINSTALL,
        ) from e


def _altered(what: str, name: str, found: str, pinned: str) -> AttestationError:
    return AttestationError(
        f"The bundled Yubico {what} '{name}' has SHA-256 fingerprint {found}, but "
        f"tuf-ceremony pins {pinned}. The installation was altered; refusing to use it to "
        "check attestations.",
        hint=_REINSTALL,
    )


def load_pinned_roots(data_dir: Path | None = None) -> list[x509.Certificate]:
    """The bundled Yubico roots, each checked against its pinned SHA-256 fingerprint.

    Refuses (AttestationError) when a bundled file is missing, unreadable or does not match:
    the installation was altered and no attestation can be trusted with it.
    """
    roots = []
    for name, pinned in PINNED_ROOT_FILES.items():
        certs = _bundled(name, "root certificate", data_dir)
        if len(certs) != 1:
            raise _altered("root certificate", name, f"{len(certs)} certificates", pinned)
        found = fingerprint(certs[0])
        if found != pinned:
            raise _altered("root certificate", name, found, pinned)
        roots.append(certs[0])
    return roots


def load_pinned_intermediates(data_dir: Path | None = None) -> list[x509.Certificate]:
    """The bundled Yubico intermediates, the file holding exactly the pinned certificates.

    They only build the path from a device certificate to a pinned root. Raises
    AttestationError like `load_pinned_roots`.
    """
    out: list[x509.Certificate] = []
    for name, pinned in PINNED_INTERMEDIATE_FILES.items():
        certs = _bundled(name, "intermediate certificates", data_dir)
        found = sorted(fingerprint(c) for c in certs)
        if found != sorted(pinned):
            extra = [f for f in found if f not in pinned] or [f"{len(certs)} certificates"]
            raise _altered("intermediate certificates", name, extra[0], ", ".join(pinned))
        out += certs
    return out


def check_operator_certificate(cert: x509.Certificate, what: str) -> None:
    """Refuse an operator's certificate that carries the name of a Yubico CA this tool pins,
    but not its fingerprint (a look-alike). Raises AttestationError."""
    cn = common_name(cert.subject)
    pinned = dict(OPERATOR_PINNED)
    for fps in PINNED_INTERMEDIATE_FILES.values():
        pinned.update({n: fp for fp, n in fps.items()})
    pinned.update({n: fp for fp, n in KNOWN_ROOTS.items()})
    expected = pinned.get(cn)
    found = fingerprint(cert)
    if expected is not None and found != expected:
        raise AttestationError(
            f"The {what} '{cn}' has SHA-256 fingerprint {found}, but Yubico publishes "
            f"'{cn}' with {expected}. It is not Yubico's certificate; nothing was accepted.",
            hint="Download the certificate again from Yubico (developers.yubico.com/PKI/), "
            "check its fingerprint against the published one, and pass that file.",
        )
