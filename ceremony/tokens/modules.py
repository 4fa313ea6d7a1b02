"""Which PKCS#11 module (shared library) to load (pure: no PKCS#11 import).

Order: an explicit `--module`, the URI's module-path (or module-name), the environment
variable CEREMONY_PKCS11_MODULE, then the first present module of DEFAULT_MODULES.
"""

from __future__ import annotations

import os
from pathlib import Path

from ceremony.errors import ModuleLoadError
from ceremony.tokens.uri import Pkcs11Uri

ENV_MODULE = "CEREMONY_PKCS11_MODULE"

# (what it is, where Debian/Ubuntu, Fedora and macOS (Homebrew, vendor pkg) put it)
DEFAULT_MODULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "SoftHSM2",
        (
            "/usr/lib/softhsm/libsofthsm2.so",
            "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
            "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
            "/usr/lib64/pkcs11/libsofthsm2.so",
            "/usr/lib64/softhsm/libsofthsm2.so",
            "/opt/homebrew/lib/softhsm/libsofthsm2.so",
            "/usr/local/lib/softhsm/libsofthsm2.so",
        ),
    ),
    (
        "OpenSC",
        (
            "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
            "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
            "/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so",
            "/usr/lib/aarch64-linux-gnu/pkcs11/opensc-pkcs11.so",
            "/usr/lib64/opensc-pkcs11.so",
            "/usr/lib64/pkcs11/opensc-pkcs11.so",
            "/Library/OpenSC/lib/opensc-pkcs11.so",
            "/opt/homebrew/lib/opensc-pkcs11.so",
            "/usr/local/lib/opensc-pkcs11.so",
        ),
    ),
    (
        "ykcs11 (YubiKey PIV)",
        (
            "/usr/lib/x86_64-linux-gnu/libykcs11.so",
            "/usr/lib/aarch64-linux-gnu/libykcs11.so",
            "/usr/lib64/libykcs11.so",
            "/usr/lib/libykcs11.so",
            "/opt/homebrew/lib/libykcs11.dylib",
            "/usr/local/lib/libykcs11.dylib",
        ),
    ),
    (
        "YubiHSM 2",
        (
            "/usr/lib/x86_64-linux-gnu/pkcs11/yubihsm_pkcs11.so",
            "/usr/lib/aarch64-linux-gnu/pkcs11/yubihsm_pkcs11.so",
            "/usr/lib64/pkcs11/yubihsm_pkcs11.so",
            "/usr/lib/pkcs11/yubihsm_pkcs11.so",
            "/opt/homebrew/lib/pkcs11/yubihsm_pkcs11.dylib",
            "/usr/local/lib/pkcs11/yubihsm_pkcs11.dylib",
        ),
    ),
)

# Directories searched for a URI's module-name (RFC 7512: name without "lib" and suffix).
_MODULE_DIRS: tuple[str, ...] = (
    "/usr/lib/x86_64-linux-gnu/pkcs11",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu/pkcs11",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64/pkcs11",
    "/usr/lib64",
    "/usr/lib/pkcs11",
    "/usr/lib/softhsm",
    "/usr/lib",
    "/opt/homebrew/lib",
    "/opt/homebrew/lib/pkcs11",
    "/opt/homebrew/lib/softhsm",
    "/usr/local/lib",
    "/usr/local/lib/pkcs11",
    "/usr/local/lib/softhsm",
    "/Library/OpenSC/lib",
)


def present_default_modules() -> list[tuple[str, str]]:
    """(what, path) of every known module present on this machine, in preference order."""
    out: list[tuple[str, str]] = []
    for what, paths in DEFAULT_MODULES:
        for path in paths:
            if os.path.isfile(path):
                out.append((what, path))
                break
    return out


def _by_name(name: str) -> str:
    candidates = [f"lib{name}.so", f"{name}.so", f"lib{name}.dylib", f"{name}.dylib"]
    for directory in _MODULE_DIRS:
        for candidate in candidates:
            path = os.path.join(directory, candidate)
            if os.path.isfile(path):
                return path
    raise ModuleLoadError(
        f"The PKCS#11 URI asks for module-name={name}, but no such module was found "
        f"(looked for {', '.join(candidates)} in the usual library directories).",
        hint="Give the module's full path with --module.",
    )


def _checked(path: str, source: str) -> str:
    if not os.path.isfile(path):
        raise ModuleLoadError(
            f"The PKCS#11 module {path} (from {source}) does not exist.",
            hint="Check the path; the vendor package (softhsm2, opensc, ykcs11, yubihsm2-sdk) "
            "installs the module.",
        )
    return str(Path(path))


def find_module(uri: Pkcs11Uri | None, module: str | None) -> str:
    """The module path to use. ModuleLoadError if none is given and none is installed."""
    if module:
        return _checked(module, "--module")
    if uri is not None and uri.module_path:
        return _checked(uri.module_path, "the URI's module-path")
    if uri is not None and uri.module_name:
        return _by_name(uri.module_name)
    env = os.environ.get(ENV_MODULE)
    if env:
        return _checked(env, f"the environment variable {ENV_MODULE}")
    present = present_default_modules()
    if present:
        return present[0][1]
    known = ", ".join(what for what, _ in DEFAULT_MODULES)
    raise ModuleLoadError(
        f"No PKCS#11 module was given and none of the known ones ({known}) is installed.",
        hint=f"Install the token's module, or give its path with --module or {ENV_MODULE}.",
    )
