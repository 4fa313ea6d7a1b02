#!/usr/bin/env bash
# The whole test suite, from a fresh Debian/Ubuntu machine: system packages (SoftHSM2, the
# YubiKey rig's pcscd/vpcd/ykcs11/OpenSC, Node for the tuf-js client), a venv with the
# package and its test extras, then ruff, mypy --strict and pytest. Fails when anything fails.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=0
for bin in softhsm2-util pcscd node npm; do command -v "$bin" >/dev/null 2>&1 || need_apt=1; done
[ -e /usr/lib/x86_64-linux-gnu/libykcs11.so ] || [ -e /usr/lib/aarch64-linux-gnu/libykcs11.so ] || need_apt=1
if [ "$need_apt" = 1 ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends softhsm2 opensc nodejs npm >/dev/null
  bash .ci/install-rig.sh >/dev/null
fi
bash .ci/install-interop.sh

if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
. .venv/bin/activate
pip install -q -U pip >/dev/null 2>&1 || true
pip install -q -e '.[test]'

# The offline wheelhouse (downloaded now, while a network is allowed); the tests install from
# it with no index, as the air-gapped machine does.
if [ ! -f build/wheelhouse/SHA256SUMS ] || [ requirements/runtime.lock -nt build/wheelhouse/SHA256SUMS ]; then
  rm -rf build/wheelhouse
  bash scripts/wheelhouse.sh build/wheelhouse >/dev/null
fi

# In CI a missing YubiKey rig (pcscd, vpcd, ykcs11) is a failure, not a skip.
if [ "${CI:-}" = "true" ]; then export TUF_CEREMONY_RIG=require; fi

echo "== ruff"; ruff check .
echo "== mypy --strict"; mypy
# The rotation suite covers every rotation kind and every key type (replace-one-key with all
# four); TUF_ROTATION_FULL=1 runs every kind with every key type (about 4 minutes more).
echo "== pytest"; python -m pytest -q "$@"
