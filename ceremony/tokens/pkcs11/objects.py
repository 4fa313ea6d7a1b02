"""Key objects on a token: key pairs, their attributes, public keys and canonical URIs.

A key pair is the public key object (CKO_PUBLIC_KEY) and the private key object
(CKO_PRIVATE_KEY) that share a CKA_ID (PKCS#11 v2.40 base specification, section 4.8,
CKA_ID is "intended as a means of distinguishing multiple public-key/private-key
pairs held by the same subject"). Either object may be missing or hidden: many tokens show
private objects only after login. Public keys are read from the public object's
CKA_EC_POINT and CKA_EC_PARAMS (EC, Edwards), or from CKA_MODULUS and CKA_PUBLIC_EXPONENT of
the public or private object (RSA).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11 import exceptions as pkx
from securesystemslib.signer import Key, SSlibKey

from ceremony.errors import AmbiguousKey, KeyMismatch, KeyNotFound, KeyPolicyError
from ceremony.keys import same_key, short
from ceremony.tokens import encoding
from ceremony.tokens.pkcs11.errors import Ctx, cap, translating
from ceremony.tokens.pkcs11.session import (
    Pkcs11Object,
    Pkcs11Session,
    TokenHandle,
    as_text,
    is_yubico,
)
from ceremony.tokens.types import KeyAttributes, TokenInfo, TokenKeyInfo
from ceremony.tokens.uri import Pkcs11Uri


def attr(obj: Pkcs11Object, attribute: Attribute) -> Any:
    """An attribute's value (C_GetAttributeValue), or None if the token does not have or
    show it (CKR_ATTRIBUTE_TYPE_INVALID, CKR_ATTRIBUTE_SENSITIVE, ...)."""
    try:
        return obj[attribute]
    except (
        pkx.AttributeTypeInvalid,
        pkx.AttributeSensitive,
        pkx.FunctionFailed,
        pkx.ArgumentsBad,
        KeyError,
        NotImplementedError,
    ):
        return None


def bool_attr(obj: Pkcs11Object, attribute: Attribute) -> bool | None:
    """A CK_BBOOL attribute, or None if the token does not say."""
    value = attr(obj, attribute)
    return None if value is None else bool(value)


@dataclass
class KeyPair:
    """The public and/or private key object with one CKA_ID; labels: the private key's first."""

    key_id: bytes
    public: Pkcs11Object | None = None
    private: Pkcs11Object | None = None
    labels: list[str] = field(default_factory=list)

    @property
    def label(self) -> str | None:
        """The pair's label (CKA_LABEL), the private key's when both are labelled."""
        return self.labels[0] if self.labels else None


def find_pairs(session: Pkcs11Session, uri: Pkcs11Uri | None, ctx: Ctx) -> list[KeyPair]:
    """Key pairs (public and/or private object, grouped by CKA_ID) matching the URI's id/object."""
    pairs: dict[bytes, KeyPair] = {}
    with translating(ctx):
        for klass in (ObjectClass.PUBLIC_KEY, ObjectClass.PRIVATE_KEY):
            template: dict[Attribute, Any] = {Attribute.CLASS: klass}
            if uri is not None and uri.id is not None:
                template[Attribute.ID] = uri.id
            for obj in list(session.get_objects(template)):
                key_id = bytes(attr(obj, Attribute.ID) or b"")
                pair = pairs.setdefault(key_id, KeyPair(key_id))
                label = as_text(attr(obj, Attribute.LABEL) or "")
                if klass == ObjectClass.PUBLIC_KEY:
                    pair.public = pair.public or obj
                else:
                    pair.private = pair.private or obj
                if label and label not in pair.labels:
                    # prefer the private key's label
                    if klass == ObjectClass.PRIVATE_KEY:
                        pair.labels.insert(0, label)
                    else:
                        pair.labels.append(label)
    out = sorted(pairs.values(), key=lambda p: p.key_id)
    if uri is not None and uri.object is not None:
        # The label may be the private or the public object's (ykcs11 labels them
        # differently). While the private key is hidden (before login), a pair already
        # selected by id is kept; the label is checked again once it is visible.
        out = [
            p for p in out if uri.object in p.labels or (p.private is None and uri.id is not None)
        ]
    return out


