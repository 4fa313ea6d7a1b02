"""RSTUF (Repository Service for TUF) hand-off files: read them, and write them as RSTUF does.

Sources (line numbers as of these versions): the CLI repository-service-tuf 1.0.0b1 (PyPI;
identical at tag v1.0.0b1 and on main for these files), the API
repository-service-tuf-api 1.0.1, the worker repository-service-tuf-worker 1.0.2.
`docs/foreign-formats.md` has the field-by-field description.

- Bootstrap payload: written by `rstuf admin ceremony --out FILE` (default
  `ceremony-payload.json`, `cli/admin/ceremony.py:44,148-154`), read by `rstuf admin send
  bootstrap FILE` (`cli/admin/send/bootstrap.py:32-36`, POST /api/v1/bootstrap):
  `{"settings": {"roles": {"root": {"expiration": DAYS}, "timestamp": ..., "snapshot": ...,
  "targets": ..., "bins": {"expiration": DAYS, "number_of_delegated_bins": N} | null,
  "delegations": DELEGATIONS | null}}, "metadata": {"root": ROOT}, "timeout": SECONDS}`
  (dataclasses `cli/admin/helpers.py:195-240`, dumped by `json.dump(asdict(...), indent=2)`).
- Metadata-update payload: `rstuf admin metadata update --out FILE` (default
  `update-payload.json`, `cli/admin/metadata/update.py:41,179-182`), read by `rstuf admin send
  update FILE` (POST /api/v1/metadata): `{"metadata": {"root": ROOT}}`.
- Sign request: the response of GET /api/v1/metadata/sign, read by `rstuf admin metadata sign
  --in FILE` (`cli/admin/metadata/sign.py:111-114`, `helpers.py:1027-1045`):
  `{"data": {"metadata": {ROLE: MD, "trusted_root": MD?, "trusted_targets": MD?}}, "message": ...}`.
- Sign payload: `rstuf admin metadata sign --out FILE` (default `sign-payload.json`,
  `sign.py:41,178-181`), read by `rstuf admin send sign FILE` (POST /api/v1/metadata/sign):
  `{"signature": {"keyid": KEYID, "sig": HEX}, "role": ROLE}`, one signature per file.

Pure: bytes in, values out; values in, bytes out. Errors: `InputError` (exit 2) for a file or
a root RSTUF would refuse or alter; `VerificationFailed` / `ThresholdNotMet` (exit 1) for
signatures.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tuf.api.metadata import Delegations, Metadata, Root, Signature, Targets

from ceremony.errors import InputError
from ceremony.foreign._json import (
    MIB,
    load_json,
    positive_int,
    require_keys,
    require_object,
)
from ceremony.foreign.rstuf_rules import check_signatures, refuse, root_problems

KEY_NAME = "x-rstuf-key-name"  # cli/admin/helpers.py:82
ONLINE_KEY_URI = "x-rstuf-online-key-uri"  # cli/admin/helpers.py:81; worker signer.py:72
EXPIRE_POLICY = "x-rstuf-expire-policy"  # delegated roles' expiry in days, helpers.py:934

BOOTSTRAP_FILE = "ceremony-payload.json"
UPDATE_FILE = "update-payload.json"
SIGN_FILE = "sign-payload.json"

# `rstuf admin ceremony` defaults (cli/admin/helpers.py:87-94), in days; 256 bins.
DEFAULT_EXPIRY = {"root": 365, "timestamp": 1, "snapshot": 1, "targets": 365, "bins": 1}
DEFAULT_BINS = 256
DEFAULT_TIMEOUT = 300  # seconds, cli/admin/ceremony.py:62-65

MAX_PAYLOAD_BYTES = 64 * MIB
# API: custom delegated role names (repository_service_tuf_api/bootstrap.py:31,83-102)
DELEGATED_NAME = re.compile(r"[a-zA-Z0-9_-]+")


@dataclass(frozen=True)
class Bins:
    """Hash-bin delegation settings: bins' expiry in days, and 2..16384 bins (a power of 2)."""

    expiration: int
    number_of_delegated_bins: int

    def __post_init__(self) -> None:
        positive_int(self.expiration, what="bins expiration (days)")
        n = self.number_of_delegated_bins
        # API: 1 < n < 16385 (bootstrap.py:43-44); the worker takes log2 (repository.py:865)
        if isinstance(n, bool) or not isinstance(n, int) or n < 2 or n > 16384 or n & (n - 1):
            raise InputError(
                f"number_of_delegated_bins must be a power of 2 from 2 to 16384, found {n!r}."
            )


