import type { Hono } from 'hono';
import { createEdgeApp } from './app.ts';
import { misconfigured } from './replies.ts';
import { readSettings, type EdgeVars } from './settings.ts';

let app: Hono | undefined;

/**
 * The Worker's entry point (wrangler.toml `main`). The app is built on the first request, when the vars are
 * known, and kept for the isolate's life: origin health, load reports and the catalog are per isolate.
 */
export default {
  fetch(request: Request, env: EdgeVars, ctx: { waitUntil(promise: Promise<unknown>): void }): Response | Promise<Response> {
    if (!app) {
      try {
        app = createEdgeApp(readSettings(env), { fetch: (input, init) => fetch(input, init), now: () => Date.now() });
      } catch (err) {
        return misconfigured((err as Error).message);
      }
    }
    return app.fetch(request, env, ctx as never);
  },
};
