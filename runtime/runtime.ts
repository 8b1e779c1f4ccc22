import type { ResolvedConfig } from './config.ts';
import { CancelledError, EdgebatchError, ModelUnavailableError, NotFoundError, OverloadedError, RunFailedError } from './errors.ts';
import { ModelBatcher, type BatchOutcome, type BatchRecord } from './batching/model-batcher.ts';
import { loadFunctionFile, type LoadedFunction, type LoadProblem, type LoadResult } from './functions/load.ts';
import { prepareItem, validateInput } from './functions/prepare.ts';
import { FunctionRegistry } from './functions/registry.ts';
import { VersionStore } from './functions/version-store.ts';
import { scanFunctions } from './functions/scan.ts';
import { admit } from './scheduler/admission.ts';
import { feasibility } from './introspect.ts';
import { Device } from './lanes/device.ts';
import type { Logger } from './logger.ts';
import { LiveStats } from './metrics/live-stats.ts';
import { RuntimeMetrics } from './metrics/prometheus.ts';
import { ModelRegistry } from './models/registry.ts';
import { randomUUID } from 'node:crypto';

/** The answer to one invocation, with the facts the HTTP edge reports in headers. */
export interface InvokeResult {
  readonly result: unknown;
  readonly fn: LoadedFunction;
  readonly batch: BatchOutcome;
  readonly preMs: number;
  readonly postMs: number;
  readonly totalMs: number;
}

export interface InvokeOptions {
  /** Aborts when the client goes away; a waiting item then leaves the queue. */
  signal?: AbortSignal;
  /** A tighter latency objective from the request; never loosens the function's SLO. */
  sloMs?: number;
}

export type ModelStatus = { state: 'loading' } | { state: 'ready' } | { state: 'failed'; error: string };

/**
 * The runtime without its HTTP edge: functions, models, the device and one batcher per model. The HTTP
 * server, the CLI and the tests all drive this object.
 */
export class Runtime {
  readonly config: ResolvedConfig;
  readonly log: Logger;
  readonly functions = new FunctionRegistry();
  readonly metrics = new RuntimeMetrics();
  readonly device: Device;
  readonly models: ModelRegistry;
  readonly batchers = new Map<string, ModelBatcher>();
  readonly modelStatus = new Map<string, ModelStatus>();
  readonly versions: VersionStore;
  readonly #live = new Map<string, LiveStats>();
  readonly #overheadMs = new Map<string, number>();
  /** Smoothed post + reply time per model: kept free before a deadline when the policy holds. */
  readonly #postMs = new Map<string, number>();
  #batchSeq = 0;
  #accepting = true;

