#!/usr/bin/env bash
# The whole test suite, from a fresh Debian/Ubuntu machine: system packages (SoftHSM2, the
# YubiKey rig's pcscd/vpcd/ykcs11/OpenSC, Node for the tuf-js client), a venv with the
# package and its test extras, then ruff (lint and format), mypy --strict, the import layers
# (import-linter) and pytest. Fails when anything fails.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

# Install only what is missing: images that ship NodeSource's nodejs (which bundles npm)
# conflict with Debian's npm package, so node/npm are asked for only when absent.
pkgs=()
command -v softhsm2-util >/dev/null 2>&1 || pkgs+=(softhsm2)
command -v pkcs11-tool >/dev/null 2>&1 || pkgs+=(opensc)
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
# pyscard (yubikey-manager's PC/SC binding) is built from source: compiler, swig, PC/SC headers.
command -v gcc >/dev/null 2>&1 || pkgs+=(gcc)
command -v swig >/dev/null 2>&1 || pkgs+=(swig)
[ -e /usr/include/PCSC/winscard.h ] || pkgs+=(libpcsclite-dev)
need_rig=0
command -v pcscd >/dev/null 2>&1 || need_rig=1
[ -e /usr/lib/x86_64-linux-gnu/libykcs11.so ] || [ -e /usr/lib/aarch64-linux-gnu/libykcs11.so ] || need_rig=1
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
if [ "${#pkgs[@]}" -gt 0 ]; then
  echo "== apt-get install ${pkgs[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi
if [ "$need_rig" = 1 ]; then
  echo "== installing the YubiKey rig packages (.ci/install-rig.sh)"
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
elif [ -n "$(find ceremony pyproject.toml -newer build/wheelhouse/SHA256SUMS -print -quit)" ]; then
  # The source changed since: tuf-ceremony's own wheel again (the pinned downloads are kept).
  bash scripts/wheelhouse.sh build/wheelhouse >/dev/null
fi

# Real RSTUF hand-off files and a tuf-on-ci signing event, made now by those tools from PyPI
# (separate venvs under build/); tests/foreign reads them offline. Without a package index (a local offline run)
# the tests use the committed copies and skip the fresh ones; in CI a failure here fails.
mkdir -p build
if [ ! -f build/foreign-fixtures/rstuf/bootstrap.json ] || [ ! -f build/foreign-fixtures/tuf-on-ci/metadata/root.json ]; then
  echo "== RSTUF and tuf-on-ci fixtures (tests/foreign/make_fixtures.sh)"
  if ! bash tests/foreign/make_fixtures.sh >build/make_fixtures.log 2>&1; then
    tail -20 build/make_fixtures.log
    if [ "${CI:-}" = "true" ]; then exit 1; fi
    echo "(continuing without fresh RSTUF fixtures)"
  fi
fi

# In CI a missing YubiKey rig (pcscd, vpcd, ykcs11) is a failure, not a skip.
if [ "${CI:-}" = "true" ]; then export TUF_CEREMONY_RIG=require; fi

# The corpus of real TUF metadata (tests/corpus): packages pinned by SHA-256, downloaded now
# while the registries are reachable, then used offline. Offline on a laptop the corpus tests
# skip; in CI a failed download fails the run; a hash mismatch always does.
echo "== corpus"
corpus_rc=0; python tests/corpus/fetch.py || corpus_rc=$?
if [ "$corpus_rc" -eq 1 ] && [ "${CI:-}" != "true" ]; then
  echo "corpus: not downloaded (offline?): tests/corpus will be skipped. Run python tests/corpus/fetch.py when online."
elif [ "$corpus_rc" -ne 0 ]; then
  echo "corpus: fetch failed (exit $corpus_rc)" >&2; exit 1
fi

echo "== ruff"; ruff check .
echo "== ruff format"; ruff format --check .
echo "== mypy --strict"; mypy
echo "== import layers (lint-imports)"; lint-imports --no-logo
# The rotation suite covers every rotation kind and every key type (replace-one-key with all
# four); TUF_ROTATION_FULL=1 runs every kind with every key type (about 4 minutes more).
echo "== pytest"; python -m pytest -q "$@"

# tuf-js on the 16,384-bin path_hash_prefixes layout spends about a minute of CPU parsing the
# bins role (an O(n^2) object spread in @tufjs/models: docs/tuf-js-hash-bins.md), so the run
# above skips it; it runs here on its own, with the time it needs, and says how long it took.
# Only for the whole suite (no pytest arguments) or in CI.
if [ "$#" -eq 0 ] || [ "${CI:-}" = "true" ]; then
  echo "== pytest: tuf-js on 16,384 hash bins (TUF_INTEROP_SLOW=1)"
  slow_started=$SECONDS
  TUF_INTEROP_SLOW=1 python -m pytest -q \
    "tests/interop/test_harness.py::test_pep458_download_through_bins[path_hash_prefixes-16384-tuf-js]"
  echo "tuf-js on 16,384 hash bins took $((SECONDS - slow_started)) s"
else
  echo "== (tuf-js on 16,384 hash bins not run: pytest arguments given; run without them, or in CI)"
fi
