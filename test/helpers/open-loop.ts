import { poissonArrivals } from '../../runtime/scheduler/arrivals.ts';
import { call } from './serve.ts';

export interface Sent {
  scheduledMs: number;
  status: number;
  /** From the scheduled send time to the reply (no coordinated omission). */
  latencyMs: number;
  /** Server-side queue + inference, from Server-Timing. */
  queueMs: number;
  inferenceMs: number;
  totalServerMs: number;
  retryAfter: string | null;
  /** Every reply header (the edge's tests read which origin answered, and the batch size). */
  headers: Headers;
}

function metric(timing: string | null, name: string): number {
  const m = new RegExp(`${name};dur=([\\d.]+)`).exec(timing ?? '');
  return m ? Number(m[1]) : NaN;
}

/**
 * Open-loop load for tests: sends on a seeded Poisson schedule fixed in advance, whatever the server does,
 * bounded by `durationMs`, and waits for every reply. (The benchmark's generator runs in its own process;
 * this one is small enough to share the test's.)
 */
export async function openLoop(
  base: string,
  fn: string,
  body: () => unknown,
  ratePerSec: number,
  durationMs: number,
  seed = 1,
): Promise<Sent[]> {
  const schedule = poissonArrivals(ratePerSec, durationMs, seed);
  const t0 = performance.now();
  const pending: Promise<Sent>[] = [];
  for (const at of schedule) {
    const wait = at - (performance.now() - t0);
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(
      call(base, fn, body()).then((r) => {
        const timing = r.headers.get('server-timing');
        return {
          scheduledMs: at,
          status: r.status,
          latencyMs: performance.now() - t0 - at,
          queueMs: metric(timing, 'queue'),
          inferenceMs: metric(timing, 'inference'),
          totalServerMs: metric(timing, 'total'),
          retryAfter: r.headers.get('retry-after'),
          headers: r.headers,
        };
      }),
    );
  }
  return Promise.all(pending);
}
