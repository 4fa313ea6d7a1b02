"""Build unsigned drafts from the plan, the enrolled keys and the previous root.

python-tuf's Metadata API is the model; this module only decides what goes in it.

Pure: takes values (plan, keys, previous root, the time), returns `Metadata` objects.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping

from tuf.api.metadata import Metadata, Role, Root

from ceremony.errors import PlanError
from ceremony.keys import EnrolledKey
from ceremony.plan import TOP_LEVEL_ROLES, Plan


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

    For a rotation, the previous root's signed part is the starting point (so fields this
    tool does not know about survive); its keys and roles are replaced by the plan's.
    """
    if previous is not None:
        root = copy.deepcopy(previous.signed)
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
        keyids: list[str] = []
        for key_name in spec.keys:
            enrolled = keys.get(key_name)
            if enrolled is None:
                raise PlanError(
                    f"roles.{role_name}.keys: key '{key_name}' is not enrolled yet; enrol it with "
                    f"`ceremony enroll DIR {key_name} --uri ...` before drafting."
                )
            root.keys[enrolled.keyid] = copy.deepcopy(enrolled.key)
            keyids.append(enrolled.keyid)
        root.roles[role_name] = Role(keyids, spec.threshold)
    return Metadata(root, signatures={})
