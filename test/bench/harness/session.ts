/**
 * One server under test, as the harness drives it: start it as a child process, warm it up, run one
 * open-loop job against it and read its counters around the job, wait for it to go idle, restart it when
 * it crashed or stays stuck.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Burst } from '../../../runtime/scheduler/arrivals.ts';
import type { ClosedJob, LoadResult, OpenJob, Stream } from '../loadgen.ts';
import type { PeerDef } from '../plan.ts';
import { computeFigures, type FnInfo, type Prediction, type RunFigures, type ServerSnapshot } from './figures.ts';
import { machineBusyMs, machineStealMs } from './machine.ts';
import { forkRuntimePeer, forkTs, HarnessError, type Child } from './processes.ts';
import { meanPrediction, peerSnapshot, runtimePrediction, runtimeSnapshot } from './server-stats.ts';

export interface FixedDelaySetting {
  maxQueueDelayMs: number;
  preferredBatchSize: number;
}

export interface Env {
  root: string;
  logDir: string;
  loadgen: Child;
  fns: Map<string, FnInfo>;
  bodies: Map<string, string[]>;
  itemBytes: Map<string, number>;
  ceilings: Map<string, number>;
  energy: { busyWatts: number; idleWatts: number };
  functions: string[];
  models: string[];
  maxConnections: number;
  /** When set, each run's per-request columns are written here (for looking into a run afterwards). */
  rawDir?: string;
}

/** One open-loop run: which functions, what total rate, for how long. */
export interface RunSpec {
  scenario: string;
  label: string;
  /** Fraction of capacity the load stands for (for charts); NaN when it is not one. */
  fraction: number;
  ratePerSec: number;
  streams: { fn: string; weight: number }[];
  seed: number;
  leadInMs: number;
  durationMs: number;
  drainMs: number;
  burst?: Burst;
  /** Low-rate calls right after the measured part, reported apart (recovery from an overload). */
  trickle?: { ratePerSec: number; durationMs: number };
}

export interface RunRecord {
  peer: string;
  scenario: string;
  label: string;
  fraction: number;
  ratePerSec: number;
  seed: number;
  burst?: Burst;
  trickle?: { ratePerSec: number; durationMs: number };
  figures: RunFigures;
  /** Cores used by other processes on the machine during the run (null where it cannot be read). */
  otherCores: number | null;
  /** Cores the hypervisor stole during the run (null where it cannot be read). */
  stealCores: number | null;
  notes: string[];
}

let sessionSeq = 0;

/** One run's per-request columns as plain JSON arrays. */
async function writeRaw(file: string, r: LoadResult): Promise<void> {
  const cols = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, ArrayBuffer.isView(v) ? Array.from(v as Float64Array) : v]));
  await writeFile(file, JSON.stringify(cols));
}

export class PeerSession {
  readonly def: PeerDef;
  readonly #env: Env;
  readonly #fixedDelay: Record<string, FixedDelaySetting> | undefined;
  #child!: Child;
  url = '';
  restarts = 0;

  private constructor(def: PeerDef, env: Env, fixedDelay?: Record<string, FixedDelaySetting>) {
    this.def = def;
    this.#env = env;
    this.#fixedDelay = fixedDelay;
  }

  /** Starts the server and waits for it to listen; a server that does not start is a harness failure. */
  static async start(def: PeerDef, env: Env, fixedDelay?: Record<string, FixedDelaySetting>): Promise<PeerSession> {
    const s = new PeerSession(def, env, fixedDelay);
    await s.#spawn();
    return s;
  }

  get isRuntime(): boolean {
    return this.def.kind === 'runtime';
  }

