"""The token layer against a real SoftHSM2: keygen, enrolment reads, selection, signing."""

from __future__ import annotations

import datetime

import pkcs11
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pkcs11 import Attribute, CertificateType, KeyType, Mechanism, ObjectClass
from securesystemslib.signer import Signer, SSlibKey
from tuf.api.metadata import Metadata, Root

from ceremony.errors import (
    AmbiguousKey,
    AmbiguousToken,
    CeremonyError,
    KeyMismatch,
    KeyNotFound,
    KeyPolicyError,
    MechanismNotSupported,
    PinIncorrect,
    TokenError,
    TokenNotFound,
)
from ceremony.tokens import encoding
from ceremony.tokens.pkcs11 import (
    generate_key,
    list_tokens,
    locate_key,
    login,
    open_signer,
    read_attestation,
    read_key,
    register_signer,
)
from ceremony.tokens.pkcs11.attestation import YKCS11_F9_ID
from ceremony.tokens.types import KEY_TYPES
from ceremony.tokens.uri import Pkcs11Uri
from tests.softhsm import SoftHsm, SoftToken, create_imported_key, create_object
from tests.tokens.conftest import Keyring

pytestmark = pytest.mark.softhsm


def _pkcs11_token(token: SoftToken) -> pkcs11.Token:
    lib = pkcs11.lib(token.module)
    return next(
        t
        for t in (s.get_token() for s in lib.get_slots(token_present=True))
        if t.serial.decode().strip() == token.serial
    )


def _sign(uri: str, token: SoftToken, key: SSlibKey, payload: bytes = b"payload") -> None:
    notes: list[str] = []
    with open_signer(
        uri,
        module=token.module,
        public_key=key,
        pin_provider=token.pin_provider(),
        notify=notes.append,
        purpose="test",
    ) as signer:
        signature = signer.sign(payload)
    key.verify_signature(signature, payload)
    assert notes == []  # SoftHSM needs no touch


# --- generation ------------------------------------------------------------------------------


@pytest.mark.parametrize("key_type", list(KEY_TYPES))
def test_generated_keys_sign_and_verify(keyring: Keyring, key_type: str) -> None:
    info = keyring.keys[key_type]
    token = keyring.token
    assert info.key_type == key_type
    assert info.public_key is not None
    assert (info.public_key.keytype, info.public_key.scheme) == KEY_TYPES[key_type]
    assert info.attributes is not None and info.attributes.problems() == []
    assert info.label == f"key-{key_type}" and len(info.key_id) == 8
    assert info.token.serial == token.serial
    uri = Pkcs11Uri.parse(info.uri)
    assert uri == Pkcs11Uri(
        token=token.label, serial=token.serial, object=info.label, id=info.key_id, type="private"
    )
    # securesystemslib's default keyid, core fields only
    assert info.public_key == SSlibKey.from_dict(info.public_key.keyid, info.public_key.to_dict())
    assert set(info.public_key.to_dict()) == {"keytype", "scheme", "keyval"}

    _sign(info.uri, token, info.public_key)

    # and a real TUF signature, checked the way a client checks it
    root = Metadata(Root())
    root.signed.add_key(info.public_key, "root")
    with open_signer(
        info.uri,
        module=token.module,
        public_key=info.public_key,
        pin_provider=token.pin_provider(),
        notify=print,
        purpose="sign root",
    ) as s:
        root.sign(s)
    root.signed.verify_delegate("root", root.signed_bytes, root.signatures)


