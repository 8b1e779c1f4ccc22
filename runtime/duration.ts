/**
 * An SLO or delay as a handler author writes it: `"50ms"`, `"0.5s"`, or a number of milliseconds.
 */
export type Duration = number | `${number}ms` | `${number}s`;

const pattern = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s)\s*$/;

/** Milliseconds of a {@link Duration}, or undefined when `value` is not a positive, finite duration. */
export function durationMs(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = pattern.exec(value);
  const ms = m ? Number(m[1]) * (m[2] === 's' ? 1000 : 1) : 0;
  return ms > 0 ? ms : undefined;
}

/** What a valid {@link Duration} looks like, for messages that refuse one. */
export const durationExpected = 'a positive duration like "50ms", "0.5s" or a number of ms';

/**
 * Parses a {@link Duration} into milliseconds.
 *
 * @throws TypeError naming what was given when it is not a positive, finite duration.
 * @example parseDuration("0.5s") // 500
 */
export function parseDuration(value: unknown, what = 'duration'): number {
  const ms = durationMs(value);
  if (ms === undefined) throw new TypeError(`${what} must be ${durationExpected}, got ${JSON.stringify(value)}`);
  return ms;
}
