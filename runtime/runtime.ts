import { lanesOn, type DeviceKind, type ResolvedConfig } from './config.ts';
import { nativeLogLevel } from './models/providers.ts';
import { CancelledError, EdgebatchError, HookTimeoutError, NotFoundError, OverloadedError, RunFailedError } from './errors.ts';
import type { ItemFeeds } from './batching/batch-feeds.ts';
import { fromAbortSignal, type Cancellation } from './batching/cancellation.ts';
import type { BatchOutcome } from './batching/model-batcher.ts';
import { submitRows } from './batching/row-group.ts';
import { checkFunction } from './functions/checks.ts';
import { functionNameOf, type LoadedFunction, type LoadProblem, type LoadResult } from './functions/load.ts';
import { prepareItem, validateInput } from './functions/prepare.ts';
import { FunctionRegistry } from './functions/registry.ts';
import { GpuEnergy } from './metrics/gpu-energy.ts';
import { HookLimits } from './functions/hook-limits.ts';
import { VersionStore } from './functions/version-store.ts';
import { scanFunctions } from './functions/scan.ts';
import { Device } from './lanes/device.ts';
import type { Logger } from './logger.ts';
import { HostMonitor } from './host/host-monitor.ts';
import { HostStageTotals, type HostStage } from './host/host-stages.ts';
import { SoloWork } from './host/solo-work.ts';
import { LiveStats } from './metrics/live-stats.ts';
import { RuntimeMetrics, type FunctionSeries } from './metrics/prometheus.ts';
import type { ModelMeta } from './lanes/protocol.ts';
import { ModelRegistry } from './models/registry.ts';
import { functionCaller, v2Caller, type Caller } from './pipeline/caller.ts';
import { ModelPipeline, type ModelStatus } from './pipeline/model-pipeline.ts';
import { randomUUID } from 'node:crypto';
import { withoutPaths } from './without-paths.ts';

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
  /** The same, as the HTTP edge tells it without building an AbortSignal per call. */
  cancel?: Cancellation;
  /** A tighter latency objective from the request; never loosens the function's SLO. */
  sloMs?: number;
  /**
   * When the call reached the server (ms, `performance.now()` scale); its deadline counts from here.
   * Default: now.
   */
  arrivalMs?: number;
  /**
   * Reads and parses the body, called only once the call has been admitted at the door: a call shed under
   * overload costs no body read, no JSON parse. Used instead of `body` when given.
   */
  readBody?: () => Promise<unknown>;
}

/** A call admitted at the door (by {@link Runtime.admit}), ready to {@link Runtime.run}. */
export interface AdmittedCall {
  readonly fn: LoadedFunction;
  /** When the call reached the server (ms, `performance.now()` scale); its deadline counts from here. */
  readonly arrivalMs: number;
  /** When the runtime first saw it. */
  readonly startedMs: number;
  /** The SLO in force for this call (the function's, or tighter from the request). */
  readonly sloMs: number;
  readonly deadlineMs: number;
  /** Whether it may be answered 503 instead of late (admission control on, not `serve-late`). */
  readonly shed: boolean;
  /** Its model's pipeline, its metric series and live figures, looked up once at the door. */
  readonly pipeline: ModelPipeline;
  readonly series: FunctionSeries;
  readonly live: LiveStats;
}

/** The answer to a call of rows: each row's batch outcome, in row order. */
export interface RowsResult {
  readonly batches: readonly BatchOutcome[];
  /** Arrival at the runtime to the rows being queued: door, body read, decode. */
  readonly preMs: number;
  /** The deadline the call ran under, ms after its arrival. */
  readonly sloMs: number;
}

/**
 * The runtime without its HTTP edge: the composition root that wires the function registry, one
 * {@link ModelPipeline} per model, the devices and the host monitor, and keeps the call flow (door, body,
 * pre, queue, post) thin over them. The HTTP server, the CLI and the tests all drive this object.
 */
