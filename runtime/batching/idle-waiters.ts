/**
 * Who waits for a batcher to drain (a graceful stop, the bench between runs): woken by the batcher at the
 * moments it may have become idle (a batch settled, an item expired or left), never by polling.
 */
export class IdleWaiters {
  readonly #waiters: (() => void)[] = [];

  constructor(private readonly isIdle: () => boolean) {}

  /** Resolves at once when idle, else at the first {@link check} that finds it idle. */
  wait(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((r) => this.#waiters.push(r));
  }

  /** Wakes every waiter if idle now. */
  check(): void {
    if (this.isIdle()) for (const w of this.#waiters.splice(0)) w();
  }
}