@dataclass(frozen=True)
class BootstrapSettings:
    """`settings.roles` of a bootstrap payload: expiry days of each role, and exactly one of
    hash `bins` or custom `delegations` (a python-tuf `Delegations` dict, kept as given)."""

    root_expiration: int = DEFAULT_EXPIRY["root"]
    timestamp_expiration: int = DEFAULT_EXPIRY["timestamp"]
    snapshot_expiration: int = DEFAULT_EXPIRY["snapshot"]
    targets_expiration: int = DEFAULT_EXPIRY["targets"]
    bins: Bins | None = Bins(DEFAULT_EXPIRY["bins"], DEFAULT_BINS)
    delegations: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        for role in ("root", "timestamp", "snapshot", "targets"):
            positive_int(getattr(self, f"{role}_expiration"), what=f"{role} expiration (days)")
        # API RolesData.validate_delegations (bootstrap.py:70-81)
        if (self.bins is None) == (self.delegations is None):
            raise InputError(
                "An RSTUF bootstrap needs exactly one of hash bins (`bins`) or custom "
                "delegations (`delegations`)."
            )
        if self.delegations is not None:
            _check_delegations(self.delegations)

    def to_dict(self) -> dict[str, Any]:
        """`settings` as `rstuf admin ceremony` writes it (field order of helpers.py:205-217)."""
        bins = None
        if self.bins is not None:
            bins = {
                "expiration": self.bins.expiration,
                "number_of_delegated_bins": self.bins.number_of_delegated_bins,
            }
        return {
            "roles": {
                "root": {"expiration": self.root_expiration},
                "timestamp": {"expiration": self.timestamp_expiration},
                "snapshot": {"expiration": self.snapshot_expiration},
                "targets": {"expiration": self.targets_expiration},
                "bins": bins,
                "delegations": copy.deepcopy(dict(self.delegations))
                if self.delegations is not None
                else None,
            }
        }


@dataclass(frozen=True)
class BootstrapPayload:
    """A parsed bootstrap payload. `timeout` is None when the file has none (API default 300)."""

    root: Metadata[Root]
    settings: BootstrapSettings
    timeout: int | None


@dataclass(frozen=True)
class SignRequest:
    """A parsed GET /api/v1/metadata/sign response: the roles pending signatures, and the
    trusted root / targets the API adds when they are needed to check them."""

    pending: Mapping[str, Metadata[Any]]
    trusted_root: Metadata[Root] | None
    trusted_targets: Metadata[Targets] | None


@dataclass(frozen=True)
class SignPayload:
    """One signature for one pending role, as `rstuf admin send sign` posts it."""

    role: str
    signature: Signature


def _dump(value: Mapping[str, Any]) -> bytes:
    """JSON as RSTUF's CLI writes it: `json.dump(..., indent=2)` (ASCII, insertion order, no
    final newline), so a payload read and written again is the same bytes."""
    return json.dumps(value, indent=2).encode("ascii")


def _check_delegations(delegations: Mapping[str, Any]) -> None:
    """Custom delegations as the API accepts them (bootstrap.py:83-102, common_models.py:67-91)."""
    try:
        parsed = Delegations.from_dict(copy.deepcopy(dict(delegations)))
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(f"settings.roles.delegations is not TUF delegations: {e}.") from None
    for name, role in (parsed.roles or {}).items():
        if not DELEGATED_NAME.fullmatch(name):
            raise InputError(
                f"RSTUF refuses the delegated role name {name!r}: only a-z, A-Z, 0-9, - and _."
            )
        if not role.paths or any(p == "" for p in role.paths):
            raise InputError(f"delegated role {name!r} needs non-empty `paths` for RSTUF.")


def parse_metadata(value: Any, *, what: str, role_type: str | None = None) -> Metadata[Any]:
    """A metadata dict (`{"signatures": [...], "signed": {...}}`) as python-tuf `Metadata`.

    Refuses (`InputError`) what python-tuf refuses, a `signed` python-tuf would not write back
    unchanged, and a role type other than `role_type` when given.
    """
    obj = require_object(value, what=what)
    try:
        md: Metadata[Any] = Metadata.from_dict(copy.deepcopy(obj))
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(f"{what} is not valid TUF metadata: {e}.") from None
    if role_type is not None and md.signed.type != role_type:
        raise InputError(f"{what} is {md.signed.type} metadata, not {role_type}.")
    if md.signed.to_dict() != obj["signed"]:
        raise InputError(f"{what}: python-tuf would not write its signed part back unchanged.")
    return md