export class Runtime {
  readonly config: ResolvedConfig;
  readonly log: Logger;
  readonly functions = new FunctionRegistry();
  /** The host stage: the event loop every call crosses, measured. */
  readonly host = new HostMonitor();
  /** Event-loop time by stage of the host path. */
  readonly stages = new HostStageTotals();
  readonly metrics = new RuntimeMetrics(this.host, this.stages);
  readonly models: ModelRegistry;
  readonly versions: VersionStore;
  /** Time limits on calls' `pre` and `post`: one sweep for all, no timer per call. */
  readonly hookLimits = new HookLimits();
  /** Which calls' `pre` ran alone, and how long: what tells a call that never fits from a busy runtime. */
  readonly #soloWork = new SoloWork();
  /** The GPU's power.draw, sampled by nvidia-smi and integrated into joules, where a model runs on webgpu or cuda (else undefined). */
  readonly gpuEnergy: GpuEnergy | undefined;
  /** One device per kind the models use (a model picks its own with `device`), each with its own lanes. */
  readonly #devices = new Map<DeviceKind, Device>();
  readonly #pipelines = new Map<string, ModelPipeline>();
  readonly #live = new Map<string, LiveStats>();
  #batchSeq = 0;
  #accepting = true;
  /** Admission control in force: `scheduler.admission` at start, {@link setAdmission} after (the config is frozen). */
  #admission: boolean;

  constructor(config: ResolvedConfig, log: Logger) {
    this.config = config;
    this.log = log;
    this.#admission = config.scheduler.admission;
    this.versions = new VersionStore(config.dataDir);
    for (const kind of new Set(Object.values(config.models).map((m) => m.device))) {
      this.#devices.set(
        kind,
        new Device({
          device: kind,
          lanes: lanesOn(config, kind),
          threads: config.threadsPerLane,
          nativeLogLevel: nativeLogLevel(config.logLevel),
        }),
      );
    }
    this.models = new ModelRegistry(
      config.models,
      (model) => this.#devices.get(config.models[model].device)!,
      config.limits.modelCacheBytes,
    );
    const onGpu = (m: { device: DeviceKind }) => m.device === 'webgpu' || m.device === 'cuda';
    if (Object.values(config.models).some(onGpu)) {
      this.gpuEnergy = new GpuEnergy({
        onStop: (reason) => log.info({ reason }, `joules per inference stay modelled (energySource "model"): ${reason}`),
      });
      this.gpuEnergy.start();
    }
    const host = () => this.host.view();
    const nextBatchId = () => ++this.#batchSeq;
    for (const model of Object.values(config.models)) {
      const pipeline = new ModelPipeline({
        model,
        config,
        models: this.models,
        device: this.#devices.get(model.device)!,
        lanes: lanesOn(config, model.device),
        log,
        metrics: this.metrics,
        stages: this.stages,
        host,
        nextBatchId,
        ...(onGpu(model) && this.gpuEnergy ? { gpuEnergy: this.gpuEnergy } : {}),
      });
      this.#pipelines.set(model.name, pipeline);
    }
    this.functions.onChange(() => this.#updateObjectives());
    this.#updateObjectives();
    this.host.start();
  }

