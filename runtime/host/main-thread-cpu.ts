import { readFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

/**
 * CPU time of the calling thread, seconds, from Linux's /proc/thread-self/schedstat (nanoseconds on CPU),
 * or null where that file does not exist. `process.cpuUsage()` would count the lane workers' threads too;
 * the event loop's own cost is what the host stage is about.
 */
export function mainThreadCpuSeconds(): number | null {
  if (!isMainThread) return null;
  try {
    const ns = Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
    return Number.isFinite(ns) ? ns / 1e9 : null;
  } catch {
    return null;
  }
}
