import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import { setMetric, timing } from 'hono/timing';
import { BadInputError, NotFoundError } from '../errors.ts';
import { describe, refreshModelGauges, summarize } from '../introspect.ts';
import type { Runtime } from '../runtime.ts';
import { adminRoutes } from './admin.ts';
import { errorReply } from './error-reply.ts';
import { InFlight } from './in-flight.ts';
import { loadReporter } from './load-report.ts';
import { loadHeader } from '../shared/edge-protocol.ts';
import { cancellationOf, readBody, type NodeBindings } from './node-request.ts';

/** What the app's context carries: Node's request objects (from @hono/node-server) and the arrival time. */
export type AppEnv = { Bindings: Partial<NodeBindings>; Variables: { arrivalMs: number } };

/** Reads a request's optional `x-slo-ms` header: it may tighten a function's SLO for this call. */
function sloHeader(value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Number(value);
  if (!Number.isFinite(ms) || ms <= 0) throw new BadInputError('bad_request', `x-slo-ms must be a positive number of ms, got "${value}"`);
  return ms;
}

/**
 * The HTTP edge: thin routes over {@link Runtime}. Binding a socket is server/listen.ts's job, so tests
 * can also call `app.request()`.
 */
export function createApp(rt: Runtime, inFlight = new InFlight()): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  // The host stage: a call's arrival is when its request reached the loop, less the loop's current lag
  // (what it waited to be read); its deadline counts from there. Every answered call counts toward the
  // loop's cost per call.
  app.use(async (c, next) => {
    const now = performance.now();
    c.set('arrivalMs', now - rt.host.view().lagMs);
    rt.host.arrival(now);
    try {
      await next();
    } finally {
      rt.host.answered();
    }
  });
  app.use(inFlight.middleware());
  app.use(requestId());
  app.onError((err, c) => errorReply(c, err, rt.log));
  app.notFound((c) => c.json({ error: { code: 'not_found', message: `no route ${c.req.method} ${c.req.path}` } }, 404));

  app.get('/healthz', (c) => c.json({ ok: true }));
  app.get('/readyz', (c) => {
    const models = Object.fromEntries(rt.modelStatus);
    return c.json({ ready: rt.ready, models }, rt.ready ? 200 : 503);
  });
  app.get('/metrics', async (c) => {
    refreshModelGauges(rt);
    return c.text(await rt.metrics.registry.metrics(), 200, { 'content-type': rt.metrics.registry.contentType });
  });

  if (rt.config.adminToken) app.route('/admin', adminRoutes(rt, rt.config.adminToken));

  app.get('/functions', (c) => c.json({ functions: rt.functions.list().map((f) => summarize(rt, f)), problems: rt.problems() }));
  app.get('/functions/:name', (c) => {
    const fn = rt.functions.get(c.req.param('name'));
    if (!fn) throw new NotFoundError('function', c.req.param('name'));
    return c.json(describe(rt, fn));
  });

  const bodyBytes = rt.config.limits.bodyBytes;
  // Every served call tells an edge in front how loaded its model is here, so the edge can spill early.
  const loadOf = loadReporter(rt);
  app.post('/functions/:name', timing({ total: true }), async (c) => {
    const { incoming, outgoing } = c.env ?? {};
    const stages = rt.stages;
    // Read and parse only once the call is admitted at the door: a shed call costs no body read or parse.
    const readJson = async () => {
      let t = performance.now();
      const text = incoming ? (await readBody(incoming, bodyBytes)).toString('utf8') : await c.req.text();
      stages.add('read', performance.now() - t);
      t = performance.now();
      try {
        return JSON.parse(text) as unknown;
      } catch (err) {
        throw new BadInputError('bad_json', `body is not valid JSON: ${(err as Error).message}`);
      } finally {
        stages.add('parse', performance.now() - t);
      }
    };
    let bodyRead = false;
    const r = await rt
      .invoke(c.req.param('name'), undefined, {
        arrivalMs: c.get('arrivalMs'),
        sloMs: sloHeader(incoming ? incoming.headers['x-slo-ms'] : c.req.header('x-slo-ms')),
        cancel: outgoing && cancellationOf(outgoing),
        signal: outgoing ? undefined : c.req.raw.signal,
        readBody: () => ((bodyRead = true), readJson()),
      })
      .catch((err: unknown) => {
        // Refused before its body was read: let the bytes flow past unparsed at once, so the connection's
        // next request is read without delay and the connection stays open.
        if (!bodyRead && incoming && !incoming.readableEnded) incoming.resume();
        throw err;
      });
    const t = performance.now();
    setMetric(c, 'pre', r.preMs);
    setMetric(c, 'queue', r.batch.queueMs);
    setMetric(c, 'inference', r.batch.inferenceMs);
    setMetric(c, 'post', r.postMs);
    c.header('x-batch-id', String(r.batch.batchId));
    c.header('x-batch-size', String(r.batch.batchSize));
    c.header('x-function-version', r.fn.version);
    c.header(loadHeader, loadOf(r.fn));
    const res = c.json(r.result as object);
    stages.add('reply', performance.now() - t);
    return res;
  });
  return app;
}
