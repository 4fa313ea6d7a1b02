"""Checks on sizes: CER-SIZE-BINS, CER-SIZE-ROOT (issue 9, rule 9).

A plan must not ask for metadata the tool (or a client) cannot read back. The limits are
the read limits of the code (`ceremony.files`), so every draft a plan allows can be
drafted, read and signed:

- a draft is read back (show, sign, status, export, draft again) up to
  `MAX_METADATA_BYTES` (64 MiB): a hash-bin delegation whose draft would be larger is
  refused here, with the largest bin count that fits;
- clients download a targets-type role only up to 5,000,000 bytes by default
  (python-tuf `UpdaterConfig.max_targets_length`, tuf-js `targetsMaxLength`, go-tuf
  `DefaultTargetsMaxLength`): above it, a warning naming the setting;
- a root is read (by `verify`, and by the next rotation's `init --previous-root`) up to
  `MAX_ROOT_BYTES` (512,000: clients' max root length): a root with more keys than the
  largest keys (RSA-4096) fit in is refused.

Pure: the plan and the enrolled keys in, results out. `bins_draft_bytes` is exact for
enrolled keys (tests/unit/test_sizes.py compares it with real drafts).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from ceremony.checks.base import ERROR, WARNING, CheckContext, CheckResult
from ceremony.delegations import suffix_len
from ceremony.files import MAX_METADATA_BYTES, MAX_ROOT_BYTES
from ceremony.keys import EnrolledKey
from ceremony.plan import HashBinsSpec, Plan

CLIENT_MAX_TARGETS_BYTES = 5_000_000  # python-tuf, tuf-js and go-tuf defaults
MAX_BIN_COUNT = 2**20  # the plan's own bound (plan.parse)
# The largest key object this tool enrols (RSA-4096 PEM in TUF JSON, with its \n escapes
# and a keyid) and the largest signature (RSA-4096: 1,024 hex digits), in the exported
# root's indented JSON, with room for a keyid in every role: the worst case per root key.
WORST_KEY_OBJECT_BYTES = 1_100
WORST_ROOT_BYTES_PER_KEY = WORST_KEY_OBJECT_BYTES + 2 * 1_200 + 4 * 72
ROOT_FIXED_BYTES = 4_096
MAX_ROOT_KEYS = (MAX_ROOT_BYTES - ROOT_FIXED_BYTES) // WORST_ROOT_BYTES_PER_KEY
_KEYID = "0" * 64


def _key_json_bytes(key: EnrolledKey | None) -> int:
    if key is None:
        return WORST_KEY_OBJECT_BYTES
    return len(json.dumps(key.key.to_dict(), sort_keys=True, separators=(",", ":")))


def bins_draft_bytes(
    hb: HashBinsSpec, keys: Mapping[str, EnrolledKey], version: int = 1, expires_len: int = 20
) -> int:
    """The size in bytes of the draft file of the role holding `hb`'s bins in the
    path_hash_prefixes form (`store.drafts`: compact JSON of the signed part): exact for
    enrolled keys, an upper bound (`WORST_KEY_OBJECT_BYTES` each) for the others."""
    if hb.succinct:
        return 0
    keyids = [keys[n].keyid if n in keys else _KEYID for n in hb.keys]
    digits = suffix_len(hb.count)  # every bin name and prefix has this many hex digits
    entry = {
        "keyids": keyids,
        "name": f"{hb.prefix}-{'0' * digits}",
        "path_hash_prefixes": ["0" * digits] * (16**digits // hb.count),
        "terminating": False,
        "threshold": hb.threshold,
    }
    entry_bytes = len(json.dumps(entry, sort_keys=True, separators=(",", ":")).encode())
    key_objects = {
        kid: _key_json_bytes(keys.get(n)) for n, kid in zip(hb.keys, keyids, strict=True)
    }
    keys_bytes = sum(len(kid) + 3 + size for kid, size in key_objects.items())
    keys_bytes += max(len(key_objects) - 1, 0)  # the commas between them
    head = (
        '{"signatures":[],"signed":{"_type":"targets","delegations":{"keys":{},"roles":[]},'
        '"expires":"","spec_version":"1.0.31","targets":{},"version":}}'
    )
    return (
        len(head)
        + expires_len
        + len(str(version))
        + keys_bytes
        + hb.count * entry_bytes
        + (hb.count - 1)
    )


def max_bin_count(hb: HashBinsSpec, keys: Mapping[str, EnrolledKey], limit: int) -> int:
    """The largest power-of-two count (>= 2) whose bins draft fits in `limit` bytes with
    `hb`'s keys, threshold and prefix (1 if none does)."""
    best, count = 1, 2
    while count <= MAX_BIN_COUNT:
        trial = HashBinsSpec(count, hb.prefix, hb.threshold, hb.keys, False)
        if bins_draft_bytes(trial, keys) > limit:
            break
        best, count = count, count * 2
    return best


def _hash_bins(plan: Plan) -> Sequence[tuple[int, str, HashBinsSpec]]:
    if plan.targets is None:
        return []
    return [
        (i, d.name, d.hash_bins)
        for i, d in enumerate(plan.targets.delegations)
        if d.hash_bins is not None and not d.hash_bins.succinct
    ]


def check_sizes(ctx: CheckContext) -> list[CheckResult]:
    plan, keys = ctx.plan, ctx.keys
    out: list[CheckResult] = []
    for i, role, hb in _hash_bins(plan):
        size = bins_draft_bytes(hb, keys)
        where = f"targets.delegations[{i}].hash_bins.count"
        if size > MAX_METADATA_BYTES:
            fit = max_bin_count(hb, keys, MAX_METADATA_BYTES)
            out.append(
                CheckResult(
                    "CER-SIZE-BINS",
                    ERROR,
                    f"{where}: {hb.count:,} bins make '{role}' about {size:,} bytes, more than the "
                    f"{MAX_METADATA_BYTES:,} bytes this tool reads back, so its draft could never "
                    f"be shown, signed or exported. With these keys at most {fit:,} bins fit; or "
                    "set `succinct: true` (one succinct_roles entry, TAP 15).",
                )
            )
        elif size > CLIENT_MAX_TARGETS_BYTES:
            out.append(
                CheckResult(
                    "CER-SIZE-BINS",
                    WARNING,
                    f"{where}: {hb.count:,} bins make '{role}' about {size:,} bytes. Clients "
                    f"download a targets-type role only up to {CLIENT_MAX_TARGETS_BYTES:,} bytes "
                    "by default (python-tuf max_targets_length, tuf-js targetsMaxLength, go-tuf): "
                    "every client must raise that limit, or use fewer bins or `succinct: true`.",
                )
            )
    root_keys = {n for r in plan.roles.values() for n in r.keys}
    if len(root_keys) > MAX_ROOT_KEYS:
        out.append(
            CheckResult(
                "CER-SIZE-ROOT",
                ERROR,
                f"the roles list {len(root_keys)} distinct keys; a root is read back (by `verify` "
                f"and the next rotation's `init`) only up to {MAX_ROOT_BYTES:,} bytes, as "
                f"clients' max root length, which holds at most {MAX_ROOT_KEYS} keys of the "
                "largest kind with their signatures. Use fewer keys.",
            )
        )
    return out
