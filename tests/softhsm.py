"""SoftHSM2 for tests: one private token directory per test process, tokens made on demand.

Use the pytest fixtures (import them into a conftest.py, or `pytest_plugins = ["tests.softhsm"]`):

- `softhsm` (session scope) -> `SoftHsm`: `.module` (path of libsofthsm2.so), `.directory`,
  `.conf`, `.init_token(label=None, pin=..., so_pin=...) -> SoftToken`. Skips the test with a
  clear reason when SoftHSM2 is not installed.
- `softhsm_token` (function scope) -> `SoftToken`: a fresh, empty, initialised token with a
  unique label: `.label`, `.serial`, `.pin`, `.so_pin`, `.module`, `.uri`
  ("pkcs11:token=...;serial=..."), `.pin_provider()` (a recording PinProvider).
- `softhsm_token_factory` (function scope) -> the callable `softhsm.init_token`.

Or, without pytest: `get_softhsm()` returns the same process-wide `SoftHsm`.

Why one directory per process: SoftHSM reads SOFTHSM2_CONF when the module is initialised
(C_Initialize), and python-pkcs11 keeps one library object per path. So the helper sets
SOFTHSM2_CONF once, to a temporary directory set up by `ceremony.tokens.softhsm` (the same
set-up as `ceremony rehearse --softhsm`), and keeps it. A token initialised (by
softhsm2-util) after the module was loaded is only seen after C_Finalize + C_Initialize;
`init_token` does that (`SoftHsm.refresh()`), which INVALIDATES every open session of the
module in this process: make tokens before opening sessions (fixtures run first, so that is
the natural order). Tests must therefore find tokens by label or serial, never assume they
are alone (other tests' tokens live in the same directory) and never use slot numbers.

`create_imported_key` puts a key on a token that was NOT generated there (C_CreateObject) or
that is extractable, for the refusal tests.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ceremony.tokens import softhsm as setup
from ceremony.tokens.types import PinRequest
from ceremony.tokens.uri import Pkcs11Uri

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as Pkcs11Lib

# Test PINs: not factory defaults (the CLI refuses those), SoftHSM needs 4..255 characters.
USER_PIN = "test-user-pin-4821"
SO_PIN = "test-so-pin-7315"


class SoftHsmUnavailable(RuntimeError):
    """SoftHSM2 (module or softhsm2-util) is not installed."""


@dataclass
class RecordingPinProvider:
    """A PinProvider that answers `pin` and records every PinRequest it was given."""

    pin: str
    requests: list[PinRequest] = field(default_factory=list)

    def __call__(self, request: PinRequest) -> str:
        self.requests.append(request)
        return self.pin


@dataclass(frozen=True)
class SoftToken:
    label: str
    serial: str
    pin: str
    so_pin: str
    module: str

    @property
    def uri(self) -> str:
        """The token's URI (label + serial), to which key attributes can be appended."""
        return Pkcs11Uri(token=self.label, serial=self.serial).to_string()

    def key_uri(self, *, label: str | None = None, key_id: bytes | None = None) -> str:
        return Pkcs11Uri(token=self.label, serial=self.serial, object=label, id=key_id).to_string()

    def pin_provider(self, pin: str | None = None) -> RecordingPinProvider:
        return RecordingPinProvider(self.pin if pin is None else pin)


class SoftHsm:
    """A private SoftHSM2 configuration and token directory for this process."""

    def __init__(self, hsm: setup.SoftHsm2) -> None:
        self.hsm = hsm
        self.module = hsm.module
        self.directory = hsm.directory
        self.tokens_dir = hsm.tokens_dir
        self.conf = hsm.conf
        self._labels = itertools.count(1)
        self._serials: set[str] = set()
        os.environ[setup.CONF_ENV] = str(self.conf)
        self.refresh()

    def env(self) -> dict[str, str]:
        """Environment for subprocesses (e.g. the CLI) that must see the same tokens."""
        return self.hsm.env()

    def lib(self) -> Pkcs11Lib:
        import pkcs11

        return pkcs11.lib(self.module)

    def refresh(self) -> None:
        """C_Finalize + C_Initialize: SoftHSM re-reads its config and token directory.

        Invalidates all open sessions (and logins) of this module in the process.
        """
        self.lib().reinitialize()
        login = sys.modules.get("ceremony.tokens.pkcs11.login")
        if login is not None:
            login.forget_logins()

    def init_token(
        self, label: str | None = None, *, pin: str = USER_PIN, so_pin: str = SO_PIN
    ) -> SoftToken:
        """Initialise a new token (~10 ms) and make it visible in this process."""
        if label is None:
            label = f"test-{next(self._labels)}"
        if len(label.encode()) > 32:
            raise ValueError("a token label has at most 32 bytes")
        self.hsm.init_token(label, pin=pin, so_pin=so_pin)
        self.refresh()
        serials = [
            s.get_token().serial.decode().strip()
            for s in self.lib().get_slots(token_present=True)
            if s.get_token().label == label
        ]
        new = [s for s in serials if s not in self._serials]
        if len(new) != 1:
            raise RuntimeError(f"could not find the serial of the new token {label!r}: {serials}")
        self._serials.add(new[0])
        return SoftToken(label=label, serial=new[0], pin=pin, so_pin=so_pin, module=self.module)


_INSTANCE: SoftHsm | None = None


