/**
 * The edge's settings: read once from the Worker's environment (wrangler.toml `[vars]`, `--var`, or the
 * dashboard), with every default in this one file. Values arrive as strings; a bad one throws a TypeError
 * that names the variable, what it expects and what it got.
 */
export interface EdgeVars {
  /** Runtime base URLs, separated by commas or spaces: `http://10.0.0.5:8787, http://10.0.0.6:8787`. */
  ORIGINS?: string;
  /** `rendezvous` (default: model-affine) or `round-robin` (the baseline the tests and bench compare with). */
  ROUTING?: string;
  /** How many top rendezvous origins a model may spread over when the first is loaded (default 2). */
  SPREAD?: string;
  /** Utilisation (live rate / the formula's max rate) at which a call goes to the next of the top SPREAD (default 0.8). */
  SPILL_AT?: string;
  /** How long the function -> model map learnt from `GET /functions` is trusted (default 5000 ms). */
  CATALOG_TTL_MS?: string;
  /** Consecutive connection failures after which an origin is marked down (default 2). */
  DOWN_AFTER_FAILURES?: string;
  /** How long a down origin rests before the edge probes its `/readyz` (default 500 ms). */
  PROBE_INTERVAL_MS?: string;
  /** Below this budget a call is not forwarded: it cannot cross the hop and be batched (default 2 ms). */
  MIN_BUDGET_MS?: string;
  /** How long past a call's deadline the edge still waits for an origin's answer (default 50 ms). */
  UPSTREAM_GRACE_MS?: string;
  /** Budget of a call whose function the edge does not know and whose caller set no x-slo-ms (default 10000 ms). */
  DEFAULT_BUDGET_MS?: string;
  /** Largest request body forwarded; Cloudflare's smallest plan limit is 100 MB (default 104857600). */
  MAX_BODY_BYTES?: string;
}

export type Routing = 'rendezvous' | 'round-robin';

/** Every setting resolved, with units in the names. */
export interface EdgeSettings {
  readonly origins: readonly string[];
  readonly routing: Routing;
  readonly spread: number;
  readonly spillAt: number;
  readonly catalogTtlMs: number;
  readonly downAfterFailures: number;
  readonly probeIntervalMs: number;
  readonly minBudgetMs: number;
  readonly upstreamGraceMs: number;
  readonly defaultBudgetMs: number;
  readonly maxBodyBytes: number;
}

const defaults = {
  routing: 'rendezvous',
  spread: 2,
  spillAt: 0.8,
  catalogTtlMs: 5000,
  downAfterFailures: 2,
  probeIntervalMs: 500,
  minBudgetMs: 2,
  upstreamGraceMs: 50,
  defaultBudgetMs: 10_000,
  maxBodyBytes: 100 * 1024 * 1024,
} as const satisfies Omit<EdgeSettings, 'origins'>;

function num(vars: EdgeVars, key: keyof EdgeVars, fallback: number, ok: (n: number) => boolean, expected: string): number {
  const raw = vars[key];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!ok(n)) throw new TypeError(`${key} must be ${expected}, got "${raw}"`);
  return n;
}

const positive = (n: number) => Number.isFinite(n) && n > 0;
const positiveInt = (n: number) => Number.isInteger(n) && n > 0;

/** Resolves the Worker's vars into settings; throws a TypeError naming the first bad variable. */
export function readSettings(vars: EdgeVars): EdgeSettings {
  const origins = (vars.ORIGINS ?? '')
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((o) => o.replace(/\/+$/, ''));
  if (origins.length === 0) throw new TypeError(`ORIGINS must list at least one runtime URL, got "${vars.ORIGINS ?? ''}"`);
  for (const o of origins) {
    if (!/^https?:\/\/[^/]+$/.test(o)) throw new TypeError(`ORIGINS must hold base URLs like http://host:port, got "${o}"`);
  }
  const routing = vars.ROUTING || defaults.routing;
  if (routing !== 'rendezvous' && routing !== 'round-robin')
    throw new TypeError(`ROUTING must be "rendezvous" or "round-robin", got "${routing}"`);
  return {
    origins: [...new Set(origins)],
    routing,
    spread: num(vars, 'SPREAD', defaults.spread, positiveInt, 'a positive integer'),
    spillAt: num(vars, 'SPILL_AT', defaults.spillAt, positive, 'a positive number'),
    catalogTtlMs: num(vars, 'CATALOG_TTL_MS', defaults.catalogTtlMs, positive, 'a positive number of ms'),
    downAfterFailures: num(vars, 'DOWN_AFTER_FAILURES', defaults.downAfterFailures, positiveInt, 'a positive integer'),
    probeIntervalMs: num(vars, 'PROBE_INTERVAL_MS', defaults.probeIntervalMs, positive, 'a positive number of ms'),
    minBudgetMs: num(vars, 'MIN_BUDGET_MS', defaults.minBudgetMs, positive, 'a positive number of ms'),
    upstreamGraceMs: num(vars, 'UPSTREAM_GRACE_MS', defaults.upstreamGraceMs, (n) => Number.isFinite(n) && n >= 0, 'a number of ms >= 0'),
    defaultBudgetMs: num(vars, 'DEFAULT_BUDGET_MS', defaults.defaultBudgetMs, positive, 'a positive number of ms'),
    maxBodyBytes: num(vars, 'MAX_BODY_BYTES', defaults.maxBodyBytes, positiveInt, 'a positive integer of bytes'),
  };
}
