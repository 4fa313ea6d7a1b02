"""Keys: the key types the ceremony accepts, and an enrolled public key (`keys/NAME.json`).

`KEY_TYPES` is the one table of key types (plan `type:`, `keygen --type`, the token
backends, the software token, the checks). An enrolled key is the TUF key object plus its
provenance. Only public material is ever recorded. The key object is stored exactly as TUF
puts it in root.json (keytype, scheme, keyval, and, for keys taken from a previous root, any
extra fields that root had), so its keyid never changes between implementations.

Pure: values and their dict form; reading and writing files is `store`'s job.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from securesystemslib.signer import Key, SSlibKey

from ceremony.digest import canonical_bytes
from ceremony.errors import StoreError

# Key types the ceremony accepts for offline roles: name -> (TUF keytype, TUF scheme).
KEY_TYPES: dict[str, tuple[str, str]] = {
    "ed25519": ("ed25519", "ed25519"),
    "ecdsa-p256": ("ecdsa", "ecdsa-sha2-nistp256"),
    "ecdsa-p384": ("ecdsa", "ecdsa-sha2-nistp384"),
    "rsa-3072": ("rsa", "rsassa-pss-sha256"),
}


# Keytypes older roots use for today's `ecdsa` (TUF spec before 1.0.32; Sigstore's root
# until v9): securesystemslib still verifies them, and clients accept them.
LEGACY_KEYTYPES = {"ecdsa-sha2-nistp256": "ecdsa", "ecdsa-sha2-nistp384": "ecdsa"}


def key_type_of(key: Key) -> str:
    """The ceremony's key type name ('ed25519', 'ecdsa-p256', ...) of a TUF key.

    The legacy keytypes `ecdsa-sha2-nistp256` / `-nistp384` name the same keys as `ecdsa`
    (`LEGACY_KEYTYPES`). Returns the scheme itself for a key type the ceremony does not
    generate (e.g. an RSA key of another size is still 'rsa-3072' only if its modulus is
    3072 bits; callers that care about RSA size check it separately).
    """
    keytype = LEGACY_KEYTYPES.get(key.keytype, key.keytype)
    for name, (ktype, scheme) in KEY_TYPES.items():
        if keytype == ktype and key.scheme == scheme:
            return name
    return key.scheme


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

    def public_identity(self) -> tuple[str, str, str]:
        """What makes two key objects the same physical key (for 'counted once')."""
        return public_identity(self.key)

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


@dataclass(frozen=True)
class TokenKeyRead:
    """What any key source (a PKCS#11 token, the software token) says about a key it read or
    generated: public material only, and what to record about where it lives."""

    public_key: SSlibKey
    uri: str
    token: dict[str, str]  # label, serial, manufacturer, model, firmware, module
    cka_id: str | None  # hex
    attributes: dict[str, bool | None] | None  # CKA_SENSITIVE, CKA_EXTRACTABLE, ... as read
    software: bool  # the software rehearsal token
    attestation: dict[str, Any] | None = None  # AttestationInfo.to_dict() once verified
    evidence: dict[str, bytes] = field(default_factory=dict)  # suffix -> file bytes (PEMs)


def is_yubikey_token(token: Mapping[str, str] | None) -> bool:
    """Does a key record's token (`EnrolledKey.token`, `TokenKeyRead.token`) describe a YubiKey
    PIV application, whose keys can be attested? ykcs11 says manufacturer "Yubico ..." and
    model "YubiKey ..." (label "YubiKey PIV #SERIAL"); OpenSC's PIV driver labels its tokens
    "YubiKey PIV Slot 9c"; a YubiHSM 2 ("YubiHSM") is not one."""
    if not token:
        return False
    label = str(token.get("label", ""))
    maker = str(token.get("manufacturer", "")).lower()
    model = str(token.get("model", "")).lower()
    return label.startswith("YubiKey PIV") or (maker.startswith("yubico") and "yubikey" in model)


def is_softhsm_token(token: Mapping[str, str] | None) -> bool:
    """Does a key record's token say it is SoftHSM (keys kept in files on a disk)?"""
    return "softhsm" in str((token or {}).get("manufacturer", "")).lower()


def public_identity(key: Key) -> tuple[str, str, str]:
    """The key material itself (scheme + normalised public key), whatever its spelling.

    Hex is compared case-insensitively and PEM by its decoded DER, so the same key written
    two ways (under two keyids) is recognised as one key.
    """
    val = key.keyval.get("public", "") if isinstance(key.keyval, dict) else ""
    text = "".join(str(val).split())
    if text.startswith("-----BEGIN"):
        try:
            from cryptography.exceptions import UnsupportedAlgorithm
            from cryptography.hazmat.primitives.serialization import (
                Encoding,
                PublicFormat,
                load_pem_public_key,
            )

            der = load_pem_public_key(str(val).encode()).public_bytes(
                Encoding.DER, PublicFormat.SubjectPublicKeyInfo
            )
            text = der.hex()
        except (ValueError, TypeError, UnsupportedAlgorithm):
            pass
    elif all(c in "0123456789abcdefABCDEF" for c in text):
        text = text.lower()
    return (str(key.keytype), str(key.scheme), text)


def bare_key(key: Key) -> SSlibKey:
    """`key` without the fields outside keytype, scheme and keyval (tuf-on-ci's and RSTUF's
    annotations) and with the keyid of that bare object: the same key material as a token
    reports it, for finding and opening the key on a token. Raises ValueError for a key
    securesystemslib cannot load."""
    bare = {"keytype": key.keytype, "scheme": key.scheme, "keyval": dict(key.keyval)}
    return SSlibKey.from_dict(content_keyid(bare), bare)
