import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile, rmdir } from 'node:fs/promises';
import path from 'node:path';

/** One deployed version of a function. */
export interface VersionRecord {
  readonly version: string;
  readonly deployedAt: string;
  readonly bytes: number;
}

interface FunctionRecord {
  /** The version serving now, or null after an undeploy. */
  current: string | null;
  /** Every version ever deployed, oldest first. */
  history: VersionRecord[];
  /** Versions in the order they were made current; a rollback steps back along it. */
  trail: string[];
}

interface Manifest {
  functions: Record<string, FunctionRecord>;
}

/**
 * Deployed handlers on disk, so deploys survive a restart and can be rolled back:
 * `<dataDir>/functions/<name>/<version>.mjs` (the bundled module) plus `<dataDir>/deployments.json` naming
 * the current version. A version is the content hash of the bundle, so the same upload is the same version.
 */
export class VersionStore {
  readonly #dir: string;
  readonly #manifestFile: string;
  #manifest: Manifest | undefined;
  #reading: Promise<Manifest> | undefined;
  /** The manifest change in progress: the next one starts after it (see {@link #change}). */
  #changes: Promise<unknown> = Promise.resolve();

  constructor(dataDir: string) {
    this.#dir = path.join(dataDir, 'functions');
    this.#manifestFile = path.join(dataDir, 'deployments.json');
  }

  /** The manifest as last written; read from disk once (one read, however many ask at first). */
  #load(): Promise<Manifest> {
    if (this.#manifest) return Promise.resolve(this.#manifest);
    return (this.#reading ??= readFile(this.#manifestFile, 'utf8').then(
      (text) => (this.#manifest = JSON.parse(text) as Manifest),
      (err: NodeJS.ErrnoException) => {
        this.#reading = undefined;
        if (err.code !== 'ENOENT') throw err;
        return (this.#manifest = { functions: {} });
      },
    ));
  }

  /**
   * Changes the manifest as one transaction: changes run one at a time, each on a copy of the manifest that
   * becomes the manifest only once it is written (atomically: a temporary file, then a rename). A write
   * that fails (a full disk) leaves the manifest as it was, in memory and on disk; concurrent deploys of
   * different functions cannot interleave their writes or lose one another's change.
   */
  #change<T>(change: (m: Manifest) => T): Promise<T> {
    const run = this.#changes.then(async () => {
      const next = structuredClone(await this.#load());
      const result = change(next);
      await mkdir(path.dirname(this.#manifestFile), { recursive: true });
      await writeAtomically(this.#manifestFile, JSON.stringify(next, null, 2));
      this.#manifest = next;
      return result;
    });
    this.#changes = run.catch(() => {});
    return run;
  }

  /** Where a version's module lives. */
  fileOf(name: string, version: string): string {
    return path.join(this.#dir, name, `${version}.mjs`);
  }

  /** True when `file` is a deployed version (not a file of the functions folder). */
  holds(file: string): boolean {
    return path.resolve(file).startsWith(path.resolve(this.#dir) + path.sep);
  }

  /**
   * Writes a module (not yet current) and returns its version and file; `known` when that version was
   * deployed before, so refusing it now must not delete it.
   */
  async stage(name: string, code: string): Promise<{ version: string; file: string; known: boolean }> {
    const version = createHash('sha256').update(code).digest('hex').slice(0, 12);
    const file = this.fileOf(name, version);
    const known = (await this.versions(name)).some((v) => v.version === version);
    await mkdir(path.dirname(file), { recursive: true });
    // Atomically: a module cut short by a full disk must never sit under a version's name.
    await writeAtomically(file, code);
    return { version, file, known };
  }

  /**
   * Removes a staged module that was refused; its folder goes too when nothing else is in it. Only an empty
   * folder is removed (rmdir, not a recursive rm): another deploy of the same name may be staging its module
   * there while this one is being refused.
   */
  async discard(name: string, version: string): Promise<void> {
    await rm(this.fileOf(name, version), { force: true });
    if ((await this.versions(name)).length === 0) await rmdir(path.dirname(this.fileOf(name, version))).catch(() => {});
  }

  /** Makes `version` current and records it in the history (once per version) and on the trail. */
  async setCurrent(name: string, version: string, bytes: number): Promise<void> {
    await this.#change((m) => {
      const rec = (m.functions[name] ??= { current: null, history: [], trail: [] });
      if (!rec.history.some((h) => h.version === version)) rec.history.push({ version, deployedAt: new Date().toISOString(), bytes });
      rec.current = version;
      rec.trail.push(version);
    });
  }

  /** Steps back along the trail: the version served before the current one becomes current. */
  async stepBack(name: string): Promise<string> {
    return this.#change((m) => {
      const rec = m.functions[name];
      if (!rec || rec.trail.length < 2) throw new Error('no earlier version');
      rec.trail.pop();
      rec.current = rec.trail[rec.trail.length - 1];
      return rec.current;
    });
  }

  /** Marks the function as not deployed (its versions stay on disk for a rollback). */
  async clearCurrent(name: string): Promise<boolean> {
    if ((await this.current(name)) === null) return false;
    return this.#change((m) => {
      const rec = m.functions[name];
      if (!rec || rec.current === null) return false;
      rec.current = null;
      return true;
    });
  }

  async current(name: string): Promise<string | null> {
    return (await this.#load()).functions[name]?.current ?? null;
  }

  async versions(name: string): Promise<VersionRecord[]> {
    return [...((await this.#load()).functions[name]?.history ?? [])];
  }

  /** Every function with a current version, for loading at start. */
  async deployed(): Promise<{ name: string; version: string; file: string }[]> {
    const m = await this.#load();
    return Object.entries(m.functions)
      .filter(([, r]) => r.current !== null)
      .map(([name, r]) => ({ name, version: r.current!, file: this.fileOf(name, r.current!) }));
  }

  /** The version served before the current one, if any (what a rollback returns to). */
  async previous(name: string): Promise<string | null> {
    const trail = (await this.#load()).functions[name]?.trail ?? [];
    return trail.length >= 2 ? trail[trail.length - 2] : null;
  }
}

/** Writes `data` to a temporary file beside `file`, then renames it over `file`; the temporary goes on failure. */
async function writeAtomically(file: string, data: string): Promise<void> {
  // One temporary name per file and process is enough: manifest changes run one at a time, and so do the
  // deploys of a name (functions/deployer.ts), the only writers of its modules.
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
}
