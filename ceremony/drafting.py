"""Build unsigned drafts from the plan, the enrolled keys and the previous root, and the
`Draft` value every command reads.

python-tuf's Metadata API is the model; this module only decides what goes in it: root,
targets (no targets of its own, the plan's delegations) and delegated roles such as PEP
458's bins (their hash bins, named and split as python-tuf's `SuccinctRoles` does).

Pure: takes values (plan, keys, previous root, the time), returns `Metadata` objects and
bytes. Reading and writing draft files is `store.drafts`' job.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Key,
    Metadata,
    Role,
    Root,
    SuccinctRoles,
    Targets,
)

from ceremony import digest as digests
from ceremony.clock import iso
from ceremony.delegations import (
    bin_names,
    bin_prefixes,
    bit_length,
    delegation_spec,
    draftable_text,
    online_bin_owner,
    plan_problems,
)
from ceremony.errors import InputError, PlanError, StoreError
from ceremony.keys import EnrolledKey
from ceremony.plan import TOP_LEVEL_ROLES, DelegationSpec, Plan


class Draft:
    """A frozen draft: the JSON text of its signed part, the payload every key signs (its
    canonical bytes), the digest, and (parsed on demand) the python-tuf metadata."""

    def __init__(
        self,
        role: str,
        text: bytes,
        payload: bytes,
        digest: str,
        drafted_at: dt.datetime,
        inputs: str | None = None,
        metadata: Metadata[Any] | None = None,
        version: int | None = None,
        expires: str | None = None,
    ) -> None:
        self.role = role
        self.text = text
        self.payload = payload
        self.digest = digest
        self.drafted_at = drafted_at
        self.inputs = inputs  # fingerprint of what it was drafted from (see draft_inputs)
        self._metadata = metadata
        self._version = version
        self._expires = expires
        self._derived: tuple[bytes, dict[str, Any]] | None = None

    def adopt(self, text: bytes, signed: dict[str, Any]) -> None:
        """The plan re-derived this draft's content: `text` (`digest.json_text(signed)`) is
        byte for byte the draft's text, and `signed` that content as a dict. The one parse
        for display then consumes `signed` instead of parsing 3 MB of JSON again, and the
        canonical check is the comparison already made (`check_canonical`)."""
        if text == self.text and self._metadata is None:
            self._derived = (text, signed)

    @property
    def expires(self) -> str:
        """The draft's expiry, ISO 8601 UTC (recorded at drafting)."""
        if self._expires is None:
            self._expires = iso(self.metadata.signed.expires)
        return self._expires

    @property
    def version(self) -> int:
        """The draft's version (recorded at drafting; no need to parse the payload)."""
        if self._version is None:
            self._version = int(self.metadata.signed.version)
        return self._version

    @property
    def derived_content(self) -> dict[str, Any] | None:
        """The signed dict the plan re-derived for this draft (`adopt`), while no parse has
        consumed it, when `payload` is exactly its canonical form (the text needs no escape
        and holds no float: `digest.is_canonical_text`); else None."""
        if self._derived is None or not self._derived[1]:
            return None
        if self.payload != self.text or not digests.is_canonical_text(self.text):
            return None
        return self._derived[1]

    @property
    def metadata(self) -> Metadata[Any]:
        """The python-tuf metadata of the draft, parsed once (from the re-derived content
        when the plan re-derived it, else from the text)."""
        if self._metadata is None:
            signed = self._derived[1] if self._derived is not None else json.loads(self.text)
            self._metadata = Metadata.from_dict({"signatures": [], "signed": signed})
            if self._derived is not None:  # python-tuf's parser consumed the dict
                self._derived = (self._derived[0], {})
        return self._metadata

    def check_canonical(self, where: str) -> None:
        """Refuse a draft whose payload is not exactly the canonical form of its content
        (a hand-edited file), before anything is signed; keeps the parse for display.

        When the plan re-derived the draft (`adopt`), the text IS `json_text` of the plan's
        content (compared byte for byte), so the payload is canonical when it equals that text
        and the text needs no escape and holds no float (`digest.is_canonical_text`, the
        canonical encoder's own rule): no second parse of 3 MB.
        """
        if (
            self._derived is not None
            and self._derived[0] == self.text
            and self.payload == self.text
            and digests.is_canonical_text(self.text)
        ):
            return
        try:
            parsed = digests.parse_metadata_json(self.text)
            fast = digests.json_text(parsed)
            again = fast if b"\\" not in fast else digests.canonical_bytes(parsed)
        except (ValueError, TypeError) as exc:
            raise StoreError(f"{where} does not hold valid metadata JSON ({exc}).") from None
        if again != self.payload:
            raise StoreError(
                f"{where} is not in canonical form: it was edited after drafting. Do not sign "
                "it; take the ceremony directory again from a trusted copy."
            )
        if self._metadata is None:  # parse once: python-tuf's parser consumes this dict
            try:
                self._metadata = Metadata.from_dict({"signatures": [], "signed": parsed})
            except (ValueError, KeyError, TypeError) as exc:
                raise StoreError(f"{where} is not valid TUF metadata ({exc}).") from None