def _parse_settings(value: Any) -> BootstrapSettings:
    settings = require_object(value, what="settings")
    require_keys(settings, what="settings", required={"roles"})
    roles = require_object(settings["roles"], what="settings.roles")
    top = {"root", "timestamp", "snapshot", "targets"}
    require_keys(roles, what="settings.roles", required=top, optional={"bins", "delegations"})
    days: dict[str, int] = {}
    for role in sorted(top):
        entry = require_object(roles[role], what=f"settings.roles.{role}")
        require_keys(entry, what=f"settings.roles.{role}", required={"expiration"})
        days[role] = positive_int(entry["expiration"], what=f"settings.roles.{role}.expiration")
    bins = None
    if roles.get("bins") is not None:
        entry = require_object(roles["bins"], what="settings.roles.bins")
        require_keys(
            entry, what="settings.roles.bins", required={"expiration", "number_of_delegated_bins"}
        )
        bins = Bins(entry["expiration"], entry["number_of_delegated_bins"])
    delegations = roles.get("delegations")
    if delegations is not None:
        delegations = require_object(delegations, what="settings.roles.delegations")
    return BootstrapSettings(
        days["root"], days["timestamp"], days["snapshot"], days["targets"], bins, delegations
    )


def parse_bootstrap_payload(data: bytes, *, source: str = BOOTSTRAP_FILE) -> BootstrapPayload:
    """Parse a bootstrap payload (the file `rstuf admin ceremony --out` writes).

    Returns the root (python-tuf `Metadata[Root]`, signatures as found), the settings and the
    timeout. Raises `InputError` for a malformed file, unknown fields, or a root RSTUF would
    refuse or alter (`rstuf_rules.root_problems`). Signatures are not verified here.
    """
    doc = require_object(load_json(data, source=source, limit=MAX_PAYLOAD_BYTES), what=source)
    require_keys(doc, what=source, required={"settings", "metadata"}, optional={"timeout"})
    timeout = doc.get("timeout")
    if timeout is not None:
        timeout = positive_int(timeout, what=f"{source} timeout (seconds)")
    settings = _parse_settings(doc["settings"])
    metadata = require_object(doc["metadata"], what=f"{source} metadata")
    require_keys(metadata, what=f"{source} metadata", required={"root"})
    root = parse_metadata(metadata["root"], what=f"{source} metadata.root", role_type="root")
    _refuse_problems(root, source=source)
    return BootstrapPayload(root, settings, timeout)


def _refuse_problems(root: Metadata[Root], *, source: str) -> None:
    refuse(root_problems(root.signed.to_dict()), source=source)


def bootstrap_payload_bytes(
    root: Metadata[Root],
    settings: BootstrapSettings,
    *,
    timeout: int | None = DEFAULT_TIMEOUT,
    allow_partial: bool = False,
) -> bytes:
    """The bootstrap payload for `root` (version 1), as `rstuf admin ceremony` writes it.

    Every signature must verify with a key of the root's `root` role (the worker refuses the
    whole bootstrap otherwise, worker `repository.py:1464-1472`), and there must be at least
    one. With `allow_partial=False` the threshold must be met; with True a partly signed root
    starts RSTUF's distributed asynchronous signing (the rest arrive as sign payloads).

    Raises `InputError` (a root RSTUF would refuse or alter, version != 1),
    `VerificationFailed` or `ThresholdNotMet`.
    """
    _refuse_problems(root, source="this root")
    if root.signed.version != 1:
        raise InputError(
            f"An RSTUF bootstrap starts a repository at root version 1; this root is version "
            f"{root.signed.version}. Hand a later version over as a metadata-update payload."
        )
    check_signatures(root, None, allow_partial=allow_partial)
    payload: dict[str, Any] = {"settings": settings.to_dict(), "metadata": {"root": root.to_dict()}}
    if timeout is not None:
        payload["timeout"] = positive_int(timeout, what="timeout (seconds)")
    return _dump(payload)


