#!/usr/bin/env bash
# On a CONNECTED machine: download every runtime dependency pinned (with SHA-256 hashes) in
# requirements/runtime.lock, build tuf-ceremony's own wheel, and write wheelhouse/SHA256SUMS.
# Carry the folder (with this repository) to the air-gapped machine and run
# scripts/install-offline.sh there. Usage: bash scripts/wheelhouse.sh [WHEELHOUSE_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-wheelhouse}"
mkdir -p "$out"
python3 -m pip download --quiet --only-binary=:all: --no-deps --require-hashes \
  -r requirements/runtime.lock -d "$out"
python3 -m pip wheel --quiet --no-deps . -w "$out"
(cd "$out" && sha256sum ./*.whl > SHA256SUMS)
echo "wheelhouse ready: $out ($(ls "$out"/*.whl | wc -l) wheels); compare SHA256SUMS on paper after copying"
