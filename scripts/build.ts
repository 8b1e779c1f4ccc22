/**
 * `npm run build` (run by npm's `prepare`, so `npm ci` builds): the CLI, the runtime and its worker threads
 * compiled ahead of time into dist/, so that `edgebatch` starts without transforming TypeScript. User
 * handler files are not built here: they still load as TypeScript, through tsx, registered only when one
 * is imported (runtime/build-mode.ts).
 *
 * Layout: every file is at the top of dist/ (entries and the chunks they share, one module instance each,
 * so a handler's `import { ... } from 'edgebatch'` gets the very classes the built runtime uses). Packages stay
 * imports. `import.meta.url` in a source file is rewritten to that source file's URL, computed from the
 * built file's own, so files found beside a source (the dashboard's page/, package.json) are found from the
 * build as well. No keepNames: esbuild's `__name(...)` wrappers cost on the request path.
 * `dist/BUILT` carries the time the build started: bin.mjs runs the build only when it exists and is newer
 * than every file under runtime/. The build is written to dist.next/ and swapped in whole.
 *
 *   npm run build
 */
import { rename, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { moduleUrlsAs } from '../runtime/functions/bundle.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const dist = path.join(root, 'dist');
// Built beside dist/ and swapped in at the end, so a running runtime that starts a worker from dist/ (a
// check on a save in dev, a lane replaced) never finds it half written or gone for the length of a build.
// A sibling folder, so the source URLs computed relative to it hold once it is renamed to dist/.
const next = path.join(root, 'dist.next');
const old = path.join(root, 'dist.old');

await rm(next, { recursive: true, force: true });
const startedAt = new Date();
const started = performance.now();
await build({
  absWorkingDir: root,
  entryPoints: {
    index: 'runtime/index.ts',
    cli: 'runtime/cli/main.ts',
    'lane-worker': 'runtime/lanes/lane-worker.ts',
    'probe-worker': 'runtime/functions/probe/probe-worker.ts',
  },
  outdir: next,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  // What runtime/build-mode.ts reads to know it runs from here.
  define: { EDGEBATCH_BUILT: 'true' },
  plugins: [
    moduleUrlsAs((file) => `new URL(${JSON.stringify(path.relative(dist, file).split(path.sep).join('/'))}, import.meta.url).href`),
  ],
});
// The stamp carries the time the build started: a source saved while it ran is newer, so bin.mjs will not
// take this build for current.
const stamp = path.join(next, 'BUILT');
await writeFile(stamp, `${startedAt.toISOString()}\n`);
await utimes(stamp, startedAt, startedAt);
await rm(old, { recursive: true, force: true });
await rename(dist, old).catch((err: NodeJS.ErrnoException) => {
  if (err.code !== 'ENOENT') throw err;
});
await rename(next, dist);
await rm(old, { recursive: true, force: true });
console.log(`[build] dist/ in ${Math.round(performance.now() - started)} ms`);
