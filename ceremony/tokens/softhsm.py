"""SoftHSM2 set-up: a private configuration and token directory, tokens made by softhsm2-util.

Used by `ceremony rehearse --softhsm`, the tests and the benchmarks, so that none of them
touches the machine's own SoftHSM tokens. SoftHSM2 reads the configuration file named by
$SOFTHSM2_CONF when the module is initialised (C_Initialize), and keeps its tokens in the
file's `directories.tokendir` (softhsm2.conf(5)); a process that must see these tokens gets
SOFTHSM2_CONF in its environment (`SoftHsm2.env`). Tokens are initialised in the next free
slot with `softhsm2-util --init-token --free` (softhsm2-util(1)).

Pure set-up: no PKCS#11 import here (the module path is found, not loaded).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ceremony.errors import TokenError
from ceremony.tokens.modules import DEFAULT_MODULES

CONF_ENV = "SOFTHSM2_CONF"
UTIL = "softhsm2-util"
# Where Debian/Ubuntu, Fedora and macOS put libsofthsm2.so (the SoftHSM2 row of DEFAULT_MODULES).
MODULE_PATHS: tuple[str, ...] = next(paths for what, paths in DEFAULT_MODULES if what == "SoftHSM2")


def softhsm_module(explicit: str | None = None) -> str | None:
    """The path of libsofthsm2.so: `explicit` if that file exists, else the first of
    MODULE_PATHS that exists; None if SoftHSM2's module is not installed."""
    if explicit and os.path.isfile(explicit):
        return explicit
    return next((p for p in MODULE_PATHS if Path(p).exists()), None)


def missing(module: str | None = None) -> str | None:
    """What of SoftHSM2 is not installed, as a sentence, or None if it is all there."""
    if softhsm_module(module) is None:
        return "SoftHSM2 is not installed (no libsofthsm2.so; apt-get install softhsm2)"
    if shutil.which(UTIL) is None:
        return f"{UTIL} is not on PATH (apt-get install softhsm2)"
    return None


@dataclass(frozen=True)
class SoftHsm2:
    """A private SoftHSM2: DIRECTORY/softhsm2.conf, tokens in DIRECTORY/tokens."""

    module: str  # path of libsofthsm2.so
    util: str  # path of softhsm2-util
    directory: Path

    @property
    def conf(self) -> Path:
        """The configuration file; SOFTHSM2_CONF must name it."""
        return self.directory / "softhsm2.conf"

    @property
    def tokens_dir(self) -> Path:
        """The token directory (`directories.tokendir`)."""
        return self.directory / "tokens"

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """`base` (default: this process's environment) with SOFTHSM2_CONF set to `conf`."""
        return {**(os.environ if base is None else base), CONF_ENV: str(self.conf)}

    def init_token(
        self, label: str, *, pin: str, so_pin: str, env: Mapping[str, str] | None = None
    ) -> None:
        """Initialise a new token labelled `label` (at most 32 bytes) in the next free slot,
        with this user PIN and SO PIN (SoftHSM: 4 to 255 characters). `env` as for `env()`.

        Raises TokenError with softhsm2-util's own message when it fails.
        """
        result = subprocess.run(
            [
                self.util,
                "--init-token",
                "--free",
                "--label",
                label,
                "--so-pin",
                so_pin,
                "--pin",
                pin,
            ],
            env=self.env(env),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise TokenError(
                f"{UTIL} --init-token failed for the SoftHSM2 token '{label}' "
                f"(configuration {self.conf}): {(result.stderr or result.stdout).strip()}",
                hint="Check the label (at most 32 bytes), the PINs (4 to 255 characters) and "
                "that the directory is writable.",
            )


def set_up(directory: Path, *, module: str | None = None) -> SoftHsm2:
    """Make DIRECTORY/tokens and write DIRECTORY/softhsm2.conf (file object store, errors
    only in the log). `module`: a libsofthsm2.so to prefer (see softhsm_module).

    Raises TokenError if SoftHSM2 is not installed (see `missing`); nothing is written then.
    """
    why = missing(module)
    path, util = softhsm_module(module), shutil.which(UTIL)
    if why is not None or path is None or util is None:
        raise TokenError(f"{why}.", hint="Install SoftHSM2, or use another token.")
    hsm = SoftHsm2(path, util, directory)
    hsm.tokens_dir.mkdir(parents=True, exist_ok=True)
    hsm.conf.write_text(
        f"directories.tokendir = {hsm.tokens_dir}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    return hsm