def test_generated_key_template(keyring: Keyring) -> None:
    token = keyring.token
    with _pkcs11_token(token).open(user_pin=token.pin) as session:
        for key_type, info in keyring.keys.items():
            priv = session.get_key(ObjectClass.PRIVATE_KEY, id=info.key_id)
            pub = session.get_key(ObjectClass.PUBLIC_KEY, id=info.key_id)
            for attr, want in [
                (Attribute.TOKEN, True),
                (Attribute.PRIVATE, True),
                (Attribute.SENSITIVE, True),
                (Attribute.EXTRACTABLE, False),
                (Attribute.SIGN, True),
                (Attribute.DECRYPT, False),
                (Attribute.UNWRAP, False),
                (Attribute.LOCAL, True),
                (Attribute.NEVER_EXTRACTABLE, True),
            ]:
                assert priv[attr] is want, (key_type, attr)
            if key_type != "rsa-3072":
                assert priv[Attribute.DERIVE] is False
            assert pub[Attribute.TOKEN] is True and pub[Attribute.VERIFY] is True
            assert pub[Attribute.PRIVATE] is False
            assert priv[Attribute.LABEL] == pub[Attribute.LABEL] == info.label
        ed = session.get_key(ObjectClass.PUBLIC_KEY, id=keyring.keys["ed25519"].key_id)
        assert ed[Attribute.EC_PARAMS] == encoding.ED25519_STRING_PARAMS  # 'edwards25519'
        rsa = session.get_key(ObjectClass.PUBLIC_KEY, id=keyring.keys["rsa-3072"].key_id)
        assert rsa[Attribute.MODULUS_BITS] == 3072


def test_generate_never_overwrites(keyring: Keyring) -> None:
    token = keyring.token
    before = len(_keys_on(token))
    with pytest.raises(TokenError, match="already has an object labelled 'key-ed25519'"):
        generate_key(
            token.uri,
            module=token.module,
            key_type="ed25519",
            label="key-ed25519",
            pin_provider=token.pin_provider(),
        )
    assert len(_keys_on(token)) == before


def test_generate_unknown_type(softhsm_token: SoftToken) -> None:
    with pytest.raises(MechanismNotSupported, match="'rsa-1024' is not one the ceremony generates"):
        generate_key(
            softhsm_token.uri,
            module=softhsm_token.module,
            key_type="rsa-1024",
            label="x",
            pin_provider=softhsm_token.pin_provider(),
        )


def test_generate_with_wrong_pin(softhsm_token: SoftToken) -> None:
    provider = softhsm_token.pin_provider("not-the-pin")
    with pytest.raises(PinIncorrect) as info:
        generate_key(
            softhsm_token.uri,
            module=softhsm_token.module,
            key_type="ecdsa-p256",
            label="k",
            pin_provider=provider,
        )
    assert len(provider.requests) == 1  # asked once, never retried
    assert softhsm_token.serial in str(info.value)
    assert "not-the-pin" not in str(info.value)
    assert _keys_on(softhsm_token) == []


def _keys_on(token: SoftToken) -> list[str]:
    listing = next(t for t in list_tokens(token.module) if t.token.serial == token.serial)
    return [k.label or "" for k in listing.keys]


# --- enrolment reads -----------------------------------------------------------------------------


def test_read_key_by_label_or_id(keyring: Keyring) -> None:
    token, info = keyring.token, keyring.keys["ecdsa-p256"]
    for uri in (token.key_uri(label=info.label), token.key_uri(key_id=info.key_id), info.uri):
        provider = token.pin_provider()
        got = read_key(uri, module=token.module, pin_provider=provider)
        assert got == info
        assert len(provider.requests) == 1  # SoftHSM hides private keys until login
        request = provider.requests[0]
        assert request.token.serial == token.serial
        assert not request.count_low and not request.final_try
        assert str(info.label) in request.purpose or info.key_id.hex() in request.purpose


def test_read_key_not_found(keyring: Keyring) -> None:
    token = keyring.token
    with pytest.raises(KeyNotFound, match="has no key with label 'nope'") as info:
        read_key(
            token.key_uri(label="nope"), module=token.module, pin_provider=token.pin_provider()
        )
    assert token.serial in str(info.value)


