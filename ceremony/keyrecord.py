"""The old name of `ceremony.keys` (renamed with the module layout, ADR 0006).

Scripts written against it (the shared reproduction cases of issue 9, bench/ prototypes)
import `content_keyid` and `public_identity` from here; new code imports `ceremony.keys`
(where `public_identity` is `key_identity`).
"""

from ceremony.keys import content_keyid as content_keyid
from ceremony.keys import public_identity as public_identity

__all__ = ["content_keyid", "public_identity"]
