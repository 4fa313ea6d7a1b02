"""The token layer through the REAL ykcs11 (and OpenSC), on the PIV emulator rig (tests/rig).

Skipped when the rig cannot run here. What SoftHSM cannot show: ykcs11's own labels and
attributes, PIN-always keys, the PIN counter flags going low / final / locked, attestation.
"""

from __future__ import annotations

from collections.abc import Iterator

import pkcs11
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pkcs11 import Attribute, KeyType
from securesystemslib.signer import SSlibKey

from ceremony import errors
from ceremony.tokens import encoding
from ceremony.tokens.pkcs11 import (
    generate_key,
    list_tokens,
    open_signer,
    read_attestation,
    read_key,
)
from ceremony.tokens.types import TokenKeyInfo
from ceremony.tokens.uri import Pkcs11Uri
from tests.rig.rig import PivRig, piv_card, piv_rig
from tests.softhsm import RecordingPinProvider

__all__ = ["piv_card", "piv_rig"]

pytestmark = pytest.mark.rig


@pytest.fixture
def card(piv_card: PivRig) -> Iterator[PivRig]:
    yield piv_card
    # python-pkcs11 leaves a session open when C_Login fails; start the next test clean
    pkcs11.lib(piv_card.ykcs11).reinitialize()


def _generate_9c(rig: PivRig) -> None:
    """On-card keygen in slot 9c (ykcs11 needs the management key as SO PIN for this)."""
    token = pkcs11.lib(rig.ykcs11).get_token(token_label=rig.token_label)
    with token.open(rw=True, so_pin=rig.mgmt_key) as s:
        params = s.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encoding.P256_PARAMS}, local=True
        )
        params.generate_keypair(store=True, id=b"\x02")


def _uri(rig: PivRig) -> str:
    return Pkcs11Uri(token=rig.token_label, id=b"\x02").to_string()


def _read(rig: PivRig) -> TokenKeyInfo:
    return read_key(_uri(rig), module=rig.ykcs11, pin_provider=RecordingPinProvider(rig.pin))


def test_read_and_sign_pin_always_key(card: PivRig) -> None:
    _generate_9c(card)
    listing = next(t for t in list_tokens(card.ykcs11) if t.token.serial == str(card.serial))
    assert listing.token.manufacturer.startswith("Yubico")
    assert b"\x02" in [k.key_id for k in listing.keys]

    provider = RecordingPinProvider(card.pin)
    info = read_key(_uri(card), module=card.ykcs11, pin_provider=provider)
    assert len(provider.requests) == 1
    assert info.key_type == "ecdsa-p256" and info.token.serial == str(card.serial)
    assert info.label == "Private key for Digital Signature"
    assert info.attributes is not None and info.attributes.always_authenticate
    key = info.public_key
    assert isinstance(key, SSlibKey)

    provider = RecordingPinProvider(card.pin)
    notes: list[str] = []
    # the canonical URI (private key label) works before login too, where only the public
    # key (labelled differently by ykcs11) is visible
    with open_signer(
        info.uri,
        module=card.ykcs11,
        public_key=key,
        pin_provider=provider,
        notify=notes.append,
        purpose="sign root",
    ) as signer:
        for n in range(2):  # PIN-always: a context-specific login per signature, same PIN
            key.verify_signature(signer.sign(b"p%d" % n), b"p%d" % n)
    assert len(provider.requests) == 1
    assert len(notes) == 2 and all(n.startswith("Touch ") for n in notes)


def test_attestation(card: PivRig) -> None:
    _generate_9c(card)
    info = _read(card)
    att_der, f9_der = read_attestation(info.uri, module=card.ykcs11)
    att = x509.load_der_x509_certificate(att_der)
    f9 = x509.load_der_x509_certificate(f9_der)
    att.verify_directly_issued_by(f9)
    assert f9.public_bytes(serialization.Encoding.PEM) == card.device_cert.read_bytes()
    assert isinstance(info.public_key, SSlibKey)
    assert SSlibKey.from_crypto(att.public_key()) == info.public_key


def test_pin_counter_low_final_locked(card: PivRig) -> None:
    _generate_9c(card)
    seen: list[tuple[bool, bool]] = []
    results: list[str] = []
    for _ in range(4):
        provider = RecordingPinProvider("999999")
        try:
            read_key(_uri(card), module=card.ykcs11, pin_provider=provider)
        except (errors.PinIncorrect, errors.PinLocked) as e:
            results.append(f"{type(e).__name__}: {e}")
        seen += [(r.count_low, r.final_try) for r in provider.requests]
    # the prompt saw the token's counter go down; the 4th attempt was never made
    assert seen == [(False, False), (True, False), (False, True)]
    assert "low PIN count" in results[0]
    assert "NEXT wrong PIN LOCKS it" in results[1]
    assert results[2].startswith("PinLocked: The PIN was wrong") and "DESTROYS" in results[2]
    assert results[3].startswith("PinLocked: The user PIN") and "no PIN was tried" in results[3]


def test_keygen_on_a_yubikey_is_refused_clearly(card: PivRig) -> None:
    provider = RecordingPinProvider(card.pin)
    with pytest.raises(errors.TokenError, match="management key") as info:
        generate_key(
            Pkcs11Uri(token=card.token_label).to_string(),
            module=card.ykcs11,
            key_type="ecdsa-p256",
            label="root-alice",
            pin_provider=provider,
        )
    assert "ykman piv keys generate" in (info.value.hint or "")
    assert provider.requests == []


def test_card_removed_before_signing(card: PivRig) -> None:
    _generate_9c(card)
    info = _read(card)
    key = info.public_key
    assert isinstance(key, SSlibKey)
    with (
        pytest.raises(errors.TokenError) as exc,
        open_signer(
            info.uri,
            module=card.ykcs11,
            public_key=key,
            pin_provider=RecordingPinProvider(card.pin),
            notify=lambda _: None,
            purpose="sign root",
        ) as signer,
    ):
        card.remove()
        signer.sign(b"payload")
    assert isinstance(exc.value, errors.DeviceRemoved), f"{type(exc.value).__name__}: {exc.value}"
    assert "Nothing was written" in str(exc.value)
    card.insert()