@pytest.mark.parametrize(
    ("how", "key_type", "problem"),
    [
        ("import", "ecdsa-p256", "it was not generated on the token (CKA_LOCAL is not true)"),
        ("import", "ed25519", "it was not generated on the token (CKA_LOCAL is not true)"),
        ("extractable", "ecdsa-p384", "it is extractable (CKA_EXTRACTABLE is not false)"),
        ("extractable", "rsa-3072", "it is extractable (CKA_EXTRACTABLE is not false)"),
    ],
)
def test_read_key_refuses_imported_or_extractable(
    softhsm_token: SoftToken, how: str, key_type: str, problem: str
) -> None:
    token = softhsm_token
    create_imported_key(token, label="imported", key_id=b"\x42", key_type=key_type, how=how)
    uri = token.key_uri(label="imported")
    with pytest.raises(KeyPolicyError) as info:
        read_key(uri, module=token.module, pin_provider=token.pin_provider())
    message = str(info.value)
    assert problem in message
    assert "copies elsewhere" in message and token.serial in message
    assert "--allow-imported" in (info.value.hint or "")
    assert "ykcs11" not in message  # the Yubico note is only for Yubico tokens

    got = read_key(uri, module=token.module, pin_provider=token.pin_provider(), allow_imported=True)
    assert got.attributes is not None
    assert any(p.startswith(problem) for p in got.attributes.problems())
    assert got.key_type == key_type and got.public_key is not None

    # signing refuses it too, unless allowed
    with pytest.raises(KeyPolicyError):
        _sign(uri, token, got.public_key)
    with open_signer(
        uri,
        module=token.module,
        public_key=got.public_key,
        pin_provider=token.pin_provider(),
        notify=print,
        purpose="t",
        allow_imported=True,
    ) as signer:
        got.public_key.verify_signature(signer.sign(b"x"), b"x")


def test_a_key_that_cannot_sign_is_refused_whatever_is_allowed(softhsm_token: SoftToken) -> None:
    """A private key with CKA_SIGN false (made on the token for another use) is refused at
    enrolment and at signing with a token error, never an internal error; allowing imported
    keys does not change that."""
    token = softhsm_token
    create_imported_key(token, label="no-sign", key_id=b"\x43", how="no-sign")
    uri = token.key_uri(label="no-sign")
    for allow in (False, True):
        with pytest.raises(KeyPolicyError, match="CKA_SIGN is false") as info:
            read_key(
                uri, module=token.module, pin_provider=token.pin_provider(), allow_imported=allow
            )
        assert "cannot be a ceremony key" in str(info.value) and token.serial in str(info.value)
    # Its public key, read straight from the token's public key object.
    tok = _pkcs11_token(token)
    with tok.open() as session:
        (pub,) = session.get_objects(
            {Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.ID: b"\x43"}
        )
        point = encoding.unwrap_ec_point(pub[Attribute.EC_POINT])
    crypto = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    public = SSlibKey.from_crypto(crypto)
    for allow in (False, True):
        with (
            pytest.raises(KeyPolicyError, match="CKA_SIGN is false"),
            open_signer(
                uri,
                module=token.module,
                public_key=public,
                pin_provider=token.pin_provider(),
                notify=print,
                purpose="t",
                allow_imported=allow,
            ),
        ):
            pass


def test_several_keys_with_one_label(softhsm_token: SoftToken) -> None:
    token = softhsm_token
    create_imported_key(token, label="same", key_id=b"\x01")
    create_imported_key(token, label="same", key_id=b"\x02")
    with pytest.raises(AmbiguousKey, match="label 'same', id 01; label 'same', id 02"):
        read_key(
            token.key_uri(label="same"),
            module=token.module,
            pin_provider=token.pin_provider(),
            allow_imported=True,
        )
    got = read_key(
        token.key_uri(label="same", key_id=b"\x02"),
        module=token.module,
        pin_provider=token.pin_provider(),
        allow_imported=True,
    )
    assert got.key_id == b"\x02"


# --- token selection -----------------------------------------------------------------------------


