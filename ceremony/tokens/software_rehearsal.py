"""The built-in SOFTWARE token, for rehearsals and tests only.

It behaves like a small PKCS#11 token (label, serial, PIN with a retry counter and lockout,
keys addressed by a `pkcs11:` URI) but keeps its private keys in files encrypted with the
PIN. That is fine for practising a ceremony and worthless for a real one: every key it
makes is enrolled with source `software-rehearsal`, and every screen and file says so.
The plan must say `rehearsal: true` for such keys to be accepted.

URI form: pkcs11:token=LABEL;object=NAME?module-name=tuf-ceremony-software-rehearsal&module-path=DIR
where DIR is the folder holding the software tokens.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from securesystemslib.signer import CryptoSigner, Signer, SSlibKey

from ceremony.errors import (
    InputError,
    KeyMismatch,
    KeyNotFound,
    PinIncorrect,
    PinLocked,
    StoreError,
    TokenNotFound,
)
from ceremony.files import (
    MAX_SMALL_FILE_BYTES,
    atomic_write,
    json_bytes,
    parse_json,
    read_input,
)
from ceremony.keys import same_key
from ceremony.tokens.types import KEY_TYPES, Notifier, PinProvider, PinRequest, TokenInfo

MODULE_NAME = "tuf-ceremony-software-rehearsal"
MAX_TRIES = 3
_KEYFILE_SUFFIX = ".key.pem"


def is_software_uri(uri: str | None) -> bool:
    return bool(uri) and f"module-name={MODULE_NAME}" in str(uri)


@dataclass(frozen=True)
class SoftwareUri:
    folder: Path
    token: str
    object: str

    def __str__(self) -> str:
        return (
            f"pkcs11:token={quote(self.token, safe='')};object={quote(self.object, safe='')}"
            f"?module-name={MODULE_NAME}&module-path={quote(str(self.folder), safe='/')}"
        )

    @classmethod
    def parse(cls, uri: str) -> SoftwareUri:
        if not uri.startswith("pkcs11:") or not is_software_uri(uri):
            raise InputError(f"'{uri}' is not a software rehearsal token URI.")
        if "pin-value" in uri.lower() or "pin-source" in uri.lower():
            raise InputError(
                "a PIN never goes in a URI (it would be written to keys/NAME.json and the "
                "transcript): remove pin-value / pin-source; the PIN is typed when asked."
            )
        body = uri[len("pkcs11:") :]
        path, _, query = body.partition("?")
        attrs = dict(part.split("=", 1) for part in path.split(";") if "=" in part)
        q = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
        try:
            return cls(
                Path(unquote(q["module-path"])), unquote(attrs["token"]), unquote(attrs["object"])
            )
        except KeyError as exc:
            raise InputError(f"software token URI '{uri}' lacks {exc.args[0]}.") from None


class SoftwareToken:
    """One software token: a folder with token.json and PIN-encrypted key files."""

    def __init__(self, folder: Path, label: str) -> None:
        self.dir = folder / label
        self.label = label

    @classmethod
    def create(cls, folder: Path, label: str, pin: str) -> SoftwareToken:
        tok = cls(folder, label)
        if tok.dir.exists():
            raise StoreError(f"software token '{label}' already exists in {folder}.")
        tok.dir.mkdir(parents=True)
        serial = secrets.token_hex(8)
        atomic_write(
            tok.dir / "token.json",
            json_bytes(
                {"label": label, "serial": serial, "tries_left": MAX_TRIES, "rehearsal_only": True}
            ),
        )
        # The PIN is not stored: a check value is the token key file encrypted with it.
        check = ed25519.Ed25519PrivateKey.generate()
        atomic_write(tok.dir / "pin-check.pem", _encrypt(check, pin))
        return tok

    def _state(self) -> dict[str, object]:
        try:
            path = self.dir / "token.json"
            if not path.exists():
                raise FileNotFoundError(path)
            data = parse_json(read_input(path, limit=MAX_SMALL_FILE_BYTES), str(path))
        except FileNotFoundError:
            raise TokenNotFound(
                f"the software rehearsal token '{self.label}' is not in {self.dir.parent}."
            ) from None
        assert isinstance(data, dict)
        return data

    def info(self) -> TokenInfo:
        st = self._state()
        tries = int(str(st["tries_left"]))
        return TokenInfo(
            module_path=MODULE_NAME,
            slot_id=0,
            label=self.label,
            manufacturer="tuf-ceremony",
            model="SOFTWARE REHEARSAL TOKEN",
            serial=str(st["serial"]),
            firmware="-",
            initialized=True,
            login_required=True,
            pin_count_low=tries < MAX_TRIES,
            pin_final_try=tries == 1,
            pin_locked=tries <= 0,
        )

    def login(self, pin_provider: PinProvider, purpose: str) -> str:
        info = self.info()
        if info.pin_locked:
            raise PinLocked(
                f"the PIN of {info.describe()} is locked after {MAX_TRIES} wrong tries. On a real "
                "token you would now need the PUK or SO PIN; a blocked PUK means a reset that "
                "destroys the keys."
            )
        pin = pin_provider(PinRequest(info, purpose, info.pin_count_low, info.pin_final_try))
        st = self._state()
        try:
            serialization.load_pem_private_key(
                read_input(self.dir / "pin-check.pem", limit=MAX_SMALL_FILE_BYTES),
                password=pin.encode(),
            )
        except (ValueError, TypeError):
            st["tries_left"] = int(str(st["tries_left"])) - 1
            atomic_write(self.dir / "token.json", json_bytes(st))
            left = int(str(st["tries_left"]))
            raise PinIncorrect(
                f"wrong PIN for {info.describe()}. "
                + (
                    "The PIN is now LOCKED."
                    if left <= 0
                    else f"{left} tr{'y' if left == 1 else 'ies'} left before it locks."
                )
                + " Nothing was signed or written."
            ) from None
        if int(str(st["tries_left"])) != MAX_TRIES:
            st["tries_left"] = MAX_TRIES
            atomic_write(self.dir / "token.json", json_bytes(st))
        return pin

    def generate(self, name: str, key_type: str, pin: str) -> SSlibKey:
        path = self.dir / f"{name}{_KEYFILE_SUFFIX}"
        if path.exists():
            raise StoreError(f"software token '{self.label}' already has a key '{name}'.")
        priv: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
        if key_type == "ed25519":
            priv = ed25519.Ed25519PrivateKey.generate()
        elif key_type == "ecdsa-p256":
            priv = ec.generate_private_key(ec.SECP256R1())
        elif key_type == "ecdsa-p384":
            priv = ec.generate_private_key(ec.SECP384R1())
        elif key_type == "rsa-3072":
            priv = rsa.generate_private_key(65537, 3072)
        else:
            raise InputError(f"unknown key type '{key_type}'; use one of {', '.join(KEY_TYPES)}.")
        atomic_write(path, _encrypt(priv, pin))
        return SSlibKey.from_crypto(priv.public_key(), scheme=KEY_TYPES[key_type][1])

    def public_key(self, name: str, pin: str) -> SSlibKey:
        # securesystemslib's default scheme for each key is the one KEY_TYPES names.
        return SSlibKey.from_crypto(self._load(name, pin).public_key())

    def _load(
        self, name: str, pin: str
    ) -> ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
        path = self.dir / f"{name}{_KEYFILE_SUFFIX}"
        if not path.exists():
            raise KeyNotFound(f"software token '{self.label}' has no key '{name}'.")
        priv = serialization.load_pem_private_key(
            read_input(path, limit=MAX_SMALL_FILE_BYTES), password=pin.encode()
        )
        assert isinstance(
            priv, (ed25519.Ed25519PrivateKey, ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)
        )
        return priv

    def signer(self, name: str, pin: str, public_key: SSlibKey) -> Signer:
        return SoftwareSigner(self._load(name, pin), public_key, self.info())


class SoftwareSigner(CryptoSigner):
    """securesystemslib's CryptoSigner for a key of this token, which says which token it
    signs on (`token`, as `Pkcs11Signer.token` does), so a signature records its device."""

    def __init__(self, private_key: Any, public_key: SSlibKey, token: TokenInfo) -> None:
        super().__init__(private_key, public_key)
        self._token = token

    @property
    def token(self) -> TokenInfo:
        """The software rehearsal token the key is on."""
        return self._token


def _encrypt(priv: object, pin: str) -> bytes:
    assert isinstance(
        priv, (ed25519.Ed25519PrivateKey, ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)
    )
    return priv.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(pin.encode()),
    )


def token_for(uri: SoftwareUri) -> SoftwareToken:
    return SoftwareToken(uri.folder, uri.token)


def read_key(uri: str, pin_provider: PinProvider, purpose: str) -> tuple[SSlibKey, TokenInfo]:
    su = SoftwareUri.parse(uri)
    tok = token_for(su)
    pin = tok.login(pin_provider, purpose)
    return tok.public_key(su.object, pin), tok.info()


@contextlib.contextmanager
def open_signer(
    uri: str, *, public_key: SSlibKey, pin_provider: PinProvider, notify: Notifier, purpose: str
) -> Iterator[Signer]:
    su = SoftwareUri.parse(uri)
    tok = token_for(su)
    pin = tok.login(pin_provider, purpose)
    found = tok.public_key(su.object, pin)
    if not same_key(found, public_key):  # the public key itself, whatever its spelling
        raise KeyMismatch(
            f"software token '{su.token}' key '{su.object}' is not the enrolled key "
            f"(token key {found.keyid[:8]}, enrolled {public_key.keyid[:8]})."
        )
    signer = tok.signer(su.object, pin, public_key)
    del pin
    notify(f"Signing with the REHEARSAL software key '{su.object}' (no touch needed).")
    yield signer