def object_key_type(obj: Pkcs11Object) -> str:
    """The ceremony's key type name of a key object ('ed25519', 'ecdsa-p256', 'rsa-3072',
    ...; from CKA_KEY_TYPE and CKA_EC_PARAMS or CKA_MODULUS_BITS), or a description."""
    kt = attr(obj, Attribute.KEY_TYPE)
    if kt == KeyType.EC:
        params = attr(obj, Attribute.EC_PARAMS)
        return (encoding.ec_key_type(bytes(params)) if params else None) or "ecdsa-unknown-curve"
    if kt == KeyType.EC_EDWARDS:
        params = attr(obj, Attribute.EC_PARAMS)
        return (
            encoding.edwards_key_type(bytes(params)) if params else None
        ) or "eddsa-unknown-curve"
    if kt == KeyType.RSA:
        bits = attr(obj, Attribute.MODULUS_BITS)
        if not bits:
            modulus = attr(obj, Attribute.MODULUS)
            bits = len(bytes(modulus)) * 8 if modulus else 0
        return f"rsa-{int(bits)}" if bits else "rsa"
    return f"key type {kt!r}" if kt is not None else "unknown"


def _crypto_public_key(pair: KeyPair) -> PublicKeyTypes | None:
    """The `cryptography` public key of a pair, or None if not readable / not supported."""
    obj = pair.public
    if obj is not None:
        kt = attr(obj, Attribute.KEY_TYPE)
        point = attr(obj, Attribute.EC_POINT)
        if kt == KeyType.EC_EDWARDS and point is not None:
            if object_key_type(obj) != "ed25519":
                return None
            return Ed25519PublicKey.from_public_bytes(encoding.unwrap_ec_point(bytes(point), 32))
        if kt == KeyType.EC and point is not None:
            curve = encoding.CRYPTO_CURVES.get(object_key_type(obj))
            if curve is None:
                return None
            return ec.EllipticCurvePublicKey.from_encoded_point(
                curve, encoding.unwrap_ec_point(bytes(point))
            )
    for candidate in (pair.public, pair.private):
        if candidate is None or attr(candidate, Attribute.KEY_TYPE) != KeyType.RSA:
            continue
        modulus = attr(candidate, Attribute.MODULUS)
        exponent = attr(candidate, Attribute.PUBLIC_EXPONENT)
        if modulus and exponent:
            return rsa.RSAPublicNumbers(
                int.from_bytes(bytes(exponent), "big"), int.from_bytes(bytes(modulus), "big")
            ).public_key()
    return None


def sslib_key(pair: KeyPair) -> SSlibKey | None:
    """The pair's public key as a TUF key, or None if it cannot be read or used."""
    try:
        crypto = _crypto_public_key(pair)
        return None if crypto is None else SSlibKey.from_crypto(crypto)
    except (ValueError, TypeError, pkx.PKCS11Error):
        return None


def holds(pair: KeyPair, public_key: Key) -> bool:
    """True when the pair's public key IS `public_key`: the same key material, whatever the
    key object's spelling, keyid or extra fields (a previous root's key carries
    x-tuf-on-ci-keyowner, keyid_hash_algorithms, a legacy keytype; `keys.same_key`)."""
    found = sslib_key(pair)
    return found is not None and same_key(found, public_key)


def pair_type(pair: KeyPair) -> str:
    """The key type name of the pair (see object_key_type)."""
    obj = pair.public if pair.public is not None else pair.private
    return object_key_type(obj) if obj is not None else "unknown"


def key_attributes(private: Pkcs11Object) -> KeyAttributes:
    """The private key's origin and protection attributes (None where the token does not
    say): CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE,
    CKA_LOCAL, CKA_ALWAYS_AUTHENTICATE (PKCS#11 v2.40 base specification, section 4.9)."""
    return KeyAttributes(
        sensitive=bool_attr(private, Attribute.SENSITIVE),
        extractable=bool_attr(private, Attribute.EXTRACTABLE),
        always_sensitive=bool_attr(private, Attribute.ALWAYS_SENSITIVE),
        never_extractable=bool_attr(private, Attribute.NEVER_EXTRACTABLE),
        local=bool_attr(private, Attribute.LOCAL),
        always_authenticate=bool_attr(private, Attribute.ALWAYS_AUTHENTICATE),
    )


def cannot_sign(private: Pkcs11Object) -> str | None:
    """Why a private key object cannot make signatures (None: it can): CKA_SIGN is false
    (PKCS#11 v2.40 base specification, section 4.9), and python-pkcs11 then gives the object
    no `sign` method. No operator option can change that: the key was made for another use."""
    if bool_attr(private, Attribute.SIGN) is False or not hasattr(private, "sign"):
        return "it cannot make signatures (CKA_SIGN is false: the key was made for another use)"
    return None


