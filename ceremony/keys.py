"""Keys: what a key IS (its public key material), the key types the ceremony accepts, and
an enrolled public key (`keys/NAME.json`).

A key is its public key material. Two TUF key objects are the same key when their public
keys are the same, whatever the spelling: keytype `ecdsa` or the legacy
`ecdsa-sha2-nistp256`, PEM or hex, upper- or lower-case hex, another RSA scheme, extra
fields (`x-tuf-on-ci-keyowner`, `keyid_hash_algorithms`) or another keyid. `key_identity`
is that identity; every comparison and count of keys uses it. A key's type and strength
are measured from the material too (`measure`, `key_type_of`, `strength_problem`), never
read from its labels.

`KEY_TYPES` is the one table of key types (plan `type:`, `keygen --type`, the token
backends, the software token, the checks). An enrolled key is the TUF key object plus its
provenance. Only public material is ever recorded. The key object is stored exactly as TUF
puts it in root.json (keytype, scheme, keyval, and, for keys taken from a previous root, any
extra fields that root had), so its keyid never changes between implementations.

Pure: values and their dict form; reading and writing files is `store`'s job.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_der_public_key,
    load_pem_public_key,
)
from securesystemslib.signer import Key, SSlibKey

from ceremony.digest import canonical_bytes
from ceremony.errors import StoreError
from ceremony.keysource import is_softhsm_token

# Key types the ceremony accepts for offline roles: name -> (TUF keytype, TUF scheme).
KEY_TYPES: dict[str, tuple[str, str]] = {
    "ed25519": ("ed25519", "ed25519"),
    "ecdsa-p256": ("ecdsa", "ecdsa-sha2-nistp256"),
    "ecdsa-p384": ("ecdsa", "ecdsa-sha2-nistp384"),
    "rsa-3072": ("rsa", "rsassa-pss-sha256"),
}

# The smallest RSA modulus accepted for a key of this ceremony (NIST SP 800-57 part 1,
# table 2: 3072 bits for 128-bit security, as for P-256 and Ed25519).
MIN_RSA_BITS = 3072

# SEC 1 curve names (as `cryptography` gives them) -> the name used here and by FIPS 186.
_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
_EC_CURVE_OF_SCHEME = {
    "ecdsa-sha2-nistp256": ec.SECP256R1(),
    "ecdsa-sha2-nistp384": ec.SECP384R1(),
    "ecdsa-sha2-nistp521": ec.SECP521R1(),
}
# Length of a SEC 1 point in bytes -> its curve: uncompressed (04||X||Y), compressed (02|03||X).
_EC_CURVE_OF_POINT = {
    65: ec.SECP256R1(),
    33: ec.SECP256R1(),
    97: ec.SECP384R1(),
    49: ec.SECP384R1(),
    133: ec.SECP521R1(),
    67: ec.SECP521R1(),
}


def _public_text(key: Key) -> str:
    val = key.keyval.get("public") if isinstance(key.keyval, dict) else None
    if not isinstance(val, str):
        raise ValueError("its keyval has no 'public' string")
    return val.strip()


def public_key_of(key: Key) -> PublicKeyTypes:
    """The public key of a TUF key object, loaded by `cryptography`, whatever its spelling.

    `keyval.public` may be PEM SubjectPublicKeyInfo (RSA, ECDSA, Ed25519: what
    securesystemslib's `SSlibKey` writes and loads), the hex of a raw Ed25519 key (32 bytes,
    TUF's `ed25519` keytype), or the hex of an ECDSA point (SEC 1 section 2.3.3,
    uncompressed or compressed: go-tuf's deprecated `ecdsa-sha2-nistp256` keys), in upper
    or lower case. The labels (keytype, scheme) only choose how hex is read.

    Raises:
        ValueError: the value is none of these (the message says why).
    """
    text = _public_text(key)
    try:
        if text.startswith("-----BEGIN"):
            return load_pem_public_key(text.encode())
        raw = bytes.fromhex("".join(text.split()))
        labels = f"{key.keytype} {key.scheme}"
        if "ed25519" in labels and len(raw) == 32:
            return ed25519.Ed25519PublicKey.from_public_bytes(raw)
        if "ecdsa" in labels:
            curve = _EC_CURVE_OF_SCHEME.get(str(key.scheme)) or _EC_CURVE_OF_POINT.get(len(raw))
            if curve is None:
                raise ValueError(f"{len(raw)} bytes are no ECDSA point of a known curve")
            return ec.EllipticCurvePublicKey.from_encoded_point(curve, raw)
        if raw[:1] == b"\x30":
            return load_der_public_key(raw)
    except UnsupportedAlgorithm as exc:
        raise ValueError(f"unsupported public key algorithm ({exc})") from None
    except TypeError as exc:
        raise ValueError(str(exc)) from None
    raise ValueError(f"{len(raw)} hex-encoded bytes are no {key.keytype} public key")


def key_identity(key: Key) -> str:
    """What makes two key objects the same key: the SHA-256 of its public key as DER
    SubjectPublicKeyInfo (one encoding per key), whatever its spelling (`public_key_of`).

    A key whose public value cannot be loaded is identified by its normalised text (white
    space removed, hex in lower case), so two unreadable keys are the same only when their
    text is; such a key never verifies a signature anyway.
    """
    try:
        der = public_key_of(key).public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    except ValueError:
        text = "".join(_public_text_or_empty(key).split())
        if all(c in "0123456789abcdefABCDEF" for c in text):
            text = text.lower()
        return f"unreadable:{key.keytype}:{text}"
    return "spki-sha256:" + hashlib.sha256(der).hexdigest()


# The name this function had before it saw through every spelling (kept for callers).
public_identity = key_identity


def _public_text_or_empty(key: Key) -> str:
    try:
        return _public_text(key)
    except ValueError:
        return ""


def same_key(a: Key, b: Key) -> bool:
    """True when `a` and `b` are the same public key, whatever their spelling or keyid."""
    return key_identity(a) == key_identity(b)


@dataclass(frozen=True)
class Measured:
    """What a key is, measured from its public key material.

    kind: "ed25519", "ecdsa", "rsa" or another algorithm's name; bits: the RSA modulus or
    the curve size; name: the ceremony's type name (`KEY_TYPES` style: "ecdsa-p256",
    "rsa-1024"); text: in words, for messages ("an RSA key of 1024 bits").
    """

    kind: str
    bits: int
    name: str
    text: str
    default_scheme: str


def measure(key: Key) -> Measured | None:
    """The key's algorithm, curve and size from its public key (None: unreadable)."""
    try:
        pub = public_key_of(key)
    except ValueError:
        return None
    if isinstance(pub, ed25519.Ed25519PublicKey):
        return Measured("ed25519", 256, "ed25519", "an Ed25519 key", "ed25519")
    if isinstance(pub, ec.EllipticCurvePublicKey):
        curve = _CURVES.get(pub.curve.name, pub.curve.name)
        name = "ecdsa-" + curve.lower().replace("-", "")
        scheme = f"ecdsa-sha2-nistp{pub.curve.key_size}"
        return Measured("ecdsa", pub.curve.key_size, name, f"an ECDSA key on curve {curve}", scheme)
    if isinstance(pub, rsa.RSAPublicKey):
        bits = pub.key_size
        return Measured(
            "rsa", bits, f"rsa-{bits}", f"an RSA key of {bits} bits", "rsassa-pss-sha256"
        )
    kind = type(pub).__name__.removesuffix("PublicKey").lower()
    return Measured(kind, 0, kind, f"a {kind} key", "")