def get_softhsm() -> SoftHsm:
    """The process-wide SoftHsm (created on first use). SoftHsmUnavailable if not installed."""
    global _INSTANCE
    if _INSTANCE is not None:
        return _INSTANCE
    module = os.environ.get("SOFTHSM2_MODULE")
    why = setup.missing(module)
    if why is not None:
        raise SoftHsmUnavailable(why)
    directory = Path(tempfile.mkdtemp(prefix="ceremony-softhsm-"))
    atexit.register(shutil.rmtree, directory, True)
    _INSTANCE = SoftHsm(setup.set_up(directory, module=module))
    return _INSTANCE


# --- keys that were NOT generated on the token --------------------------------------------


def create_imported_key(
    token: SoftToken,
    *,
    label: str,
    key_id: bytes,
    key_type: str = "ecdsa-p256",
    how: str = "import",
) -> None:
    """Put a signing key on `token` that the ceremony must refuse.

    how="import": made in software and stored with C_CreateObject (CKA_LOCAL false,
    CKA_NEVER_EXTRACTABLE false), even though it is marked sensitive and non-extractable.
    how="extractable": generated on the token but with CKA_EXTRACTABLE true.
    how="no-sign": generated on the token, sensitive and never extractable, but CKA_SIGN false
    (a key made for another use: it cannot sign, whatever the operator allows).
    key_type: "ecdsa-p256", "ecdsa-p384" or "ed25519" (import); also "rsa-3072" (extractable).
    """
    import pkcs11
    from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass

    from ceremony.tokens import encoding

    lib = pkcs11.lib(token.module)
    tok = next(
        t
        for t in (s.get_token() for s in lib.get_slots(token_present=True))
        if t.serial.decode().strip() == token.serial
    )
    try:
        session = tok.open(user_pin=token.pin, rw=True)
    except pkcs11.exceptions.UserAlreadyLoggedIn:
        session = tok.open(rw=True)
    try:
        common = {Attribute.TOKEN: True, Attribute.LABEL: label, Attribute.ID: key_id}
        if how in ("extractable", "no-sign"):
            public_t: dict[Any, Any] = {**common, Attribute.VERIFY: True, Attribute.PRIVATE: False}
            private_t = {
                **common,
                Attribute.SIGN: how == "extractable",
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: how == "extractable",
            }
            if key_type == "rsa-3072":
                session.generate_keypair(
                    KeyType.RSA,
                    3072,
                    store=True,
                    public_template=public_t,
                    private_template=private_t,
                )
            else:
                params = {
                    "ecdsa-p256": encoding.P256_PARAMS,
                    "ecdsa-p384": encoding.P384_PARAMS,
                    "ed25519": encoding.ED25519_OID_PARAMS,
                }[key_type]
                kt = KeyType.EC_EDWARDS if key_type == "ed25519" else KeyType.EC
                mech = (
                    Mechanism.EC_EDWARDS_KEY_PAIR_GEN
                    if key_type == "ed25519"
                    else Mechanism.EC_KEY_PAIR_GEN
                )
                session.generate_keypair(
                    kt,
                    store=True,
                    mechanism=mech,
                    public_template={**public_t, Attribute.EC_PARAMS: params},
                    private_template=private_t,
                )
            return
        if how != "import":
            raise ValueError(f"how must be 'import', 'extractable' or 'no-sign', not {how!r}")
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519

        if key_type == "ed25519":
            priv = ed25519.Ed25519PrivateKey.generate()
            value = priv.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
            point = priv.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
            params, kt = encoding.ED25519_OID_PARAMS, KeyType.EC_EDWARDS
        else:
            curve = ec.SECP256R1() if key_type == "ecdsa-p256" else ec.SECP384R1()
            params = encoding.P256_PARAMS if key_type == "ecdsa-p256" else encoding.P384_PARAMS
            eck = ec.generate_private_key(curve)
            value = eck.private_numbers().private_value.to_bytes((curve.key_size + 7) // 8, "big")
            point = eck.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
            kt = KeyType.EC
        wrapped = bytes([0x04, len(point)]) + point
        session.create_object(
            {
                **common,
                Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                Attribute.KEY_TYPE: kt,
                Attribute.EC_PARAMS: params,
                Attribute.VALUE: value,
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.SIGN: True,
            }
        )
        session.create_object(
            {
                **common,
                Attribute.CLASS: ObjectClass.PUBLIC_KEY,
                Attribute.KEY_TYPE: kt,
                Attribute.EC_PARAMS: params,
                Attribute.EC_POINT: wrapped,
                Attribute.VERIFY: True,
                Attribute.PRIVATE: False,
            }
        )
    finally:
        session.close()


def create_object(token: SoftToken, attrs: dict[Any, Any]) -> None:
    """C_CreateObject on `token` (logged in), e.g. to plant certificates for attestation tests."""
    import pkcs11

    lib = pkcs11.lib(token.module)
    tok = next(
        t
        for t in (s.get_token() for s in lib.get_slots(token_present=True))
        if t.serial.decode().strip() == token.serial
    )
    session = tok.open(user_pin=token.pin, rw=True)
    try:
        session.create_object(attrs)
    finally:
        session.close()


# --- pytest fixtures ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def softhsm() -> SoftHsm:
    return require_softhsm()


def require_softhsm() -> SoftHsm:
    """The process-wide SoftHSM; skips the test when it is missing, but FAILS it in CI
    (CI=true), where SoftHSM2 is installed and a skip would hide a broken install."""
    try:
        return get_softhsm()
    except SoftHsmUnavailable as e:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"SoftHSM2 is not available: {e}")


@pytest.fixture
def softhsm_token(softhsm: SoftHsm) -> Iterator[SoftToken]:
    yield softhsm.init_token()


@pytest.fixture
def softhsm_token_factory(softhsm: SoftHsm) -> Callable[..., SoftToken]:
    return softhsm.init_token
