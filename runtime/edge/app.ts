import { Hono, type Context } from 'hono';
import { sloHeader } from '../shared/edge-protocol.ts';
import { callBudget } from './budget.ts';
import { Catalog, fetchListing } from './catalog.ts';
import { forward, type ForwardContext } from './forward.ts';
import { OriginPool } from './origin-pool.ts';
import { notFound, payloadTooLarge } from './replies.ts';
import { routeOrder } from './route.ts';
import type { EdgeSettings } from './settings.ts';

/** The little of a Worker's ExecutionContext the edge uses: work that may finish after the reply. */
export interface Background {
  waitUntil(promise: Promise<unknown>): void;
}

export interface EdgeDeps {
  /** Outbound fetch (the Worker's global fetch). */
  readonly fetch: typeof fetch;
  /** The clock in ms. On Workers it advances with I/O, which is all the edge measures. */
  readonly now: () => number;
}

/** The Worker's ExecutionContext, or none where the app runs without one (`app.request()` in a test). */
function background(c: Context): Background | undefined {
  try {
    return c.executionCtx;
  } catch {
    return undefined;
  }
}

/** How long a catalog read or a readiness probe may take before its origin counts as not answering. */
const controlTimeoutMs = 1000;

/**
 * The edge as a Hono app: `POST /functions/:name` is forwarded to the runtime where the function's model
 * batches (rendezvous on the model name), with failover inside the call's budget; `GET /functions` and
 * `GET /functions/:name` are read from one origin; `GET /edge/status` shows the edge's view of its origins.
 * State (origin health, load, the catalog) lives as long as the isolate.
 */
export function createEdgeApp(settings: EdgeSettings, deps: EdgeDeps): Hono {
  const pool = new OriginPool(settings.origins, settings);
  const catalog = new Catalog(settings.catalogTtlMs);
  const ctx: ForwardContext = {
    pool,
    fetch: deps.fetch,
    now: deps.now,
    minBudgetMs: settings.minBudgetMs,
    upstreamGraceMs: settings.upstreamGraceMs,
  };
  let turn = 0;

  /** Every reachable origin's list, merged: the background refresh. */
  const refreshCatalog = async () => {
    const lists = await Promise.all(pool.urls.filter((u) => !pool.isDown(u)).map((u) => fetchListing(deps.fetch, u, controlTimeoutMs)));
    const answered = lists.filter((l) => l !== undefined);
    catalog.store(answered.length > 0 ? answered : undefined, deps.now());
  };
  /**
   * An isolate's first calls: the first list any origin gives, within what the call can spare, so that a
   * silent origin does not hold the call (the full, merged list follows after the TTL).
   */
  const firstCatalog = async (waitMs: number) => {
    const ask = (u: string) => fetchListing(deps.fetch, u, waitMs).then((l) => l ?? Promise.reject(new Error('no list')));
    const first = await Promise.any(pool.urls.map(ask)).catch(() => undefined);
    catalog.store(first ? [first] : undefined, deps.now());
  };
  const probe = async (url: string) => {
    let ready = false;
    try {
      const res = await deps.fetch(`${url}/readyz`, { signal: AbortSignal.timeout(controlTimeoutMs) });
      ready = res.status === 200;
      await res.body?.cancel();
    } catch {
      ready = false;
    }
    pool.probed(url, ready, deps.now());
  };
  /** Background upkeep a call triggers: probes of down origins that have rested, a stale catalog's refresh. */
  const upkeep = (bg: Background | undefined) => {
    const now = deps.now();
    const jobs = pool.takeDueProbes(now).map(probe);
    if (catalog.loaded && catalog.claimRefresh(now)) jobs.push(refreshCatalog());
    for (const job of jobs) bg?.waitUntil(job);
  };

  const app = new Hono();
  app.get('/edge/status', (c) => {
    const now = deps.now();
    return c.json({
      routing: settings.routing,
      origins: pool.status(now),
      catalog: { ageMs: catalog.ageMs(now), functions: catalog.names() },
    });
  });

  app.post('/functions/:name', async (c) => {
    const arrivalMs = deps.now();
    upkeep(background(c));
    const declared = Number(c.req.header('content-length'));
    if (declared > settings.maxBodyBytes) return payloadTooLarge(settings.maxBodyBytes);
    const body = await c.req.arrayBuffer();
    if (body.byteLength > settings.maxBodyBytes) return payloadTooLarge(settings.maxBodyBytes);
    // Until an isolate has a catalog, each call waits for one of its own (a Worker may not await another
    // request's I/O), so none is routed by its function name meanwhile; later calls use the map while a
    // refresh runs behind them.
    if (!catalog.loaded) await firstCatalog(Math.min(controlTimeoutMs, settings.defaultBudgetMs));
    const name = c.req.param('name');
    const fn = catalog.get(name);
    // An unknown function is routed by its name: the runtime answers it (404, or it was just deployed).
    const model = fn?.model ?? name;
    const budget = callBudget(arrivalMs, fn?.sloMs, c.req.header(sloHeader) ?? null, settings.defaultBudgetMs);
    const order = routeOrder(model, pool.view(model, name, deps.now()), { ...settings, turn: turn++ });
    return forward(ctx, {
      method: 'POST',
      path: `/functions/${encodeURIComponent(name)}`,
      headers: c.req.raw.headers,
      body,
      model,
      fn: name,
      budget,
      order,
    });
  });

  // Read-only views go to one origin, by the same rendezvous order, with the same failover.
  app.get('/functions/:name?', async (c) => {
    upkeep(background(c));
    const key = c.req.param('name') ?? '';
    const order = routeOrder(key, pool.view(key, key, deps.now()), { ...settings, routing: 'rendezvous', turn: 0 });
    const budget = callBudget(deps.now(), undefined, null, controlTimeoutMs);
    return forward(ctx, {
      method: 'GET',
      path: new URL(c.req.url).pathname,
      headers: c.req.raw.headers,
      body: null,
      model: key,
      fn: key,
      budget,
      order,
    });
  });

  app.notFound((c) => notFound(c.req.method, c.req.path));
  return app;
}
