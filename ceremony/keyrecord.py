"""The old name of `ceremony.keys` (renamed with the module layout, ADR 0006).

Scripts written against it (the shared reproduction cases of issue 9 among them) import
`content_keyid` from here; new code imports `ceremony.keys`.
"""

from ceremony.keys import content_keyid as content_keyid

__all__ = ["content_keyid"]
