/**
 * Whether this code runs from the ahead-of-time build (dist/, `npm run build`) or from the sources through
 * tsx, and the two things that differ between them: where a worker thread starts, and how a user's
 * TypeScript file (a handler, hono.config.ts) is imported.
 */

/** Defined as `true` by scripts/build.ts; not defined at all when tsx runs the sources. */
declare const EDGEBATCH_BUILT: boolean | undefined;

export const fromBuild = typeof EDGEBATCH_BUILT === 'boolean' && EDGEBATCH_BUILT;

/**
 * The module a worker thread starts with: in the build, `dist/<name>.js` (plain JavaScript, nothing to
 * register); from the sources, the `.mjs` bootstrap that registers tsx in the thread (workers do not inherit
 * the parent's loader) and imports the worker's TypeScript.
 */
export function workerEntry(name: string, sourceBootstrap: URL): URL {
  return fromBuild ? new URL(`../dist/${name}.js`, import.meta.url) : sourceBootstrap;
}

let typescriptLoader: Promise<unknown> | undefined;

/**
 * Imports a user's module, which may be TypeScript. From the sources tsx is already registered. From the
 * build it is registered here, once, on the first such import, so the commands that import no user file
 * (`list`, `invoke`, `deploy`...) never load it. It is registered without the project's tsconfig: the
 * tsconfig maps `edgebatch` to the sources for tsx runs, and a handler of the built runtime must import the
 * built `edgebatch` (package.json's exports) to share its classes.
 */
export async function importUserModule(url: string): Promise<unknown> {
  if (fromBuild) {
    typescriptLoader ??= import('tsx/esm/api').then(({ register }) => register({ tsconfig: false }));
    await typescriptLoader;
  }
  return import(url);
}
