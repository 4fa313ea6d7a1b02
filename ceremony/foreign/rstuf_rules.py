"""What RSTUF accepts in a root, and the signature checks its worker makes.

Sources: repository-service-tuf-api 1.0.1 `repository_service_tuf_api/common_models.py`
(pydantic models `TUFSigned`, `TUFKeys`, `TUFSignedRoles`, lines 100-169) and `bootstrap.py`
(lines 105-145); repository-service-tuf-worker 1.0.2 `repository_service_tuf_worker/
repository.py` and `signer.py`.

Why a root can be *changed* by RSTUF, not only refused: the API parses POST
/api/v1/metadata (metadata update) into its pydantic models and hands the worker
`payload.dict(by_alias=True, exclude_none=True)` (`metadata.py:42-47,85-92`). pydantic drops
fields a model does not declare, so the worker would receive a root without them and every
signature over the original would fail. Checked with pydantic 2 on the API's models: a key's
`x-tuf-on-ci-keyowner` or `keyid_hash_algorithms`, and a role's
`x-tuf-on-ci-expiry-period`, are dropped; a top-level `x-vendor-name` field is kept. The
bootstrap endpoint keeps the metadata as raw JSON since API 1.0.1 (commit 1daa6df, "preserve
canonical JSON", bootstrap.py:112-114); earlier APIs dropped the same fields there too. So the
rules below apply to both hand-offs.

Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tuf.api.metadata import Metadata, Root

from ceremony.errors import InputError, ThresholdNotMet, VerificationFailed

# TUFSigned's fields (common_models.py:138-147); anything else must be x-<vendor>-<name>.
SIGNED_FIELDS = frozenset(
    {
        "_type",
        "version",
        "spec_version",
        "expires",
        "keys",
        "consistent_snapshot",
        "roles",
        "meta",
        "targets",
        "delegations",
    }
)
# TUFKeys (common_models.py:100-115): other key fields are dropped.
KEY_FIELDS = frozenset(
    {"keytype", "scheme", "keyval", "name", "x-rstuf-key-name", "x-rstuf-online-key-uri"}
)
KEYVAL_FIELDS = frozenset({"public", "issuer", "identity"})
ROLE_FIELDS = frozenset({"keyids", "threshold"})  # TUFSignedRoles, common_models.py:128-130
ROLE_NAMES = frozenset({"root", "targets", "snapshot", "timestamp", "bins"})
ONLINE_ROLES = ("timestamp", "snapshot", "targets")
ONLINE_KEY_URI = "x-rstuf-online-key-uri"


def _vendor_field(name: str) -> bool:
    """The API's rule for unrecognized fields: `x-<vendor>-<name>` (bootstrap.py:134-144)."""
    return name.startswith("x-") and len(name.split("-")) >= 3


def root_problems(signed: Mapping[str, Any]) -> list[str]:
    """Every reason RSTUF would refuse or alter the root whose `signed` dict is `signed`.

    An empty list means RSTUF takes it unchanged. Each item is one sentence naming the field.
    """
    problems: list[str] = []
    for name in signed:
        if name not in SIGNED_FIELDS and not _vendor_field(name):
            problems.append(
                f"the field {name!r} is refused: RSTUF takes only x-<vendor>-<name> extra fields."
            )
    if signed.get("consistent_snapshot") is not True:
        problems.append(
            "consistent_snapshot must be true: RSTUF's worker always publishes "
            "VERSION.ROLE.json files (worker repository.py:372-391)."
        )
    keys: Mapping[str, Any] = signed.get("keys") or {}
    for keyid, key in keys.items():
        if not isinstance(key, Mapping):
            continue
        dropped = sorted(set(key) - KEY_FIELDS)
        if dropped:
            problems.append(
                f"key {keyid[:8]}…: RSTUF's API drops the field(s) {', '.join(dropped)}."
            )
        keyval = key.get("keyval")
        if isinstance(keyval, Mapping) and not set(keyval) <= KEYVAL_FIELDS:
            problems.append(f"key {keyid[:8]}…: RSTUF takes only public/issuer/identity in keyval.")
        for field in ("x-rstuf-key-name", ONLINE_KEY_URI):
            if field in key and not isinstance(key[field], str):
                problems.append(f"key {keyid[:8]}…: {field} must be a string.")
    roles: Mapping[str, Any] = signed.get("roles") or {}
    for role, entry in roles.items():
        if role not in ROLE_NAMES:
            problems.append(f"the role {role!r} is not one RSTUF knows.")
        if isinstance(entry, Mapping) and set(entry) - ROLE_FIELDS:
            problems.append(
                f"role {role}: RSTUF's API drops the field(s) "
                f"{', '.join(sorted(set(entry) - ROLE_FIELDS))}."
            )
    problems.extend(_online_key_problems(keys, roles))
    return problems


