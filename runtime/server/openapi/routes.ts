import { Hono } from 'hono';
import type { Runtime } from '../../runtime.ts';
import type { AppEnv } from '../app-env.ts';
import { staticAssets } from '../static-assets.ts';
import { openApiDocument } from './document.ts';

/**
 * `GET /openapi.json`, the document for client generators, and `GET /docs`, a page of our own that
 * renders it (why not a packaged renderer: README, "API docs").
 */
export function openApiRoutes(rt: Runtime): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/openapi.json', (c) => c.json(openApiDocument(rt)));
  app.route('/', staticAssets<AppEnv>(new URL('./page/', import.meta.url), { '/docs': 'docs.html', '/docs/docs.js': 'docs.js' }));
  return app;
}