def enrolled_keyids(
    names: Sequence[str], keys: Mapping[str, EnrolledKey], where: str, *, or_file: bool = True
) -> tuple[list[str], dict[str, Key]]:
    """The keyids of the keys `names` and a copy of each key object, in the plan's order.

    Raises PlanError naming `where` (the plan's YAML path) when a key is not enrolled yet;
    `or_file` adds "(or --public-key FILE)" to the advice (every role but root's).
    """
    keyids: list[str] = []
    found: dict[str, Key] = {}
    for name in names:
        enrolled = keys.get(name)
        if enrolled is None:
            also = " (or --public-key FILE)" if or_file else ""
            raise PlanError(
                f"{where}: key '{name}' is not enrolled yet; enrol it with "
                f"`ceremony enroll DIR {name} --uri ...`{also} before drafting."
            )
        keyids.append(enrolled.keyid)
        found[enrolled.keyid] = copy.deepcopy(enrolled.key)
    return keyids, found


def _targets_spec(plan: Plan) -> Sequence[DelegationSpec]:
    if plan.targets is None:
        raise InputError(
            "the plan has no `targets:` section, so there is no targets role to draft. Add one "
            "(expires, delegations) to ceremony.yaml and validate the plan."
        )
    return plan.targets.delegations


def draft_targets(
    plan: Plan, keys: Mapping[str, EnrolledKey], now: dt.datetime
) -> Metadata[Targets]:
    """The unsigned targets role: no targets of its own, the plan's delegations in order."""
    specs = _targets_spec(plan)
    assert plan.targets is not None
    problems = plan_problems(plan)
    if problems:
        raise PlanError("the plan's delegations clash:\n  - " + "\n  - ".join(problems))
    all_keys: dict[str, Key] = {}
    roles: dict[str, DelegatedRole] = {}
    for i, d in enumerate(specs):
        keyids, found = enrolled_keyids(d.keys, keys, f"targets.delegations[{i}].keys")
        all_keys.update(found)
        roles[d.name] = DelegatedRole(d.name, keyids, d.threshold, d.terminating, list(d.paths))
    targets = Targets(
        version=plan.targets.version or 1,
        expires=plan.targets.expires.resolve(now),
        targets={},
        delegations=Delegations(all_keys, roles) if roles else None,
    )
    return Metadata(targets, signatures={})


def delegated_signed(
    plan: Plan, role: str, keys: Mapping[str, EnrolledKey], now: dt.datetime
) -> dict[str, Any]:
    """The `signed` dict of the delegated role `role` (e.g. bins), as python-tuf writes it.

    16,384 bins: python-tuf makes the first bin's dict (so the format is python-tuf's own)
    and the others are copies with their name and prefixes; building 16,384 validated
    DelegatedRole objects only to compare a draft with the plan would take 0.2 s more.
    """
    specs = _targets_spec(plan)
    spec = next((d for d in specs if d.name == role), None)
    if spec is None:
        raise InputError(f"'{role}' is not a role of the plan; {draftable_text(plan)}")
    i = list(specs).index(spec)
    delegations = None
    bins: list[tuple[str, list[str]]] = []
    if spec.hash_bins is not None:
        hb = spec.hash_bins
        keyids, found = enrolled_keyids(hb.keys, keys, f"targets.delegations[{i}].hash_bins.keys")
        if hb.succinct:
            delegations = Delegations(
                found,
                roles=None,
                succinct_roles=SuccinctRoles(keyids, hb.threshold, bit_length(hb.count), hb.prefix),
            )
        else:
            bins = list(zip(bin_names(hb.prefix, hb.count), bin_prefixes(hb.count), strict=True))
            name, prefixes = bins[0]
            first = DelegatedRole(name, keyids, hb.threshold, False, path_hash_prefixes=prefixes)
            delegations = Delegations(found, {name: first})
    md = Targets(
        version=spec.version or 1,
        expires=spec.expires.resolve(now),
        targets={},
        delegations=delegations,
    )
    signed = md.to_dict()
    if bins:
        template = signed["delegations"]["roles"][0]
        signed["delegations"]["roles"] = [
            {**template, "name": name, "path_hash_prefixes": prefixes} for name, prefixes in bins
        ]
    return signed


def draft_delegated(
    plan: Plan, role: str, keys: Mapping[str, EnrolledKey], now: dt.datetime
) -> Metadata[Targets]:
    """The unsigned delegated role `role` (e.g. bins): its hash bins, if the plan has them.

    Made from `delegated_signed` by python-tuf's own parser, which validates every role.
    """
    signed = delegated_signed(plan, role, keys, now)
    return Metadata[Targets].from_dict({"signed": signed, "signatures": []})


# --- root ---------------------------------------------------------------------------------


def root_version(plan: Plan, previous: Root | None) -> int:
    if plan.root.version is not None:
        return plan.root.version
    return previous.version + 1 if previous is not None else 1


