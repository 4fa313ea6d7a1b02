"""Issue 9 rules 1 and 5: a key is its public key material; its type and strength are
measured from the key, never read from its labels (`ceremony.keys`).

Every spelling that TUF implementations write for one public key (keytype `ecdsa` or the
legacy `ecdsa-sha2-nistp256`, PEM or hex points, compressed points, upper-case hex, another
RSA scheme, extra fields, another keyid) is the same key; two different keys never are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from securesystemslib.signer import SSlibKey

from ceremony.keys import (
    KEY_TYPES,
    content_keyid,
    key_identity,
    key_type_of,
    measure,
    public_key_of,
    same_key,
    strength_problem,
)


def _pem(pub: Any) -> str:
    return str(pub.public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo).decode())


def spelled(keytype: str, scheme: str, public: str, **extra: Any) -> SSlibKey:
    d: dict[str, Any] = {"keytype": keytype, "scheme": scheme, "keyval": {"public": public}}
    d.update(extra)
    return SSlibKey.from_dict(content_keyid(d), dict(d))


P256 = ec.generate_private_key(ec.SECP256R1()).public_key()
P384 = ec.generate_private_key(ec.SECP384R1()).public_key()
ED = ed25519.Ed25519PrivateKey.generate().public_key()
RSA3072 = rsa.generate_private_key(65537, 3072).public_key()
RSA1024 = rsa.generate_private_key(65537, 1024).public_key()


def _point(pub: ec.EllipticCurvePublicKey, form: ser.PublicFormat) -> str:
    return pub.public_bytes(ser.Encoding.X962, form).hex()


# One physical key, every way TUF tools write it.
SPELLINGS: dict[str, list[Callable[[], SSlibKey]]] = {
    "ecdsa-p256": [
        lambda: SSlibKey.from_crypto(P256),
        lambda: spelled("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", _pem(P256)),
        lambda: spelled(
            "ecdsa-sha2-nistp256",
            "ecdsa-sha2-nistp256",
            _point(P256, ser.PublicFormat.UncompressedPoint),
        ),
        lambda: spelled(
            "ecdsa",
            "ecdsa-sha2-nistp256",
            _point(P256, ser.PublicFormat.CompressedPoint).upper(),
        ),
        lambda: spelled(
            "ecdsa",
            "ecdsa-sha2-nistp256",
            _pem(P256),
            **{"x-tuf-on-ci-keyowner": "@alice", "keyid_hash_algorithms": ["sha256", "sha512"]},
        ),
        lambda: spelled("ecdsa", "ecdsa-sha2-nistp256", _pem(P256).replace("\n", "\r\n")),
    ],
    "ed25519": [
        lambda: SSlibKey.from_crypto(ED),
        lambda: spelled("ed25519", "ed25519", ED.public_bytes_raw().hex().upper()),
        lambda: spelled("ed25519", "ed25519", _pem(ED)),
        lambda: spelled(
            "ed25519", "ed25519", ED.public_bytes_raw().hex(), keyid_hash_algorithms=["sha256"]
        ),
    ],
    "rsa-3072": [
        lambda: SSlibKey.from_crypto(RSA3072),
        lambda: spelled("rsa", "rsassa-pss-sha384", _pem(RSA3072)),
        lambda: spelled("rsa", "rsa-pkcs1v15-sha256", _pem(RSA3072)),
        lambda: spelled("rsa", "rsassa-pss-sha256", _pem(RSA3072), **{"x-owner": "@bob"}),
    ],
}


@pytest.mark.parametrize("kind", sorted(SPELLINGS))
def test_every_spelling_of_a_key_is_the_same_key(kind: str) -> None:
    keys = [make() for make in SPELLINGS[kind]]
    assert len({k.keyid for k in keys}) == len(keys), "the spellings have distinct keyids"
    assert len({key_identity(k) for k in keys}) == 1
    assert all(same_key(keys[0], k) for k in keys)


def test_different_keys_are_never_the_same() -> None:
    firsts = [SPELLINGS[kind][0]() for kind in sorted(SPELLINGS)]
    others = [
        SSlibKey.from_crypto(ec.generate_private_key(ec.SECP256R1()).public_key()),
        SSlibKey.from_crypto(P384),
        SSlibKey.from_crypto(RSA1024),
    ]
    idents = [key_identity(k) for k in firsts + others]
    assert len(set(idents)) == len(idents)


def test_unreadable_keys_are_the_same_only_when_their_text_is() -> None:
    a = spelled("ed25519", "ed25519", "00ff")
    assert key_identity(a) == key_identity(spelled("ed25519", "ed25519", "00FF"))
    assert key_identity(a) != key_identity(spelled("ed25519", "ed25519", "00fe"))
    with pytest.raises(ValueError, match="no ed25519 public key"):
        public_key_of(a)


@settings(max_examples=25, deadline=None)
@given(
    upper=st.booleans(),
    compressed=st.booleans(),
    legacy=st.booleans(),
    extra=st.dictionaries(
        st.sampled_from(["x-tuf-on-ci-keyowner", "keyid_hash_algorithms", "x-rstuf-key-name"]),
        st.text(max_size=8),
        max_size=2,
    ),
)
def test_respelling_never_changes_the_identity(
    upper: bool, compressed: bool, legacy: bool, extra: dict[str, str]
) -> None:
    form = ser.PublicFormat.CompressedPoint if compressed else ser.PublicFormat.UncompressedPoint
    hexed = _point(P256, form)
    k = spelled(
        "ecdsa-sha2-nistp256" if legacy else "ecdsa",
        "ecdsa-sha2-nistp256",
        hexed.upper() if upper else hexed,
        **extra,
    )
    assert key_identity(k) == key_identity(SSlibKey.from_crypto(P256))


# --- rule 5: type and strength from the key -------------------------------------------------


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        (lambda: SSlibKey.from_crypto(P256), "ecdsa-p256"),
        (lambda: spelled("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", _pem(P256)), "ecdsa-p256"),
        (lambda: SSlibKey.from_crypto(P384), "ecdsa-p384"),
        (lambda: SSlibKey.from_crypto(ED), "ed25519"),
        (lambda: SSlibKey.from_crypto(RSA3072), "rsa-3072"),
        # Labels that are not the key: it is shown as what it is.
        (lambda: SSlibKey.from_crypto(RSA1024), "rsa-1024"),
        (lambda: spelled("ecdsa", "ecdsa-sha2-nistp256", _pem(P384)), "ecdsa-p384 (ecdsa/"),
        (lambda: spelled("rsa", "rsassa-pss-sha256", _pem(P256)), "ecdsa-p256 (rsa/"),
        (lambda: spelled("rsa", "rsassa-pss-sha384", _pem(RSA3072)), "rsa-3072 (rsa/rsassa-pss"),
        (lambda: spelled("ed25519", "ed25519", "00"), "(unreadable public key)"),
    ],
)
def test_the_type_shown_is_measured_from_the_key(key: Callable[[], SSlibKey], shown: str) -> None:
    got = key_type_of(key())
    if "(" in shown:  # labels that are not the key's: what it is, then the labels
        assert shown in got, got
    else:
        assert got == shown
    if got in KEY_TYPES:  # a table name is only ever given to exactly that key
        m = measure(key())
        assert m is not None and m.name == got and key().scheme == KEY_TYPES[got][1]


@pytest.mark.parametrize(
    ("key", "planned", "words"),
    [
        (lambda: SSlibKey.from_crypto(RSA1024), None, "an RSA key of 1024 bits"),
        (lambda: SSlibKey.from_crypto(RSA1024), "rsa-3072", "an RSA key of 1024 bits"),
        (lambda: SSlibKey.from_crypto(P384), "ecdsa-p256", "curve P-384 (ecdsa-p384)"),
        (lambda: SSlibKey.from_crypto(P256), "ecdsa-p384", "curve P-256 (ecdsa-p256)"),
        (lambda: SSlibKey.from_crypto(ED), "rsa-3072", "an Ed25519 key"),
        (lambda: spelled("ed25519", "ed25519", "zz"), None, "cannot be read"),
    ],
)
def test_a_weak_or_unplanned_key_is_refused_with_what_it_is(
    key: Callable[[], SSlibKey], planned: str | None, words: str
) -> None:
    problem = strength_problem(key(), planned)
    assert problem is not None and words in problem, problem


@pytest.mark.parametrize("kind", sorted(SPELLINGS))
def test_every_spelling_of_a_good_key_passes(kind: str) -> None:
    for make in SPELLINGS[kind]:
        k = make()
        planned = kind if key_type_of(k) == kind else None
        assert strength_problem(k, planned) is None, (k.to_dict(), key_type_of(k))
