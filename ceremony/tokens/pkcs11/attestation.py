"""Reading a YubiKey PIV attestation through ykcs11 (the bytes only; verifying the chain is
`ceremony.attestation`'s job).

Yubico, "PIV attestation" (developers.yubico.com/PIV/Introduction/PIV_attestation.html):
the device's attestation key in slot f9 signs, on request, a certificate for a key that
was GENERATED in another slot. ykcs11 shows that certificate as a CKO_CERTIFICATE with
the key's CKA_ID, made by the device when read, and the f9 certificate with CKA_ID 25.
"""

from __future__ import annotations

import warnings

from cryptography import x509
from pkcs11 import Attribute, ObjectClass

from ceremony.errors import TokenError
from ceremony.tokens.pkcs11.discovery import resolve_module
from ceremony.tokens.pkcs11.errors import Ctx, cap, guarded, translating
from ceremony.tokens.pkcs11.login import acquire_login, release_login
from ceremony.tokens.pkcs11.objects import attr, describe_pair, find_pairs, one_pair
from ceremony.tokens.pkcs11.session import (
    Pkcs11Session,
    as_text,
    close_session,
    open_session,
    parse_uri,
    select_token,
)
from ceremony.tokens.types import PinProvider

YKCS11_F9_ID = bytes([25])  # ykcs11's CKA_ID for slot f9 (the attestation key and its certificate)


def _certificates(session: Pkcs11Session, key_id: bytes, ctx: Ctx) -> list[tuple[str, bytes]]:
    """(CKA_LABEL, CKA_VALUE DER) of every certificate object with this CKA_ID."""
    with translating(ctx):
        objs = list(
            session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.ID: key_id})
        )
        out = []
        for obj in objs:
            value = attr(obj, Attribute.VALUE)
            if value:
                out.append((as_text(attr(obj, Attribute.LABEL) or ""), bytes(value)))
    return out


def _load_cert(der: bytes) -> x509.Certificate | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. ykcs11's placeholder certificates have serial 0
        try:
            return x509.load_der_x509_certificate(der)
        except ValueError:
            return None


@guarded("reading the attestation")
def read_attestation(
    uri: str, *, module: str | None, pin_provider: PinProvider | None = None
) -> tuple[bytes, bytes]:
    """YubiKey PIV: (attestation certificate of the key, slot f9 device certificate), DER.

    Through ykcs11 the attestation certificate is a CKO_CERTIFICATE with the key's CKA_ID,
    made by the device when read; the f9 certificate has CKA_ID 25. This returns the bytes
    only; verifying the chain is the attestation checker's job. Logs in only if the key is
    hidden until then and a pin_provider is given. Raises TokenError when the token has no
    f9 certificate (not a YubiKey through ykcs11) or none signed by the f9 key (an imported
    key), and the token and key selection errors.
    """
    parsed = parse_uri(uri)
    path = resolve_module(parsed, module)
    ctx = Ctx("reading the attestation", path)
    tok = select_token(path, parsed, ctx)
    session = open_session(tok, ctx)
    logged = False
    try:
        pairs = find_pairs(session, parsed, ctx)
        if not pairs and pin_provider is not None and tok.info.login_required:
            acquire_login(
                tok,
                f"read the attestation on {tok.info.describe()}",
                pin_provider,
                ctx,
                keep_pin=False,
            )
            logged = True
            pairs = find_pairs(session, parsed, ctx)
        pair = one_pair(pairs, parsed, tok)
        f9_certs = [c for _, c in _certificates(session, YKCS11_F9_ID, ctx)]
        key_certs = _certificates(session, pair.key_id, ctx) if pair.key_id != YKCS11_F9_ID else []
        no_attestation = (
            f"{cap(tok.info.describe())} offers no attestation for the key ({describe_pair(pair)})"
        )
        if not f9_certs:
            raise TokenError(
                f"{no_attestation}: it has no slot f9 attestation certificate (CKA_ID 25). "
                "Attestation is a YubiKey PIV feature (through ykcs11).",
                hint="Use ykcs11 (libykcs11.so) as the module for YubiKeys; other tokens "
                "cannot prove on-device key generation this way.",
            )
        parsed_f9 = [(c, der) for der in f9_certs if (c := _load_cert(der)) is not None]
        # ykcs11 labels them "X.509 Certificate for PIV Attestation 9c"; look at those first
        key_certs.sort(key=lambda lc: "attestation" not in lc[0].lower())
        reasons: list[str] = []
        for label, der in key_certs:
            cert = _load_cert(der)
            if cert is None:
                continue
            for f9, f9_der in parsed_f9:
                if cert.issuer == f9.subject and cert.issuer != cert.subject:
                    return der, f9_der
            if "attestation" in label.lower() and cert.issuer == cert.subject:
                # ykcs11's placeholder when the device refused: its subject says why
                names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
                reasons.append(str(names[0].value) if names else cert.subject.rfc4514_string())
        detail = f" (ykcs11 says: {reasons[0]})" if reasons else ""
        raise TokenError(
            f"{no_attestation}: no certificate signed by the device's f9 key was found"
            f"{detail}. Keys imported into a YubiKey cannot be attested.",
            hint="Generate the key on the YubiKey itself, then enrol it again.",
        )
    finally:
        close_session(session)
        if logged:
            release_login(tok)
