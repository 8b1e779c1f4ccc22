/**
 * An SLO or delay as a handler author writes it: `"50ms"`, `"0.5s"`, or a number of milliseconds.
 */
export type Duration = number | `${number}ms` | `${number}s`;

const pattern = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s)\s*$/;

/**
 * Parses a {@link Duration} into milliseconds.
 *
 * @throws TypeError naming what was given when it is not a positive, finite duration.
 * @example parseDuration("0.5s") // 500
 */
export function parseDuration(value: unknown, what = 'duration'): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value > 0) return value;
  } else if (typeof value === 'string') {
    const m = pattern.exec(value);
    if (m) {
      const ms = Number(m[1]) * (m[2] === 's' ? 1000 : 1);
      if (ms > 0) return ms;
    }
  }
  throw new TypeError(`${what} must be a positive duration like "50ms", "0.5s" or a number of ms, got ${JSON.stringify(value)}`);
}
