"""Signatures made outside tuf-ceremony: decode the file a key holder brings back, verify it.

The holder ran `ceremony payload DIR ROLE --out FILE`, signed FILE's bytes (the canonical
JSON of `signed`) with a key in cold storage, and brings the signature back as a file.
Tools write that file in several ways, all accepted here:

- hex text (go-tuf `add-signatures --format=hex`, go-tuf v0.7.0 `cmd/tuf/add_signatures.go:56`;
  what TUF metadata itself holds in `sig`);
- base64 text (go-tuf `--format=base64`, same file line 50; `openssl ... | base64`);
- raw bytes (`openssl pkeyutl -sign -rawin -out sig.bin`, `pkcs11-tool --sign`);
- JSON: a TUF signature object `{"keyid": ..., "sig": ...}` (python-tuf
  `Signature.to_dict()`), the array go-tuf `sign-payload` prints
  (`cmd/tuf/sign_payload.go:34`, `[{"keyid": ..., "sig": ...}]`), or an RSTUF sign payload
  `{"signature": {"keyid", "sig"}, "role": ...}` (`rstuf admin metadata sign --out`,
  repository-service-tuf 1.0.0b1 `cli/admin/metadata/sign.py:178`).

ECDSA: securesystemslib 1.6 verifies `ecdsa-sha2-nistp256/384/521` with pyca/cryptography's
`EllipticCurvePublicKey.verify(sig, data, ECDSA(SHA-256/384/512))`
(`securesystemslib/signer/_key.py`, `SSlibKey._verify`), which takes a DER
`ECDSA-Sig-Value` (RFC 3279 section 2.2.3). PKCS#11 tokens, WebCrypto and JOSE give the raw
`r || s` form (PKCS#11 v2.40 section 2.3.1): it is converted to DER here. A DER value must
be strict DER: pyca/cryptography's parser refuses BER (long-form lengths, padded integers),
so such a file is refused with a message rather than stored as a signature no one verifies.

Pure: no file access. Errors: `InputError` (exit 2) for a file that cannot be a signature
for this key; `VerificationFailed` (exit 1) for a well-formed signature that does not verify.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import string
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from securesystemslib.exceptions import UnverifiedSignatureError
from securesystemslib.signer import Key, Signature

from ceremony.errors import InputError, VerificationFailed
from ceremony.foreign._json import load_json

# The largest signature file accepted: an RSA-16384 signature in hex is 4 KiB; JSON adds little.
MAX_SIGNATURE_FILE_BYTES = 64 * 1024

Encoding = Literal["auto", "hex", "base64", "raw", "json"]

# Byte length of r (and of s) per ECDSA scheme: the curve order's length (SEC 2).
ECDSA_HALF: dict[str, int] = {
    "ecdsa-sha2-nistp256": 32,
    "ecdsa-sha2-nistp384": 48,
    "ecdsa-sha2-nistp521": 66,
}
ED25519_LEN = 64  # RFC 8032 section 5.1.6
RSA_SCHEMES = frozenset(
    f"{pad}-{h}"
    for pad in ("rsassa-pss", "rsa-pkcs1v15")
    for h in ("sha224", "sha256", "sha384", "sha512")
)

_HEX = frozenset(string.hexdigits)
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
_WHITESPACE = frozenset(b" \t\r\n")


@dataclass(frozen=True)
class ExternalSignature:
    """A decoded external signature.

    `sig`: the signature bytes securesystemslib verifies (DER for ECDSA).
    `encoding`: how the file held it ("hex", "base64", "raw" or "json").
    `keyid`: the keyid the file named (JSON forms only), else None.
    `note`: a conversion that was made ("raw r||s converted to DER", ...), else None.
    """

    sig: bytes
    encoding: str
    keyid: str | None = None
    note: str | None = None

    def to_signature(self, keyid: str) -> Signature:
        """The TUF signature object for `keyid` (`sig` in lower-case hex)."""
        return Signature(keyid, self.sig.hex())


def expected_lengths(key: Key) -> tuple[int, ...]:
    """The byte lengths a raw signature by `key` can have (DER ECDSA is checked apart).

    Raises `InputError` for a scheme tuf-ceremony cannot take external signatures for.
    """
    if key.scheme == "ed25519":
        return (ED25519_LEN,)
    if key.scheme in ECDSA_HALF:
        return (2 * ECDSA_HALF[key.scheme],)
    if key.scheme in RSA_SCHEMES:
        try:
            public = load_pem_public_key(str(key.keyval.get("public", "")).encode())
        except ValueError:
            raise InputError(f"key {key.keyid[:8]}… has no readable RSA public key.") from None
        if not isinstance(public, rsa.RSAPublicKey):
            raise InputError(f"key {key.keyid[:8]}… says {key.scheme} but is not an RSA key.")
        return ((public.key_size + 7) // 8,)
    raise InputError(
        f"tuf-ceremony cannot take an external signature for the scheme {key.scheme!r} "
        "(it takes ed25519, ecdsa-sha2-nistp256/384/521 and RSA schemes)."
    )


def _strict_der(data: bytes) -> tuple[int, int] | None:
    """(r, s) if `data` is exactly a strict-DER ECDSA-Sig-Value, else None."""
    if len(data) < 8 or data[0] != 0x30:
        return None
    try:
        r, s = decode_dss_signature(data)
    except ValueError:
        return None
    return (r, s)


def _to_verifiable(raw: bytes, key: Key, *, encoding: str, source: str) -> ExternalSignature:
    """Check the length of `raw` for `key`'s scheme; convert ECDSA to strict DER."""
    lengths = expected_lengths(key)
    if key.scheme in ECDSA_HALF:
        half = ECDSA_HALF[key.scheme]
        rs = _strict_der(raw)
        if rs is not None:
            return ExternalSignature(encode_dss_signature(*rs), encoding)
        if len(raw) == 2 * half:
            r = int.from_bytes(raw[:half], "big")
            s = int.from_bytes(raw[half:], "big")
            if r == 0 or s == 0:
                raise InputError(f"{source}: an ECDSA signature with r or s equal to 0 is invalid.")
            return ExternalSignature(
                encode_dss_signature(r, s), encoding, note="raw r||s converted to DER"
            )
        raise InputError(
            f"{source} holds {len(raw)} bytes ({encoding}), which is neither a DER ECDSA "
            f"signature nor the {2 * half}-byte r||s form that {key.scheme} signatures have. "
            "Check that you signed with the right key and gave the right file."
        )
    if len(raw) not in lengths:
        raise InputError(
            f"{source} holds {len(raw)} bytes ({encoding}), but a {key.scheme} signature by "
            f"this key has {lengths[0]}. Check that you signed with the right key and gave the "
            "right file."
        )
    return ExternalSignature(raw, encoding)


