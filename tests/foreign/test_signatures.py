"""External signature files: every encoding a signer's tool writes decodes to what
securesystemslib verifies; wrong lengths, wrong keys and bad signatures are refused."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from securesystemslib.signer import CryptoSigner, SSlibKey

from ceremony.errors import InputError, VerificationFailed
from ceremony.foreign import signatures as sigs
from tests.foreign.helpers import signer

PAYLOAD = b'{"_type":"root","version":1}'


@pytest.fixture(scope="module", params=["ed25519", "p256", "rsa"])
def any_signer(request: pytest.FixtureRequest) -> CryptoSigner:
    return signer(request.param)


def _raw_forms(s: CryptoSigner) -> dict[str, bytes]:
    """The signature over PAYLOAD as tools write it."""
    der_or_raw = bytes.fromhex(s.sign(PAYLOAD).signature)
    forms = {
        "raw": der_or_raw,
        "hex": der_or_raw.hex().encode(),
        "HEX\\n": der_or_raw.hex().upper().encode() + b"\n",
        "base64": base64.b64encode(der_or_raw),
        "base64-wrapped": "\n".join(
            textwrap.wrap(base64.b64encode(der_or_raw).decode(), 76)
        ).encode()
        + b"\n",
        "base64url": base64.urlsafe_b64encode(der_or_raw),
        "json-object": json.dumps({"keyid": s.public_key.keyid, "sig": der_or_raw.hex()}).encode(),
        "go-tuf-list": json.dumps(
            [{"keyid": s.public_key.keyid, "sig": der_or_raw.hex()}]
        ).encode(),
        "rstuf-sign-payload": json.dumps(
            {"signature": {"keyid": s.public_key.keyid, "sig": der_or_raw.hex()}, "role": "root"},
            indent=2,
        ).encode(),
    }
    if s.public_key.scheme == "ecdsa-sha2-nistp256":
        r, s_ = decode_dss_signature(der_or_raw)
        rs = r.to_bytes(32, "big") + s_.to_bytes(32, "big")
        forms["r||s raw"] = rs
        forms["r||s hex"] = rs.hex().encode()
        forms["r||s base64"] = base64.b64encode(rs)
    return forms


def test_every_encoding_decodes_and_verifies(any_signer: CryptoSigner) -> None:
    key = any_signer.public_key
    for name, data in _raw_forms(any_signer).items():
        decoded = sigs.decode_signature(data, key, source=name)
        signature = sigs.verify_external(decoded, key, PAYLOAD, key_name="root-a", role="root")
        assert signature.keyid == key.keyid, name
        if "r||s" in name:
            assert decoded.note == "raw r||s converted to DER"
            assert bytes.fromhex(signature.signature)[0] == 0x30  # DER: what sslib verifies
        key.verify_signature(signature, PAYLOAD)


def test_explicit_encodings() -> None:
    s = signer("ed25519")
    raw = bytes.fromhex(s.sign(PAYLOAD).signature)
    key = s.public_key
    assert sigs.decode_signature(raw.hex().encode(), key, source="f", encoding="hex").sig == raw
    b64 = base64.b64encode(raw)
    assert sigs.decode_signature(b64, key, source="f", encoding="base64").sig == raw
    assert sigs.decode_signature(raw, key, source="f", encoding="raw").sig == raw
    with pytest.raises(InputError, match="not hex"):
        sigs.decode_signature(b"zz", key, source="f", encoding="hex")
    with pytest.raises(InputError, match="not a JSON"):
        sigs.decode_signature(raw.hex().encode(), key, source="f", encoding="json")


def test_a_signature_that_does_not_verify_is_refused_with_exit_1() -> None:
    s = signer("p256")
    other = signer("p256")
    data = bytes.fromhex(other.sign(PAYLOAD).signature)
    decoded = sigs.decode_signature(data, s.public_key, source="sig.bin")
    with pytest.raises(VerificationFailed, match="does not verify") as e:
        sigs.verify_external(decoded, s.public_key, PAYLOAD, key_name="root-bob", role="root")
    assert e.value.exit_code == 1
    good = sigs.decode_signature(
        bytes.fromhex(s.sign(PAYLOAD).signature), s.public_key, source="sig.bin"
    )
    with pytest.raises(VerificationFailed):
        sigs.verify_external(good, s.public_key, PAYLOAD + b" ", key_name="root-bob", role="root")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\n \n", "empty"),
        (b"ab" * 40_000, "no signature is that large"),
        (b"00" * 63, "holds 63 bytes"),
        (bytes(65), "holds 65 bytes"),
        (b'{"keyid": "0000", "sig": "00"}', "not by the key"),
        (b'{"sig": 5}', "not by the key|non-empty hex"),
        (b'[{"nope": 1}]', "not a signature file"),
        (b'{"keyid": "k", "sig": "00", "keyid": "j"}', "appears twice"),
    ],
)
def test_hostile_signature_files_are_refused(data: bytes, message: str) -> None:
    key = signer("ed25519").public_key
    with pytest.raises(InputError, match=message) as e:
        sigs.decode_signature(data, key, source="sig.txt")
    assert e.value.exit_code == 2


def test_ecdsa_ber_and_zero_values_are_refused() -> None:
    key = signer("p256").public_key
    ber = bytes([0x30, 0x81, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x07])
    with pytest.raises(InputError, match="neither a DER ECDSA"):
        sigs.decode_signature(ber, key, source="sig.der", encoding="raw")
    with pytest.raises(InputError, match="equal to 0"):
        sigs.decode_signature(bytes(64), key, source="sig.bin", encoding="raw")


def test_json_signature_for_another_key_is_refused_at_verification() -> None:
    s = signer("ed25519")
    decoded = sigs.decode_signature(
        json.dumps({"keyid": s.public_key.keyid, "sig": s.sign(PAYLOAD).signature}).encode(),
        s.public_key,
        source="sig.json",
    )
    other = signer("ed25519").public_key
    with pytest.raises(InputError, match="names key"):
        sigs.verify_external(decoded, other, PAYLOAD, key_name="root-x", role="root")


def test_unsupported_scheme_is_refused() -> None:
    key = signer("ed25519").public_key
    key.scheme = "sigstore-oidc"
    with pytest.raises(InputError, match="cannot take an external signature"):
        sigs.expected_lengths(key)


def test_rsa_length_follows_the_modulus() -> None:
    key = signer("rsa").public_key
    assert sigs.expected_lengths(key) == (384,)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
@pytest.mark.parametrize("kind", ["ed25519", "p256", "p384"])
def test_signature_made_by_the_openssl_cli_verifies(kind: str, tmp_path: Path) -> None:
    """A holder with a key in cold storage signs the payload file with OpenSSL: Ed25519 with
    `pkeyutl -rawin` (raw 64 bytes), ECDSA with `dgst -sha256/-sha384 -sign` (DER); also
    given as base64 (`openssl base64` wraps at 64 columns)."""
    pem = tmp_path / "cold.pem"
    if kind == "ed25519":
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", pem], check=True)
    else:
        curve = {"p256": "prime256v1", "p384": "secp384r1"}[kind]
        subprocess.run(
            ["openssl", "ecparam", "-name", curve, "-genkey", "-noout", "-out", pem], check=True
        )
    pub = subprocess.run(
        ["openssl", "pkey", "-in", pem, "-pubout"], check=True, capture_output=True
    ).stdout
    key = SSlibKey.from_crypto(load_pem_public_key(pub))
    payload = tmp_path / "root.payload"
    payload.write_bytes(PAYLOAD)
    sig = tmp_path / "root.sig"
    if kind == "ed25519":
        cmd: list[str | Path] = [
            "openssl",
            "pkeyutl",
            "-sign",
            "-inkey",
            pem,
            "-rawin",
            "-in",
            payload,
            "-out",
            sig,
        ]
    else:
        digest = "-sha256" if kind == "p256" else "-sha384"
        cmd = ["openssl", "dgst", digest, "-sign", pem, "-out", sig, payload]
    subprocess.run(cmd, check=True)
    b64 = subprocess.run(["openssl", "base64", "-in", sig], check=True, capture_output=True).stdout
    for data in (sig.read_bytes(), b64):
        decoded = sigs.decode_signature(data, key, source="root.sig")
        sigs.verify_external(decoded, key, PAYLOAD, key_name="cold", role="root")
