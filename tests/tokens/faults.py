"""Fault injection around the REAL SoftHSM objects, for faults SoftHSM cannot produce.

SoftHSM never locks a PIN, is never unplugged, never needs a touch and always signs
correctly. These wrappers sit between `ceremony.tokens.pkcs11` and the real
python-pkcs11 objects and change only what a `Faults` asks for; everything else (sessions,
login, key generation, signing) is the real SoftHSM.

The seam is `ceremony.tokens.pkcs11.session.open_library(path)`, the one function through
which the package gets a PKCS#11 library object; what it returns must provide the
`Pkcs11Library` protocol of that module (checked by mypy in `install_faults`). Use it from
any test (CLI tests too)::

    from tests.tokens.faults import Faults, install_faults

    def test_locked(monkeypatch, softhsm_token):
        faults = install_faults(monkeypatch, Faults(extra_flags=TokenFlag.USER_PIN_LOCKED,
                                                    only_serial=softhsm_token.serial))
        ...  # run the command; the token now reports a locked PIN
        assert faults.events == []   # e.g. no login was attempted

`only_serial` limits the faults to one token (others in the same SoftHSM pass through).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pkcs11 import Attribute, ObjectClass
from pkcs11 import exceptions as pkx


@dataclass
class Faults:
    extra_flags: int = 0  # OR-ed into the token flags (TokenFlag.USER_PIN_LOCKED, ...)
    flags_after_failed_login: int = 0  # OR-ed into the flags once a login has failed
    manufacturer: str | None = None  # e.g. "Yubico (www.yubico.com)" to look like a YubiKey
    sign_error: type[pkx.PKCS11Error] | None = None  # raised by private_key.sign(...)
    corrupt_signature: bool = False  # flip one bit of every signature the token returns
    hide_mechanisms: frozenset[Any] = frozenset()  # removed from slot.get_mechanisms()
    slots_error: type[pkx.PKCS11Error] | None = None  # raised by lib.get_slots(...)
    only_serial: str | None = None  # None: every token of the module
    # what happened, in order: "login", "login-failed", "sign", "sign-fault"
    events: list[str] = field(default_factory=list)
    login_failed: bool = False

    def applies(self, token: Any) -> bool:
        serial = token.serial.decode().strip() if isinstance(token.serial, bytes) else token.serial
        return self.only_serial is None or serial == self.only_serial


class _Proxy:
    def __init__(self, inner: Any, faults: Faults) -> None:
        self._inner = inner
        self._faults = faults

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class FaultyLib(_Proxy):
    def get_slots(self, token_present: bool = False) -> list[FaultySlot]:
        if self._faults.slots_error is not None:
            raise self._faults.slots_error()
        return [
            FaultySlot(s, self._faults) for s in self._inner.get_slots(token_present=token_present)
        ]


class FaultySlot(_Proxy):
    def get_token(self) -> Any:
        token = self._inner.get_token()
        if not self._faults.applies(token):
            return token
        return FaultyToken(token, self._faults, self)

    def get_mechanisms(self) -> set[Any]:
        return set(self._inner.get_mechanisms()) - set(self._faults.hide_mechanisms)


class FaultyToken(_Proxy):
    def __init__(self, inner: Any, faults: Faults, slot: FaultySlot) -> None:
        super().__init__(inner, faults)
        self._slot = slot

    @property
    def slot(self) -> FaultySlot:
        return self._slot

    @property
    def flags(self) -> int:
        flags = int(self._inner.flags) | self._faults.extra_flags
        if self._faults.login_failed:
            flags |= self._faults.flags_after_failed_login
        return flags

    @property
    def manufacturer_id(self) -> str:
        return self._faults.manufacturer or self._inner.manufacturer_id

    def open(self, rw: bool = False, user_pin: Any = None, **kwargs: Any) -> FaultySession:
        if user_pin is not None:
            self._faults.events.append("login")
        try:
            session = self._inner.open(rw=rw, user_pin=user_pin, **kwargs)
        except pkx.PinIncorrect:
            self._faults.events.append("login-failed")
            self._faults.login_failed = True
            raise
        return FaultySession(session, self._faults)


class FaultySession(_Proxy):
    def get_objects(self, attrs: dict[Any, Any] | None = None) -> Iterator[Any]:
        for obj in list(self._inner.get_objects(attrs)):
            if attrs and attrs.get(Attribute.CLASS) == ObjectClass.PRIVATE_KEY:
                yield FaultyKey(obj, self._faults)
            else:
                yield obj

    def close(self) -> None:
        self._inner.close()


class FaultyKey(_Proxy):
    def __getitem__(self, key: Any) -> Any:
        return self._inner[key]

    def sign(self, data: bytes, **kwargs: Any) -> bytes:
        self._faults.events.append("sign")
        if self._faults.sign_error is not None:
            self._faults.events.append("sign-fault")
            raise self._faults.sign_error()
        signature: bytes = self._inner.sign(data, **kwargs)
        if self._faults.corrupt_signature:
            signature = bytes([signature[0] ^ 0x01]) + signature[1:]
        return signature


def install_faults(monkeypatch: pytest.MonkeyPatch, faults: Faults) -> Faults:
    """Route the package's library access through the fault wrappers; returns `faults`."""
    from ceremony.tokens.pkcs11 import session

    real = session.open_library

    def faulty(path: str) -> session.Pkcs11Library:
        return FaultyLib(real(path), faults)

    monkeypatch.setattr(session, "open_library", faulty)
    return faults
