#!/usr/bin/env bash
# Make real RSTUF hand-off files with RSTUF's own CLI, installed from PyPI into a separate
# venv (this step needs the package index; the tests that read the files run offline).
#
# Usage: bash tests/foreign/make_fixtures.sh [OUT_DIR]     (default build/foreign-fixtures/rstuf)
#
# `rstuf admin ceremony`, `rstuf admin metadata sign` and `rstuf admin metadata update` are
# interactive only; tests/foreign/rstuf_driver.py answers their prompts through a
# pseudo-terminal (pexpect) with throw-away software keys, offline (`--dry-run --out`).
# tests/foreign/test_rstuf_real.py parses what they wrote; TUF_FOREIGN_FIXTURES=DIR points it
# at another directory. About 70 seconds (the CLI's path prompts wait for a terminal reply).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-build/foreign-fixtures/rstuf}
RSTUF_VERSION=1.0.0b1
VENV=build/foreign-tools-venv
if [ ! -x "$VENV/bin/rstuf" ] || ! "$VENV/bin/pip" show repository-service-tuf 2>/dev/null | grep -qx "Version: $RSTUF_VERSION"; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "repository-service-tuf==$RSTUF_VERSION" "pexpect==4.9.0"
fi
rm -rf "$OUT.tmp"
"$VENV/bin/python" tests/foreign/rstuf_driver.py "$VENV/bin/rstuf" "$OUT.tmp"
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
echo "RSTUF $RSTUF_VERSION hand-off files in $OUT"
