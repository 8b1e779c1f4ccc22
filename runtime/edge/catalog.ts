import type { FunctionListing } from '../shared/edge-protocol.ts';

/**
 * The function -> (model, SLO) map, learnt from the origins' `GET /functions` and trusted for a TTL. A stale
 * map keeps serving while one refresh runs in the background, so only an isolate's very first calls wait
 * for it. Refreshes are not shared between calls as promises: a Worker may not hand one request's I/O to
 * another, so each refresh belongs to the call that started it.
 */
export class Catalog {
  #byName = new Map<string, FunctionListing>();
  #fetchedAtMs = -Infinity;
  #refreshing = false;
  readonly #ttlMs: number;

  constructor(ttlMs: number) {
    this.#ttlMs = ttlMs;
  }

  /** Whether any list has been learnt yet. */
  get loaded(): boolean {
    return this.#fetchedAtMs > -Infinity;
  }

  get(name: string): FunctionListing | undefined {
    return this.#byName.get(name);
  }

  /** Ms since the map was learnt (Infinity before the first list). */
  ageMs(nowMs: number): number {
    return nowMs - this.#fetchedAtMs;
  }

  /** True (and the refresh is then this caller's to run) when the map is stale and no refresh is running. */
  claimRefresh(nowMs: number): boolean {
    if (this.#refreshing || nowMs - this.#fetchedAtMs < this.#ttlMs) return false;
    this.#refreshing = true;
    return true;
  }

  /**
   * Takes the lists the origins answered (in origin order: the first to list a name wins); undefined when
   * none answered, which keeps the old map and lets the next call try again.
   */
  store(lists: readonly (readonly FunctionListing[])[] | undefined, nowMs: number): void {
    this.#refreshing = false;
    if (!lists) return;
    const next = new Map<string, FunctionListing>();
    for (const list of lists) for (const f of list) if (!next.has(f.name)) next.set(f.name, f);
    this.#byName = next;
    this.#fetchedAtMs = nowMs;
  }

  names(): string[] {
    return [...this.#byName.keys()];
  }
}

/** Reads one origin's `GET /functions`; undefined if it does not answer 200 with a list in time. */
export async function fetchListing(fetcher: typeof fetch, origin: string, timeoutMs: number): Promise<FunctionListing[] | undefined> {
  try {
    const res = await fetcher(`${origin}/functions`, { signal: AbortSignal.timeout(timeoutMs) });
    if (res.status !== 200) return undefined;
    const body = (await res.json()) as { functions?: unknown };
    if (!Array.isArray(body.functions)) return undefined;
    return body.functions.filter(
      (f): f is FunctionListing => typeof f?.name === 'string' && typeof f?.model === 'string' && typeof f?.sloMs === 'number',
    );
  } catch {
    return undefined;
  }
}