  /** Opens every model and loads every handler file. Bad files are reported, not fatal. */
  async start(): Promise<void> {
    await Promise.all([...this.#pipelines.values()].map((p) => p.open()));
    // Deployed versions outlive restarts and take precedence over a file of the same name.
    const deployed = await this.versions.deployed();
    for (const file of await scanFunctions(this.config.functionsDir)) {
      if (!deployed.some((d) => d.name === functionNameOf(file))) await this.loadFile(file);
    }
    for (const d of deployed) await this.loadFile(d.file, d.name);
    // The checks warmed up every model a function uses; a model whose probe failed tries once more.
    for (const [name, pipeline] of this.#pipelines) if (!pipeline.scheduler.fit.get()) await this.#warmUp(name);
  }

  /** The pipeline of a configured model, or undefined. */
  pipeline(model: string): ModelPipeline | undefined {
    return this.#pipelines.get(model);
  }

  /** Every model's pipeline, in the config's order. */
  pipelines(): IterableIterator<ModelPipeline> {
    return this.#pipelines.values();
  }

  /** Each model's status, by name, in the config's order. */
  modelStatuses(): Record<string, ModelStatus> {
    const out: Record<string, ModelStatus> = {};
    for (const [name, p] of this.#pipelines) out[name] = p.status;
    return out;
  }

  /** True once every model is loaded. */
  get ready(): boolean {
    for (const p of this.#pipelines.values()) if (p.status.state !== 'ready') return false;
    return true;
  }

  /** Imports a handler file and runs every check on it (functions/checks.ts) without serving it. */
  check(file: string, name?: string): Promise<LoadResult> {
    return checkFunction(
      {
        hookTimeoutFactor: this.config.limits.hookTimeoutFactor,
        probe: { timeoutMs: this.config.limits.checkTimeoutMs, heapMb: this.config.limits.checkHeapMb },
        knownModel: (m) => this.models.has(m),
        modelFailure: (m) => {
          const s = this.#pipelines.get(m)?.status;
          return s?.state === 'failed' ? s.error : undefined;
        },
        tryExample: (fn) => this.#tryExample(fn),
        ensureFit: async (fn) => {
          if (!this.#pipelines.get(fn.definition.model)?.scheduler.fit.get()) await this.#warmUp(fn.definition.model, fn);
        },
        feasibility: (fn) => this.#pipelineOf(fn).feasibility(fn.sloMs),
      },
      file,
      name,
    );
  }

  /** Serves `fn` from now on (an atomic swap); calls in flight finish on the version they started on. */
  activate(fn: LoadedFunction): void {
    const old = this.functions.set(fn);
    this.#checkFeasible(fn);
    this.log.info(
      { function: fn.name, version: fn.version, model: fn.definition.model, slo: fn.sloMs, replaced: old?.version },
      'function loaded',
    );
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
  async #tryExample(fn: LoadedFunction): Promise<void> {
    const pipeline = this.#pipelineOf(fn);
    await pipeline.exampleItem(fn, pipeline.meta() ?? (await pipeline.ensureMeta()));
  }

  /** Runs the warm-up probe of a ready model ({@link ModelPipeline.warmUp}) with the example of the first function that uses it. */
  async #warmUp(model: string, fn: LoadedFunction | undefined = this.functions.usersOf(model)[0]): Promise<void> {
    if (!fn || !(await this.#pipelines.get(model)!.warmUp(fn))) return;
    for (const user of this.functions.usersOf(model)) this.#checkFeasible(user);
  }

  #pipelineOf(fn: LoadedFunction): ModelPipeline {
    return this.#pipelines.get(fn.definition.model)!;
  }

  /** Logs a warning when a function's SLO cannot be met even at zero load (U(0) > SLO) on this device. */
  #checkFeasible(fn: LoadedFunction): void {
    const f = this.#pipelineOf(fn).feasibility(fn.sloMs);
    if (f && !f.feasible)
      this.log.warn(
        { function: fn.name, slo: fn.sloMs, zeroLoadBoundMs: f.zeroLoadBoundMs, reason: f.reason },
        'SLO cannot be met on this device',
      );
  }

  /** Handler files that did not load, as clients see them (GET /functions, the dashboard): no paths of this host. */
  problems(): LoadProblem[] {
    return this.functions.problems().map((p) => ({ file: withoutPaths(p.file), message: withoutPaths(p.message) }));
  }

  /** Tells each model's pipeline the SLOs of the functions on it (its objective follows the tightest). */
  #updateObjectives(): void {
    for (const [model, pipeline] of this.#pipelines) pipeline.setSlos(this.functions.usersOf(model).map((f) => f.sloMs));
  }

  liveStats(fn: string): LiveStats {
    let s = this.#live.get(fn);
    if (!s) this.#live.set(fn, (s = new LiveStats()));
    return s;
  }

  /**
   * Runs one invocation: admit at the door, read the body, validate, pre, admit again, queue, batch, post.
   * Errors are {@link EdgebatchError}s; every outcome is counted once.
   */
  async invoke(name: string, body: unknown, options: InvokeOptions = {}): Promise<InvokeResult> {
    const call = this.admit(name, options.arrivalMs, options.sloMs);
    if (call instanceof Error) throw call;
    return this.run(call, body, options);
  }

  /**
   * The door: the checks a call passes before its body is read (the runtime is serving, the function
   * exists, its model is up, its queue has room, and with admission control the call can still finish by
   * its deadline through the host stage and the device). Returns the admitted call, or the error to answer
   * with (not thrown: under overload most calls end here, and a refusal must cost the loop next to
   * nothing). A refusal is counted here.
   */
  admit(name: string, arrivalMs?: number, sloMs?: number): AdmittedCall | EdgebatchError {
    const fn = this.functions.get(name);
    if (!fn) {
      this.metrics.unknownFunction.inc();
      return new NotFoundError('function', name);
    }
    const startedMs = performance.now();
    const live = this.liveStats(fn.name);
    live.arrival(startedMs);
    const slo = Math.min(fn.sloMs, sloMs ?? Infinity);
    const arrival = Math.min(arrivalMs ?? startedMs, startedMs);
    const pipeline = this.#pipelineOf(fn);
    const series = this.metrics.series(fn.name, fn.definition.model);
    const call: AdmittedCall = {
      fn,
      arrivalMs: arrival,
      startedMs,
      sloMs: slo,
      deadlineMs: arrival + slo,
      shed: this.#sheds(fn),
      pipeline,
      series,
      live,
    };
    const refusal = this.#refusalAtDoor(pipeline, functionCaller(fn), call.shed, call.deadlineMs, slo);
    if (refusal) countFailure(series, live, refusal);
    return refusal ?? call;
  }

  /** Runs a call {@link admit} let in: reads its body (if `options.readBody`), validates, pre, queue, batch, post. */
  async run(call: AdmittedCall, body: unknown, options: InvokeOptions = {}): Promise<InvokeResult> {
    const { fn, arrivalMs, startedMs, sloMs, deadlineMs, shed, pipeline, series, live } = call;
    const model = fn.definition.model;
    const stages = this.stages;
    try {
      if (options.readBody) body = await options.readBody();
      let t = performance.now();
      // Awaited only when asynchronous (a schema or hook that returns a promise): each await is a promise
      // and a turn of the microtask queue per call on the hot path.
      const checked = validateInput(fn, body);
      // The parsed body is garbage once validated; this frame lives until the reply, through the queue.
      body = undefined;
      const input = checked instanceof Promise ? await checked : checked;
      t = lap(stages, 'validate', t);
      const loaded = pipeline.meta() ?? (await pipeline.ensureMeta());
      const span = this.#soloWork.start();
      let feeds: ItemFeeds;
      let ownHostMs: number | undefined;
      try {
        const item = prepareItem(fn, input, loaded, pipeline.config.input, this.hookLimits);
        feeds = item instanceof Promise ? await item : item;
      } finally {
        ownHostMs = this.#soloWork.stop(span);
      }
      t = lap(stages, 'pre', t);
      const preMs = t - startedMs;
      if (shed) pipeline.admitQueued(functionCaller(fn), deadlineMs, sloMs, ownHostMs);
      const cancel = options.cancel ?? (options.signal && fromAbortSignal(options.signal));
      const batch = await pipeline.submit(feeds, fn.name, arrivalMs, deadlineMs, cancel, shed);
      const postStart = performance.now();
      let result: unknown;
      try {
        const made = fn.definition.post({ output: Object.values(batch.outputs)[0], outputs: batch.outputs }, input as never);
        const limited = this.hookLimits.limit(made, fn.hookTimeoutMs, fn.name, 'post');
        result = limited instanceof Promise ? await limited : limited;
      } catch (err) {
        if (err instanceof HookTimeoutError) throw err;
        const errorId = randomUUID();
        // pino's err serializer keeps the stack: where in post() it failed.
        this.log.error({ function: fn.name, model, errorId, err }, 'post() failed');
        // The handler's words stay in the log: they may name files, hosts or data of the runtime.
        throw new RunFailedError(`"${fn.name}" post() failed; the log has the reason under error id ${errorId}`, errorId, err, {
          function: fn.name,
        });
      }
      const done = performance.now();
      stages.add('post', done - postStart);
      const totalMs = done - arrivalMs;
      pipeline.scheduler.noteHostTime(preMs, done - batch.finishedAtMs);
      series.outcome.ok.inc();
      series.latency.observe(totalMs);
      series.queueTime.observe(batch.queueMs);
      live.record(totalMs, batch.batchSize, totalMs <= sloMs);
      return { result, fn, batch, preMs, postMs: done - postStart, totalMs };
    } catch (err) {
      countFailure(series, live, err);
      throw err;
    }
  }

  /**
   * Runs one call whose body carries model rows itself (the v2 protocol): admitted at the door like any
   * call, then `readRows` reads and decodes the body into n rows, which become n items of the model's queue
   * and batch with every function call on it (batching/row-group.ts). Outcomes come back in row order.
   * Counted in the metrics and live figures under {@link v2Caller}.
   */
  async invokeRows(
    model: string,
    readRows: (meta: ModelMeta) => Promise<readonly ItemFeeds[]>,
    options: Omit<InvokeOptions, 'readBody'> = {},
  ): Promise<RowsResult> {
    const pipeline = this.#pipelines.get(model);
    if (!pipeline) throw new NotFoundError('model', model);
    const caller = v2Caller(model);
    const series = this.metrics.series(caller, model);
    const live = this.liveStats(caller);
    const started = performance.now();
    const arrivalMs = Math.min(options.arrivalMs ?? started, started);
    live.arrival(started);
    try {
      const sloMs = Math.min(pipeline.v2SloMs(), options.sloMs ?? Infinity);
      const deadlineMs = arrivalMs + sloMs;
      const shed = this.#admission;
      const who: Caller = { name: `a v2 call to "${model}"`, details: { model } };
      const refusal = this.#refusalAtDoor(pipeline, who, shed, deadlineMs, sloMs);
      if (refusal) throw refusal;
      const meta = pipeline.meta() ?? (await pipeline.ensureMeta());
      const rows = await readRows(meta);
      const queuedAt = performance.now();
      const room = pipeline.room;
      if (rows.length > room)
        throw new OverloadedError(
          `the queue of model "${model}" has room for ${Math.max(0, room)} items, this call has ${rows.length} rows`,
          1,
          { model },
        );
      if (shed) pipeline.admitQueued(who, deadlineMs, sloMs);
      const cancel = options.cancel ?? (options.signal && fromAbortSignal(options.signal));
      const batches = await submitRows(pipeline.batcher, rows, caller, arrivalMs, deadlineMs, cancel, shed);
      // The host-time model (noteHostTime) stays learnt from function calls: a v2 call's encoding happens in
      // its route, after this returns, and its decoding costs per row, not per call.
      const totalMs = performance.now() - arrivalMs;
      series.outcome.ok.inc();
      series.latency.observe(totalMs);
      series.queueTime.observe(batches[0].queueMs);
      live.record(totalMs, batches[0].batchSize, totalMs <= sloMs);
      return { batches, preMs: queuedAt - started, sloMs };
    } catch (err) {
      countFailure(series, live, err);
      throw err;
    }
  }

  /** The deadline of a v2 call to `model` without `x-slo-ms` ({@link ModelPipeline.v2SloMs}). */
  v2SloMs(model: string): number {
    return this.#pipelines.get(model)!.v2SloMs();
  }

  /** Whether a function's calls may be answered 503 instead of late. */
  #sheds(fn: LoadedFunction): boolean {
    return this.#admission && fn.definition.overload !== 'serve-late';
  }

  /** Why a call is refused at the door: the runtime is stopping, or its model's pipeline refuses it. */
  #refusalAtDoor(pipeline: ModelPipeline, who: Caller, shed: boolean, deadlineMs: number, sloMs: number): EdgebatchError | undefined {
    if (!this.#accepting) return new OverloadedError('the runtime is shutting down', 1);
    return pipeline.refusal(who, shed, deadlineMs, sloMs);
  }

  /**
   * Turns admission control on or off on a live runtime, for calls admitted from now on: a policy comparison
   * (or a test's baseline) runs the same load with and without it, on the same process and fit.
   */
  setAdmission(on: boolean): void {
    this.#admission = on;
  }

  /** Whether admission control is on (see {@link setAdmission}). */
  get admission(): boolean {
    return this.#admission;
  }

  /** Stops taking new invocations; everything already accepted is answered. */
  #stopAccepting(): void {
    this.#accepting = false;
  }

  /** Waits for every queue to drain, then closes the device lanes. */
  async close(): Promise<void> {
    this.#stopAccepting();
    await Promise.all([...this.#pipelines.values()].map((p) => p.onIdle()));
    await this.closeDevices();
  }

  /** Stops measuring the host and closes every device's lanes, queued calls or not (a stop cut short). */
  async closeDevices(): Promise<void> {
    this.host.stop();
    this.gpuEnergy?.close();
    await Promise.all([...this.#devices.values()].map((d) => d.close()));
  }
}

/** Counts a call that did not end in a 200, once, by outcome. */
function countFailure(series: FunctionSeries, live: LiveStats, err: unknown): void {
  const outcome =
    err instanceof OverloadedError
      ? 'shed'
      : err instanceof CancelledError
        ? 'cancelled'
        : err instanceof EdgebatchError && err.status < 500
          ? 'bad_input'
          : 'failed';
  series.outcome[outcome].inc();
  if (outcome === 'shed') {
    series.shed.inc();
    live.shed();
  } else if (outcome === 'failed') live.failed();
}

/** Adds the time since `since` to a stage and returns now. */
function lap(stages: HostStageTotals, stage: HostStage, since: number): number {
  const now = performance.now();
  stages.add(stage, now - since);
  return now;
}