def test_two_tokens_with_one_label(softhsm: SoftHsm) -> None:
    a = softhsm.init_token("twin")
    b = softhsm.init_token("twin")
    for t in (a, b):
        generate_key(
            t.uri, module=t.module, key_type="ecdsa-p256", label="k", pin_provider=t.pin_provider()
        )
    with pytest.raises(AmbiguousToken) as info:
        read_key("pkcs11:token=twin;object=k", module=softhsm.module, pin_provider=a.pin_provider())
    assert a.serial in str(info.value) and b.serial in str(info.value)
    assert "serial" in (info.value.hint or "")
    # by serial: the right one each time, even with the shared label
    for t in (a, b):
        got = read_key(
            f"pkcs11:token=twin;serial={t.serial};object=k",
            module=softhsm.module,
            pin_provider=t.pin_provider(),
        )
        assert got.token.serial == t.serial


def test_token_not_found(keyring: Keyring) -> None:
    with pytest.raises(TokenNotFound) as info:
        read_key(
            "pkcs11:serial=0000deadbeef;object=k",
            module=keyring.token.module,
            pin_provider=keyring.token.pin_provider(),
        )
    message = str(info.value)
    assert "serial 0000deadbeef" in message
    assert f"'keyring' (SoftHSM project SoftHSM v2, serial {keyring.token.serial})" in message


def test_list_tokens(keyring: Keyring, softhsm: SoftHsm) -> None:
    listings = list_tokens(softhsm.module)
    assert any(not t.token.initialized for t in listings)  # SoftHSM's free slot is listed
    mine = next(t for t in listings if t.token.serial == keyring.token.serial)
    assert mine.token.label == "keyring" and mine.token.login_required
    assert {k.key_type for k in mine.keys} == set(KEY_TYPES)
    assert all(k.public_key is not None and k.attributes is None for k in mine.keys)
    # with login: also the private keys' attributes (one prompt per token needing it)
    provider = keyring.token.pin_provider()
    listings = list_tokens(softhsm.module, pin_provider=provider, login=True)
    mine = next(t for t in listings if t.token.serial == keyring.token.serial)
    assert all(k.attributes is not None and not k.attributes.problems() for k in mine.keys)
    initialised = [t for t in listings if t.token.initialized]
    assert len(provider.requests) == len(initialised)
    by_uri = {k.uri: k for k in mine.keys}
    assert all(by_uri[k.uri].public_key == k.public_key for k in keyring.keys.values())


# --- key checks when signing, locate --------------------------------------------------------------


def test_key_mismatch(keyring: Keyring) -> None:
    token = keyring.token
    a, b = keyring.keys["ecdsa-p256"], keyring.keys["ed25519"]
    assert a.public_key is not None and b.public_key is not None
    provider = token.pin_provider()
    with (
        pytest.raises(KeyMismatch) as info,
        open_signer(
            a.uri,
            module=token.module,
            public_key=b.public_key,
            pin_provider=provider,
            notify=print,
            purpose="t",
        ),
    ):
        pass
    message = str(info.value)
    assert a.public_key.keyid[:8] in message and b.public_key.keyid[:8] in message
    assert token.serial in message
    assert provider.requests == []  # found out before asking for the PIN


def test_signer_without_key_selector_finds_by_public_key(keyring: Keyring) -> None:
    info = keyring.keys["ecdsa-p384"]
    assert info.public_key is not None
    _sign(keyring.token.uri, keyring.token, info.public_key)


