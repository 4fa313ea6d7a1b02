"""Baseline for `ceremony verify`: a plain python-tuf loop doing what a TUF client does.

For each root file in the order given (version order): read it, parse it with python-tuf
(`Metadata.from_bytes`), compute its signed bytes once (`Metadata.signed_bytes`, i.e.
securesystemslib's canonical JSON), check that the version is the previous one + 1, then
`verify_delegate("root", ...)` by the previous root and by itself (TUF spec 5.3.4-5.3.5,
what `TrustedMetadataSet.update_root` does, without importing the ngclient and its HTTP
stack). Prints one line at the end. Exit 1 with a message on the first broken link.

Usage: python bench/baseline_verify.py 1.root.json 2.root.json ...
Not a test; used by bench/run.py.
"""

from __future__ import annotations

import sys


def main(paths: list[str]) -> int:
    from tuf.api.exceptions import UnsignedMetadataError
    from tuf.api.metadata import Metadata, Root

    prev: Root | None = None
    for path in paths:
        with open(path, "rb") as f:
            md = Metadata[Root].from_bytes(f.read())
        payload = md.signed_bytes
        try:
            if prev is not None:
                if md.signed.version != prev.version + 1:
                    print(f"FAIL {path}: version {md.signed.version} after {prev.version}")
                    return 1
                prev.verify_delegate("root", payload, md.signatures)
            md.signed.verify_delegate("root", payload, md.signatures)
        except UnsignedMetadataError as exc:
            print(f"FAIL {path}: {exc}")
            return 1
        prev = md.signed
    print(f"valid up to root version {prev.version if prev else '-'} ({len(paths)} roots checked)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
