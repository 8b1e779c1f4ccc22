/**
 * `Server-Timing` values, written as plain header strings: a reply's headers go to @hono/node-server as one
 * plain object, which it hands straight to Node (Hono's timing middleware appends to a WHATWG Headers per
 * call instead, a measurable share of a served call in a CPU profile).
 */

/** The `Server-Timing` value `total`, from the request's arrival on the event loop to now, ms. */
export function serverTimingTotal(arrivalMs: number): string {
  return `total;dur=${(performance.now() - arrivalMs).toFixed(2)}`;
}

/** `total` as a header object (none without an arrival time). */
export function totalTiming(arrivalMs: number | undefined): Record<string, string> {
  return arrivalMs === undefined ? {} : { 'server-timing': serverTimingTotal(arrivalMs) };
}

/** A served call's parts: host (pre, post) and device (queue, inference), and the total, ms. */
export function callTiming(parts: { preMs: number; queueMs: number; inferenceMs: number; postMs?: number }, arrivalMs: number): string {
  const post = parts.postMs === undefined ? '' : `, post;dur=${parts.postMs.toFixed(2)}`;
  return `pre;dur=${parts.preMs.toFixed(2)}, queue;dur=${parts.queueMs.toFixed(2)}, inference;dur=${parts.inferenceMs.toFixed(2)}${post}, total;dur=${(performance.now() - arrivalMs).toFixed(2)}`;
}
