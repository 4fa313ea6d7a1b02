"""YubiKey PIV attestation: verify the chain and read what it says about the key.

Pure: no PKCS#11 and no I/O apart from reading the bundled CA file(s) in `ceremony/data/`.

The chain (Yubico, "PIV attestation", developers.yubico.com/PIV/Introduction/PIV_attestation.html
and docs.yubico.com/hardware/oid/oid-piv-arc.html)::

    attestation certificate for slot X   (made on demand by the YubiKey, INS 0xF9;
        | signed by                       ykcs11 shows it as CKO_CERTIFICATE with X's CKA_ID,
        v                                 label "X.509 Certificate for PIV Attestation 9c")
    device certificate, slot f9          ("Yubico PIV Attestation", object 5FFF01, CKA_ID 25)
        | signed by
        v
    [intermediates]                      (firmware 5.7.4+: "Yubico PIV Attestation {A,B} 1" and
        v                                 "Yubico Attestation Intermediate {A,B} 1", bundled and
                                          pinned; others, e.g. "... B2 1", from the operator)
    trust anchor                         bundled + pinned "Yubico PIV Root CA Serial 263751" or
                                         "Yubico Attestation Root 1", or an operator's CA
                                         (`extra_cas`)

The attestation certificate carries the slot's public key, subject "CN=YubiKey PIV Attestation
<slot>", issuer = the f9 subject, validity copied from the f9 certificate, and these
non-critical extensions under arc 1.3.6.1.4.1.41482.3 (the extnValue OCTET STRING holds):

    .3   firmware version     3 raw bytes major, minor, patch (05 04 03 = 5.4.3)
    .7   serial number        a DER INTEGER (02 04 00 BC 61 4E = 12345678)
    .8   PIN + touch policy   2 raw bytes: PIN (1 never, 2 once, 3 always, 4 match-once,
                              5 match-always; 0 default) and touch (1 never, 2 always,
                              3 cached; 0 default)
    .9   form factor          1 raw byte: low nibble 1 USB-A keychain, 2 USB-A nano, 3 USB-C
                              keychain, 4 USB-C nano, 5 USB-C + Lightning, 6 USB-A Bio,
                              7 USB-C Bio; 0x80 set on FIPS devices
    .10  FIPS certified       present on FIPS-certified devices (value not interpreted)
    .11  CSPN certified       present on CSPN-certified devices (value not interpreted)

Sources: Yubico's "PIV Attestation OID Arc" page (docs.yubico.com/hardware/oid/oid-piv-arc.html)
and a real YubiKey 5 FIPS chain (firmware 5.4.3) published in github.com/ipxe/secure-boot-ca,
whose bytes are exactly: .3 = 05 04 03, .7 = 02 04 01 B3 BE F6, .8 = 02 01, .9 = 81 (FIPS
USB-A keychain; that certificate has no .10). tests/unit/test_attestation.py verifies that real
chain against the pinned root, and builds its own test chains with the same encodings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtensionOID

from ceremony.attestation.anchors import (
    HINT_REDO,
    KNOWN_ROOTS,
    check_operator_certificate,
    common_name,
    fingerprint,
    load_certs,
    load_one,
    load_pinned_intermediates,
    load_pinned_roots,
)
from ceremony.attestation.record import (
    FORM_FACTORS,
    PIN_POLICIES,
    TOUCH_POLICIES,
    AttestationInfo,
)
from ceremony.clock import now_utc
from ceremony.errors import AttestationError

if TYPE_CHECKING:
    from securesystemslib.signer import SSlibKey

OID_FIRMWARE = x509.ObjectIdentifier("1.3.6.1.4.1.41482.3.3")
OID_SERIAL = x509.ObjectIdentifier("1.3.6.1.4.1.41482.3.7")
OID_POLICY = x509.ObjectIdentifier("1.3.6.1.4.1.41482.3.8")
OID_FORM_FACTOR = x509.ObjectIdentifier("1.3.6.1.4.1.41482.3.9")
OID_FIPS = x509.ObjectIdentifier("1.3.6.1.4.1.41482.3.10")
OID_CSPN = x509.ObjectIdentifier("1.3.6.1.4.1.41482.3.11")

MAX_CHAIN = 6  # device certificate + intermediates up to an anchor


def _ext_value(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> bytes | None:
    try:
        ext = cert.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None
    value = ext.value
    if isinstance(value, x509.UnrecognizedExtension):
        return value.value
    raise AttestationError(f"Unexpected decoded extension {oid.dotted_string}.", hint=HINT_REDO)


def _der_integer(data: bytes) -> int:
    """Decode a DER INTEGER (tag 02, definite length, nothing after it)."""
    if len(data) < 3 or data[0] != 0x02:
        raise ValueError("not an INTEGER")
    length, i = data[1], 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 2 or len(data) < 2 + n:
            raise ValueError("bad length")
        length, i = int.from_bytes(data[2 : 2 + n], "big"), 2 + n
    body = data[i:]
    if length == 0 or len(body) != length:
        raise ValueError("bad length")
    return int.from_bytes(body, "big", signed=True)


def _parse_extensions(cert: x509.Certificate) -> dict[str, Any]:
    def bad(what: str, detail: str) -> AttestationError:
        return AttestationError(
            f"The attestation certificate's {what} extension is malformed ({detail}). It was "
            "not made by a YubiKey, or it was altered.",
            hint=HINT_REDO,
        )

    fw = _ext_value(cert, OID_FIRMWARE)
    serial_raw = _ext_value(cert, OID_SERIAL)
    policy = _ext_value(cert, OID_POLICY)
    missing = [
        name
        for name, v in (
            ("firmware (1.3.6.1.4.1.41482.3.3)", fw),
            ("serial number (1.3.6.1.4.1.41482.3.7)", serial_raw),
            ("PIN/touch policy (1.3.6.1.4.1.41482.3.8)", policy),
        )
        if v is None
    ]
    if missing:
        raise AttestationError(
            "The attestation certificate lacks the YubiKey extension(s) "
            f"{', '.join(missing)}. It is not a YubiKey PIV attestation.",
            hint=HINT_REDO,
        )
    assert fw is not None and serial_raw is not None and policy is not None
    if len(fw) != 3:
        raise bad("firmware", f"{len(fw)} bytes, expected 3")
    try:
        serial = _der_integer(serial_raw)
    except ValueError as e:
        raise bad("serial number", str(e)) from e
    if serial < 0:
        raise bad("serial number", "negative")
    if len(policy) != 2:
        raise bad("PIN/touch policy", f"{len(policy)} bytes, expected 2")
    if policy[0] not in PIN_POLICIES:
        raise bad("PIN/touch policy", f"unknown PIN policy {policy[0]:#04x}")
    if policy[1] not in TOUCH_POLICIES:
        raise bad("PIN/touch policy", f"unknown touch policy {policy[1]:#04x}")
    ff = _ext_value(cert, OID_FORM_FACTOR)
    form_factor, ff_fips = "unknown", False
    if ff is not None:
        if len(ff) != 1:
            raise bad("form factor", f"{len(ff)} bytes, expected 1")
        form_factor = FORM_FACTORS.get(ff[0] & 0x0F, f"unknown-{ff[0] & 0x0F:#04x}")
        ff_fips = bool(ff[0] & 0x80)
    return {
        "firmware": f"{fw[0]}.{fw[1]}.{fw[2]}",
        "serial": serial,
        "pin_policy": PIN_POLICIES[policy[0]],
        "touch_policy": TOUCH_POLICIES[policy[1]],
        "form_factor": form_factor,
        "fips": ff_fips or _ext_value(cert, OID_FIPS) is not None,
        "cspn": _ext_value(cert, OID_CSPN) is not None,
    }


def _slot_of(cert: x509.Certificate) -> str | None:
    cn = common_name(cert.subject)
    prefix = "YubiKey PIV Attestation "
    if cn.startswith(prefix):
        slot = cn[len(prefix) :].strip().lower()
        if len(slot) == 2 and all(c in "0123456789abcdef" for c in slot):
            return slot
    return None


# --- chain verification --------------------------------------------------------------------


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _is_ca_capable(cert: x509.Certificate) -> bool:
    """False only when the certificate says it is not a CA (basicConstraints cA=FALSE)."""
    try:
        bc = cert.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value
    except x509.ExtensionNotFound:
        return True
    assert isinstance(bc, x509.BasicConstraints)
    return bc.ca


def _check_time(cert: x509.Certificate, what: str, now: dt.datetime) -> None:
    if now < cert.not_valid_before_utc:
        raise AttestationError(
            f"The {what} ('{common_name(cert.subject)}') is not valid before "
            f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC, and the clock of this machine says "
            f"{now:%Y-%m-%d %H:%M} UTC. Check the date and time of the ceremony machine.",
            hint="Set the machine's clock correctly, then verify again.",
        )
    if now > cert.not_valid_after_utc:
        raise AttestationError(
            f"The {what} ('{common_name(cert.subject)}') expired on "
            f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC (the clock says "
            f"{now:%Y-%m-%d %H:%M} UTC).",
            hint="Check the machine's clock; if it is right, this device cannot be attested.",
        )


def _sslib_public_key(key: SSlibKey) -> Any:
    """The `cryptography` public key of a securesystemslib SSlibKey."""
    keytype = getattr(key, "keytype", None)
    keyval = getattr(key, "keyval", None)
    if not isinstance(keytype, str) or not isinstance(keyval, dict):
        raise AttestationError("The key to compare with the attestation is not a TUF key.")
    public = keyval.get("public")
    if not isinstance(public, str):
        raise AttestationError("The TUF key has no public key value to compare.")
    try:
        if keytype == "ed25519":
            return ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(public))
        return serialization.load_pem_public_key(public.encode())
    except (ValueError, UnsupportedAlgorithm) as e:  # e.g. an EC curve cryptography lacks
        raise AttestationError(f"The TUF key's public value cannot be read: {e}.") from e


def _spki(pub: Any) -> bytes:
    der: bytes = pub.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


def _describe_key(pub: Any) -> str:
    if isinstance(pub, ec.EllipticCurvePublicKey):
        return f"ECDSA {pub.curve.name}"
    if isinstance(pub, rsa.RSAPublicKey):
        return f"RSA-{pub.key_size}"
    if isinstance(pub, ed25519.Ed25519PublicKey):
        return "Ed25519"
    return type(pub).__name__


def verify_attestation(
    key_cert: bytes,
    device_cert: bytes,
    public_key: SSlibKey,
    *,
    extra_cas: Iterable[bytes] = (),
    intermediates: Iterable[bytes] = (),
    now: dt.datetime | None = None,
) -> AttestationInfo:
    """Verify a YubiKey PIV attestation for `public_key` (a securesystemslib SSlibKey).

    `key_cert` is the slot's attestation certificate, `device_cert` the slot f9 certificate
    (both DER or PEM). The device certificate must chain to a pinned bundled Yubico root or to
    one of `extra_cas` (trusted as given: the operator vouches for them), possibly through the
    bundled pinned intermediates and `intermediates` (untrusted, only used to build the path).
    An operator's certificate named like a Yubico CA must have that CA's pinned fingerprint.
    Raises AttestationError.
    """
    now = now or now_utc()
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    att = load_one(key_cert, "attestation certificate")
    dev = load_one(device_cert, "device (slot f9) attestation certificate")
    anchors: list[tuple[x509.Certificate, str]] = [(c, "pinned") for c in load_pinned_roots()]
    for blob in extra_cas:
        anchors += [(c, "operator") for c in load_certs(blob, "extra CA certificate")]
    inters: list[x509.Certificate] = []
    for blob in intermediates:
        inters += load_certs(blob, "intermediate certificate")
    for c, source in anchors:
        if source == "operator":
            check_operator_certificate(c, "extra CA certificate")
    for c in inters:
        check_operator_certificate(c, "intermediate certificate")
    inters += load_pinned_intermediates()

    # 1. The attestation certificate is signed by the device's f9 key.
    if not _signed_by(att, dev):
        raise AttestationError(
            "The attestation certificate was not signed by this YubiKey's attestation key "
            f"(slot f9 certificate '{common_name(dev.subject)}'): either the two files come from "
            "different YubiKeys, or one of them was altered.",
            hint=HINT_REDO,
        )

    # 2. The device certificate chains to a trusted anchor.
    chain = [dev]
    anchor: tuple[x509.Certificate, str] | None = None
    current = dev
    for _ in range(MAX_CHAIN):
        anchor = next(
            (a for a in anchors if _is_ca_capable(a[0]) and _signed_by(current, a[0])), None
        )
        if anchor is not None:
            break
        step = next(
            (i for i in inters if i not in chain and _is_ca_capable(i) and _signed_by(current, i)),
            None,
        )
        if step is None:
            break
        chain.append(step)
        current = step
    if anchor is None:
        trusted = ", ".join(
            f"'{common_name(a.subject)}' ({fingerprint(a)[:16]}...)" for a, _ in anchors
        )
        raise AttestationError(
            f"The YubiKey's attestation certificate '{common_name(dev.subject)}' (issued by "
            f"'{common_name(current.issuer)}') does not chain to a trusted root. Trusted here: {trusted}. "
            "The device is not a genuine YubiKey, or it attests through a Yubico intermediate "
            "that is not bundled (such as 'Yubico PIV Attestation B2 1') and was not supplied.",
            hint="Pass Yubico's published intermediate certificate with --attestation-chain, "
            "after checking its fingerprint (runbooks/token-preparation.md); never pass a "
            "certificate that did not come from Yubico.",
        )
    root, source = anchor

    # 3. Times.
    _check_time(att, "attestation certificate", now)
    for c in chain[1:]:
        _check_time(c, "intermediate certificate", now)
    _check_time(dev, "device attestation certificate", now)
    _check_time(root, "root certificate", now)

    # 4. The attested key is the key being enrolled.
    expected = _sslib_public_key(public_key)
    attested = att.public_key()
    if _spki(attested) != _spki(expected):
        raise AttestationError(
            "The attestation is for a different key: the YubiKey attested a "
            f"{_describe_key(attested)} key that is not the {_describe_key(expected)} key being "
            "enrolled. The attestation was made for another slot or another YubiKey, or the key "
            "in the slot was replaced after the attestation.",
            hint="Attest the slot that holds the enrolled key, on the same YubiKey.",
        )

    fields = _parse_extensions(att)
    root_fp = fingerprint(root)
    return AttestationInfo(
        serial=fields["serial"],
        firmware=fields["firmware"],
        pin_policy=fields["pin_policy"],
        touch_policy=fields["touch_policy"],
        form_factor=fields["form_factor"],
        fips=fields["fips"],
        cspn=fields["cspn"],
        slot=_slot_of(att),
        root_fingerprint=root_fp,
        root_name=KNOWN_ROOTS.get(root_fp, common_name(root.subject)),
        root_source=source,
        chain_fingerprints=tuple(fingerprint(c) for c in [att, *chain, root]),
    )
