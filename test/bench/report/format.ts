/** Number formatting shared by the bench's Markdown tables. */

/** A figure to `digits` decimals; `-` when there is none, `timeout` for an infinite latency. */
export const n = (x: number | null | undefined, digits = 1) =>
  x === null || x === undefined || Number.isNaN(x) ? '-' : !Number.isFinite(x) ? 'timeout' : x.toFixed(digits);

/** A share as a percentage to one decimal; `-` when there is none. */
export const pct = (x: number | null | undefined) =>
  x !== null && x !== undefined && Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : '-';
