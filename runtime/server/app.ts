import { Hono } from 'hono';
import { BadInputError, NotFoundError } from '../errors.ts';
import { describe, refreshModelGauges, summarize } from '../introspect.ts';
import type { AdmittedCall, Runtime } from '../runtime.ts';
import { adminRoutes } from './admin.ts';
import type { AppEnv } from './app-env.ts';
import { accessLog } from './access-log.ts';
import { errorReply } from './error-reply.ts';
import { errorBody } from '../shared/edge-protocol.ts';
import type { FrontDoor } from './front-door.ts';
import { CallRequest } from './call.ts';
import { InFlight } from './in-flight.ts';
import { framed } from './request-frame.ts';
import { jsonReply } from './json-reply.ts';
import { loadReporter } from './load-report.ts';
import { callTiming } from './server-timing.ts';
import { loadHeader } from '../shared/edge-protocol.ts';
import { v2Routes } from './v2/routes.ts';
import { dashboardRoutes } from './dashboard/routes.ts';
import { openApiRoutes } from './openapi/routes.ts';
import { bodyKind, mediaType } from './body-type.ts';
import { multipartFile } from './multipart.ts';
import { RawRequestBody } from '../functions/prepare.ts';

export type { AppEnv } from './app-env.ts';

/**
 * The HTTP edge: thin routes over {@link Runtime}. Binding a socket is server/listen.ts's job, so tests
 * can also call `app.request()`. `door` is the front door that admitted (or refused) invocations before
 * Hono saw them; without one the invoke route admits calls itself. The routes a client calls (the admin
 * API and /functions) are chained, so that their types make {@link AppType}, the contract the CLI's
 * `hc` client is typed by.
 */
export function createApp(rt: Runtime, inFlight = new InFlight(), door?: FrontDoor) {
  const app = new Hono<AppEnv>();
  const access = accessLog(rt.log, rt.config.accessLog);
  if (access) app.use(access);
  app.onError((err, c) => errorReply(c, err, rt.log));
  app.notFound((c) => c.json(errorBody('not_found', `no route ${c.req.method} ${c.req.path}`), 404));

  app.get('/healthz', (c) => c.json({ ok: true }));
  app.get('/readyz', (c) => {
    const models = rt.modelStatuses();
    return c.json({ ready: rt.ready, models }, rt.ready ? 200 : 503);
  });
  app.get('/metrics', async (c) => {
    refreshModelGauges(rt);
    return c.text(await rt.metrics.registry.metrics(), 200, { 'content-type': rt.metrics.registry.contentType });
  });

  const withAdmin = app.route('/admin', adminRoutes(rt, rt.config.adminToken));
  app.route('/v2', v2Routes(rt));
  // What a browser sees: the live dashboard at / and the API's OpenAPI document and docs page.
  app.route(
    '/',
    dashboardRoutes(rt, () => inFlight.draining),
  );
  app.route('/', openApiRoutes(rt));

  const bodyBytes = rt.config.limits.bodyBytes;
  // Every served call tells an edge in front how loaded its model is here, so the edge can spill early.
  const loadOf = loadReporter(rt);
  const routes = withAdmin
    .get('/functions', (c) => c.json({ functions: rt.functions.list().map((f) => summarize(rt, f)), problems: rt.problems() }))
    .get('/functions/:name', (c) => {
      const fn = rt.functions.get(c.req.param('name'));
      if (!fn) throw new NotFoundError('function', c.req.param('name'));
      return c.json(describe(rt, fn));
    });
  // The hot path. Every reply header goes in one plain object: @hono/node-server writes that straight to
  // Node's response, where `c.header()` or Hono's timing middleware would build WHATWG Headers per call.
  const served = routes.post('/functions/:name', async (c) => {
    const stages = rt.stages;
    const req = new CallRequest(c, bodyBytes, stages);
    // Without a door the route admits the call itself; a refusal there (a malformed x-slo-ms too) lets the
    // body flow past through req.run, as every refusal before the body is read does.
    const call =
      door?.take(c.env?.incoming) ??
      (await req.run(
        new Promise<AdmittedCall>((resolve, reject) => {
          const admitted = rt.admit(c.req.param('name'), c.env.arrivalMs, req.sloMs());
          if (admitted instanceof Error) reject(admitted);
          else resolve(admitted);
        }),
      ));
    const { fn } = call;
    // Not wrapped in req.run (a frame per served call): rt.run reads the body before anything else, so the
    // one refusal before the read is the media type's, and req.beforeBody lets the body flow past for it.
    // The options as one literal of fixed shape: a spread before `readBody` defined it through V8's slow
    // path on every call (`Runtime_DefineNamedOwnIC_Slow`, 1.6% of the loop's samples in a perf profile).
    const { cancel, signal } = req.cancellation();
    const r = await rt.run(call, undefined, {
      cancel,
      signal,
      // Read and parse only once the call is admitted: a shed call costs no body read or parse.
      readBody: async () => {
        const header = req.header('content-type');
        const type = mediaType(header);
        const kind = req.beforeBody(() => bodyKind(fn, type));
        const bytes = await req.body();
        if (kind === 'raw') return new RawRequestBody(bytes, type);
        if (kind === 'multipart') return multipartFile(fn, bytes, header!);
        const text = bytes.toString('utf8');
        const t = performance.now();
        try {
          return JSON.parse(text) as unknown;
        } catch (err) {
          throw new BadInputError('bad_json', `body is not valid JSON: ${(err as Error).message}`);
        } finally {
          stages.add('parse', performance.now() - t);
        }
      },
    });
    const t = performance.now();
    const res = jsonReply(c, r.result as object, 200, {
      'x-batch-id': String(r.batch.batchId),
      'x-batch-size': String(r.batch.batchSize),
      'x-function-version': r.fn.version,
      [loadHeader]: loadOf(r.fn),
      'server-timing': callTiming(
        { preMs: r.preMs, queueMs: r.batch.queueMs, inferenceMs: r.batch.inferenceMs, postMs: r.postMs },
        call.arrivalMs,
      ),
    });
    stages.add('reply', performance.now() - t);
    return res;
  });
  // Every request's arrival, id and in-flight count, around Hono rather than as middleware, so that a
  // route that is the only one matching runs without Hono's composition while the access log is off
  // (server/request-frame.ts).
  served.fetch = framed(served.fetch, rt.host, inFlight);
  return served;
}

/**
 * The HTTP contract of the routes a client calls, for Hono's `hc` client (runtime/cli/client.ts): paths,
 * parameters and the JSON of each success. Errors are `{ error: { code, message } }` (server/error-reply.ts).
 */
export type AppType = ReturnType<typeof createApp>;
