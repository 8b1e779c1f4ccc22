import { HookTimeoutError } from '../errors.ts';

/** A `pre` or `post` in progress whose result was a promise. */
interface Watched {
  readonly deadlineMs: number;
  readonly fail: (err: Error) => void;
  readonly fn: string;
  readonly hook: 'pre' | 'post';
  readonly limitMs: number;
}

/**
 * Time limits on handlers' `pre` and `post`, with no timer per call: a hook that returns a plain value
 * costs nothing; one that returns a promise is put in a set that one interval sweeps every `sweepMs`, and
 * is failed with a {@link HookTimeoutError} once past its limit (so it fires between `limitMs` and
 * `limitMs + sweepMs` late). The interval runs only while something is watched and never keeps the process
 * alive. A hook that loops synchronously cannot be stopped on the event loop: the isolated check
 * (probe/probe.ts) refuses one that does so on its example.
 */
export class HookLimits {
  readonly #watched = new Set<Watched>();
  readonly #sweepMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(sweepMs = 50) {
    this.#sweepMs = sweepMs;
  }

  /** How many hooks are being waited on now. */
  get size(): number {
    return this.#watched.size;
  }

  /**
   * The hook's result, failed with a {@link HookTimeoutError} if it is a promise still pending `limitMs`
   * after now. `fn` and `hook` name it in the error.
   */
  limit<T>(result: T | PromiseLike<T>, limitMs: number, fn: string, hook: 'pre' | 'post'): T | Promise<T> {
    if (!isThenable(result)) return result;
    return new Promise<T>((resolve, reject) => {
      const w: Watched = { deadlineMs: performance.now() + limitMs, fail: reject, fn, hook, limitMs };
      this.#watched.add(w);
      this.#timer ??= setInterval(() => this.#sweep(), this.#sweepMs).unref();
      result.then(
        (v) => {
          this.#watched.delete(w);
          resolve(v);
        },
        (e: unknown) => {
          this.#watched.delete(w);
          reject(e);
        },
      );
    });
  }

  #sweep(): void {
    const now = performance.now();
    for (const w of this.#watched) {
      if (now < w.deadlineMs) continue;
      this.#watched.delete(w);
      w.fail(new HookTimeoutError(w.fn, w.hook, w.limitMs));
    }
    if (this.#watched.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}

/** Whether a hook's result is a promise (or any thenable) rather than a plain value. */
export function isThenable<T>(x: T | PromiseLike<T>): x is PromiseLike<T> {
  return typeof (x as PromiseLike<T> | null)?.then === 'function';
}