def draft_root(
    plan: Plan,
    keys: Mapping[str, EnrolledKey],
    previous: Metadata[Root] | None,
    now: dt.datetime,
) -> Metadata[Root]:
    """The unsigned root the plan describes.

    For a rotation, the previous root's signed part is the starting point, so fields this
    tool does not know about survive (TUF spec: implementers preserve unrecognized fields):
    at the top level, in each role (e.g. tuf-on-ci's `x-tuf-on-ci-expiry-period`), and in
    each key object (the enrolled key is the previous root's own object). Its keys and its
    roles' keyids and thresholds are replaced by the plan's.
    """
    kept_fields: dict[str, dict[str, Any]] = {}
    if previous is not None:
        root = copy.deepcopy(previous.signed)
        kept_fields = {name: r.unrecognized_fields for name, r in root.roles.items()}
        root.keys = {}
        root.roles = {}
    else:
        root = Root()
        root.keys = {}
        root.roles = {}
    root.version = root_version(plan, previous.signed if previous else None)
    root.expires = plan.root.expires.resolve(now)
    root.consistent_snapshot = plan.root.consistent_snapshot
    for role_name in TOP_LEVEL_ROLES:
        spec = plan.roles[role_name]
        keyids, found = enrolled_keyids(spec.keys, keys, f"roles.{role_name}.keys", or_file=False)
        root.keys.update(found)
        root.roles[role_name] = Role(keyids, spec.threshold, kept_fields.get(role_name))
    return Metadata(root, signatures={})


# --- the role dispatch ------------------------------------------------------------------


def build(
    plan: Plan,
    keys: Mapping[str, EnrolledKey],
    previous: Metadata[Root] | None,
    role: str,
    now: dt.datetime,
) -> Metadata[Any]:
    """The unsigned draft of `role` (root, targets or a delegated role of the plan).

    Raises InputError for an online hash bin (signed by the repository, not here) or a
    role the plan does not draft; PlanError when a key it names is not enrolled.
    """
    if role == "root":
        return draft_root(plan, keys, previous, now)
    if role == "targets":
        return draft_targets(plan, keys, now)
    if delegation_spec(plan, role) is not None:
        return draft_delegated(plan, role, keys, now)
    owner = online_bin_owner(plan, role)
    if owner is not None:
        raise InputError(
            f"'{role}' is one of the hash bins of '{owner.name}': bin-n roles are signed ONLINE "
            f"by the repository with the online key, not in the ceremony. Draft '{owner.name}' "
            "instead."
        )
    raise InputError(f"'{role}' is not a role this ceremony can draft; {draftable_text(plan)}")


def is_delegated(plan: Plan, role: str) -> bool:
    """A delegated role of the plan's targets (e.g. bins), drafted from its signed dict."""
    return role not in ("root", "targets") and delegation_spec(plan, role) is not None


def payload_of(md: Metadata[Any]) -> bytes:
    """The canonical bytes of a draft's signed part: what every key signs."""
    return digests.canonical_bytes(md.signed.to_dict())


def expected_draft(
    plan: Plan,
    keys: Mapping[str, EnrolledKey],
    previous: Metadata[Root] | None,
    role: str,
    drafted_at: dt.datetime,
) -> tuple[bytes, bytes | None, dict[str, Any] | None]:
    """What the plan and keys say `role` drafted at `drafted_at` is: the bytes it must sign,
    and for a delegated role (16,384 hash bins) also its JSON text (`digest.json_text`) and
    its signed dict, so that the caller can compare bytes and keep the content."""
    if is_delegated(plan, role):
        signed = delegated_signed(plan, role, keys, drafted_at)
        text = digests.json_text(signed)
        return digests.canonical_from_json(text), text, signed
    return payload_of(build(plan, keys, previous, role, drafted_at)), None, None


def expected_payload(
    plan: Plan,
    keys: Mapping[str, EnrolledKey],
    previous: Metadata[Root] | None,
    role: str,
    drafted_at: dt.datetime,
) -> bytes:
    """The bytes the plan and keys say `role` drafted at `drafted_at` must sign."""
    return expected_draft(plan, keys, previous, role, drafted_at)[0]


def new_draft(
    plan: Plan,
    keys: Mapping[str, EnrolledKey],
    previous: Metadata[Root] | None,
    role: str,
    now: dt.datetime,
) -> tuple[bytes, Metadata[Any]]:
    """A new draft of `role`: the JSON text of its signed part (`digest.json_text`) and its
    python-tuf metadata. A delegated role (16,384 hash bins) goes straight from its signed
    dict to canonical bytes, then python-tuf's parser (which validates every role)
    consumes that same dict."""
    if is_delegated(plan, role):
        signed = delegated_signed(plan, role, keys, now)
        text = digests.json_text(signed)
        md: Metadata[Any] = Metadata.from_dict({"signatures": [], "signed": signed})
        return text, md
    md = build(plan, keys, previous, role, now)
    return digests.json_text(md.signed.to_dict()), md
