import { readdir } from 'node:fs/promises';
import path from 'node:path';

/**
 * The handler files of a folder, sorted: `*.ts`, `*.mts`, `*.js`, `*.mjs` directly inside it. Files that start
 * with `_` or `.`, declaration files and sub-folders (e.g. `functions/_shared/`) are helpers, not functions.
 */
export async function scanFunctions(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return entries
    .filter((e) => e.isFile() && isHandlerFile(e.name))
    .map((e) => path.join(dir, e.name))
    .sort();
}

/** True for a file name the scanner treats as a handler. */
export function isHandlerFile(name: string): boolean {
  return /\.(m?ts|m?js)$/.test(name) && !name.endsWith('.d.ts') && !name.startsWith('_') && !name.startsWith('.');
}
