"""Formats of other TUF tools, for co-signing metadata tuf-ceremony did not draft (issue 10).

Pure modules (bytes in, values out; values in, bytes out; no file or network access), used
by the services of `import`, `payload`, `add-signature` and `export --format`:

- `metadata_file`: plain TUF metadata files (python-tuf repository scripts, go-tuf, tuf-on-ci):
  strict parsing, the canonical bytes that are signed, placeholders, published file names.
- `signatures`: a signature made outside the tool (hex, base64, raw, JSON; ECDSA DER or r||s),
  decoded for securesystemslib and verified.
- `tuf_on_ci`: tuf-on-ci signing events (`x-tuf-on-ci-*` fields, placeholders, file layout).
- `rstuf`, `rstuf_rules`: RSTUF's bootstrap, metadata-update and sign payloads, and what RSTUF
  accepts in a root.
- `names`: readable plan names for imported keys.
- `sources`: one imported file, whatever its kind (detected from its fields), as one value.

The facts and their sources (file and line, with versions) are in `docs/foreign-formats.md`.
"""
