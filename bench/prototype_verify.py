"""PROTOTYPE of the planned `ceremony verify` walk, to measure the plan (docs/performance.md).

Not product code, and not a replacement for ceremony/chain.py: it does the same checks as
`verify_chain` in the planned shape, so that the plan's effect on CPU is measured before the
refactor lands. Per root file: read; `json.loads` once; canonical bytes of `signed` once
(`ceremony.digest.canonical_bytes`, before python-tuf's `from_dict` consumes the dict);
`Metadata.from_dict`; the keys swapped for keys that remember each (key material, signature,
SHA-256 of payload) they verified; ONE `Root.get_root_verification_result(prev, ...)` per
link (both thresholds: what `TrustedMetadataSet.update_root` checks, without importing the
ngclient and its HTTP stack), the same result reused for the double-counted-key check and
the step's line; keyid warnings and key identities computed once per distinct key; one
summary line.

    python bench/prototype_verify.py [--cli typer|typer+rich|none] FILE...

`--cli` imports what a CLI framework would (typer's run-time pydantic adapters included) to
show what start-up costs. Prints the summary line and the verification counts. Not a test.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    cli = "none"
    if argv and argv[0] == "--cli":
        cli, argv = argv[1], argv[2:]
    if "typer" in cli:
        import typer
        import typer._adapters  # noqa: F401  (pydantic: what typer 0.29 loads to parse argv)
    if "rich" in cli:
        import rich.console
        import rich.table  # noqa: F401

    import hashlib
    import json

    from securesystemslib.signer import SSlibKey
    from tuf.api.metadata import Metadata, Root

    from ceremony.digest import canonical_bytes
    from ceremony.keys import content_keyid
    from ceremony.keys import key_identity as public_identity

    verified: dict[tuple[str, str, str, str, str], BaseException | None] = {}
    counts = {"crypto": 0, "lookups": 0}

    class CachedKey(SSlibKey):
        def verify_signature(self, signature, data):  # type: ignore[no-untyped-def]
            counts["lookups"] += 1
            pub = str(self.keyval.get("public", ""))
            k = (self.keytype, self.scheme, pub, signature.signature,
                 hashlib.sha256(data).hexdigest())  # fmt: skip
            if k not in verified:
                counts["crypto"] += 1
                try:
                    SSlibKey.verify_signature(self, signature, data)
                    verified[k] = None
                except Exception as exc:  # noqa: BLE001 - cached and re-raised as is
                    verified[k] = exc
            err = verified[k]
            if err is not None:
                raise err

    cached_keys: dict[tuple[str, str, str, str], CachedKey] = {}
    keyid_ok: dict[tuple[str, str, str, str], bool] = {}

    def load(path: str) -> tuple[Metadata[Root], bytes]:
        with open(path, "rb") as f:
            d = json.loads(f.read())
        payload = canonical_bytes(d["signed"])  # once per file, before from_dict consumes d
        md = Metadata[Root].from_dict(d)
        for kid, key in list(md.signed.keys.items()):
            ident = (kid, key.keytype, key.scheme, str(key.keyval.get("public", "")))
            ck = cached_keys.get(ident)
            if ck is None:
                ck = CachedKey(kid, key.keytype, key.scheme, dict(key.keyval),
                               dict(key.unrecognized_fields))  # fmt: skip
                cached_keys[ident] = ck
                keyid_ok[ident] = content_keyid(key.to_dict()) == kid
            md.signed.keys[kid] = ck
        return md, payload

    identity: dict[int, tuple[str, str, str]] = {}  # id(CachedKey) -> public_identity

    def ident(key: SSlibKey) -> tuple[str, str, str]:
        found = identity.get(id(key))
        if found is None:
            found = identity[id(key)] = public_identity(key)
        return found

    def double_counted(results: list[object]) -> bool:
        for r in results:
            idents = {ident(k) for k in r.signed.values()}  # type: ignore[attr-defined]
            if len(idents) < r.threshold:  # type: ignore[attr-defined]
                return True
        return False

    files = sorted(((load(p), p) for p in argv), key=lambda t: t[0][0].signed.version)
    (anchor, apayload), apath = files[0]
    own = anchor.signed.get_verification_result("root", apayload, anchor.signatures)
    if not own.verified or double_counted([own]):
        print(f"FAIL {apath}")
        return 1
    prev = anchor.signed
    lines = []
    for (md, payload), path in files[1:]:
        if md.signed.version != prev.version + 1:
            print(f"FAIL {path}: version")
            return 1
        res = md.signed.get_root_verification_result(prev, payload, md.signatures)
        if not res.verified or double_counted([res.first, res.second]):
            print(f"FAIL {path}")
            return 1
        lines.append(
            f"ok   {path}: version {prev.version} -> {md.signed.version}: previous root "
            f"{len(res.first.signed)}/{res.first.threshold}, new root "
            f"{len(res.second.signed)}/{res.second.threshold}"
        )  # kept for --verbose; not printed
        prev = md.signed
    bad = sum(1 for ok in keyid_ok.values() if not ok)
    print(f"The chain is valid up to root version {prev.version} ({len(files)} roots checked).")
    print(f"crypto verifications {counts['crypto']}, key lookups {counts['lookups']}, "
          f"distinct keys {len(cached_keys)}, keyid warnings {bad}", file=sys.stderr)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
