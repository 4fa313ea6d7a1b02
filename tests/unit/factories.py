"""Small builders shared by the unit tests: real keys, enrolled-key records, plans, roots.

Keys are real securesystemslib keys (CryptoSigner), generated once per name and cached,
so tests can refer to "root-a" and get the same key every time within a run.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable, Mapping, Sequence

from cryptography.hazmat.primitives.asymmetric import ec
from securesystemslib.signer import CryptoSigner, Key, SSlibKey
from tuf.api.metadata import Root

from ceremony.keys import SOURCE_PKCS11, EnrolledKey

NOW = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
ENROLLED_AT = "2025-12-01T10:00:00Z"


def signer(name: str, kind: str = "ed25519") -> CryptoSigner:
    """One private key per (name, kind), cached for the session."""
    return _signer(name, kind)


@functools.cache
def _signer(name: str, kind: str) -> CryptoSigner:
    if kind == "ed25519":
        return CryptoSigner.generate_ed25519()
    if kind == "ecdsa-p256":
        return CryptoSigner.generate_ecdsa()
    if kind == "ecdsa-p384":
        priv = ec.generate_private_key(ec.SECP384R1())
        return CryptoSigner(priv, SSlibKey.from_crypto(priv.public_key()))
    raise ValueError(kind)


def key(name: str, kind: str = "ed25519") -> SSlibKey:
    k = signer(name, kind).public_key
    assert isinstance(k, SSlibKey)
    return k


def same_key_other_keyid(k: Key, keyid: str | None = None) -> SSlibKey:
    """The same public key under another keyid (as a root made by another tool may list it)."""
    d = k.to_dict()
    other = keyid or ("f" * 48 + k.keyid[:16])
    assert other != k.keyid
    return SSlibKey.from_dict(other, d)


def enrolled(
    name: str,
    k: Key | None = None,
    *,
    source: str = SOURCE_PKCS11,
    **kw: object,
) -> EnrolledKey:
    return EnrolledKey(
        name=name,
        key=k if k is not None else key(name),
        source=source,
        enrolled_at=ENROLLED_AT,
        **kw,  # type: ignore[arg-type]
    )


def _flow(value: object) -> str:
    """A YAML flow value (JSON is valid YAML flow syntax)."""
    return json.dumps(value)


def plan_yaml(
    roles: Mapping[str, tuple[int, Sequence[str]]],
    keys: Mapping[str, Mapping[str, object]] | None = None,
    *,
    previous: tuple[str, str] | None = None,
    version: int | None = None,
    expires: str = "365d",
    rehearsal: bool = False,
    policy: Mapping[str, object] | None = None,
    holders: Mapping[str, str] | None = None,
) -> str:
    """A ceremony.yaml text. Keys used by roles and not in `keys` get a holder from the name."""
    all_keys: dict[str, dict[str, object]] = {}
    for _, names in roles.values():
        for n in names:
            all_keys.setdefault(n, {})
    for n, spec in (keys or {}).items():
        all_keys.setdefault(n, {}).update(spec)
    lines = ["repository: example.org/test"]
    if previous is not None:
        lines.append(f"previous_root: {{path: {previous[0]}, sha256: {previous[1]}}}")
    lines.append("root:")
    if version is not None:
        lines.append(f"  version: {version}")
    lines.append(f"  expires: {expires}")
    lines.append("roles:")
    for role, (t, names) in roles.items():
        lines.append(f"  {role}: {{threshold: {t}, keys: {_flow(list(names))}}}")
    lines.append("keys:")
    for n, spec in all_keys.items():
        full = {"holder": (holders or {}).get(n, f"Holder of {n}"), **spec}
        lines.append(f"  {n}: {_flow(full)}")
    if rehearsal:
        lines.append("rehearsal: true")
    if policy is not None:
        lines.append(f"policy: {_flow(policy)}")
    return "\n".join(lines) + "\n"


def make_root(
    version: int,
    root_keys: Iterable[Key],
    threshold: int,
    *,
    online: Key | None = None,
    targets: Iterable[Key] | None = None,
    expires: dt.datetime = NOW + dt.timedelta(days=100),
) -> Root:
    """A python-tuf Root: the given root keys and threshold; targets/snapshot/timestamp keys."""
    root = Root(version=version, expires=expires, consistent_snapshot=True)
    for k in root_keys:
        root.add_key(k, "root")
    root.roles["root"].threshold = threshold
    for k in targets if targets is not None else [key("old-targets")]:
        root.add_key(k, "targets")
    online_key = online if online is not None else key("old-online")
    root.add_key(online_key, "snapshot")
    root.add_key(online_key, "timestamp")
    return root
