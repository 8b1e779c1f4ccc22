/**
 * Rendezvous (highest-random-weight) hashing: every origin gets a pseudo-random weight for a key, and the
 * key's origins are ranked by weight. All edge isolates agree on the ranking without talking to each
 * other, and removing one origin moves only the keys it ranked first. The key here is a model name, so the
 * calls of one model, from every function that uses it, meet on one runtime and fill its batches.
 */

/** 32-bit FNV-1a over the UTF-16 code units, then murmur3's finaliser to spread nearby strings apart. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The origins in the key's preference order, highest weight first. Ties (a 1 in 2^32 event) are broken by
 * the origin's name, so the order is total and the same everywhere.
 *
 * @example rendezvousOrder('mlp', ['http://a:8787', 'http://b:8787']) // the same two, mlp's favourite first
 */
export function rendezvousOrder<T extends string>(key: string, origins: readonly T[]): T[] {
  const weighted = origins.map((o) => ({ o, w: hash32(`${o}\u0000${key}`) }));
  weighted.sort((a, b) => b.w - a.w || (a.o < b.o ? -1 : a.o > b.o ? 1 : 0));
  return weighted.map((x) => x.o);
}
