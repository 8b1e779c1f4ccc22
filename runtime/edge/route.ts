import type { OriginView } from './origin-pool.ts';
import { rendezvousOrder } from './rendezvous.ts';
import type { Routing } from './settings.ts';

export interface RouteOptions {
  readonly routing: Routing;
  /** How many of the model's top available origins may take its calls when the first is loaded. */
  readonly spread: number;
  /** Utilisation at which the next of those is preferred. */
  readonly spillAt: number;
  /** For round-robin: the call's turn (a counter); ignored by rendezvous. */
  readonly turn: number;
}

/**
 * The origins to try for one call of `key` (a model name, or the function name when the model is not
 * known), first choice first; unavailable origins are left out, so an empty list means none can take it.
 *
 * Rendezvous: the key's highest-ranked available origin, unless its reported utilisation has reached
 * `spillAt`; then the first of the top `spread` below it, or, when all are loaded, the least loaded of
 * them. The rest follow in rank order, as failover. Spilling early keeps a model's calls on as few origins
 * as its rate needs, which is where its batches fill.
 */
export function routeOrder(key: string, origins: readonly OriginView[], opts: RouteOptions): string[] {
  const available = origins.filter((o) => o.available);
  if (opts.routing === 'round-robin') {
    const n = available.length;
    return available.map((_, i) => available[(opts.turn + i) % n].url);
  }
  const byUrl = new Map(available.map((o) => [o.url, o]));
  const ranked = rendezvousOrder(key, [...byUrl.keys()]).map((u) => byUrl.get(u)!);
  const top = ranked.slice(0, opts.spread);
  const loaded = (o: OriginView) => o.utilization !== undefined && o.utilization >= opts.spillAt;
  let first = top.find((o) => !loaded(o));
  if (!first) first = top.reduce((a, b) => ((b.utilization ?? 0) < (a.utilization ?? 0) ? b : a), top[0]);
  if (!first) return [];
  return [first.url, ...ranked.filter((o) => o !== first).map((o) => o.url)];
}
