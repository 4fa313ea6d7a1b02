#!/usr/bin/env bash
# Install tuf-ceremony in a local venv and run a complete rehearsal ceremony on the built-in
# software token. Usage: bash scripts/rehearse.sh [DIR] [--softhsm]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
. .venv/bin/activate
pip install -q -e . >/dev/null
rc=0; ceremony rehearse "$@" || rc=$?
echo
echo "To type ceremony commands yourself, in each new shell: . $(pwd)/.venv/bin/activate"
exit "$rc"
