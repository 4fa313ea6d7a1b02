"""Attach a verified YubiKey PIV attestation to a key being enrolled."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ceremony.cli import ui
from ceremony.errors import InputError
from ceremony.files import read_input
from ceremony.service import TokenKeyRead


def _pem(data: bytes) -> bytes:
    """PEM text of one or more certificates given as DER or PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    if b"-----BEGIN" in data:
        return b"".join(c.public_bytes(Encoding.PEM) for c in x509.load_pem_x509_certificates(data))
    return x509.load_der_x509_certificate(data).public_bytes(Encoding.PEM)


def with_attestation(
    read: Callable[[], TokenKeyRead],
    uri: str,
    module: str | None,
    key_cert: Path | None,
    device_cert: Path | None,
    extra_cas: list[Path],
    chain: list[Path] | None = None,
) -> Callable[[], TokenKeyRead]:
    """Wrap a key reader so that the attestation is read (or taken from files) and verified
    against the pinned Yubico root (or the operator's extra CAs) before anything is enrolled."""

    def run() -> TokenKeyRead:
        from ceremony.attestation import verify_attestation

        got = read()
        if key_cert is not None:
            if device_cert is None:
                raise InputError(
                    "--attestation needs --attestation-intermediate (the slot f9 device certificate)."
                )
            kc, dc = read_input(key_cert), read_input(device_cert)
        else:
            from ceremony import tokens

            ui.notify(
                "Reading the attestation certificate and the device (f9) certificate from the token ..."
            )
            kc, dc = tokens.read_attestation(
                got.uri or uri, module=module, pin_provider=ui.read_pin
            )
        cas = [read_input(p) for p in extra_cas]
        inters = [read_input(p) for p in chain or []]
        info = verify_attestation(kc, dc, got.public_key, extra_cas=cas, intermediates=inters)
        evidence = {"attestation.pem": _pem(kc) + _pem(dc)}
        if cas:
            evidence["attestation-cas.pem"] = b"".join(_pem(c) for c in cas)
        if inters:
            evidence["attestation-chain.pem"] = b"".join(_pem(c) for c in inters)
        return replace(got, attestation=info.to_dict(), evidence=evidence)

    return run
