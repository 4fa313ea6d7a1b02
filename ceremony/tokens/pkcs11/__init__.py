"""PKCS#11 tokens through python-pkcs11: the ONLY package of tuf-ceremony that imports it.

Everything here speaks to real tokens and returns the plain values of
`ceremony.tokens.types`. Every python-pkcs11 exception is translated into a
`ceremony.errors.TokenError` subclass written for the key holder; none escapes.
Importing this package imports python-pkcs11: import it inside the commands that need it,
so that `ceremony --help` stays fast.

Modules, in dependency order:
- `errors`: CKR_* names and the translation of python-pkcs11 exceptions;
- `session`: the library seam (`open_library`, typed as the `Pkcs11Library` protocol),
  token discovery and selection, sessions;
- `login`: the process-wide login registry and PIN safety;
- `objects`: key pairs, attributes, public keys, canonical key URIs;
- `discovery`: resolve_module, list_tokens, read_key, locate_key;
- `keygen`: generate_key; `sign_plan` + `signer`: Pkcs11Signer, open_signer;
- `attestation`: read_attestation (YubiKey PIV through ykcs11).
"""

from ceremony.tokens.pkcs11.attestation import read_attestation
from ceremony.tokens.pkcs11.discovery import list_tokens, locate_key, read_key, resolve_module
from ceremony.tokens.pkcs11.keygen import generate_key
from ceremony.tokens.pkcs11.login import forget_logins
from ceremony.tokens.pkcs11.signer import Pkcs11Signer, open_signer, register_signer

__all__ = [
    "Pkcs11Signer",
    "forget_logins",
    "generate_key",
    "list_tokens",
    "locate_key",
    "open_signer",
    "read_attestation",
    "read_key",
    "register_signer",
    "resolve_module",
]
