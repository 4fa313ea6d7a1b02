// tuf-js's verdict on metadata files, with tuf-js's own client code (tests/interop/node_modules).
//
// usage: node tufjs_judge.mjs < jobs.json
//
// jobs.json is a list of {id, kind, file, previous, delegator, role}:
//   kind "root"     -> new TrustedMetadataStore(file): the client loading its trusted root
//                      (Metadata.fromJSON + the root's own threshold; expiry is not checked).
//   kind "link"     -> new TrustedMetadataStore(previous).updateRoot(file): the client's root
//                      update (previous root's threshold, version + 1, the new root's threshold).
//   kind "delegate" -> Metadata.fromJSON(delegator).verifyDelegate(role, Metadata.fromJSON(file)).
//   kind "parse"    -> Metadata.fromJSON(role, file) only (no delegator to judge it by).
// Prints one JSON object {id: {ok, error}} on stdout; exits 0 unless the jobs were unreadable.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'interop', 'package.json'));
const { Metadata } = require('@tufjs/models');
const { TrustedMetadataStore } = require('tuf-js/dist/store');

function describe(err) {
  return err instanceof Error ? `${err.constructor.name}: ${err.message}` : `thrown: ${String(err)}`;
}

function load(file) {
  const data = JSON.parse(fs.readFileSync(file, 'utf8'));
  const type = data && data.signed ? data.signed._type : undefined;
  return Metadata.fromJSON(type, data);
}

function judge(job) {
  switch (job.kind) {
    case 'root':
      new TrustedMetadataStore(fs.readFileSync(job.file));
      return;
    case 'link': {
      const store = new TrustedMetadataStore(fs.readFileSync(job.previous));
      store.updateRoot(fs.readFileSync(job.file));
      return;
    }
    case 'delegate':
      load(job.delegator).verifyDelegate(job.role, load(job.file));
      return;
    case 'parse':
      Metadata.fromJSON(job.role, JSON.parse(fs.readFileSync(job.file, 'utf8')));
      return;
    default:
      throw new Error(`unknown job kind ${job.kind}`);
  }
}

const jobs = JSON.parse(fs.readFileSync(0, 'utf8'));
const out = {};
for (const job of jobs) {
  try {
    judge(job);
    out[job.id] = { ok: true, error: null };
  } catch (err) {
    out[job.id] = { ok: false, error: describe(err) };
  }
}
process.stdout.write(`${JSON.stringify(out)}\n`);
