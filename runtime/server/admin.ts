import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import { BadInputError, PayloadTooLargeError } from '../errors.ts';
import { Deployer } from '../functions/deployer.ts';
import type { Runtime } from '../runtime.ts';
import type { ArrivalBindings } from './request-frame.ts';
import { errorBody } from '../shared/edge-protocol.ts';

const rollbackBody = z
  .object({
    version: z
      .string()
      .regex(/^[0-9a-f]{12}$/)
      .optional(),
  })
  .strict();

const adminOffMessage =
  'the admin API is off on this runtime (no token configured: set admin.token in hono.config.ts or EDGEBATCH_ADMIN_TOKEN where the runtime runs)';

/**
 * The admin API behind `edgebatch deploy / rollback / list`, mounted at /admin. With a token, hono's
 * bearerAuth guards it (tokens compared in constant time); without one every /admin route answers 404
 * `admin_off`, saying why rather than a bare "no route". The routes are chained so that their types reach
 * the CLI's client (server/app.ts's AppType).
 */
export function adminRoutes(rt: Runtime, token: string | undefined) {
  const deployer = new Deployer(rt);
  // A refused upload's body is never read, so the connection is closed rather than reused mid-body.
  const unauthorized = (c: Context) =>
    c.json(errorBody('unauthorized', 'a valid bearer token is required'), 401, {
      connection: 'close',
      'www-authenticate': 'Bearer realm="edgebatch admin"',
    });
  const guard: MiddlewareHandler = token
    ? bearerAuth({
        token,
        noAuthenticationHeader: { message: unauthorized },
        invalidAuthenticationHeader: { message: unauthorized },
        invalidToken: { message: unauthorized },
      })
    : async (c) => c.json(errorBody('admin_off', adminOffMessage), 404);
  return new Hono<{ Bindings: ArrivalBindings }>()
    .use('*', guard)
    .put(
      '/functions/:name',
      bodyLimit({
        maxSize: rt.config.limits.uploadBytes,
        onError: () => {
          throw new PayloadTooLargeError(rt.config.limits.uploadBytes);
        },
      }),
      async (c) => {
        const source = await c.req.text();
        if (source.trim().length === 0)
          throw new BadInputError('bad_request', 'the body must be the handler source (TypeScript or JavaScript)');
        const result = await deployer.deploy(c.req.param('name'), source);
        rt.log.info({ ...result, requestId: c.env.requestId }, 'function deployed');
        return c.json(result, 201);
      },
    )
    .delete('/functions/:name', async (c) => {
      await deployer.undeploy(c.req.param('name'));
      return c.body(null, 204);
    })
    .get('/functions/:name/versions', async (c) => c.json(await deployer.versions(c.req.param('name'))))
    .post('/functions/:name/rollback', async (c) => {
      const text = await c.req.text();
      let parsed: unknown = {};
      try {
        parsed = text ? JSON.parse(text) : {};
      } catch {
        throw new BadInputError('bad_json', 'rollback body must be JSON like {"version": "..."} or empty');
      }
      const body = rollbackBody.safeParse(parsed);
      if (!body.success) throw new BadInputError('invalid_input', `rollback body: ${body.error.issues[0].message}`);
      const result = await deployer.rollback(c.req.param('name'), body.data.version);
      rt.log.info(result, 'function rolled back');
      return c.json(result);
    });
}
