"""Key generation ON the token: one table of key types, one generate, one check.

The private key never exists outside the token: C_GenerateKeyPair makes it there, with
CKA_SENSITIVE true and CKA_EXTRACTABLE false (PKCS#11 v2.40 base specification, section
4.9), and the result is read back and checked before it is returned.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any

from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, TokenFlag
from pkcs11 import exceptions as pkx

from ceremony.errors import CeremonyError, KeyPolicyError, MechanismNotSupported, TokenError
from ceremony.tokens import encoding
from ceremony.tokens.pkcs11.discovery import resolve_module
from ceremony.tokens.pkcs11.errors import Ctx, cap, guarded, translating
from ceremony.tokens.pkcs11.login import acquire_login, release_login
from ceremony.tokens.pkcs11.objects import (
    KeyPair,
    attr,
    bool_attr,
    key_attributes,
    key_info,
    pair_type,
)
from ceremony.tokens.pkcs11.session import (
    Pkcs11Object,
    Pkcs11Session,
    TokenHandle,
    close_session,
    is_yubico,
    is_yubikey_piv,
    mechanisms,
    open_session,
    parse_uri,
    select_token,
    unsupported,
)
from ceremony.tokens.types import KEY_TYPES, PinProvider, TokenKeyInfo


@dataclass(frozen=True)
class _KeySpec:
    """How to generate one key type, and what the token must support for it."""

    what: str  # for people: "ECDSA P-256"
    key_type: KeyType  # CKA_KEY_TYPE
    mechanism: Mechanism  # the key pair generation mechanism
    sign_mechanisms: tuple[Mechanism, ...]  # at least one must be supported
    params: tuple[bytes, ...] = ()  # CKA_EC_PARAMS values to try, in order
    bits: int | None = None  # CKA_MODULUS_BITS (RSA)


# The key types of `ceremony.tokens.types.KEY_TYPES`. Edwards curves (CKK_EC_EDWARDS,
# CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA) are PKCS#11 v3.0 mechanisms; tokens differ in the
# form of the curve they take (ykcs11: the PrintableString "edwards25519", others the RFC 8410
# OID; see `ceremony.tokens.encoding`), so both are tried. RSA-3072 signs with RSASSA-PSS
# (TUF's rsassa-pss-sha256), with or without the token hashing.
_SPECS: dict[str, _KeySpec] = {
    "ed25519": _KeySpec(
        "Ed25519",
        KeyType.EC_EDWARDS,
        Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
        (Mechanism.EDDSA,),
        params=(encoding.ED25519_STRING_PARAMS, encoding.ED25519_OID_PARAMS),
    ),
    "ecdsa-p256": _KeySpec(
        "ECDSA P-256",
        KeyType.EC,
        Mechanism.EC_KEY_PAIR_GEN,
        (Mechanism.ECDSA,),
        params=(encoding.P256_PARAMS,),
    ),
    "ecdsa-p384": _KeySpec(
        "ECDSA P-384",
        KeyType.EC,
        Mechanism.EC_KEY_PAIR_GEN,
        (Mechanism.ECDSA,),
        params=(encoding.P384_PARAMS,),
    ),
    "rsa-3072": _KeySpec(
        "RSA-3072",
        KeyType.RSA,
        Mechanism.RSA_PKCS_KEY_PAIR_GEN,
        (Mechanism.SHA256_RSA_PKCS_PSS, Mechanism.RSA_PKCS_PSS),
        bits=3072,
    ),
}

# Private key: on the token, private, sensitive, never extractable, and only for signing.
_PRIVATE_TEMPLATE: dict[Attribute, Any] = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.SIGN: True,
    Attribute.DECRYPT: False,
    Attribute.UNWRAP: False,
    Attribute.DERIVE: False,
}
# Public key: on the token, not private (so it can be found without a PIN), only to verify.
_PUBLIC_TEMPLATE: dict[Attribute, Any] = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: False,
    Attribute.VERIFY: True,
    Attribute.ENCRYPT: False,
    Attribute.WRAP: False,
}


def _spec(key_type: str) -> _KeySpec:
    spec = _SPECS.get(key_type)
    if spec is None:
        raise MechanismNotSupported(
            f"Key type {key_type!r} is not one the ceremony generates.",
            hint=f"Use one of: {', '.join(KEY_TYPES)}.",
        )
    return spec


def _check_supported(tok: TokenHandle, spec: _KeySpec) -> None:
    """MechanismNotSupported if the token says it cannot generate or sign with `spec`."""
    mechs = mechanisms(tok)
    if mechs is None:
        return
    if spec.mechanism not in mechs:
        raise unsupported(tok, spec.what, "generate")
    if not any(m in mechs for m in spec.sign_mechanisms):
        raise unsupported(tok, spec.what, "sign with")
    if spec.bits is not None:
        try:
            max_bits = int(tok.slot.get_mechanism_info(spec.mechanism).max_key_length or 0)
        except (pkx.PKCS11Error, AttributeError, TypeError, ValueError):
            max_bits = 0
        if 0 < max_bits < spec.bits:
            raise unsupported(tok, spec.what, "generate")


def _new_id(tok: TokenHandle, session: Pkcs11Session, ctx: Ctx) -> bytes:
    """A fresh 8-byte CKA_ID no object on the token has (the token's RNG if it has one)."""
    for _ in range(8):
        key_id = b""
        if int(tok.token.flags) & TokenFlag.RNG:
            try:
                key_id = bytes(session.generate_random(64))
            except pkx.PKCS11Error:
                key_id = b""
        if len(key_id) != 8:
            key_id = os.urandom(8)
        with translating(ctx):
            if not list(session.get_objects({Attribute.ID: key_id})):
                return key_id
    raise TokenError(f"Could not find a free key id on {tok.info.describe()}.")


@guarded("generating a key")
def generate_key(
    uri: str, *, module: str | None, key_type: str, label: str, pin_provider: PinProvider
) -> TokenKeyInfo:
    """Generate a key pair ON the token, with a fresh random CKA_ID and the given label.

    `uri` names the token (pkcs11: URI, RFC 7512); `key_type` is one of KEY_TYPES.
    Private key: TOKEN, PRIVATE, SENSITIVE, EXTRACTABLE=false, SIGN only. Public key:
    TOKEN, VERIFY, not private (so it can be found without a PIN). Never overwrites: an
    object with the same label is an error. The result is read back and checked; a key
    that is not what was asked for is deleted again (KeyPolicyError). Raises
    MechanismNotSupported (key type or token), TokenError (no label, a YubiKey PIV token,
    label taken), the token selection and PIN errors.
    """
    if not label:
        raise TokenError("A key label is needed to generate a key.", hint="Give --label.")
    spec = _spec(key_type)
    parsed = parse_uri(uri)
    path = resolve_module(parsed, module)
    ctx = Ctx(f"generating a {spec.what} key", path)
    tok = select_token(path, parsed, ctx)
    if is_yubikey_piv(tok.info):
        raise TokenError(
            f"{cap(tok.info.describe())} is a YubiKey PIV token: through PKCS#11 (ykcs11) a "
            "key can only be generated with the PIV management key, and ykcs11 ignores key "
            "labels and cannot set the touch policy. Nothing was generated.",
            hint="Generate the key on the YubiKey with `ykman piv keys generate` (for example "
            "--pin-policy ALWAYS --touch-policy ALWAYS, slot 9c), then enrol it with "
            "`ceremony enroll DIR NAME --uri URI --attest` (runbooks/token-preparation.md).",
        )
    _check_supported(tok, spec)
    acquire_login(
        tok,
        f"generate the {spec.what} key '{label}' on {tok.info.describe()}",
        pin_provider,
        ctx,
        keep_pin=False,
    )
    session = None
    try:
        session = open_session(tok, ctx, rw=True)
        with translating(ctx):
            if list(session.get_objects({Attribute.LABEL: label})):
                raise TokenError(
                    f"{cap(tok.info.describe())} already has an object labelled '{label}'. "
                    "Nothing was generated and nothing was changed.",
                    hint="Choose another label; existing keys are never overwritten.",
                )
        key_id = _new_id(tok, session, ctx)
        public, private = _generate(session, tok, spec, key_id, label, ctx)
        try:
            pair = KeyPair(key_id, public, private, [label])
            with translating(ctx):
                _check_generated(tok, public, private, spec, key_type)
                info = key_info(tok, pair)
            if info.public_key is None:
                raise TokenError(
                    f"The new key on {tok.info.describe()} has a public key that "
                    "could not be read back."
                )
            return info
        except CeremonyError:
            with contextlib.suppress(pkx.PKCS11Error):
                private.destroy()
                public.destroy()
            raise
    finally:
        if session is not None:
            close_session(session)
        release_login(tok)


def _generate(
    session: Pkcs11Session,
    tok: TokenHandle,
    spec: _KeySpec,
    key_id: bytes,
    label: str,
    ctx: Ctx,
) -> tuple[Pkcs11Object, Pkcs11Object]:
    """C_GenerateKeyPair with each CKA_EC_PARAMS form in turn; (public, private)."""
    attempts = spec.params or (b"",)
    for n, params in enumerate(attempts):
        template = dict(_PUBLIC_TEMPLATE)
        if params:
            template[Attribute.EC_PARAMS] = params
        try:
            with translating(ctx):
                try:
                    return session.generate_keypair(
                        spec.key_type,
                        spec.bits,
                        id=key_id,
                        label=label,
                        store=True,
                        mechanism=spec.mechanism,
                        capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                        public_template=template,
                        private_template=dict(_PRIVATE_TEMPLATE),
                    )
                except pkx.UserNotLoggedIn as e:
                    if is_yubico(tok.info):
                        raise TokenError(
                            f"{cap(tok.info.describe())} refused to generate a key with the user "
                            "PIN: YubiKey PIV (ykcs11) needs the management key for that.",
                            hint="Generate the key on the YubiKey with `ykman piv keys "
                            "generate` (touch policy ALWAYS), then enrol it with "
                            "`ceremony enroll DIR NAME --uri URI --attest`.",
                        ) from e
                    raise
        except MechanismNotSupported:
            if n + 1 < len(attempts):
                continue  # e.g. a token that only takes the OID form of edwards25519
            raise unsupported(tok, spec.what, "generate") from None
    raise AssertionError("unreachable")


def _check_generated(
    tok: TokenHandle, public: Pkcs11Object, private: Pkcs11Object, spec: _KeySpec, key_type: str
) -> None:
    """KeyPolicyError unless the new pair is what was asked for (type, exponent 65537,
    attributes, CKA_SIGN, CKA_TOKEN): a token that ignores the template is refused."""
    problems: list[str] = []
    found_type = pair_type(KeyPair(b"", public, private))
    if found_type != key_type:
        problems.append(f"it is {found_type}, not {key_type}")
    if spec.key_type == KeyType.RSA:
        exponent = attr(public, Attribute.PUBLIC_EXPONENT)
        if exponent is None or int.from_bytes(bytes(exponent), "big") != 65537:
            problems.append("its RSA public exponent is not 65537")
    attributes = key_attributes(private)
    problems.extend(attributes.problems())
    if bool_attr(private, Attribute.SIGN) is False:
        problems.append("it cannot sign (CKA_SIGN is false)")
    if bool_attr(private, Attribute.TOKEN) is False:
        problems.append("it is not stored on the token (CKA_TOKEN is false)")
    if problems:
        raise KeyPolicyError(
            f"The key just generated on {tok.info.describe()} is not what was asked for: "
            f"{'; '.join(problems)}. It was deleted again.",
            hint="This token does not honour the key template; use another token model.",
        )
