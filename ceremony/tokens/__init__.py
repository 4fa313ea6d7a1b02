"""Token access. The only package that talks PKCS#11 (in its `pkcs11` package).

The public surface is re-exported here. python-pkcs11 is imported lazily, inside the
functions, so that `import ceremony.tokens` stays cheap; `Pkcs11Signer` is resolved on first
access. Every failure is a `ceremony.errors.CeremonyError` (token problems: `TokenError`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from securesystemslib.signer import SSlibKey

from ceremony.tokens.modules import DEFAULT_MODULES, ENV_MODULE, find_module
from ceremony.tokens.types import (
    KEY_TYPES,
    KeyAttributes,
    Notifier,
    PinProvider,
    PinRequest,
    TokenInfo,
    TokenKeyInfo,
    TokenListing,
    is_factory_default_pin,
    key_type_of,
)
from ceremony.tokens.uri import Pkcs11Uri

if TYPE_CHECKING:
    from ceremony.tokens.pkcs11 import Pkcs11Signer

__all__ = [
    "DEFAULT_MODULES",
    "ENV_MODULE",
    "KEY_TYPES",
    "KeyAttributes",
    "Notifier",
    "PinProvider",
    "PinRequest",
    "Pkcs11Signer",
    "Pkcs11Uri",
    "TokenInfo",
    "TokenKeyInfo",
    "TokenListing",
    "find_module",
    "generate_key",
    "is_factory_default_pin",
    "key_type_of",
    "list_tokens",
    "locate_key",
    "open_signer",
    "read_attestation",
    "read_key",
    "register_signer",
    "resolve_module",
]


def __getattr__(name: str) -> Any:
    if name == "Pkcs11Signer":
        from ceremony.tokens.pkcs11 import Pkcs11Signer

        return Pkcs11Signer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def resolve_module(uri: Pkcs11Uri | None, module: str | None) -> str:
    """The PKCS#11 module to use: --module, the URI's module-path/-name,
    $CEREMONY_PKCS11_MODULE, then the first installed of DEFAULT_MODULES.
    Loads it once to check; ModuleLoadError if there is none or it does not load."""
    from ceremony.tokens import pkcs11 as pkcs11_backend

    return pkcs11_backend.resolve_module(uri, module)


def list_tokens(
    module: str, *, pin_provider: PinProvider | None = None, login: bool = False
) -> list[TokenListing]:
    """Every slot with a token (also uninitialised) and each token's keys."""
    from ceremony.tokens import pkcs11 as pkcs11_backend

    return pkcs11_backend.list_tokens(module, pin_provider=pin_provider, login=login)


def read_key(
    uri: str, *, module: str | None, pin_provider: PinProvider | None, allow_imported: bool = False
) -> TokenKeyInfo:
    """Read a token key for enrolment (public key + attributes); refuses imported keys."""
    from ceremony.tokens import pkcs11 as pkcs11_backend

    return pkcs11_backend.read_key(
        uri, module=module, pin_provider=pin_provider, allow_imported=allow_imported
    )


def locate_key(public_key: SSlibKey, *, module: str | None, uri: str | None) -> TokenKeyInfo:
    """Find the token key whose public key is `public_key` (uri is a hint)."""
    from ceremony.tokens import pkcs11 as pkcs11_backend

    return pkcs11_backend.locate_key(public_key, module=module, uri=uri)


def generate_key(
    uri: str, *, module: str | None, key_type: str, label: str, pin_provider: PinProvider
) -> TokenKeyInfo:
    """Generate a non-extractable signing key pair on the token."""
    from ceremony.tokens import pkcs11 as pkcs11_backend

    return pkcs11_backend.generate_key(
        uri, module=module, key_type=key_type, label=label, pin_provider=pin_provider
    )


@contextmanager
def open_signer(
    uri: str,
    *,
    module: str | None,
    public_key: SSlibKey,
    pin_provider: PinProvider,
    notify: Notifier,
    purpose: str,
    allow_imported: bool = False,
) -> Iterator[Pkcs11Signer]:
    """Open the token key for signing as `public_key` (see ceremony.tokens.pkcs11.open_signer)."""
    from ceremony.tokens import pkcs11 as pkcs11_backend

    with pkcs11_backend.open_signer(
        uri,
        module=module,
        public_key=public_key,
        pin_provider=pin_provider,
        notify=notify,
        purpose=purpose,
        allow_imported=allow_imported,
    ) as signer:
        yield signer


def read_attestation(
    uri: str, *, module: str | None, pin_provider: PinProvider | None = None
) -> tuple[bytes, bytes]:
    """YubiKey PIV: (attestation certificate of the key, f9 device certificate), both DER."""
    from ceremony.tokens import pkcs11 as pkcs11_backend

    return pkcs11_backend.read_attestation(uri, module=module, pin_provider=pin_provider)


def register_signer() -> None:
    """Register Pkcs11Signer for 'pkcs11:' URIs in securesystemslib."""
    from ceremony.tokens import pkcs11 as pkcs11_backend

    pkcs11_backend.register_signer()
