import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type BuildFailure, type BuildOptions, type Plugin } from 'esbuild';
import { formatCompilerMessages } from './source-errors.ts';

/** One handler as one ES module, or the compiler's reasons why not. */
export type BundleResult = { ok: true; code: string } | { ok: false; message: string };

/**
 * How a deployed handler is built: its local imports (`./_shared/ocr.ts`) are inlined, packages stay
 * imports that the runtime resolves from its own node_modules (so `edgebatch`, `zod`, `sharp` are the
 * runtime's, and native packages are never copied). The same settings for the CLI and the runtime.
 */
const common: BuildOptions = {
  bundle: true,
  packages: 'external',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  write: false,
  logLevel: 'silent',
  legalComments: 'none',
};

/** `import.meta.url` as code, not inside a string or a longer name. */
const importMetaUrl = /(?<![\w$'"`.])import\.meta\.url(?![\w$'"`])/g;

/**
 * Rewrites `import.meta.url` in every bundled source file (not packages) to the expression `urlOf` gives for
 * that file, so code that finds files beside itself (`new URL('./page/', import.meta.url)`) still finds them
 * once it is bundled into another file.
 */
export function moduleUrlsAs(urlOf: (file: string) => string): Plugin {
  return {
    name: 'edgebatch-module-urls',
    setup(b) {
      b.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, async (args) => {
        if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
        const source = await readFile(args.path, 'utf8');
        if (source.search(importMetaUrl) < 0) return undefined;
        const loader = /\.[cm]?tsx?$/.test(args.path) ? (args.path.endsWith('x') ? 'tsx' : 'ts') : 'js';
        return { contents: source.replace(importMetaUrl, urlOf(args.path)), loader };
      });
    },
  };
}

/**
 * Inlined helpers keep `import.meta.url` pointing at their own source file, so a helper that reads a file
 * beside it (`new URL('./sample-line.png', import.meta.url)`) reads the same file after bundling. Such a
 * file must then exist at that path where the runtime runs.
 */
const keepModuleUrls = moduleUrlsAs((file) => JSON.stringify(pathToFileURL(file).href));

/**
 * An upload has no folder to resolve from, and the folder it is stored in (`dataDir`) may be anywhere, with
 * no node_modules above it: a bare import left as it is would then fail to load ("Cannot find package").
 * So every package import is resolved here, as the runtime itself resolves it (its own node_modules, and
 * `edgebatch` itself), and the stored module imports that file by its URL: it loads the same wherever
 * `dataDir` is, and a package the runtime does not have refuses the deploy, naming it.
 */
const packagesOfTheRuntime: Plugin = {
  name: 'edgebatch-packages-of-the-runtime',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      try {
        return { path: import.meta.resolve(args.path), external: true };
      } catch {
        return { errors: [{ text: `package "${args.path}" is not installed where the runtime runs` }] };
      }
    });
  },
};

async function run(options: BuildOptions): Promise<BundleResult> {
  try {
    const out = await build({ ...common, ...options });
    return { ok: true, code: out.outputFiles![0].text };
  } catch (err) {
    const failure = err as BuildFailure;
    if (!Array.isArray(failure.errors)) throw err;
    return { ok: false, message: formatCompilerMessages(failure.errors) };
  }
}

/**
 * Bundles a handler file with its local imports into one module (what `edgebatch deploy` uploads).
 *
 * @example
 * const b = await bundleFile('functions/text-direction.ts');
 * if (b.ok) await fetch(`${url}/admin/functions/text-direction`, { method: 'PUT', body: b.code, ... });
 */
export function bundleFile(file: string): Promise<BundleResult> {
  return run({ entryPoints: [file], plugins: [runtimeStaysImported, keepModuleUrls] });
}

/**
 * `edgebatch` stays an import in what the CLI uploads, whatever the handler's tsconfig maps it to (this
 * repository's maps it to runtime/index.ts for tsx): inlined, it would be a second copy of the runtime whose
 * error classes the serving runtime does not recognise, so a handler's `HookTimeoutError` would not be a 504.
 * A plugin, because esbuild applies tsconfig `paths` before `packages: 'external'`.
 */
const runtimeStaysImported: Plugin = {
  name: 'edgebatch-stays-imported',
  setup(b) {
    b.onResolve({ filter: /^edgebatch$/ }, (args) => ({ path: args.path, external: true }));
  },
};

/**
 * Bundles an uploaded handler source on the runtime. An upload has no folder around it, so a relative
 * import cannot be resolved: the error names the import and the way to deploy it (the CLI bundles first).
 * Its syntax errors name `<name>.ts`, the file the user knows, not a path under the data folder.
 */
export async function bundleSource(source: string, name: string): Promise<BundleResult> {
  const res = await run({ stdin: { contents: source, sourcefile: `${name}.ts`, loader: 'ts' }, plugins: [packagesOfTheRuntime] });
  if (res.ok || !/Could not resolve "\.{1,2}\//.test(res.message)) return res;
  return {
    ok: false,
    message: `${res.message}\nan uploaded handler is one module: deploy it with \`edgebatch deploy <file>\`, which bundles its relative imports into it`,
  };
}
