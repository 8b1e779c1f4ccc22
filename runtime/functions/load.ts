import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseDuration } from '../duration.ts';
import type { FunctionDefinition } from './define.ts';
import { importUserModule } from '../build-mode.ts';
import { describeImportError } from './source-errors.ts';

/** A handler file that passed every check, ready to serve. */
export interface LoadedFunction {
  readonly name: string;
  readonly file: string;
  /** Short content hash: the same file gives the same version. */
  readonly version: string;
  readonly definition: FunctionDefinition;
  readonly sloMs: number;
  /** Time limit of each of `pre` and `post` for one call (functions/hook-limits.ts). */
  readonly hookTimeoutMs: number;
}

/** Why a handler file was not loaded. */
export interface LoadProblem {
  readonly file: string;
  readonly message: string;
}

export type LoadResult = { ok: true; fn: LoadedFunction } | { ok: false; problem: LoadProblem };

/**
 * Names become URL segments and file names: lower-case letters, digits, dash and underscore, starting with a
 * letter or digit. Lower case only, so two names never differ by case alone (one file on a case-insensitive disk).
 */
export const functionNamePattern = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** The function name a handler file gives: its base name without extension. */
export function functionNameOf(file: string): string {
  return path.basename(file).replace(/\.(m?[jt]s)$/, '');
}

/**
 * Imports a handler file and checks everything the runtime relies on: a default export made with
 * `defineFunction`, a model the config knows, a parseable SLO, a Standard Schema input, `pre`/`post`
 * functions and an example. Each problem is reported with the file; nothing is thrown.
 *
 * @param name the function name (defaults to the file's base name; deploys store versions under other names)
 * @param hookTimeoutFactor `pre`/`post` time limit as a multiple of the SLO, where the file sets no `hookTimeout`
 */
export async function loadFunctionFile(
  file: string,
  knownModel: (name: string) => boolean,
  name = functionNameOf(file),
  hookTimeoutFactor = 10,
): Promise<LoadResult> {
  const fail = (message: string): LoadResult => ({ ok: false, problem: { file, message } });
  if (!functionNamePattern.test(name)) return fail(`function name "${name}" must match ${functionNamePattern}`);
  let source: Buffer;
  try {
    source = await readFile(file);
  } catch (err) {
    return fail(`cannot read file: ${(err as Error).message}`);
  }
  const version = createHash('sha256').update(source).digest('hex').slice(0, 12);
  let mod: { default?: unknown };
  try {
    // The version in the URL makes a changed file a new module instead of the cached one.
    mod = (await importUserModule(`${pathToFileURL(file).href}?v=${version}`)) as typeof mod;
  } catch (err) {
    return fail(`cannot be imported: ${describeImportError(err)}`);
  }
  const def = mod.default as Partial<FunctionDefinition> | undefined;
  if (!def || typeof def !== 'object') return fail('must `export default defineFunction({...})`');
  const problems: string[] = [];
  if (typeof def.model !== 'string') problems.push('`model` must name a model from hono.config.ts');
  else if (!knownModel(def.model)) problems.push(`model "${def.model}" is not in hono.config.ts`);
  let sloMs = 0;
  try {
    sloMs = parseDuration(def.slo, '`slo`');
  } catch (err) {
    problems.push((err as Error).message);
  }
  let hookTimeoutMs = 0;
  try {
    // A floor of 1 s: a tight SLO must not make an image decode or a cold cache a timeout.
    hookTimeoutMs =
      def.hookTimeout === undefined ? Math.max(1000, hookTimeoutFactor * sloMs) : parseDuration(def.hookTimeout, '`hookTimeout`');
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (!def.input || typeof def.input !== 'object' || !('~standard' in def.input))
    problems.push('`input` must be a Standard Schema (e.g. a zod schema)');
  if (typeof def.pre !== 'function') problems.push('`pre` must be a function (input) => item');
  if (typeof def.post !== 'function') problems.push('`post` must be a function (output, input) => JSON');
  if (!('example' in def)) problems.push('`example` must be a valid input');
  if (def.raw !== undefined && !validRawOption(def.raw))
    problems.push('`raw` must be `{ types: [...] }` with media types such as "image/png" or "image/*"');
  if (def.overload !== undefined && def.overload !== 'shed' && def.overload !== 'serve-late')
    problems.push('`overload` must be "shed" or "serve-late"');
  if (problems.length > 0) return fail(problems.join('; '));
  return { ok: true, fn: { name, file, version, definition: def as FunctionDefinition, sloMs, hookTimeoutMs } };
}

function validRawOption(raw: unknown): boolean {
  const types = (raw as { types?: unknown } | null)?.types;
  return (
    Array.isArray(types) &&
    types.length > 0 &&
    types.every((t) => typeof t === 'string' && /^[a-z0-9!#$&^_.+-]+\/(?:\*|[a-z0-9!#$&^_.+-]+)$/.test(t))
  );
}