# Keytypes older roots use for today's `ecdsa` (TUF spec before 1.0.32; Sigstore's root
# until v9): securesystemslib still verifies them, and clients accept them.
LEGACY_KEYTYPES = {"ecdsa-sha2-nistp256": "ecdsa", "ecdsa-sha2-nistp384": "ecdsa"}


def key_type_of(key: Key) -> str:
    """The ceremony's key type name of a TUF key, measured from its public key.

    'ed25519', 'ecdsa-p256', 'ecdsa-p384', 'rsa-3072' (a `KEY_TYPES` name) when the key is
    that and is labelled so (the legacy keytype `ecdsa-sha2-nistp256` included); else what it
    is, e.g. 'rsa-1024', 'ecdsa-p521', or 'rsa-3072 (rsa/rsassa-pss-sha384)' when its labels
    are not the table's; '... (unreadable public key)' when the material cannot be loaded.
    A key is never named after a type it is not.
    """
    m = measure(key)
    if m is None:
        return f"{key.keytype}/{key.scheme} (unreadable public key)"
    if LEGACY_KEYTYPES.get(key.keytype, key.keytype) == m.kind and key.scheme == m.default_scheme:
        return m.name
    return f"{m.name} ({key.keytype}/{key.scheme})"


def strength_problem(key: Key, planned: str | None = None) -> str | None:
    """Why `key` cannot be a key of this ceremony, measured from the key (None: it can).

    An unreadable public key, RSA below `MIN_RSA_BITS`, or (with `planned`, the plan's
    `keys.NAME.type`) a key of another type or curve than the plan asks for.
    """
    try:
        public_key_of(key)
    except ValueError as exc:
        return f"its public key cannot be read ({exc}), so no client could verify its signatures"
    m = measure(key)
    assert m is not None  # readable, as just seen
    if m.kind == "rsa" and m.bits < MIN_RSA_BITS:
        return f"it is {m.text}; RSA keys need at least {MIN_RSA_BITS} bits"
    actual = key_type_of(key)
    if planned is not None and actual != planned:
        return f"it is {m.text} ({actual}), but the plan asks for {planned}"
    return None