def parse_update_payload(data: bytes, *, source: str = UPDATE_FILE) -> Metadata[Root]:
    """Parse a metadata-update payload `{"metadata": {"root": ROOT}}` into the new root."""
    doc = require_object(load_json(data, source=source, limit=MAX_PAYLOAD_BYTES), what=source)
    require_keys(doc, what=source, required={"metadata"})
    metadata = require_object(doc["metadata"], what=f"{source} metadata")
    require_keys(metadata, what=f"{source} metadata", required={"root"})
    root: Metadata[Root] = parse_metadata(
        metadata["root"], what=f"{source} metadata.root", role_type="root"
    )
    _refuse_problems(root, source=source)
    return root


def update_payload_bytes(
    root: Metadata[Root], trusted_root: Metadata[Root], *, allow_partial: bool = False
) -> bytes:
    """The metadata-update payload for `root`, version `trusted_root`'s + 1.

    RSTUF's worker checks the new root against its trusted root (`repository.py:2054-2076`);
    the same checks run here first: every signature verifies with a key of either root, and
    (unless `allow_partial`) both thresholds are met. Raises `InputError`,
    `VerificationFailed` or `ThresholdNotMet`.
    """
    _refuse_problems(root, source="this root")
    expected = trusted_root.signed.version + 1
    if root.signed.version != expected:
        raise InputError(
            f"RSTUF's trusted root is version {trusted_root.signed.version}, so the update must "
            f"be version {expected}; this root is version {root.signed.version}."
        )
    check_signatures(root, trusted_root, allow_partial=allow_partial)
    return _dump({"metadata": {"root": root.to_dict()}})


def parse_sign_request(data: bytes, *, source: str) -> SignRequest:
    """Parse a GET /api/v1/metadata/sign response (what `rstuf admin metadata sign --in` reads).

    Pending roles must be root or targets metadata (CLI `helpers.py:1037-1043`); a pending root
    of version > 1 needs `trusted_root` (`sign.py:126-130`). Raises `InputError`.
    """
    doc = require_object(load_json(data, source=source, limit=MAX_PAYLOAD_BYTES), what=source)
    require_keys(doc, what=source, required={"data"}, optional={"message"})
    body = require_object(doc["data"], what=f"{source} data")
    require_keys(body, what=f"{source} data", required={"metadata"})
    roles = require_object(body["metadata"], what=f"{source} data.metadata")
    trusted_root = trusted_targets = None
    if roles.get("trusted_root") is not None:
        trusted_root = parse_metadata(roles["trusted_root"], what="trusted_root", role_type="root")
    if roles.get("trusted_targets") is not None:
        trusted_targets = parse_metadata(
            roles["trusted_targets"], what="trusted_targets", role_type="targets"
        )
    pending: dict[str, Metadata[Any]] = {}
    for name, value in roles.items():
        if name.startswith("trusted_"):
            continue
        md = parse_metadata(value, what=f"pending role {name!r}")
        if md.signed.type not in ("root", "targets"):
            raise InputError(
                f"pending role {name!r} is {md.signed.type}: RSTUF signs only root "
                "and targets metadata offline."
            )
        if md.signed.type == "root" and md.signed.version > 1 and trusted_root is None:
            raise InputError(
                f"{source} has root version {md.signed.version} pending but no "
                "trusted_root to check it against."
            )
        pending[name] = md
    if not pending:
        raise InputError(f"{source} has no metadata pending signatures.")
    return SignRequest(pending, trusted_root, trusted_targets)


def sign_payload_bytes(role: str, signature: Signature) -> bytes:
    """The sign payload for one signature, as `rstuf admin metadata sign --out` writes it."""
    if not role or not signature.signature:
        raise InputError("a sign payload needs a role and a non-empty signature.")
    return _dump({"signature": signature.to_dict(), "role": role})


def parse_sign_payload(data: bytes, *, source: str = SIGN_FILE) -> SignPayload:
    """Parse a sign payload `{"signature": {"keyid", "sig"}, "role": ROLE}`."""
    doc = require_object(load_json(data, source=source, limit=MIB), what=source)
    require_keys(doc, what=source, required={"signature", "role"})
    if not isinstance(doc["role"], str) or not doc["role"]:
        raise InputError(f'{source}: "role" must be a role name.')
    try:
        signature = Signature.from_dict(
            copy.deepcopy(require_object(doc["signature"], what="signature"))
        )
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(f"{source}: not a TUF signature: {e}.") from None
    if not signature.signature:
        raise InputError(f"{source}: the signature is empty.")
    return SignPayload(doc["role"], signature)
