"""The old name of `ceremony.keys` (renamed by ADR 0006), kept for scripts that still import
from it: the shared cases 01, 05 and 14 (`../shared/cases/`, outside this repository)
build their inputs with `content_keyid`."""

from ceremony.keys import content_keyid, public_identity

__all__ = ["content_keyid", "public_identity"]
