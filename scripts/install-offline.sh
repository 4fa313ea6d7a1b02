#!/usr/bin/env bash
# On the AIR-GAPPED machine: install tuf-ceremony into a new venv from the wheelhouse, with no
# index and every dependency checked against the hashes pinned in requirements/runtime.lock.
# Usage: bash scripts/install-offline.sh WHEELHOUSE_DIR VENV_DIR
# Runtime system libraries for YubiKeys: libpcsclite1 and pcscd (Debian/Ubuntu package names).
set -euo pipefail
cd "$(dirname "$0")/.."
wheels="$(cd "${1:?wheelhouse folder}" && pwd)"
venv="${2:?venv folder}"
(cd "$wheels" && sha256sum --check --quiet SHA256SUMS)   # the wheelhouse arrived intact
python3 -m venv "$venv"
# Wheels built by wheelhouse.sh from hash-pinned source archives (pyscard): their hashes were
# checked against SHA256SUMS above; installed first, so the locked step finds them satisfied.
for whl in "$wheels"/local/*.whl; do
  [ -e "$whl" ] || continue
  "$venv/bin/pip" install --quiet --no-index --no-deps "$whl"
done
"$venv/bin/pip" install --quiet --no-index --find-links "$wheels" --require-hashes \
  -r requirements/runtime.lock
# tuf-ceremony's own wheel: its hash was checked against SHA256SUMS above.
"$venv/bin/pip" install --quiet --no-index --no-deps --find-links "$wheels" tuf-ceremony
"$venv/bin/ceremony" --version
echo "Installed. In each shell where you type ceremony commands: . $(cd "$venv" && pwd)/bin/activate"
