/**
 * How busy the whole machine was during a run, to tell a clean measurement from one where something else
 * (another test suite, a build) took the cores. Linux only (/proc/stat); elsewhere it reports nothing.
 */
import { readFileSync } from 'node:fs';

function cpuLine(): number[] | undefined {
  try {
    return readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  } catch {
    return undefined;
  }
}

// /proc/stat counts in USER_HZ ticks, 100 per second on every mainstream Linux build.
const TICK_MS = 10;

/** CPU time the machine's own processes used so far, ms (all cores summed), or NaN without /proc/stat. */
export function machineBusyMs(): number {
  const f = cpuLine();
  // user nice system idle iowait irq softirq steal ...: busy = user + nice + system + irq + softirq.
  return f ? (f[0] + f[1] + f[2] + f[5] + f[6]) * TICK_MS : NaN;
}

/**
 * Steal time so far, ms (all cores summed): time a virtual machine's cores were ready to run but the
 * hypervisor ran someone else. Non-zero steal during a run means a noisy host, whatever runs here.
 */
export function machineStealMs(): number {
  const f = cpuLine();
  return f && f.length > 7 ? f[7] * TICK_MS : NaN;
}

/** Cores the rest of the machine used over `sampleMs` (this process's own CPU taken out). */
export async function otherCores(sampleMs = 300): Promise<number> {
  const b0 = machineBusyMs();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, sampleMs));
  const c = process.cpuUsage(c0);
  return (machineBusyMs() - b0 - (c.user + c.system) / 1000) / (performance.now() - t0);
}

/**
 * Waits (at most `maxWaitMs`) until the rest of the machine uses under `thresholdCores`, so a run does not
 * start while another job holds the cores. Returns how long it waited and the last load seen.
 */
export async function waitForQuiet(maxWaitMs: number, thresholdCores = 0.25): Promise<{ waitedMs: number; cores: number }> {
  const t0 = performance.now();
  let cores = await otherCores();
  while (!(cores < thresholdCores) && Number.isFinite(cores) && performance.now() - t0 < maxWaitMs) {
    await new Promise((r) => setTimeout(r, 1000));
    cores = await otherCores();
  }
  return { waitedMs: performance.now() - t0, cores };
}