# Where an enrolled key came from.
SOURCE_PKCS11 = "pkcs11"  # read from a PKCS#11 token by `enroll --uri` or `keygen`
SOURCE_PUBLIC_KEY = "public-key"  # a PEM / TUF key file (e.g. the online key)
SOURCE_PREVIOUS_ROOT = "previous-root"  # taken from the trusted previous root by `init`
SOURCE_SOFTWARE = "software-rehearsal"  # the built-in software token: REHEARSAL ONLY
SOURCE_IMPORTED = "imported"  # a key of metadata made by another tool (`ceremony import`)
SOURCES = (
    SOURCE_PKCS11,
    SOURCE_PUBLIC_KEY,
    SOURCE_PREVIOUS_ROOT,
    SOURCE_SOFTWARE,
    SOURCE_IMPORTED,
)


def content_keyid(key_dict: dict[str, Any]) -> str:
    """The spec keyid: SHA-256 of the canonical JSON of the whole key object."""
    return hashlib.sha256(canonical_bytes(key_dict)).hexdigest()


def short(keyid: str) -> str:
    return keyid[:8]


@dataclass(frozen=True)
class EnrolledKey:
    name: str
    key: Key
    source: str
    enrolled_at: str
    uri: str | None = None
    token: dict[str, str] | None = None  # label, serial, manufacturer, model
    cka_id: str | None = None  # hex
    attributes: dict[str, bool | None] | None = None
    allow_imported: bool = False
    attestation: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # The plan's reason for enrolling a YubiKey PIV key without its attestation.
    attestation_waived: str | None = None

    @property
    def keyid(self) -> str:
        return str(self.key.keyid)

    @property
    def is_software(self) -> bool:
        return self.source == SOURCE_SOFTWARE

    @property
    def is_rehearsal_only(self) -> bool:
        """A key on a rehearsal token: the built-in software token, or SoftHSM (keys kept in
        files on a disk). Refused outside `rehearsal: true` (CER-SOFTWARE-KEY,
        CER-KEY-SOFTHSM)."""
        return self.is_software or is_softhsm_token(self.token)

    @property
    def keyid_matches_content(self) -> bool:
        return self.keyid == content_keyid(self.key.to_dict())

    def public_identity(self) -> str:
        """What makes two key objects the same key (`key_identity`)."""
        return key_identity(self.key)

    def device(self) -> str:
        """Human description of where the private key lives."""
        if self.is_software:
            return "REHEARSAL software key"
        if self.token:
            t = self.token
            return f"{t.get('manufacturer', '')} {t.get('model', '')} serial {t.get('serial', '?')}".strip()
        if self.source == SOURCE_PUBLIC_KEY:
            return "public key file (private key held elsewhere)"
        if self.source == SOURCE_PREVIOUS_ROOT:
            return "key of the previous root (device not yet identified)"
        if self.source == SOURCE_IMPORTED:
            return "key of the imported metadata (device not identified here)"
        return self.source

    def to_dict(self) -> dict[str, Any]:
        prov: dict[str, Any] = {"source": self.source, "enrolled_at": self.enrolled_at}
        if self.uri:
            prov["uri"] = self.uri
        if self.token:
            prov["token"] = dict(self.token)
        if self.cka_id:
            prov["cka_id"] = self.cka_id
        if self.attributes is not None:
            prov["attributes"] = dict(self.attributes)
        if self.allow_imported:
            prov["allow_imported"] = True
        if self.attestation is not None:
            prov["attestation"] = self.attestation
        if self.attestation_waived is not None:
            prov["attestation_waived"] = self.attestation_waived
        if self.extra:
            prov["extra"] = self.extra
        return {
            "name": self.name,
            "keyid": self.keyid,
            "key": self.key.to_dict(),
            "provenance": prov,
            "rehearsal_only": self.is_rehearsal_only,
        }

    @classmethod
    def from_dict(cls, data: Any, where: str) -> EnrolledKey:
        try:
            name = data["name"]
            keyid = data["keyid"]
            key_dict = dict(data["key"])
            prov = data["provenance"]
            source = prov["source"]
            if source not in SOURCES:
                raise ValueError(f"unknown source '{source}'")
            key = SSlibKey.from_dict(keyid, key_dict)
            return cls(
                name=str(name),
                key=key,
                source=source,
                enrolled_at=str(prov.get("enrolled_at", "")),
                uri=_optional(prov, "uri", str),
                token=_optional(prov, "token", dict),
                cka_id=_optional(prov, "cka_id", str),
                attributes=_optional(prov, "attributes", dict),
                allow_imported=bool(prov.get("allow_imported", False)),
                attestation=_optional(prov, "attestation", dict),
                extra=dict(_optional(prov, "extra", dict) or {}),
                attestation_waived=_optional(prov, "attestation_waived", str),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StoreError(
                f"{where} is not a valid enrolled-key file ({exc}). It may have been edited by "
                "hand or damaged; enrol the key again with `ceremony enroll`."
            ) from None


def _optional(prov: dict[str, Any], field: str, kind: type) -> Any:
    """provenance.FIELD if absent, null or of type `kind`; else ValueError (a damaged record)."""
    value = prov.get(field)
    if value is not None and not isinstance(value, kind):
        raise ValueError(
            f"provenance.{field} must be a JSON {'object' if kind is dict else 'string'}"
        )
    if isinstance(value, dict) and not all(isinstance(k, str) for k in value):
        raise ValueError(f"provenance.{field} has keys that are not text")
    return value


def bare_key(key: Key) -> SSlibKey:
    """`key` without the fields outside keytype, scheme and keyval (tuf-on-ci's and RSTUF's
    annotations) and with the keyid of that bare object: the same key material as a token
    reports it, for finding and opening the key on a token. Raises ValueError for a key
    securesystemslib cannot load."""
    bare = {"keytype": key.keytype, "scheme": key.scheme, "keyval": dict(key.keyval)}
    return SSlibKey.from_dict(content_keyid(bare), bare)
