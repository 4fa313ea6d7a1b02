#!/usr/bin/env bash
# On the AIR-GAPPED machine: install tuf-ceremony into a new venv from the wheelhouse, with no
# index and every dependency checked against the hashes pinned in requirements/runtime.lock.
# Usage: bash scripts/install-offline.sh WHEELHOUSE_DIR VENV_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
wheels="$(cd "${1:?wheelhouse folder}" && pwd)"
venv="${2:?venv folder}"
(cd "$wheels" && sha256sum --check --quiet SHA256SUMS)   # the wheelhouse arrived intact
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --no-index --find-links "$wheels" --require-hashes \
  -r requirements/runtime.lock
# tuf-ceremony's own wheel: its hash was checked against SHA256SUMS above.
"$venv/bin/pip" install --quiet --no-index --no-deps --find-links "$wheels" tuf-ceremony
"$venv/bin/ceremony" --version
