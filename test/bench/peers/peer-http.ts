/**
 * The surface every hand-written peer (naive, DataLoader, hono-echo) shows the harness, with no model in
 * it: the counters it keeps (GET /stats), listening on 127.0.0.1 through @hono/node-server, and the IPC
 * messages (ready, idle?, stop).
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { serve, type ServerType } from '@hono/node-server';
import type { Hono } from 'hono';

/**
 * CPU time of the calling thread so far, ms (Linux: /proc/thread-self/schedstat, whose first field is ns
 * on CPU), or null where it cannot be read. Called on the main thread, it leaves out every other thread
 * of the process (onnxruntime's pool, libuv's, the lanes), which process.cpuUsage() counts.
 */
export function threadCpuMs(): number | null {
  try {
    const ns = Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
    return Number.isFinite(ns) ? ns / 1e6 : null;
  } catch {
    return null;
  }
}

/** Device figures the peer keeps itself (the runtime reports the same through /metrics). */
export class PeerStats {
  busyMs = 0;
  runs = 0;
  items = 0;
  maxBatch = 0;
  maxBatchBytes = 0;
  inflight = 0;
  readonly eld = monitorEventLoopDelay({ resolution: 10 });

  constructor() {
    this.eld.enable();
  }

  json(reset: boolean) {
    const cpu = process.cpuUsage();
    const out = {
      busyMs: this.busyMs,
      runs: this.runs,
      items: this.items,
      maxBatch: this.maxBatch,
      maxBatchBytes: this.maxBatchBytes,
      inflight: this.inflight,
      cpuMs: (cpu.user + cpu.system) / 1000,
      mainThreadCpuMs: threadCpuMs(),
      eventLoopDelayMs: { p50: this.eld.percentile(50) / 1e6, p99: this.eld.percentile(99) / 1e6, max: this.eld.max / 1e6 },
    };
    if (reset) this.eld.reset();
    return out;
  }
}

/** GET /stats (`?reset=1` restarts the event-loop delay histogram). */
export function statsRoute(app: Hono, stats: PeerStats): void {
  app.get('/stats', (c) => c.json(stats.json(c.req.query('reset') === '1')));
}

/** Listens on 127.0.0.1 on a free port, answers the harness over IPC, and tells it where. */
export async function servePeer(app: Hono, stats: PeerStats): Promise<void> {
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  const port = (server.address() as { port: number }).port;
  process.on('message', (msg: { type: string }) => {
    if (msg.type === 'idle?') process.send!({ type: 'idle', idle: stats.inflight === 0 });
    if (msg.type === 'stop') {
      server.close();
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ type: 'ready', url: `http://127.0.0.1:${port}` });
}
