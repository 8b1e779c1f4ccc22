#!/usr/bin/env node
// The `edgebatch` command. It runs the ahead-of-time build in dist/ (`npm run build`, which `npm ci` runs
// through `prepare`), so no TypeScript is transformed at start; tsx is registered later, and only by a
// command that imports a user's TypeScript file (start, dev). Where dist/ is missing, or older than a file
// under runtime/ (the sources were edited since the last build), it runs the sources through tsx instead:
// slower to start, never stale.
import { readdirSync, statSync } from 'node:fs';

const runtimeDir = new URL('../', import.meta.url);
const builtStamp = new URL('../../dist/BUILT', import.meta.url);

/** When dist/ was last built completely (scripts/build.ts writes the stamp last), or 0 when it was not. */
function builtAt() {
  try {
    return statSync(builtStamp).mtimeMs;
  } catch {
    return 0;
  }
}

/** Whether some file under runtime/ changed after `since`. */
function sourcesNewerThan(since) {
  for (const entry of readdirSync(runtimeDir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && statSync(`${entry.parentPath ?? entry.path}/${entry.name}`).mtimeMs > since) return true;
  }
  return false;
}

const built = builtAt();
// EDGEBATCH_SOURCES=1 runs the sources even with a current build: a CPU profile then names runtime/ files
// (`npm run profile -- --sources`), where the build's frames are its chunks.
const sources = process.env.EDGEBATCH_SOURCES === '1';
let main;
if (!sources && built > 0 && !sourcesNewerThan(built)) {
  ({ main } = await import('../../dist/cli.js'));
} else {
  if (process.stderr.isTTY && !sources)
    process.stderr.write(
      `edgebatch: dist/ is ${built ? 'older than runtime/' : 'not built'}; running the sources through tsx (npm run build to start fast)\n`,
    );
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('./main.ts'));
}
process.exitCode = await main(process.argv.slice(2));
