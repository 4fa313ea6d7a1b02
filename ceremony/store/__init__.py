"""The ceremony directory and the formats of the files in it.

- `directory`: the layout, safe paths and reads, writes, the lock (`CeremonyDir`);
- `drafts`: the draft file format (`drafts/ROLE.json` and its meta file);
- `records`: enrolled keys (`keys/NAME.json`) and signatures (`signatures/ROLE/KEYID.json`).

Each format is parsed in one place. Nothing here prompts or prints.
"""

from ceremony.store.directory import (
    LOCK_FILE,
    MAX_JSON_BYTES,
    PLAN_FILE,
    CeremonyDir,
    check_name,
)

__all__ = ["LOCK_FILE", "MAX_JSON_BYTES", "PLAN_FILE", "CeremonyDir", "check_name"]