def _plausible(raw: bytes, key: Key) -> bool:
    if key.scheme in ECDSA_HALF:
        return _strict_der(raw) is not None or len(raw) == 2 * ECDSA_HALF[key.scheme]
    return len(raw) in expected_lengths(key)


def _from_json(value: Any, key: Key, *, source: str) -> ExternalSignature:
    """The one signature for `key` in a JSON signature file (forms in the module doc)."""
    if isinstance(value, dict) and "signature" in value and "role" in value:
        value = value["signature"]  # RSTUF sign payload
    candidates = value if isinstance(value, list) else [value]
    entries = [c for c in candidates if isinstance(c, dict) and "sig" in c]
    if not entries or len(entries) != len(candidates):
        raise InputError(
            f"{source} is JSON but not a signature file: expected "
            '{"keyid": ..., "sig": ...}, a list of those, or an RSTUF sign payload.'
        )
    mine = [e for e in entries if e.get("keyid") == key.keyid]
    if not mine:
        named = ", ".join(str(e.get("keyid"))[:8] + "…" for e in entries)
        raise InputError(
            f"{source} holds signatures by {named}, not by the key {key.keyid[:8]}… that was "
            "named. Give that key's signature, or name the key that made this one."
        )
    sig = mine[0].get("sig")
    if not isinstance(sig, str) or not sig or not (len(sig) % 2 == 0 and _HEX.issuperset(sig)):
        raise InputError(f'{source}: "sig" must be a non-empty hex string.')
    decoded = _to_verifiable(bytes.fromhex(sig), key, encoding="json", source=source)
    return ExternalSignature(decoded.sig, "json", keyid=key.keyid, note=decoded.note)


