#!/usr/bin/env bash
# Make real RSTUF hand-off files with RSTUF's own CLI, installed from PyPI into a separate
# venv (this step needs the package index; the tests that read the files run offline).
#
# Usage: bash tests/foreign/make_fixtures.sh [OUT_DIR]     (default build/foreign-fixtures)
#
# `rstuf admin ceremony`, `rstuf admin metadata sign` and `rstuf admin metadata update` are
# interactive only; tests/foreign/rstuf_driver.py answers their prompts through a
# pseudo-terminal (pexpect) with throw-away software keys, offline (`--dry-run --out`).
# tests/foreign/tuf_on_ci_driver.py stages a signing event with tuf-on-ci-sign's own
# SignerRepository. tests/foreign/test_rstuf.py and test_tuf_on_ci_real.py parse what they
# wrote (OUT_DIR/rstuf, OUT_DIR/tuf-on-ci); TUF_FOREIGN_FIXTURES=DIR points them elsewhere.
# About 80 seconds (RSTUF's path prompts wait for a terminal reply).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-build/foreign-fixtures}
RSTUF_VERSION=1.0.0b1
TOC_VERSION=0.21.0

# each tool in its own venv: their pinned dependencies must not meet ours
venv() {  # venv DIR PACKAGE==VERSION [more packages]
  local dir=$1 pin=$2
  if [ ! -x "$dir/bin/python" ] || ! "$dir/bin/pip" freeze 2>/dev/null | grep -qix "$pin"; then
    rm -rf "$dir"
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q "${@:2}"
  fi
}
venv build/foreign-venv-rstuf "repository-service-tuf==$RSTUF_VERSION" "pexpect==4.9.0"
venv build/foreign-venv-tuf-on-ci "tuf-on-ci-sign==$TOC_VERSION"

rm -rf "$OUT.tmp"
mkdir -p "$OUT.tmp"
build/foreign-venv-rstuf/bin/python tests/foreign/rstuf_driver.py \
  build/foreign-venv-rstuf/bin/rstuf "$OUT.tmp/rstuf"
build/foreign-venv-tuf-on-ci/bin/python tests/foreign/tuf_on_ci_driver.py "$OUT.tmp/tuf-on-ci"
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
echo "RSTUF $RSTUF_VERSION and tuf-on-ci-sign $TOC_VERSION files in $OUT"
