import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { requestId } from 'hono/request-id';
import { setMetric, timing } from 'hono/timing';
import { BadInputError, NotFoundError, PayloadTooLargeError } from '../errors.ts';
import { describe, refreshModelGauges, summarize } from '../introspect.ts';
import type { Runtime } from '../runtime.ts';
import { adminRoutes } from './admin.ts';
import { errorReply } from './error-reply.ts';
import { InFlight } from './in-flight.ts';

/** Reads a request's optional `x-slo-ms` header: it may tighten a function's SLO for this call. */
function sloHeader(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Number(value);
  if (!Number.isFinite(ms) || ms <= 0) throw new BadInputError('bad_request', `x-slo-ms must be a positive number of ms, got "${value}"`);
  return ms;
}

/**
 * The HTTP edge: thin routes over {@link Runtime}. Binding a socket is server/listen.ts's job, so tests
 * can also call `app.request()`.
 */
export function createApp(rt: Runtime, inFlight = new InFlight()): Hono {
  const app = new Hono();
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

  app.post(
    '/functions/:name',
    bodyLimit({
      maxSize: rt.config.limits.bodyBytes,
      onError: () => {
        throw new PayloadTooLargeError(rt.config.limits.bodyBytes);
      },
    }),
    timing({ total: true }),
    async (c) => {
      const name = c.req.param('name');
      if (!rt.functions.get(name)) throw new NotFoundError('function', name);
      const text = await c.req.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (err) {
        throw new BadInputError('bad_json', `body is not valid JSON: ${(err as Error).message}`);
      }
      const r = await rt.invoke(name, body, { signal: c.req.raw.signal, sloMs: sloHeader(c.req.header('x-slo-ms')) });
      setMetric(c, 'pre', r.preMs);
      setMetric(c, 'queue', r.batch.queueMs);
      setMetric(c, 'inference', r.batch.inferenceMs);
      setMetric(c, 'post', r.postMs);
      c.header('x-batch-id', String(r.batch.batchId));
      c.header('x-batch-size', String(r.batch.batchSize));
      c.header('x-function-version', r.fn.version);
      return c.json(r.result as object);
    },
  );
  return app;
}
