import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import { setMetric, timing } from 'hono/timing';
import { BadInputError, NotFoundError } from '../errors.ts';
import { describe, refreshModelGauges, summarize } from '../introspect.ts';
import type { Runtime } from '../runtime.ts';
import { adminRoutes } from './admin.ts';
import { errorReply } from './error-reply.ts';
import { InFlight } from './in-flight.ts';
import { CallRequest, type AppEnv } from './call.ts';
import { v2Routes } from './v2/routes.ts';

export type { AppEnv } from './call.ts';

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
  app.route('/v2', v2Routes(rt));

  app.get('/functions', (c) => c.json({ functions: rt.functions.list().map((f) => summarize(rt, f)), problems: rt.problems() }));
  app.get('/functions/:name', (c) => {
    const fn = rt.functions.get(c.req.param('name'));
    if (!fn) throw new NotFoundError('function', c.req.param('name'));
    return c.json(describe(rt, fn));
  });

  const bodyBytes = rt.config.limits.bodyBytes;
  app.post('/functions/:name', timing({ total: true }), async (c) => {
    const stages = rt.stages;
    const call = new CallRequest(c, bodyBytes, stages);
    // Read and parse only once the call is admitted at the door: a shed call costs no body read or parse.
    const readJson = async () => {
      const text = (await call.body()).toString('utf8');
      const t = performance.now();
      try {
        return JSON.parse(text) as unknown;
      } catch (err) {
        throw new BadInputError('bad_json', `body is not valid JSON: ${(err as Error).message}`);
      } finally {
        stages.add('parse', performance.now() - t);
      }
    };
    const r = await call.run(rt.invoke(c.req.param('name'), undefined, { ...call.options(), readBody: readJson }));
    const t = performance.now();
    setMetric(c, 'pre', r.preMs);
    setMetric(c, 'queue', r.batch.queueMs);
    setMetric(c, 'inference', r.batch.inferenceMs);
    setMetric(c, 'post', r.postMs);
    c.header('x-batch-id', String(r.batch.batchId));
    c.header('x-batch-size', String(r.batch.batchSize));
    c.header('x-function-version', r.fn.version);
    const res = c.json(r.result as object);
    stages.add('reply', performance.now() - t);
    return res;
  });
  return app;
}