  async #spawn(): Promise<void> {
    const { root, logDir } = this.#env;
    const name = `peer-${this.def.name}-${++sessionSeq}`;
    const child =
      this.def.kind === 'plain'
        ? forkTs(name, path.join(root, 'test/bench/peers', this.def.script!), [this.#env.functions.join(',')], { cwd: root, logDir })
        : forkRuntimePeer(
            name,
            { policy: this.def.policy!, models: this.#env.models, fixedDelay: this.#fixedDelay },
            { cwd: root, logDir },
          );
    this.#child = child;
    try {
      const ready = await child.next<{ url: string }>('ready', 120000);
      this.url = ready.url;
    } catch (err) {
      await child.stop(1000);
      throw new HarnessError(`peer "${this.def.name}" failed to start: ${(err as Error).message}`);
    }
  }

  async restart(): Promise<void> {
    await this.#child.stop(2000);
    this.restarts++;
    await this.#spawn();
  }

  async stop(): Promise<void> {
    await this.#child.stop();
  }

  get exited(): boolean {
    return this.#child.exited;
  }

  snapshot(): Promise<ServerSnapshot> {
    return this.isRuntime ? runtimeSnapshot(this.url) : peerSnapshot(this.url);
  }

  /** Waits until the server reports nothing in flight twice in a row; false after `timeoutMs`. */
  async waitIdle(timeoutMs: number): Promise<boolean> {
    const until = performance.now() + timeoutMs;
    let streak = 0;
    while (performance.now() < until) {
      if (this.#child.exited) return false;
      const r = await this.#child.ask<{ idle: boolean }>({ type: 'idle?' }, 'idle', 5000).catch(() => ({ idle: false }));
      streak = r.idle ? streak + 1 : 0;
      if (streak >= 2) return true;
      await new Promise((res) => setTimeout(res, 25));
    }
    return false;
  }

  #streams(streams: { fn: string; weight: number }[]): Stream[] {
    return streams.map((s) => ({ fn: s.fn, weight: s.weight, bodies: this.#env.bodies.get(s.fn)! }));
  }

  /** An open-loop job left out of the figures (JIT, connections, the runtime's first fits). */
  async warmUp(streams: { fn: string; weight: number }[], ratePerSec: number, durationMs: number, idleTimeoutMs: number): Promise<void> {
    const job = this.openJob({ streams, ratePerSec, seed: 99, leadInMs: 0, durationMs, drainMs: 3000 });
    await this.#env.loadgen.ask({ type: 'job', job }, 'result', durationMs + 60000);
    if (!(await this.waitIdle(idleTimeoutMs))) await this.restart();
  }

  /** Closed-loop throughput of one function with `concurrency` requests always in flight: 200 replies per second. */
  async closedLoopThroughput(fn: string, concurrency: number, durationMs: number): Promise<{ perSec: number; meanBatch: number }> {
    const job: ClosedJob = {
      kind: 'closed',
      url: this.url,
      concurrency,
      durationMs,
      maxConnections: this.#env.maxConnections,
      streams: this.#streams([{ fn, weight: 1 }]),
    };
    const { result } = await this.#env.loadgen.ask<{ result: LoadResult }>({ type: 'job', job }, 'result', durationMs + 60000);
    let ok = 0;
    const batches = new Map<number, number>();
    for (let i = 0; i < result.status.length; i++) {
      if (result.status[i] !== 200) continue;
      ok++;
      if (result.batchId[i] > 0) batches.set(result.batchId[i], result.batchSize[i]);
    }
    await this.waitIdle(10000);
    const sizes = [...batches.values()];
    return {
      perSec: ok / ((result.endEpochMs - result.startEpochMs) / 1000),
      meanBatch: sizes.length ? sizes.reduce((a, b) => a + b, 0) / sizes.length : NaN,
    };
  }

  /** The open-loop job that `spec` describes, against this server. */
  openJob(spec: Omit<RunSpec, 'scenario' | 'label' | 'fraction'>): OpenJob {
    return {
      kind: 'open',
      url: this.url,
      seed: spec.seed,
      ratePerSec: spec.ratePerSec,
      leadInMs: spec.leadInMs,
      durationMs: spec.durationMs,
      drainMs: spec.drainMs,
      maxConnections: this.#env.maxConnections,
      streams: this.#streams(spec.streams),
      ...(spec.burst ? { burst: spec.burst } : {}),
      ...(spec.trickle ? { trickle: spec.trickle } : {}),
    };
  }

  /** Runs one open-loop job and computes its figures; restarts the server when it crashed or stays busy. */
  async measure(spec: RunSpec, idleTimeoutMs: number): Promise<RunRecord> {
    const notes: string[] = [];
    const env = this.#env;
    const before = await this.snapshot();
    const busy0 = machineBusyMs();
    const steal0 = machineStealMs();
    const harnessCpu0 = process.cpuUsage();
    const job = this.openJob(spec);
    const samples = new Map<string, Prediction[]>();
    const timers: NodeJS.Timeout[] = [];
    if (this.isRuntime) {
      const firstFnOfModel = new Map<string, string>();
      for (const s of spec.streams) {
        const m = env.fns.get(s.fn)!.model;
        if (!firstFnOfModel.has(m)) firstFnOfModel.set(m, s.fn);
      }
      for (const at of [0.3, 0.6, 0.9]) {
        timers.push(
          setTimeout(
            () => {
              for (const [model, fn] of firstFnOfModel) {
                void runtimePrediction(this.url, fn).then((p) => {
                  if (p) samples.set(model, [...(samples.get(model) ?? []), p]);
                });
              }
            },
            spec.leadInMs + at * spec.durationMs,
          ),
        );
      }
    }
    const { result } = await env.loadgen.ask<{ result: LoadResult }>(
      { type: 'job', job },
      'result',
      spec.leadInMs + spec.durationMs + (spec.trickle?.durationMs ?? 0) + spec.drainMs + 60000,
    );
    for (const t of timers) clearTimeout(t);
    let after: ServerSnapshot | undefined;
    if (this.#child.exited) {
      notes.push('server crashed during the run; restarted');
    } else if (!(await this.waitIdle(idleTimeoutMs))) {
      notes.push(
        `server still busy ${Math.round(idleTimeoutMs / 1000)} s after the run; restarted (its backlog's device time is not counted)`,
      );
    } else {
      after = await this.snapshot().catch(() => undefined);
    }
    const windowMs = performance.timeOrigin + performance.now() - (result.startEpochMs - spec.leadInMs);
    // CPU the machine spent on anything but this server, the load generator and the harness.
    const harnessCpu = process.cpuUsage(harnessCpu0);
    const ours = (after ? after.cpuMs - before.cpuMs : NaN) + result.cpuMs + (harnessCpu.user + harnessCpu.system) / 1000;
    const otherCores = (machineBusyMs() - busy0 - ours) / windowMs;
    if (otherCores > 0.25) notes.push(`other processes used ${otherCores.toFixed(2)} cores during the run`);
    const stealCores = (machineStealMs() - steal0) / windowMs;
    if (stealCores > 0.1) notes.push(`the hypervisor stole ${stealCores.toFixed(2)} cores during the run`);
    if (env.rawDir)
      await writeRaw(path.join(env.rawDir, `${this.def.name}--${spec.scenario}--${spec.label}.json`.replace(/[^\w.-]+/g, '_')), result);
    const predictions = new Map<string, Prediction>();
    for (const [m, list] of samples) {
      const p = meanPrediction(list);
      if (p) predictions.set(m, p);
    }
    const figures = computeFigures({
      load: result,
      durationMs: spec.durationMs,
      fns: env.fns,
      itemBytes: env.itemBytes,
      ceilings: env.ceilings,
      before,
      after: after ?? { busyMs: NaN, cpuMs: NaN, mainThreadCpuMs: null, eventLoopP99Ms: null, hostStageSec: null, batches: null },
      windowMs,
      energy: env.energy,
      predictions,
      ...(spec.burst ? { burst: spec.burst } : {}),
      ...(spec.trickle ? { trickle: spec.trickle } : {}),
    });
    if (!after) await this.restart();
    return {
      peer: this.def.name,
      scenario: spec.scenario,
      label: spec.label,
      fraction: spec.fraction,
      ratePerSec: spec.ratePerSec,
      seed: spec.seed,
      ...(spec.burst ? { burst: spec.burst } : {}),
      ...(spec.trickle ? { trickle: spec.trickle } : {}),
      figures,
      otherCores: Number.isFinite(otherCores) ? otherCores : null,
      stealCores: Number.isFinite(stealCores) ? stealCores : null,
      notes,
    };
  }
}