  constructor(config: ResolvedConfig, log: Logger) {
    this.config = config;
    this.log = log;
    this.versions = new VersionStore(config.dataDir);
    this.device = new Device({ device: config.device, lanes: config.lanes, threads: config.threadsPerLane });
    this.models = new ModelRegistry(config.models, this.device, config.limits.modelCacheBytes);
    for (const model of Object.values(config.models)) {
      this.modelStatus.set(model.name, { state: 'loading' });
      this.batchers.set(
        model.name,
        new ModelBatcher({
          model,
          models: this.models,
          device: this.device,
          lanes: config.lanes,
          marginMs: () => config.scheduler.marginMs + (this.#postMs.get(model.name) ?? 0),
          fitWindow: config.scheduler.fitWindow,
          power: config.energy,
          objectiveMs: () => this.objectiveMs(model.name),
          nextBatchId: () => ++this.#batchSeq,
          onBatch: (b) => this.#onBatch(b),
        }),
      );
    }
  }

  /** Opens every model and loads every handler file. Bad files are reported, not fatal. */
  async start(): Promise<void> {
    await Promise.all(
      Object.keys(this.config.models).map(async (name) => {
        try {
          await this.models.ensure(name);
          this.modelStatus.set(name, { state: 'ready' });
        } catch (err) {
          const error = (err as Error).message;
          this.modelStatus.set(name, { state: 'failed', error });
          this.log.error({ model: name, err: error }, 'model failed to load');
        }
      }),
    );
    for (const file of await scanFunctions(this.config.functionsDir)) await this.loadFile(file);
    // Deployed versions outlive restarts and take precedence over a file of the same name.
    for (const d of await this.versions.deployed()) await this.loadFile(d.file, d.name);
    for (const name of this.batchers.keys()) await this.warmUp(name);
  }

  /** True once every model is loaded. */
  get ready(): boolean {
    return [...this.modelStatus.values()].every((s) => s.state === 'ready');
  }

  /** Imports and checks a handler file without serving it. */
  check(file: string, name?: string): Promise<LoadResult> {
    return loadFunctionFile(file, (m) => this.models.has(m), name);
  }

  /** Serves `fn` from now on (an atomic swap); calls in flight finish on the version they started on. */
  activate(fn: LoadedFunction): void {
    const old = this.functions.set(fn);
    this.#checkFeasible(fn);
    this.log.info({ function: fn.name, version: fn.version, model: fn.definition.model, slo: fn.sloMs, replaced: old?.version }, 'function loaded');
  }

  /** Loads (or reloads) one handler file and, only if it passes every check, swaps it in. */
  async loadFile(file: string, name?: string): Promise<LoadResult> {
    const res = await this.check(file, name);
    if (res.ok) this.activate(res.fn);
    else {
      this.functions.reportProblem(res.problem);
      this.log.warn({ file: res.problem.file, reason: res.problem.message }, 'handler file not loaded; any previous version keeps serving');
    }
    return res;
  }

  /** Runs a function's example through its schema and `pre`, proving it makes an item the model accepts. */
  async tryExample(fn: LoadedFunction): Promise<void> {
    const model = fn.definition.model;
    const meta = this.models.meta(model) ?? (await this.models.ensure(model)).meta;
    await prepareItem(fn, await validateInput(fn, fn.definition.example), meta, this.config.models[model].input);
  }

  /**
   * Runs the warm-up probe of a ready model with the example of the first function that uses it. Each size
   * runs once unmeasured (a session's first run at a new shape allocates), then sizes 1 and min(8, maxBatch)
   * three times each feed the cost fit, so the scheduler has predictions before the first request.
   */
  async warmUp(model: string, fn: LoadedFunction | undefined = this.functions.usersOf(model)[0]): Promise<void> {
    const meta = this.models.meta(model);
    if (!fn || !meta || this.modelStatus.get(model)?.state !== 'ready') return;
    try {
      const feeds = await prepareItem(fn, await validateInput(fn, fn.definition.example), meta, this.config.models[model].input);
      const k = Math.min(8, this.config.models[model].maxBatch);
      const batcher = this.batchers.get(model)!;
      await batcher.probe(feeds, [1, k]);
      batcher.fit.clear();
      await batcher.probe(feeds, k > 1 ? [1, k, 1, k, 1, k] : [1, 1, 1]);
      this.log.info({ model, fit: batcher.fit.get() }, 'warm-up probe done');
      for (const user of this.functions.usersOf(model)) this.#checkFeasible(user);
    } catch (err) {
      this.log.warn({ model, function: fn.name, err: (err as Error).message }, 'warm-up probe failed; the scheduler starts without a cost fit');
    }
  }

  /** Logs a warning when a function's SLO cannot be met even at zero load (U(0) > SLO) on this device. */
  #checkFeasible(fn: LoadedFunction): void {
    const f = feasibility(this, fn);
    if (f && !f.feasible) this.log.warn({ function: fn.name, slo: fn.sloMs, zeroLoadBoundMs: f.zeroLoadBoundMs, reason: f.reason }, 'SLO cannot be met on this device');
  }

  problems(): LoadProblem[] {
    return this.functions.problems();
  }

  /**
   * The model's mean-latency objective S: a fraction of the tightest SLO among the functions using it.
   */
  objectiveMs(model: string): number {
    const users = this.functions.usersOf(model);
    const tightest = users.length ? Math.min(...users.map((f) => f.sloMs)) : 1000;
    // The formula covers queue + device time only; what pre and post take comes out of the budget.
    const overhead = this.#overheadMs.get(model) ?? 0;
    return Math.max(0, tightest * this.config.scheduler.meanObjectiveFraction - overhead);
  }

