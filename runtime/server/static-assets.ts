import { readFileSync } from 'node:fs';
import { Hono, type Env } from 'hono';

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/**
 * Routes that answer with files of the runtime's own pages, read once at start: the pages are plain
 * HTML, CSS and JavaScript, so there is no build step and nothing to fetch from elsewhere. `routes` maps a
 * route path to a file name in `dir`.
 *
 * @example
 * app.route('/', staticAssets(new URL('./page/', import.meta.url), { '/docs': 'docs.html' }));
 */
export function staticAssets<E extends Env>(dir: URL, routes: Record<string, string>): Hono<E> {
  const app = new Hono<E>();
  for (const [route, file] of Object.entries(routes)) {
    const body = readFileSync(new URL(file, dir), 'utf8');
    const type = types[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream';
    // no-cache: a browser revalidates, so a runtime restarted with new pages is never shown stale ones.
    app.get(route, (c) => c.body(body, 200, { 'content-type': type, 'cache-control': 'no-cache' }));
  }
  return app;
}
