#!/usr/bin/env bash
# On a CONNECTED machine: download every runtime dependency pinned (with SHA-256 hashes) in
# requirements/runtime.lock, build tuf-ceremony's own wheel, and write wheelhouse/SHA256SUMS.
# Carry the folder (with this repository) to the air-gapped machine and run
# scripts/install-offline.sh there. Usage: bash scripts/wheelhouse.sh [WHEELHOUSE_DIR]
#
# PyPI has no Linux wheel of pyscard (yubikey-manager's PC/SC binding): its hash-pinned source
# archive is downloaded like the rest, and its wheel is built here into WHEELHOUSE_DIR/local/
# (needs a C compiler, swig and the PC/SC headers: apt-get install gcc swig libpcsclite-dev).
# Like tuf-ceremony's own wheel, a wheel built here is covered by SHA256SUMS, not by the lock.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-wheelhouse}"
source_built=(pyscard)
mkdir -p "$out/local"
no_binary="$(IFS=,; echo "${source_built[*]}")"
python3 -m pip download --quiet --only-binary=:all: --no-binary="$no_binary" --no-deps \
  --require-hashes -r requirements/runtime.lock -d "$out"
for name in "${source_built[@]}"; do
  sdist="$(ls "$out/$name"-*.tar.gz)"
  python3 -m pip wheel --quiet --no-deps "$sdist" -w "$out/local"
done
python3 -m pip wheel --quiet --no-deps . -w "$out"
(cd "$out" && sha256sum ./*.whl ./*.tar.gz ./local/*.whl > SHA256SUMS)
echo "wheelhouse ready: $out ($(ls "$out"/*.whl "$out"/local/*.whl | wc -l) wheels); compare SHA256SUMS on paper after copying"
