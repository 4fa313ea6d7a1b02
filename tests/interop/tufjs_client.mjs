// Independent TUF client for tuf-ceremony's interop tests: tuf-js (pinned in package.json).
//
// usage: node tufjs_client.mjs METADATA_BASE_URL TARGET_BASE_URL TRUSTED_ROOT_PATH TARGET OUT_DIR
//
// Trusts the root at TRUSTED_ROOT_PATH, runs the full client workflow (root chain, timestamp,
// snapshot, targets, delegations) against the repository, then downloads TARGET into
// OUT_DIR/download/. Prints exactly one JSON line {ok, root_version, error, client} on stdout
// and exits 0 when the target was downloaded and verified, 1 otherwise.
import fs from 'node:fs';
import path from 'node:path';
import tufjs from 'tuf-js';

const { Updater } = tufjs;

/** Print the one result line and exit with the matching status. */
function finish(ok, rootVersion, error) {
  const line = JSON.stringify({ ok, root_version: rootVersion, error, client: 'tuf-js' });
  process.stdout.write(`${line}\n`, () => process.exit(ok ? 0 : 1));
}

/** "ClassName: message" of whatever was thrown. */
function describe(err) {
  if (err instanceof Error) {
    return `${err.constructor.name}: ${err.message}`;
  }
  return `thrown: ${String(err)}`;
}

/** Version of the root the updater trusts now (null when it cannot tell). */
function trustedRootVersion(updater, metadataDir) {
  try {
    return updater.trustedSet.root.signed.version;
  } catch {
    try {
      const root = JSON.parse(fs.readFileSync(path.join(metadataDir, 'root.json'), 'utf8'));
      return root.signed.version;
    } catch {
      return null;
    }
  }
}

async function main(argv) {
  if (argv.length !== 5) {
    finish(false, null, 'usage: tufjs_client.mjs METADATA_URL TARGET_URL ROOT_PATH TARGET OUT_DIR');
    return;
  }
  const [metadataBaseUrl, targetBaseUrl, rootPath, targetName, outDir] = argv;
  const metadataDir = path.join(outDir, 'metadata');
  const targetDir = path.join(outDir, 'download');
  fs.mkdirSync(metadataDir, { recursive: true });
  fs.mkdirSync(targetDir, { recursive: true });
  fs.copyFileSync(rootPath, path.join(metadataDir, 'root.json'));

  let updater = null;
  try {
    updater = new Updater({
      metadataBaseUrl,
      targetBaseUrl,
      metadataDir,
      targetDir,
      config: { fetchRetry: 0, fetchTimeout: 20000 },
    });
    await updater.refresh();
    const info = await updater.getTargetInfo(targetName);
    if (!info) {
      finish(false, trustedRootVersion(updater, metadataDir), `TargetNotFound: ${targetName}`);
      return;
    }
    await updater.downloadTarget(info, path.join(targetDir, path.basename(targetName)));
    finish(true, trustedRootVersion(updater, metadataDir), null);
  } catch (err) {
    const version = updater ? trustedRootVersion(updater, metadataDir) : null;
    finish(false, version, describe(err));
  }
}

main(process.argv.slice(2));