  /** Smoothed pre + post time, and post time alone, of a model's calls, ms (exponential moving averages). */
  #noteOverhead(model: string, prePostMs: number, postMs: number): void {
    const ewma = (m: Map<string, number>, x: number) => {
      const prev = m.get(model);
      m.set(model, prev === undefined ? x : prev + 0.05 * (x - prev));
    };
    ewma(this.#overheadMs, prePostMs);
    ewma(this.#postMs, postMs);
  }

  liveStats(fn: string): LiveStats {
    let s = this.#live.get(fn);
    if (!s) this.#live.set(fn, (s = new LiveStats()));
    return s;
  }

  /** Runs one invocation: validate, pre, queue, batch, post. Errors are {@link EdgebatchError}s. */
  async invoke(name: string, body: unknown, options: InvokeOptions = {}): Promise<InvokeResult> {
    const fn = this.functions.get(name);
    if (!fn) throw new NotFoundError('function', name);
    const model = fn.definition.model;
    const labels = { function: fn.name, model };
    const started = performance.now();
    this.liveStats(fn.name).arrival(started);
    try {
      if (!this.#accepting) throw new OverloadedError('the runtime is shutting down', 1);
      const status = this.modelStatus.get(model);
      if (status?.state === 'failed') throw new ModelUnavailableError(model, status.error);
      const batcher = this.batchers.get(model)!;
      const sloMs = Math.min(fn.sloMs, options.sloMs ?? Infinity);
      const deadlineMs = started + sloMs;
      if (batcher.waiting >= this.config.limits.queueLength) {
        throw new OverloadedError(`the queue of model "${model}" is full (${this.config.limits.queueLength} items)`, 1);
      }
      const input = await validateInput(fn, body);
      const shed = this.config.scheduler.admission && fn.definition.overload !== 'serve-late';
      // Checked before pre, counting the pre/post time calls of this model take, so a call that will be
      // shed does not first spend CPU on decoding its input; and again once its item exists.
      if (shed) this.#admit(fn, batcher, deadlineMs, sloMs, this.#overheadMs.get(model) ?? 0);
      const loaded = this.models.meta(model) ?? (await this.models.ensure(model)).meta;
      const feeds = await prepareItem(fn, input, loaded, this.config.models[model].input);
      const preMs = performance.now() - started;
      if (shed) this.#admit(fn, batcher, deadlineMs, sloMs, 0);
      const batch = await batcher.submit(feeds, fn.name, deadlineMs, options.signal, shed);
      const postStart = performance.now();
      let result: unknown;
      try {
        result = await fn.definition.post({ output: Object.values(batch.outputs)[0], outputs: batch.outputs }, input as never);
      } catch (err) {
        const errorId = randomUUID();
        this.log.error({ ...labels, errorId, err: (err as Error).message }, 'post() failed');
        throw new RunFailedError(`"${fn.name}" post() failed: ${(err as Error).message}`, errorId, err);
      }
      const done = performance.now();
      const totalMs = done - started;
      this.#noteOverhead(model, preMs + (done - postStart), done - postStart);
      this.metrics.requests.inc({ ...labels, outcome: 'ok' });
      this.metrics.latency.observe(labels, totalMs);
      this.metrics.queueTime.observe(labels, batch.queueMs);
      this.liveStats(fn.name).record(totalMs, batch.batchSize, totalMs <= sloMs);
      return { result, fn, batch, preMs, postMs: done - postStart, totalMs };
    } catch (err) {
      const outcome = err instanceof OverloadedError ? 'shed' : err instanceof CancelledError ? 'cancelled' : err instanceof EdgebatchError && err.status < 500 ? 'bad_input' : 'failed';
      this.metrics.requests.inc({ ...labels, outcome });
      if (outcome === 'shed') {
        this.metrics.shed.inc(labels);
        this.liveStats(fn.name).record(performance.now() - started, 0, false);
      }
      throw err;
    }
  }

  /** Sheds a call at once (503) when it cannot meet its deadline or the model is overloaded. */
  #admit(fn: LoadedFunction, batcher: ModelBatcher, deadlineMs: number, sloMs: number, extraMs: number): void {
    const ctx = batcher.context();
    const model = this.config.models[fn.definition.model];
    const decision = admit({
      nowMs: performance.now(),
      deadlineMs,
      itemsAhead: batcher.itemsAhead(deadlineMs),
      runningRemainingMs: batcher.runningRemainingMs(),
      maxBatch: model.maxBatch,
      lanes: this.config.lanes,
      predictMs: ctx.predictMs,
      cost: ctx.cost && { alpha: ctx.cost.alphaMs / 1000, tau0: ctx.cost.tau0Ms / 1000 },
      ratePerSec: ctx.ratePerSec,
      objectiveMs: ctx.objectiveMs,
      overloadFactor: this.config.scheduler.overloadFactor,
      extraMs,
    });
    if (!decision.admit) throw new OverloadedError(`"${fn.name}" cannot meet its SLO of ${sloMs} ms: ${decision.reason}`, decision.retryAfterSec, { function: fn.name });
  }

  #onBatch(b: BatchRecord): void {
    this.metrics.batchSize.observe({ model: b.model }, b.size);
    if (b.ok) this.metrics.batchRunTime.observe({ model: b.model }, b.runMs);
    else this.log.error({ model: b.model, batchId: b.batchId, size: b.size, errorId: b.errorId, err: b.error }, 'batch failed');
  }

  /** Stops taking new invocations; everything already accepted is answered. */
  stopAccepting(): void {
    this.#accepting = false;
  }

  /** Waits for every queue to drain, then closes the device lanes. */
  async close(): Promise<void> {
    this.stopAccepting();
    await Promise.all([...this.batchers.values()].map((b) => b.onIdle()));
    await this.device.close();
  }
}