def decode_signature(
    data: bytes, key: Key, *, source: str, encoding: Encoding = "auto"
) -> ExternalSignature:
    """Decode the signature file `data` for `key` (a securesystemslib `Key`).

    `encoding="auto"` tries, in order: JSON (text starting with `{` or `[`), hex, base64,
    raw bytes, and takes the first whose decoded length fits `key`'s scheme. Surrounding
    whitespace (a trailing newline) is ignored in the text forms.

    Returns an `ExternalSignature`. Raises `InputError` for an empty or oversized file, a
    scheme without external signatures, a length that no signature by `key` has, or a JSON
    file that holds no signature by `key`.
    """
    if len(data) > MAX_SIGNATURE_FILE_BYTES:
        raise InputError(
            f"{source} is {len(data):,} bytes: no signature is that large (at most "
            f"{MAX_SIGNATURE_FILE_BYTES:,} bytes are read). Check that you gave the signature "
            "file, not the payload or the metadata."
        )
    if not data.strip():
        raise InputError(f"{source} is empty.")
    text = data.strip(bytes(_WHITESPACE))
    is_text = all(32 <= b < 127 or b in _WHITESPACE for b in text)
    # hex and base64 may be wrapped over lines (`base64` wraps at 76 columns)
    compact = bytes(b for b in text if b not in _WHITESPACE).decode("latin-1")

    if encoding in ("auto", "json") and is_text and text[:1] in (b"{", b"["):
        return _from_json(
            load_json(text, source=source, limit=MAX_SIGNATURE_FILE_BYTES), key, source=source
        )
    if encoding == "json":
        raise InputError(f"{source} is not a JSON signature file.")

    if encoding in ("auto", "hex") and is_text:
        if len(compact) % 2 == 0 and _HEX.issuperset(compact):
            raw = bytes.fromhex(compact)
            if encoding == "hex" or _plausible(raw, key):
                return _to_verifiable(raw, key, encoding="hex", source=source)
        elif encoding == "hex":
            raise InputError(f"{source} is not hex text (an even number of 0-9, a-f).")

    if encoding in ("auto", "base64") and is_text and _BASE64.fullmatch(compact):
        try:
            standard = compact.replace("-", "+").replace("_", "/")
            raw = base64.b64decode(standard, validate=True)
        except binascii.Error:
            raw = b""
        if raw and (encoding == "base64" or _plausible(raw, key)):
            return _to_verifiable(raw, key, encoding="base64", source=source)
        if encoding == "base64":
            raise InputError(f"{source} is not valid base64 text.")

    if encoding == "auto" and is_text and len(compact) % 2 == 0 and _HEX.issuperset(compact):
        # hex text of the wrong length: say so in hex terms, not as raw bytes
        return _to_verifiable(bytes.fromhex(compact), key, encoding="hex", source=source)
    if encoding in ("auto", "raw"):
        return _to_verifiable(data, key, encoding="raw", source=source)
    raise InputError(f"{source} is not {encoding} text.")


def verify_external(
    decoded: ExternalSignature, key: Key, payload: bytes, *, key_name: str, role: str
) -> Signature:
    """Verify `decoded` by `key` over `payload` (the canonical bytes of the role's `signed`).

    Returns the `Signature` to store. Raises `VerificationFailed` (exit 1) if it does not
    verify, and `InputError` if the file named another keyid.
    """
    if decoded.keyid is not None and decoded.keyid != key.keyid:
        raise InputError(f"the signature file names key {decoded.keyid[:8]}…, not {key_name}.")
    signature = decoded.to_signature(key.keyid)
    try:
        key.verify_signature(signature, payload)
    except UnverifiedSignatureError:
        raise VerificationFailed(
            f"The signature does not verify with {key_name}'s key ({key.scheme}, keyid "
            f"{key.keyid[:8]}…) over the payload of {role}. Nothing was written. Check that "
            f"the holder signed the file from `ceremony payload` for {role} (its SHA-256 is "
            "printed there) with this key, and that the draft was not re-made since.",
            hint="make the payload again and sign it again",
        ) from None
    return signature


def signature_json(signature: Signature) -> str:
    """`{"keyid": ..., "sig": ...}` as one line: the form go-tuf and python-tuf read."""
    return json.dumps(signature.to_dict(), sort_keys=True)
