"""Choose the token backend for a key and open it: the real PKCS#11 layer, or the
built-in software rehearsal token (only for keys that were enrolled from it).

Finding the key for `sign`: the --uri given, else the URI recorded at enrolment, else
the token whose key matches the enrolled public key (e.g. keys enrolled from a previous root).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from securesystemslib.signer import Signer, SSlibKey

from ceremony.cli import ui
from ceremony.errors import InputError
from ceremony.keys import EnrolledKey
from ceremony.service import SignerFactory, TokenKeyRead
from ceremony.tokens import software_rehearsal as software
from ceremony.tokens.types import PinRequest


def _attrs_dict(attrs: Any) -> dict[str, bool | None] | None:
    if attrs is None:
        return None
    return {
        "sensitive": attrs.sensitive,
        "extractable": attrs.extractable,
        "always_sensitive": attrs.always_sensitive,
        "never_extractable": attrs.never_extractable,
        "local": attrs.local,
        "always_authenticate": attrs.always_authenticate,
    }


def token_dict(info: Any) -> dict[str, str]:
    return {
        "label": info.label,
        "serial": info.serial,
        "manufacturer": info.manufacturer,
        "model": info.model,
        "firmware": info.firmware,
        "module": info.module_path,
    }


def key_reader(
    uri: str, module: str | None, *, allow_imported: bool, purpose: str
) -> Callable[[], TokenKeyRead]:
    """A function that reads the public key at `uri` (PIN asked only if the token needs it)."""

    def read() -> TokenKeyRead:
        if software.is_software_uri(uri):
            key, info = software.read_key(uri, ui.read_pin, purpose)
            return TokenKeyRead(key, uri, token_dict(info), None, None, True)
        from ceremony import tokens

        ki = tokens.read_key(
            uri, module=module, pin_provider=ui.read_pin, allow_imported=allow_imported
        )
        return token_key_read(ki)

    return read


def token_key_read(ki: Any) -> TokenKeyRead:
    """What to enrol about a key read from (or generated on) a PKCS#11 token."""
    if ki.public_key is None:
        raise InputError(f"the token key at {ki.uri} has no readable public key.")
    return TokenKeyRead(
        ki.public_key,
        ki.uri,
        token_dict(ki.token),
        ki.key_id.hex(),
        _attrs_dict(ki.attributes),
        False,
    )


def signer_factory(
    uri: str | None,
    module: str | None,
    *,
    allow_imported: bool = False,
) -> SignerFactory:
    @contextmanager
    def open_signer(
        key: EnrolledKey, purpose: str, before_pin: Callable[[], None]
    ) -> Iterator[Signer]:
        def pin_provider(request: PinRequest) -> str:
            before_pin()  # the holder's typed Yes, once the token is known to be right
            return ui.read_pin(request)

        public = key.key
        assert isinstance(public, SSlibKey)
        chosen = uri or key.uri
        if key.is_software or software.is_software_uri(chosen):
            if not chosen:
                raise InputError(
                    f"'{key.name}' is a rehearsal software key but no software token URI is known; "
                    "give --uri."
                )
            with software.open_signer(
                chosen,
                public_key=public,
                pin_provider=pin_provider,
                notify=ui.notify,
                purpose=purpose,
            ) as signer:
                yield signer
            return
        from ceremony import tokens

        mod = module
        recorded_module = (key.token or {}).get("module")
        if mod is None and recorded_module and Path(recorded_module).exists():
            mod = recorded_module  # the module the key was enrolled with, when it is here too
        if not chosen:
            ui.notify(f"Looking for the token that holds '{key.name}' (no URI recorded) ...")
            found = tokens.locate_key(public, module=mod, uri=None)
            chosen = found.uri
            ui.notify(f"Found it on {found.token.describe()}.")
        with tokens.open_signer(
            chosen,
            module=mod,
            public_key=public,
            pin_provider=pin_provider,
            notify=ui.notify,
            purpose=purpose,
            allow_imported=allow_imported or key.allow_imported,
        ) as signer:
            yield signer

    return open_signer