def _online_key_problems(keys: Mapping[str, Any], roles: Mapping[str, Any]) -> list[str]:
    """RSTUF signs timestamp, snapshot and targets with ONE online key, found as
    roles.timestamp.keyids[0] (worker repository.py:1410-1411) and loaded from its
    x-rstuf-online-key-uri (worker signer.py:119-133); the CLI sets it on all three roles with
    threshold 1 (cli helpers.py:660-691) and never lets a root key be the online key."""
    keyid_sets = []
    for role in ONLINE_ROLES:
        entry = roles.get(role)
        if not isinstance(entry, Mapping):
            return [f"the {role} role is missing."]
        keyids = entry.get("keyids")
        if not isinstance(keyids, list) or len(keyids) != 1 or entry.get("threshold") != 1:
            return [
                f"the {role} role must have exactly one key (RSTUF's online key) and threshold 1."
            ]
        keyid_sets.append(keyids[0])
    if len(set(keyid_sets)) != 1:
        return ["timestamp, snapshot and targets must share one online key."]
    online = keyid_sets[0]
    key = keys.get(online)
    problems = []
    if not isinstance(key, Mapping) or not isinstance(key.get(ONLINE_KEY_URI), str):
        problems.append(
            f"the online key {str(online)[:8]}… needs {ONLINE_KEY_URI} (for "
            "example fn:KEYID, awskms:..., gcpkms:...): RSTUF's worker finds its "
            "signer there."
        )
    root_entry = roles.get("root")
    if isinstance(root_entry, Mapping) and online in (root_entry.get("keyids") or []):
        problems.append("the online key must not also be a root key.")
    return problems


def check_signatures(
    root: Metadata[Root], trusted: Metadata[Root] | None, *, allow_partial: bool
) -> None:
    """The signature checks RSTUF's worker makes, made first (python-tuf's verification).

    Every signature must verify with a `root`-role key of `root` or of `trusted` (an empty
    `sig` placeholder does not: the bootstrap refuses the whole payload, worker
    repository.py:1464-1472); at least one must be there; unless `allow_partial`, both
    thresholds (`trusted`'s and `root`'s) must be met.
    Raises `VerificationFailed` or `ThresholdNotMet` (exit 1).
    """
    if not root.signatures:
        raise ThresholdNotMet("The root has no signature; RSTUF needs at least one.")
    result = root.signed.get_root_verification_result(
        trusted.signed if trusted is not None else None, root.signed_bytes, root.signatures
    )
    signers = set(result.first.signed) | set(result.second.signed)
    bad = [keyid for keyid in root.signatures if keyid not in signers]
    if bad:
        raise VerificationFailed(
            "RSTUF refuses a root with a signature that does not verify, and these do not: "
            + ", ".join(f"{k[:8]}…" for k in bad)
            + ". Export only the signatures that verify (placeholders are dropped)."
        )
    if not allow_partial and not result.verified:
        raise ThresholdNotMet(
            "The root's signature threshold(s) are not met: "
            f"{len(result.second.signed)} of {result.second.threshold} for this root"
            + (
                f", {len(result.first.signed)} of {result.first.threshold} for the trusted root"
                if trusted is not None
                else ""
            )
            + "."
        )


def refuse(problems: list[str], *, source: str) -> None:
    """Raise `InputError` listing `problems` (nothing if the list is empty)."""
    if problems:
        raise InputError(
            f"RSTUF would refuse or change the root in {source}: "
            + " ".join(f"({i}) {p}" for i, p in enumerate(problems, 1))
            + " Nothing was written."
        )
