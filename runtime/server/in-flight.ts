/**
 * Counts HTTP requests being handled, so a graceful stop can wait until every request it accepted has
 * been answered before it closes the remaining (idle keep-alive) connections.
 */
export class InFlight {
  #count = 0;
  /** Set when stopping: every reply then carries `Connection: close`, so clients stop reusing connections. */
  draining = false;
  #waiters: (() => void)[] = [];

  get count(): number {
    return this.#count;
  }

  /** A request came in (server/request-frame.ts). */
  enter(): void {
    this.#count++;
  }

  /** A request was answered. */
  leave(): void {
    if (--this.#count === 0) for (const w of this.#waiters.splice(0)) w();
  }

  /** Resolves when no request is being handled. */
  idle(): Promise<void> {
    return this.#count === 0 ? Promise.resolve() : new Promise((r) => this.#waiters.push(r));
  }
}
