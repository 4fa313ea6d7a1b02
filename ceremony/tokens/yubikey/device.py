"""Finding YubiKeys over PC/SC: readers, connections, serial, firmware and form factor."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from ceremony.errors import AmbiguousToken, TokenNotFound
from ceremony.tokens.yubikey.failures import missing_library, translating
from ceremony.tokens.yubikey.values import FORM_FACTORS, READER_MARK, YubiKeyInfo


def _connect(reader: Any) -> Any:
    """A yubikit SmartCardConnection to `reader`: exclusive when possible, else shared.

    Unlike ykman's device opener this never kills other programs (scdaemon, yubikey-agent)
    to get the card. Raises NoCardException when the reader is empty.
    """
    from smartcard.Exceptions import CardConnectionException, NoCardException
    from smartcard.ExclusiveConnectCardConnection import ExclusiveConnectCardConnection
    from ykman.pcsc import ScardSmartCardConnection

    raw = reader.createConnection()
    try:
        exclusive = ExclusiveConnectCardConnection(raw)
        return ScardSmartCardConnection(exclusive)  # type: ignore[no-untyped-call]
    except CardConnectionException:
        # Another program holds the card (e.g. a PKCS#11 module, in a shared connection).
        _release(raw)
    except NoCardException:
        _release(raw)
        raise
    raw = reader.createConnection()
    try:
        return ScardSmartCardConnection(raw)  # type: ignore[no-untyped-call]
    except (CardConnectionException, NoCardException):
        _release(raw)
        raise


def _release(raw: Any) -> None:
    """Free a pyscard connection that did not connect. pyscard keeps the handle of a refused
    exclusive SCardConnect, and its destructor would then disconnect a handle it never had."""
    from smartcard.Exceptions import SmartcardException

    inner = raw
    while hasattr(inner, "component"):  # createConnection() wraps the PCSCCardConnection
        inner = inner.component
    inner.hcard = None
    with contextlib.suppress(SmartcardException, OSError):
        raw.release()


def _version_text(version: Any) -> str:
    return f"{version[0]}.{version[1]}.{version[2]}"


def _read_info(conn: Any, reader_name: str) -> YubiKeyInfo:
    """Serial, firmware and form factor: the Management application (YubiKey 5), else PIV."""
    from yubikit.core import ApplicationNotAvailableError, NotSupportedError
    from yubikit.core.smartcard import ApduError
    from yubikit.management import ManagementSession
    from yubikit.piv import PivSession

    try:
        device_info = ManagementSession(conn).read_device_info()
    except (ApplicationNotAvailableError, NotSupportedError, ApduError):
        device_info = None
    if device_info is not None and device_info.version is not None:
        form = FORM_FACTORS.get(int(device_info.form_factor), "unknown")
        return YubiKeyInfo(
            serial=device_info.serial,
            firmware=_version_text(device_info.version),
            form_factor=form,
            fips=bool(device_info.is_fips),
            reader=reader_name,
        )
    piv = PivSession(conn)
    serial: int | None
    try:
        serial = piv.get_serial()
    except (NotSupportedError, ApduError):
        serial = None
    return YubiKeyInfo(
        serial=serial,
        firmware=_version_text(piv.version),
        form_factor="unknown",
        fips=False,
        reader=reader_name,
    )


def _yubikey_readers() -> list[Any]:
    from ykman.pcsc import list_readers

    readers = list_readers()  # type: ignore[no-untyped-call]
    return [r for r in readers if READER_MARK in str(r.name).lower()]


def list_yubikeys() -> list[YubiKeyInfo]:
    """The YubiKeys plugged in (USB, seen through PC/SC), in reader order.

    Returns [] when there is none. Raises TokenError when yubikey-manager cannot be loaded,
    TokenNotFound when the PC/SC service is not running.
    """
    try:
        from smartcard.Exceptions import CardConnectionException, NoCardException
    except ImportError as e:
        raise missing_library(e) from None
    found: list[YubiKeyInfo] = []
    with translating("listing the YubiKeys", None):
        readers = _yubikey_readers()
    for reader in readers:
        try:
            conn = _connect(reader)
        except (NoCardException, CardConnectionException):
            continue  # an empty reader slot, or a card another program holds exclusively
        with translating(f"reading the YubiKey in reader '{reader.name}'", None):
            try:
                found.append(_read_info(conn, str(reader.name)))
            finally:
                conn.close()
    return found


@contextlib.contextmanager
def open_yubikey(serial: int | None, doing: str) -> Iterator[tuple[Any, YubiKeyInfo]]:
    """A connection to the YubiKey with this serial (or the only one when serial is None)."""
    try:
        from smartcard.Exceptions import CardConnectionException, NoCardException
    except ImportError as e:
        raise missing_library(e) from None
    with translating(doing, None):
        readers = _yubikey_readers()
    seen: list[YubiKeyInfo] = []
    chosen: tuple[Any, YubiKeyInfo] | None = None
    for reader in readers:
        try:
            conn = _connect(reader)
        except (NoCardException, CardConnectionException):
            continue
        keep = False
        try:
            with translating(doing, None):
                info = _read_info(conn, str(reader.name))
            seen.append(info)
            if (serial is None or info.serial == serial) and chosen is None:
                chosen, keep = (conn, info), True
        finally:
            if not keep:
                conn.close()
    try:
        if chosen is None or (serial is None and len(seen) > 1):
            names = ", ".join(i.describe() for i in seen) or "none"
            if serial is None and len(seen) > 1:
                raise AmbiguousToken(
                    f"Several YubiKeys are plugged in ({names}); the tool will not guess which "
                    f"one to use for {doing}.",
                    hint="Name the YubiKey by its serial (printed on it), or unplug the others.",
                )
            what = f"YubiKey {serial}" if serial is not None else "A YubiKey"
            raise TokenNotFound(
                f"{what} is not plugged in (YubiKeys seen: {names}), so nothing was done "
                f"({doing}).",
                hint="Insert the holder's YubiKey and check its serial (printed on the back, "
                "or `ykman list --serials`).",
            )
        yield chosen
    finally:
        if chosen is not None:
            from smartcard.Exceptions import SmartcardException

            with contextlib.suppress(SmartcardException, OSError):  # a removed card
                chosen[0].close()