def test_locate_key(keyring: Keyring, softhsm: SoftHsm) -> None:
    a, b = keyring.keys["rsa-3072"], keyring.keys["ecdsa-p256"]
    assert a.public_key is not None and b.public_key is not None
    found = locate_key(a.public_key, module=softhsm.module, uri=None)
    assert found.uri == a.uri and found.public_key == a.public_key
    assert locate_key(a.public_key, module=softhsm.module, uri=a.uri).uri == a.uri
    # a hint naming an absent token falls back to scanning
    absent = Pkcs11Uri(serial="0000", id=a.key_id).to_string()
    assert locate_key(a.public_key, module=softhsm.module, uri=absent).uri == a.uri
    # a hint naming a present but different key is a mismatch
    with pytest.raises(KeyMismatch, match=keyring.token.serial):
        locate_key(a.public_key, module=softhsm.module, uri=b.uri)
    other = SSlibKey.from_crypto(ec.generate_private_key(ec.SECP256R1()).public_key())
    with pytest.raises(KeyNotFound, match=f"keyid {other.keyid[:8]}"):
        locate_key(other, module=softhsm.module, uri=None)


# --- sessions, PIN and the securesystemslib interface ------------------------------------------


def test_always_authenticate_key_uses_the_pin_once(softhsm_token: SoftToken) -> None:
    token = softhsm_token
    with _pkcs11_token(token).open(user_pin=token.pin, rw=True) as session:
        session.generate_keypair(
            KeyType.EC,
            store=True,
            mechanism=Mechanism.EC_KEY_PAIR_GEN,
            id=b"\x02",
            label="always",
            public_template={Attribute.EC_PARAMS: encoding.P256_PARAMS, Attribute.PRIVATE: False},
            private_template={
                Attribute.ALWAYS_AUTHENTICATE: True,
                Attribute.SIGN: True,
                Attribute.EXTRACTABLE: False,
                Attribute.SENSITIVE: True,
            },
        )
    info = read_key(
        token.key_uri(label="always"), module=token.module, pin_provider=token.pin_provider()
    )
    assert info.attributes is not None and info.attributes.always_authenticate
    assert info.public_key is not None
    provider = token.pin_provider()
    with open_signer(
        info.uri,
        module=token.module,
        public_key=info.public_key,
        pin_provider=provider,
        notify=print,
        purpose="t",
    ) as signer:
        for n in range(3):  # each C_Sign needs a context-specific login: done with the same PIN
            payload = f"payload {n}".encode()
            info.public_key.verify_signature(signer.sign(payload), payload)
    assert len(provider.requests) == 1


def test_two_signers_on_one_token_share_the_login(keyring: Keyring) -> None:
    token = keyring.token
    a, b = keyring.keys["ed25519"], keyring.keys["ecdsa-p256"]
    assert a.public_key is not None and b.public_key is not None
    first, second = token.pin_provider(), token.pin_provider()
    with open_signer(
        a.uri,
        module=token.module,
        public_key=a.public_key,
        pin_provider=first,
        notify=print,
        purpose="t",
    ) as sa:
        with open_signer(
            b.uri,
            module=token.module,
            public_key=b.public_key,
            pin_provider=second,
            notify=print,
            purpose="t",
        ) as sb:
            sb.sign(b"x")
        sa.sign(b"y")  # still logged in after the inner signer closed
    assert (len(first.requests), len(second.requests)) == (1, 0)
    assert login._LOGINS == {}
    third = token.pin_provider()
    _sign_with(a.uri, token, a.public_key, third)
    assert len(third.requests) == 1  # logged out after the last one closed


def _sign_with(uri: str, token: SoftToken, key: SSlibKey, provider: object) -> None:
    with open_signer(
        uri,
        module=token.module,
        public_key=key,
        pin_provider=provider,  # type: ignore[arg-type]
        notify=print,
        purpose="t",
    ) as signer:
        key.verify_signature(signer.sign(b"z"), b"z")


def test_closed_signer_refuses(keyring: Keyring) -> None:
    info = keyring.keys["ed25519"]
    assert info.public_key is not None
    with open_signer(
        info.uri,
        module=keyring.token.module,
        public_key=info.public_key,
        pin_provider=keyring.token.pin_provider(),
        notify=print,
        purpose="t",
    ) as signer:
        pass
    with pytest.raises(TokenError, match="already closed"):
        signer.sign(b"x")


