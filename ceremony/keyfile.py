"""A public key given as a file (`enroll --public-key`): a PEM public key or TUF key JSON
(keytype, scheme, keyval; also one of our keys/NAME.json). Anything holding a private part
is refused, and the key must be readable as the key material it says it is.

Pure: bytes in, a securesystemslib `SSlibKey` out; every refusal is an `InputError` (exit 2)
naming the file.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from securesystemslib.exceptions import FormatError
from securesystemslib.signer import SSlibKey

from ceremony.errors import InputError
from ceremony.files import parse_json
from ceremony.keys import content_keyid, public_key_of, short


def public_key_from_file(path: Path, data: bytes) -> SSlibKey:
    """A public key from the bytes `data` of a PEM (SubjectPublicKeyInfo) or TUF key JSON
    file `path`. Raises InputError (exit 2) for anything else (a private key included)."""
    text = data.decode("utf-8", errors="replace").strip()
    key = _parse_key_file(path, data, text)
    try:
        public_key_of(key)  # the material itself, whatever the labels say
    except ValueError as exc:
        raise InputError(
            f"{path}: the public key in it cannot be read ({exc}). Give the key as a PEM "
            "public key or as TUF key JSON (keytype, scheme, keyval)."
        ) from None
    return key


def _parse_key_file(path: Path, data: bytes, text: str) -> SSlibKey:
    if text.startswith("{"):
        try:
            obj = parse_json(data, str(path))
            if not isinstance(obj, dict):
                raise TypeError("the file holds JSON that is not an object")
            given = obj.pop("keyid", None)
            if "key" in obj and isinstance(obj["key"], dict):  # one of our keys/NAME.json
                given, obj = obj.get("keyid"), obj["key"]
            keyval = obj.get("keyval")
            if "private" in obj or (isinstance(keyval, dict) and set(keyval) - {"public"}):
                raise InputError(
                    f"{path} holds more than a public key (a 'private' part): a private key "
                    "file is never accepted. Give only keytype, scheme and keyval.public, and "
                    "keep the private key off this machine (it is compromised if it was shared)."
                )
            obj = {k: obj[k] for k in ("keytype", "scheme", "keyval")}
            keyid = content_keyid(obj)
            if given is not None and given != keyid:
                raise InputError(
                    f"{path}: the key's keyid {short(str(given))} is not the SHA-256 of its key object "
                    f"({short(keyid)}); custom fields or a different keyid rule were used. Give the "
                    "bare key (keytype, scheme, keyval) or its PEM."
                )
            return SSlibKey.from_dict(keyid, obj)
        except (KeyError, TypeError, ValueError, AttributeError, FormatError) as exc:
            raise InputError(
                f"{path} is not a TUF public key (keytype, scheme, keyval): {exc}."
            ) from None
    if b"PRIVATE KEY-----" in data:
        raise InputError(
            f"{path} holds a PRIVATE key: a private key file is never accepted. Enrol its public "
            "part (`openssl pkey -in FILE -pubout`; an OpenSSH key: `ssh-keygen -e -m PKCS8 -f "
            "FILE`) and keep the private key off this machine."
        )
    try:
        key = SSlibKey.from_crypto(load_pem_public_key(data))
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise InputError(
            f"{path} is neither a PEM public key (BEGIN PUBLIC KEY) nor TUF key JSON (keytype, "
            "scheme, keyval). Nothing was enrolled."
        ) from None
    return key
