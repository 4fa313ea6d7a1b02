// How long tuf-js's model layer (@tufjs/models, as installed for tests/interop) takes to
// parse a targets role with N path_hash_prefixes delegations, and a snapshot with N meta
// entries, against the same work done with a linear map build.
//
// usage: node bench/tufjs_parse.mjs [N ...]      (default: 1024 2048 4096 8192 16384)
//
// For each N it builds, in memory, the `signed` JSON of a PEP 458 `bins` role (N bins named
// bin-XXXX, 16^digits/N hash prefixes each, one online key) and times, in this process:
//   delegations  Delegations.fromJSON (what Targets.fromJSON / Metadata.fromJSON run for
//                the `delegations` field; `rolesFromJSON` builds the role map);
//   linear       the same DelegatedRole.fromJSON calls collected into one object in a loop
//                (no copy per role): the floor for this step;
//   targets      Metadata.fromJSON(Targets, {signed, signatures: []}) end to end;
//   snapshot     Metadata.fromJSON(Snapshot, ...) with N `bin-XXXX.json` meta entries, as a
//                real PEP 458 snapshot has (the interop harness's snapshot lists only the
//                roles it writes).
// Prints one JSON line per N (milliseconds, median of 3). Not a test.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'tests', 'interop', 'package.json'));
const models = require('@tufjs/models');
const { DelegatedRole } = require('@tufjs/models/dist/role');
const { Delegations } = require('@tufjs/models/dist/delegations');

const KEYID = 'a'.repeat(64);

function binsSigned(n) {
  const digits = (n - 1).toString(16).length;
  const perBin = 16 ** digits / n;
  const roles = [];
  for (let i = 0; i < n; i++) {
    const prefixes = [];
    for (let p = i * perBin; p < (i + 1) * perBin; p++) {
      prefixes.push(p.toString(16).padStart(digits, '0'));
    }
    roles.push({
      name: `bin-${i.toString(16).padStart(digits, '0')}`,
      keyids: [KEYID],
      threshold: 1,
      terminating: false,
      path_hash_prefixes: prefixes,
    });
  }
  return {
    _type: 'targets',
    spec_version: '1.0.31',
    version: 1,
    expires: '2030-01-01T00:00:00Z',
    targets: {},
    delegations: {
      keys: {
        [KEYID]: { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: 'b'.repeat(64) } },
      },
      roles,
    },
  };
}

function snapshotSigned(n) {
  const digits = (n - 1).toString(16).length;
  const meta = { 'targets.json': { version: 1 }, 'bins.json': { version: 1 } };
  for (let i = 0; i < n; i++) {
    meta[`bin-${i.toString(16).padStart(digits, '0')}.json`] = { version: 1 };
  }
  return { _type: 'snapshot', spec_version: '1.0.31', version: 1, expires: '2030-01-01T00:00:00Z', meta };
}

function linearRoles(roles) {
  const out = {};
  for (const role of roles) {
    const r = DelegatedRole.fromJSON(role);
    if (Object.hasOwn(out, r.name)) throw new Error(`duplicate ${r.name}`);
    out[r.name] = r;
  }
  return out;
}

function time(fn, reps = 3) {
  const ms = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((a, b) => a - b);
  return Math.round(ms[Math.floor(reps / 2)] * 10) / 10;
}

const sizes = process.argv.length > 2 ? process.argv.slice(2).map(Number) : [1024, 2048, 4096, 8192, 16384];
for (const n of sizes) {
  const signed = binsSigned(n);
  const snap = snapshotSigned(n);
  const reps = n > 8192 ? 1 : 3;
  const row = {
    n,
    delegations_ms: time(() => Delegations.fromJSON(structuredClone(signed.delegations)), reps),
    linear_ms: time(() => linearRoles(structuredClone(signed.delegations.roles)), reps),
    targets_ms: time(
      () => models.Metadata.fromJSON(models.MetadataKind.Targets, { signed: structuredClone(signed), signatures: [] }),
      reps,
    ),
    snapshot_ms: time(
      () => models.Metadata.fromJSON(models.MetadataKind.Snapshot, { signed: structuredClone(snap), signatures: [] }),
      reps,
    ),
    clone_ms: time(() => structuredClone(signed), reps),
  };
  console.log(JSON.stringify(row));
}
