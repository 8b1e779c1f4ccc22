import { DefinitionError, NotFoundError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { bundleSource } from './bundle.ts';
import { functionNamePattern, type LoadedFunction, type LoadResult } from './load.ts';
import type { FunctionRegistry } from './registry.ts';
import type { VersionRecord, VersionStore } from './version-store.ts';

export interface DeployResult {
  name: string;
  version: string;
  previous: string | null;
}

/** Refuses names that are not plain function names (no path traversal, no dots, no slashes). */
export function assertFunctionName(name: string): void {
  if (!functionNamePattern.test(name)) throw new DefinitionError(`function name "${name}" must match ${functionNamePattern}`, { name });
}

/** What the deployer needs of the runtime it deploys to: a narrow view, so this file never imports it. */
export interface DeployTarget {
  readonly versions: VersionStore;
  readonly functions: Pick<FunctionRegistry, 'get' | 'delete'>;
  readonly log: Logger;
  /** Runs every check on a handler file without serving it. */
  check(file: string, name?: string): Promise<LoadResult>;
  /** Serves a checked function from now on. */
  activate(fn: LoadedFunction): void;
}

/**
 * Deploys, rolls back and removes functions on a running runtime. An upload is bundled into one module
 * (functions/bundle.ts), stored, and passes the same checks as a file at start or a save in dev
 * (functions/checks.ts) and is recorded as current before traffic switches to it; any failure leaves the
 * serving version untouched and nothing of the refused upload on disk.
 */
export class Deployer {
  readonly #rt: DeployTarget;
  /** Per name, the deploy, rollback or removal in progress: the next one for that name waits for it. */
  readonly #busy = new Map<string, Promise<unknown>>();

  constructor(runtime: DeployTarget) {
    this.#rt = runtime;
  }

  /**
   * Runs `task` once every earlier change of `name` has settled. Changes of one name in turn keep what
   * serves and what the manifest calls current the same: two deploys racing could otherwise record one
   * version and serve the other. Changes of different names still run side by side.
   */
  #inTurn<T>(name: string, task: () => Promise<T>): Promise<T> {
    const run = (this.#busy.get(name) ?? Promise.resolve()).then(task, task);
    const settled = run.catch(() => {});
    this.#busy.set(name, settled);
    void settled.then(() => {
      if (this.#busy.get(name) === settled) this.#busy.delete(name);
    });
    return run;
  }

  deploy(name: string, source: string): Promise<DeployResult> {
    assertFunctionName(name);
    return this.#inTurn(name, () => this.#deploy(name, source));
  }

  async #deploy(name: string, source: string): Promise<DeployResult> {
    const store = this.#rt.versions;
    const bundled = await bundleSource(source, name);
    if (!bundled.ok) throw new DefinitionError(`deploy refused: ${bundled.message}`, { name });
    const staged = await store.stage(name, bundled.code);
    const previous = this.#rt.functions.get(name)?.version ?? null;
    // Stored as current before traffic switches: a write that fails (a full disk) leaves the old version
    // serving and nothing that a restart would lose.
    try {
      const fn = await this.#checked(name, staged.file, 'deploy refused');
      await store.setCurrent(name, staged.version, Buffer.byteLength(bundled.code));
      this.#rt.activate(fn);
    } catch (err) {
      if (!staged.known) await store.discard(name, staged.version).catch(() => {});
      throw err;
    }
    return { name, version: staged.version, previous };
  }

  /** Serves again the version that served before the current one, or the given deployed version. */
  rollback(name: string, version?: string): Promise<DeployResult> {
    assertFunctionName(name);
    return this.#inTurn(name, () => this.#rollback(name, version));
  }

  async #rollback(name: string, version?: string): Promise<DeployResult> {
    const store = this.#rt.versions;
    const current = await store.current(name);
    const target = version ?? (await store.previous(name));
    if (!target) throw new DefinitionError(`"${name}" has no earlier deployed version to roll back to`, { name });
    const known = (await store.versions(name)).find((v) => v.version === target);
    if (!known) throw new NotFoundError('version', `${name}@${target}`);
    const fn = await this.#checked(name, store.fileOf(name, target), 'rollback refused');
    if (version) await store.setCurrent(name, target, known.bytes);
    else await store.stepBack(name);
    this.#rt.activate(fn);
    return { name, version: target, previous: current };
  }

  /** Stops serving a deployed function; its versions stay on disk. */
  undeploy(name: string): Promise<void> {
    assertFunctionName(name);
    return this.#inTurn(name, () => this.#undeploy(name));
  }

  async #undeploy(name: string): Promise<void> {
    if (!(await this.#rt.versions.clearCurrent(name)) && !this.#rt.functions.get(name)) throw new NotFoundError('function', name);
    this.#rt.functions.delete(name);
    this.#rt.log.info({ function: name }, 'function removed');
  }

  async versions(name: string): Promise<{ current: string | null; versions: VersionRecord[] }> {
    assertFunctionName(name);
    return { current: await this.#rt.versions.current(name), versions: await this.#rt.versions.versions(name) };
  }

  /** The version in `file` once it passes every check, not yet serving. */
  async #checked(name: string, file: string, what: string): Promise<LoadedFunction> {
    const res = await this.#rt.check(file, name);
    if (!res.ok) throw new DefinitionError(`${what}: ${res.problem.message}`, { name });
    return res.fn;
  }
}
