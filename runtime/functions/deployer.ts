import { DefinitionError, NotFoundError } from '../errors.ts';
import type { Runtime } from '../runtime.ts';
import { bundleSource } from './bundle.ts';
import { functionNamePattern } from './load.ts';
import type { VersionRecord } from './version-store.ts';

export interface DeployResult {
  name: string;
  version: string;
  previous: string | null;
}

/** Refuses names that are not plain function names (no path traversal, no dots, no slashes). */
export function assertFunctionName(name: string): void {
  if (!functionNamePattern.test(name)) throw new DefinitionError(`function name "${name}" must match ${functionNamePattern}`, { name });
}

/**
 * Deploys, rolls back and removes functions on a running runtime. An upload is bundled into one module
 * (functions/bundle.ts), stored, and passes the same checks as a file at start or a save in dev
 * (functions/checks.ts) before traffic switches to it; any failure leaves the serving version untouched
 * and nothing of the refused upload on disk.
 */
export class Deployer {
  readonly #rt: Runtime;

  constructor(runtime: Runtime) {
    this.#rt = runtime;
  }

  async deploy(name: string, source: string): Promise<DeployResult> {
    assertFunctionName(name);
    const store = this.#rt.versions;
    const bundled = await bundleSource(source, name);
    if (!bundled.ok) throw new DefinitionError(`deploy refused: ${bundled.message}`, { name });
    const staged = await store.stage(name, bundled.code);
    const previous = this.#rt.functions.get(name)?.version ?? null;
    try {
      await this.#switchTo(name, staged.file, 'deploy refused');
    } catch (err) {
      if (!staged.known) await store.discard(name, staged.version);
      throw err;
    }
    await store.setCurrent(name, staged.version, Buffer.byteLength(bundled.code));
    return { name, version: staged.version, previous };
  }

  /** Serves again the version that served before the current one, or the given deployed version. */
  async rollback(name: string, version?: string): Promise<DeployResult> {
    assertFunctionName(name);
    const store = this.#rt.versions;
    const current = await store.current(name);
    const target = version ?? (await store.previous(name));
    if (!target) throw new DefinitionError(`"${name}" has no earlier deployed version to roll back to`, { name });
    const known = (await store.versions(name)).find((v) => v.version === target);
    if (!known) throw new NotFoundError('version', `${name}@${target}`);
    await this.#switchTo(name, store.fileOf(name, target), 'rollback refused');
    if (version) await store.setCurrent(name, target, known.bytes);
    else await store.stepBack(name);
    return { name, version: target, previous: current };
  }

  /** Stops serving a deployed function; its versions stay on disk. */
  async undeploy(name: string): Promise<void> {
    assertFunctionName(name);
    if (!(await this.#rt.versions.clearCurrent(name)) && !this.#rt.functions.get(name)) throw new NotFoundError('function', name);
    this.#rt.functions.delete(name);
    this.#rt.log.info({ function: name }, 'function removed');
  }

  async versions(name: string): Promise<{ current: string | null; versions: VersionRecord[] }> {
    assertFunctionName(name);
    return { current: await this.#rt.versions.current(name), versions: await this.#rt.versions.versions(name) };
  }

  async #switchTo(name: string, file: string, what: string): Promise<void> {
    const res = await this.#rt.check(file, name);
    if (!res.ok) throw new DefinitionError(`${what}: ${res.problem.message}`, { name });
    this.#rt.activate(res.fn);
  }
}
