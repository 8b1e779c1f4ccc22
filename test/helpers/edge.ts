// wrangler and workerd must not reach the internet: CI has none. Set before wrangler is loaded.
process.env.WRANGLER_SEND_METRICS = 'false';
process.env.WRANGLER_HIDE_BANNER = 'true';
process.env.CLOUDFLARE_CF_FETCH_ENABLED = 'false';

import { unstable_startWorker } from 'wrangler';

export interface RunningEdge {
  /** The Worker's base URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts the real edge Worker (wrangler.toml, runtime/edge) in workerd on a free loopback port, through
 * wrangler's programmatic API: the same bundle and runtime as `wrangler dev`. `vars` override wrangler.toml's.
 */
let started = 0;

export async function startEdge(vars: Record<string, string>): Promise<RunningEdge> {
  const bindings = Object.fromEntries(Object.entries(vars).map(([k, value]) => [k, { type: 'plain_text' as const, value }]));
  const worker = await unstable_startWorker({
    config: 'wrangler.toml',
    // A name of its own per Worker: two dev Workers of one name in a process restart each other.
    name: `edgebatch-edge-test-${++started}`,
    bindings,
    sendMetrics: false,
    dev: { server: { hostname: '127.0.0.1', port: 0 }, inspector: false, watch: false, persist: false, logLevel: 'warn' },
  });
  await worker.ready;
  const url = (await worker.url).origin;
  return { url, stop: () => worker.dispose() };
}
