"""The old name of `ceremony.keys` (renamed by ADR 0006), kept for scripts that import
`content_keyid` from it: the shared cases 01, 05 and 14 build their inputs with it."""

from ceremony.keys import content_keyid

__all__ = ["content_keyid"]