def test_securesystemslib_uri_interface(keyring: Keyring, monkeypatch: pytest.MonkeyPatch) -> None:
    register_signer()
    info = keyring.keys["ecdsa-p256"]
    assert info.public_key is not None
    monkeypatch.setenv("CEREMONY_PKCS11_MODULE", keyring.token.module)
    asked: list[str] = []

    def secrets(name: str) -> str:
        asked.append(name)
        return keyring.token.pin

    signer = Signer.from_priv_key_uri(info.uri, info.public_key, secrets)
    try:
        info.public_key.verify_signature(signer.sign(b"tuf"), b"tuf")
    finally:
        signer.close()  # type: ignore[attr-defined]
    assert asked == ["pin"]
    uri_with_module = Pkcs11Uri.parse(info.uri)
    monkeypatch.delenv("CEREMONY_PKCS11_MODULE")
    text = Pkcs11Uri(
        **{**uri_with_module.__dict__, "module_path": keyring.token.module}
    ).to_string()
    signer = Signer.from_priv_key_uri(text, info.public_key, secrets)
    signer.close()  # type: ignore[attr-defined]


def test_errors_are_ceremony_errors(keyring: Keyring) -> None:
    with pytest.raises(CeremonyError):
        read_key("pkcs11:token=keyring;object=x?pin-value=1", module=None, pin_provider=None)


# --- attestation (certificates planted the way ykcs11 shows them) -------------------------------


def _cert(
    subject: str, issuer: str, public_key: object, signing_key: ec.EllipticCurvePrivateKey
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(signing_key, hashes.SHA256())
    )


def _plant(token: SoftToken, cert: x509.Certificate, key_id: bytes, label: str) -> None:
    create_object(
        token,
        {
            Attribute.CLASS: ObjectClass.CERTIFICATE,
            Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
            Attribute.TOKEN: True,
            Attribute.PRIVATE: False,
            Attribute.ID: key_id,
            Attribute.LABEL: label,
            Attribute.VALUE: cert.public_bytes(serialization.Encoding.DER),
            Attribute.SUBJECT: cert.subject.public_bytes(),
            Attribute.ISSUER: cert.issuer.public_bytes(),
        },
    )


def test_read_attestation(softhsm_token: SoftToken) -> None:
    token = softhsm_token
    info = generate_key(
        token.uri,
        module=token.module,
        key_type="ecdsa-p256",
        label="piv",
        pin_provider=token.pin_provider(),
    )
    assert info.public_key is not None
    with pytest.raises(TokenError, match="no slot f9 attestation certificate"):
        read_attestation(info.uri, module=token.module)

    f9_key = ec.generate_private_key(ec.SECP256R1())
    ca_key = ec.generate_private_key(ec.SECP256R1())
    f9 = _cert("Yubico PIV Attestation", "Yubico PIV Root CA", f9_key.public_key(), ca_key)
    _plant(token, f9, YKCS11_F9_ID, "X.509 Certificate for PIV Attestation")
    # a placeholder like the one ykcs11 makes when the device refuses (imported key)
    junk_key = ec.generate_private_key(ec.SECP256R1())
    junk = _cert(
        "Key imported, cannot attest",
        "Key imported, cannot attest",
        junk_key.public_key(),
        junk_key,
    )
    _plant(token, junk, info.key_id, "X.509 Certificate for PIV Attestation 9c")
    with pytest.raises(TokenError, match="ykcs11 says: Key imported, cannot attest"):
        read_attestation(info.uri, module=token.module)

    pub = serialization.load_pem_public_key(info.public_key.keyval["public"].encode())
    attestation = _cert("YubiKey PIV Attestation 9c", "Yubico PIV Attestation", pub, f9_key)
    _plant(token, attestation, info.key_id, "X.509 Certificate for PIV Attestation 9c")
    got, device = read_attestation(info.uri, module=token.module)
    assert got == attestation.public_bytes(serialization.Encoding.DER)
    assert device == f9.public_bytes(serialization.Encoding.DER)
