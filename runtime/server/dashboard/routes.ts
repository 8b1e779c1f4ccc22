import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { Runtime } from '../../runtime.ts';
import type { AppEnv } from '../app-env.ts';
import { staticAssets } from '../static-assets.ts';
import { dashboardAccess } from './access.ts';
import { snapshot } from './snapshot.ts';
import { readTotals, type Totals } from './totals.ts';

/** How often an open dashboard gets a new snapshot. */
export const dashboardIntervalMs = 1000;

/**
 * The live dashboard: the page at `/`, its scripts under `/dashboard/`, and `/dashboard/events`, a
 * server-sent event stream with one `state` event (a {@link snapshot}) per interval. Each open page costs
 * one snapshot a second; calls cost nothing more. `stopping` ends the streams when the runtime stops, so
 * an open page never holds a graceful stop up.
 */
export function dashboardRoutes(rt: Runtime, stopping: () => boolean): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const gate = dashboardAccess(rt.config.host, rt.config.adminToken);
  app.use('/', gate);
  app.use('/dashboard/*', gate);
  app.route(
    '/',
    staticAssets<AppEnv>(new URL('./page/', import.meta.url), {
      '/': 'index.html',
      '/dashboard/dashboard.js': 'dashboard.js',
      '/dashboard/charts.js': 'charts.js',
    }),
  );
  app.get('/dashboard/events', (c) =>
    streamSSE(c, async (stream) => {
      let previous: Totals | undefined;
      while (!stream.aborted && !stream.closed && !stopping()) {
        const totals = await readTotals(rt.metrics);
        await stream.writeSSE({ event: 'state', data: JSON.stringify(snapshot(rt, totals, previous)) });
        previous = totals;
        await stream.sleep(dashboardIntervalMs);
      }
    }),
  );
  return app;
}
