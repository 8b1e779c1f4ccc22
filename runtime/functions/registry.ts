import type { LoadedFunction, LoadProblem } from './load.ts';

/**
 * The functions being served, by name. Replacing one is a single map write, so a swap is atomic: a request
 * that already holds the old version finishes on it, the next one gets the new version.
 */
export class FunctionRegistry {
  readonly #fns = new Map<string, LoadedFunction>();
  /** The latest problem per file, kept until that file loads cleanly. */
  readonly #problems = new Map<string, LoadProblem>();
  readonly #listeners: (() => void)[] = [];

  /** Calls `fn` after every change of the functions served (a swap, an addition, a removal). */
  onChange(fn: () => void): void {
    this.#listeners.push(fn);
  }

  get(name: string): LoadedFunction | undefined {
    return this.#fns.get(name);
  }

  list(): LoadedFunction[] {
    return [...this.#fns.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Serves `fn` from now on; returns the version it replaced. */
  set(fn: LoadedFunction): LoadedFunction | undefined {
    const old = this.#fns.get(fn.name);
    this.#fns.set(fn.name, fn);
    this.#problems.delete(fn.file);
    for (const l of this.#listeners) l();
    return old;
  }

  delete(name: string): boolean {
    const had = this.#fns.delete(name);
    if (had) for (const l of this.#listeners) l();
    return had;
  }

  reportProblem(problem: LoadProblem): void {
    this.#problems.set(problem.file, problem);
  }

  clearProblem(file: string): void {
    this.#problems.delete(file);
  }

  problems(): LoadProblem[] {
    return [...this.#problems.values()];
  }

  /** Functions that use `model`. */
  usersOf(model: string): LoadedFunction[] {
    return this.list().filter((f) => f.definition.model === model);
  }
}
