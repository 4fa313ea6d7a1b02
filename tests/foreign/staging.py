"""Metadata staged the way other tools stage it, for the import tests.

- `python_tuf_stage`: what a python-tuf repository script stages with the Metadata API: a
  published root 3 and a root 4 with unrecognized fields at every level (metadata, signed,
  role, key), one signature already present and one empty placeholder, and a targets file
  delegated by root 4 (unrecognized fields in signed, delegations, delegated role and key).
- `tuf_on_ci_event`: the real tuf-on-ci signing event (tests/foreign/fixtures) re-staged
  with a key the test can sign with in @alice's place, exactly as tuf-on-ci would stage it.
- `rstuf_*`: RSTUF payloads written by `ceremony.foreign.rstuf` (byte-identical to what
  RSTUF's CLI writes, tests/foreign/test_rstuf.py) around keys the test controls.

Token keys are given as public keys (`SSlibKey`), so the same staging serves SoftHSM and the
software rehearsal token; "pre" and "cold" are software keys (`CryptoSigner`).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from securesystemslib.signer import CryptoSigner, Key, Signature, SSlibKey
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    Root,
    TargetFile,
    Targets,
)
from tuf.api.serialization.json import JSONSerializer

from ceremony.foreign import rstuf, tuf_on_ci
from tests.foreign.helpers import FIXTURES, with_keyid_of_content

TARGET = "example-1.0.tar.gz"
CONTENT = b"an example package, staged by a python-tuf script\n"
TOC_EVENT = FIXTURES / "tuf-on-ci-0.21.0" / "metadata"


def expiry(days: int = 300) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)


def annotated(key: Key, **fields: Any) -> Key:
    """A copy of `key` with extra fields; its keyid stays the one computed without them (as
    RSTUF and python-tuf scripts leave it)."""
    out = copy.deepcopy(key)
    out.unrecognized_fields.update(fields)
    return out


def private_pem(signer: CryptoSigner) -> bytes:
    return signer._private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def pretty(md: Metadata[Any]) -> bytes:
    return bytes(md.to_bytes(JSONSerializer(compact=False)))


@dataclass
class PythonTufStage:
    pre: CryptoSigner  # signed root 4 and targets already
    cold: CryptoSigner  # in cold storage: signs the payload outside the tool
    token: SSlibKey  # on a token
    online: CryptoSigner  # snapshot and timestamp
    previous: Metadata[Root]  # root 3, published, signed by pre and cold
    root: Metadata[Root]  # root 4, staged
    targets: Metadata[Targets]  # targets 1, staged, delegated by root 4

    def write(self, stick: Path) -> None:
        stick.mkdir(parents=True, exist_ok=True)
        (stick / "3.root.json").write_bytes(pretty(self.previous))
        (stick / "4.root.json").write_bytes(pretty(self.root))
        (stick / "targets.json").write_bytes(pretty(self.targets))


def _root(version: int, keys: dict[str, list[Key]], thresholds: dict[str, int]) -> Root:
    root = Root(version=version, expires=expiry(), consistent_snapshot=True)
    for role, role_keys in keys.items():
        for key in role_keys:
            root.add_key(key, role)
        root.roles[role].threshold = thresholds.get(role, 1)
    return root


def python_tuf_stage(token: SSlibKey, *, cold: CryptoSigner | None = None) -> PythonTufStage:
    """Root 3 (root: pre + cold, 2 of 2), root 4 (root: pre + cold + token, 3 of 3, with
    unrecognized fields everywhere, signed by pre, a placeholder for the token key) and
    targets 1 (offline role of pre + cold + token, 3 of 3; signed by pre, a placeholder for
    the token key; lists TARGET)."""
    pre = CryptoSigner.generate_ed25519()
    cold = cold or CryptoSigner.generate_ed25519()
    online = CryptoSigner.generate_ed25519()
    offline: list[Key] = [pre.public_key, cold.public_key, token]
    online_keys: dict[str, list[Key]] = {
        "snapshot": [online.public_key],
        "timestamp": [online.public_key],
    }
    v3 = _root(
        3, {"root": offline[:2], "targets": offline, **online_keys}, {"root": 2, "targets": 3}
    )
    previous = Metadata(v3)
    previous.sign(pre, append=True)
    previous.sign(cold, append=True)

    owners = {pre.public_key.keyid: "release manager", cold.public_key.keyid: "vault"}
    marked = [annotated(k, **{"x-acme-owner": owners.get(k.keyid, "hsm")}) for k in offline]
    v4 = _root(4, {"root": marked, "targets": marked, **online_keys}, {"root": 3, "targets": 3})
    v4.unrecognized_fields["x-acme-policy"] = {"reviewers": ["ops", "security"], "ticket": 4821}
    v4.roles["root"].unrecognized_fields["x-acme-expiry-period"] = 365
    v4.roles["timestamp"].unrecognized_fields["x-acme-online"] = True
    root = Metadata(v4, unrecognized_fields={"x-acme-staged-by": "release.py 2.1"})
    root.sign(pre, append=True)
    root.signatures[token.keyid] = Signature(token.keyid, "")

    other = CryptoSigner.generate_ed25519().public_key
    delegations = Delegations(
        {other.keyid: annotated(other, **{"x-acme-owner": "docs team"})},
        {
            "docs": DelegatedRole(
                "docs", [other.keyid], 1, True, ["docs/*"], unrecognized_fields={"x-acme-n": 1}
            )
        },
        unrecognized_fields={"x-acme-note": "docs are signed by their team"},
    )
    t = Targets(
        version=1,
        expires=expiry(200),
        targets={TARGET: TargetFile.from_data(TARGET, CONTENT, ["sha256"])},
        delegations=delegations,
        unrecognized_fields={"x-acme-release": "1.0"},
    )
    targets = Metadata(t, unrecognized_fields={"x-acme-staged-by": "release.py 2.1"})
    targets.sign(pre, append=True)
    targets.signatures[token.keyid] = Signature(token.keyid, "")
    return PythonTufStage(pre, cold, token, online, previous, root, targets)


def tuf_on_ci_event(alice: SSlibKey) -> dict[str, bytes]:
    """The real signing event (root.json, root_history/1.root.json, targets.json) with the
    throw-away key of @alice replaced by `alice`, annotated and keyed as tuf-on-ci does;
    relative path -> bytes as tuf-on-ci-sign writes them."""
    key = with_keyid_of_content(annotated(alice, **{tuf_on_ci.KEYOWNER: "@alice"}))
    out: dict[str, bytes] = {}
    for rel in ("root.json", "targets.json"):
        doc = json.loads((TOC_EVENT / rel).read_bytes())
        signed = doc["signed"]
        if "keys" in signed:
            old = next(k for k, v in signed["keys"].items() if tuf_on_ci.KEYOWNER in v)
            signed["keys"][key.keyid] = signed["keys"].pop(old) | key.to_dict()
            for role in signed["roles"].values():
                role["keyids"] = [key.keyid if k == old else k for k in role["keyids"]]
        doc["signatures"] = [{"keyid": key.keyid, "sig": ""}]
        out[rel] = tuf_on_ci.serialize(doc)
    out["root_history/1.root.json"] = out["root.json"]
    out[".signing-event-state"] = (TOC_EVENT / ".signing-event-state").read_bytes()
    return out


def rstuf_root(
    alice: CryptoSigner, bob: SSlibKey, online: CryptoSigner, *, version: int = 1
) -> Metadata[Root]:
    """A root as `rstuf admin ceremony` makes it (2 of 2: alice, bob), signed by alice."""
    root = Root(version=version, expires=expiry(365))
    for name, key in (("alice", alice.public_key), ("bob", bob)):
        root.add_key(annotated(key, **{rstuf.KEY_NAME: name}), "root")
    root.roles["root"].threshold = 2
    okey = annotated(
        online.public_key,
        **{rstuf.KEY_NAME: "online", rstuf.ONLINE_KEY_URI: f"fn:{online.public_key.keyid}"},
    )
    for role in ("timestamp", "snapshot", "targets"):
        root.add_key(okey, role)
    md = Metadata(root)
    md.sign(alice, append=True)
    return md


def rstuf_update(previous: Metadata[Root], alice: CryptoSigner) -> Metadata[Root]:
    """Root N+1 as `rstuf admin metadata update` stages it (new expiry), signed by alice."""
    new: Metadata[Root] = Metadata.from_dict(copy.deepcopy(previous.to_dict()))
    new.signed.version += 1
    new.signed.expires = expiry(400)
    new.signatures.clear()
    new.sign(alice, append=True)
    return new


def rstuf_sign_request(pending: Metadata[Root]) -> bytes:
    """GET /api/v1/metadata/sign's response for a pending root version 1 (API 1.0.1
    `get_metadata_sign`), as an administrator saves it for `rstuf admin metadata sign --in`."""
    body = {"data": {"metadata": {"root": pending.to_dict()}}, "message": "Metadata sign info"}
    return json.dumps(body, indent=2).encode()


def bootstrap_payload(root: Metadata[Root]) -> bytes:
    return rstuf.bootstrap_payload_bytes(root, rstuf.BootstrapSettings(), allow_partial=True)


def update_payload(root: Metadata[Root], trusted: Metadata[Root]) -> bytes:
    return rstuf.update_payload_bytes(root, trusted, allow_partial=True)