def key_uri(info: TokenInfo, key_id: bytes, label: str | None) -> str:
    """Canonical URI of a token key: token label + serial + object label + id, type=private."""
    return Pkcs11Uri(
        token=info.label, serial=info.serial, object=label or None, id=key_id, type="private"
    ).to_string()


def key_info(tok: TokenHandle, pair: KeyPair, *, with_attributes: bool = True) -> TokenKeyInfo:
    """What the rest of the program sees of a token key (reads attributes: may raise
    PKCS11Error, so call inside `translating`)."""
    return TokenKeyInfo(
        token=tok.info,
        label=pair.label,
        key_id=pair.key_id,
        key_type=pair_type(pair),
        public_key=sslib_key(pair),
        attributes=key_attributes(pair.private)
        if with_attributes and pair.private is not None
        else None,
        uri=key_uri(tok.info, pair.key_id, pair.label),
    )


def describe_pair(pair: KeyPair) -> str:
    """ "label 'L', id 0a0b" for a message."""
    label = f"label '{pair.label}', " if pair.label else ""
    return f"{label}id {pair.key_id.hex() or '(empty)'}"


def one_pair(pairs: list[KeyPair], uri: Pkcs11Uri, tok: TokenHandle) -> KeyPair:
    """The one pair the URI names; KeyNotFound (none) or AmbiguousKey (several)."""
    if not pairs:
        raise KeyNotFound(
            f"{cap(tok.info.describe())} has no key with {uri.describe_key()}.",
            hint="Check the key URI; `ceremony tokens --module PATH` shows the keys on a token. "
            "If the token is the wrong one, swap it and run again.",
        )
    if len(pairs) > 1:
        raise AmbiguousKey(
            f"Several keys on {tok.info.describe()} match {uri.describe_key()}: "
            + "; ".join(describe_pair(p) for p in pairs)
            + ".",
            hint="Name the key by its id (id=... in the key URI).",
        )
    return pairs[0]


def policy_error(tok: TokenHandle, pair: KeyPair, problems: list[str]) -> KeyPolicyError:
    """The refusal of a key whose attributes say it was imported or can leave the token."""
    text = (
        f"The key ({describe_pair(pair)}) on {tok.info.describe()} cannot be trusted as a "
        f"ceremony key: {'; '.join(problems)}. A private key that was ever outside a token "
        "may have copies elsewhere, and anyone holding a copy could sign metadata without "
        "this ceremony."
    )
    if is_yubico(tok.info):
        text += (
            " Note: on Yubico tokens ykcs11 reports these attributes as true for every "
            "key, even imported ones, so only a PIV attestation proves the key was "
            "generated on the device."
        )
    return KeyPolicyError(
        text,
        hint="Generate a new key on the token (`ceremony keygen DIR NAME --uri ... --type ...`). "
        "Only for a deliberate, documented exception (e.g. a backup copy), use "
        "--allow-imported-key; it is recorded and repeated on every screen.",
    )


def refuse_unless_it_signs(tok: TokenHandle, pair: KeyPair) -> None:
    """Raise KeyPolicyError (exit 3) when the pair's private key cannot sign (`cannot_sign`);
    --allow-imported-key does not apply: no option makes such a key sign."""
    why = cannot_sign(pair.private) if pair.private is not None else None
    if why is not None:
        raise KeyPolicyError(
            f"The key ({describe_pair(pair)}) on {tok.info.describe()} cannot be a ceremony "
            f"key: {why}. Nothing was written.",
            hint="Check the key URI (another key of this token?), or generate a signing key on "
            "the token: `ceremony keygen DIR NAME --uri ... --type ...`.",
        )


def mismatch(tok: TokenHandle, pair: KeyPair, found: SSlibKey | None, expected: Key) -> KeyMismatch:
    """The error for a token key that is not the enrolled key `expected`."""
    found_text = f"keyid {short(found.keyid)}…" if found is not None else "a key of another type"
    return KeyMismatch(
        f"The key ({describe_pair(pair)}) on {tok.info.describe()} is not the enrolled key: "
        f"the token has {found_text}, the ceremony expects keyid {short(expected.keyid)}…. "
        "Nothing was signed.",
        hint="Check that this is the right token for this key holder (compare the serial with "
        "the plan), or that the key URI names the right key.",
    )
