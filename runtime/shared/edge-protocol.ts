/**
 * What the runtime and the edge Worker say to each other over HTTP, beyond a plain function call. Both sides
 * import this file, so it imports nothing: no Node module, no Workers type, no runtime code.
 */

/** On every served call: the load of the call's model on the runtime that served it (see {@link LoadReport}). */
export const loadHeader = 'x-edgebatch-load';
/** On every reply through the edge: the origin (runtime base URL) whose answer this is. */
export const originHeader = 'x-edge-origin';
/** On every reply through the edge: how many origins were tried for this call. */
export const attemptsHeader = 'x-edge-attempts';
/** A call's latency objective in ms; the edge forwards what is left of it after its own time. */
export const sloHeader = 'x-slo-ms';

/**
 * A caller's `x-slo-ms` as ms: a positive number, or null when the header is malformed (the runtime answers
 * that with a 400; the edge forwards it untouched so that the runtime does).
 */
export function sloMsOf(header: string): number | null {
  const ms = Number(header);
  return Number.isFinite(ms) && ms > 0 ? ms : null;
}

/**
 * The body of every error reply, from a runtime or from the edge: `{ error: { code, message, ...details } }`,
 * so a client cannot tell, and need not care, which of the two refused it.
 */
export function errorBody(
  code: string,
  message: string,
  details?: Record<string, unknown>,
): { error: { code: string; message: string } & Record<string, unknown> } {
  return { error: { code, message, ...details } };
}

/** A `Retry-After` in whole seconds, at least 1 (0 would invite an immediate retry), from seconds. */
export function retryAfterSeconds(sec: number): number {
  return Math.max(1, Math.ceil(sec));
}

/**
 * One model's load on one runtime, as its scheduler sees it when a reply leaves: items waiting for a batch,
 * the model's live arrival rate, and the largest rate the queueing formula says it can take within the
 * function's SLO (null while the model's cost is not yet fitted). The edge spills to another origin when
 * `ratePerSec / maxRatePerSec` nears 1, before the runtime has to shed.
 */
export interface LoadReport {
  readonly waiting: number;
  readonly ratePerSec: number;
  readonly maxRatePerSec: number | null;
}

/** `waiting=3, rate=812.5, max=3620` (max=- when unknown): short, and readable in curl -i. */
export function formatLoad(r: LoadReport): string {
  const max = r.maxRatePerSec === null || !Number.isFinite(r.maxRatePerSec) ? '-' : r.maxRatePerSec.toFixed(1);
  return `waiting=${r.waiting}, rate=${r.ratePerSec.toFixed(1)}, max=${max}`;
}

/** The inverse of {@link formatLoad}; undefined for a missing or malformed header (an older runtime, a proxy). */
export function parseLoad(header: string | null | undefined): LoadReport | undefined {
  if (!header) return undefined;
  const fields = new Map<string, string>();
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const waiting = Number(fields.get('waiting'));
  const ratePerSec = Number(fields.get('rate'));
  const max = fields.get('max');
  const maxRatePerSec = max === undefined || max === '-' ? null : Number(max);
  if (!Number.isFinite(waiting) || !Number.isFinite(ratePerSec) || (maxRatePerSec !== null && !Number.isFinite(maxRatePerSec)))
    return undefined;
  return { waiting, ratePerSec, maxRatePerSec };
}

/** One entry of a runtime's `GET /functions` list, as far as the edge reads it. */
export interface FunctionListing {
  readonly name: string;
  readonly model: string;
  readonly sloMs: number;
}
