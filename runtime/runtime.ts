import { lanesOn, type DeviceKind, type ResolvedConfig } from './config.ts';
import { CancelledError, EdgebatchError, HookTimeoutError, ModelUnavailableError, NotFoundError, OverloadedError, RunFailedError } from './errors.ts';
import { ModelBatcher, type BatchOutcome, type BatchRecord, type Cancellation, type ItemFeeds } from './batching/model-batcher.ts';
import { submitRows } from './batching/row-group.ts';
import { checkFunction } from './functions/checks.ts';
import { functionNameOf, type LoadedFunction, type LoadProblem, type LoadResult } from './functions/load.ts';
import { prepareItem, validateInput } from './functions/prepare.ts';
import { FunctionRegistry } from './functions/registry.ts';
import { HookLimits } from './functions/hook-limits.ts';
import { VersionStore } from './functions/version-store.ts';
import { scanFunctions } from './functions/scan.ts';
import { feasibility } from './introspect.ts';
import { Device } from './lanes/device.ts';
import type { Logger } from './logger.ts';
import { HostMonitor } from './host/host-monitor.ts';
import { HostStageTotals, type HostStage } from './host/host-stages.ts';
import { LiveStats } from './metrics/live-stats.ts';
import { RuntimeMetrics, type FunctionSeries } from './metrics/prometheus.ts';
import type { ModelMeta } from './lanes/protocol.ts';
import { bytesPerItem } from './models/item-bytes.ts';
import { ModelRegistry } from './models/registry.ts';
import { batchCapForMemory } from './scheduler/formula.ts';
import { randomUUID } from 'node:crypto';
import type { AdmissionDecision } from './scheduler/admission.ts';

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
}

/** The answer to a call of rows: each row's batch outcome, in row order. */
export interface RowsResult {
  readonly batches: readonly BatchOutcome[];
  /** Arrival at the runtime to the rows being queued: door, body read, decode. */
  readonly preMs: number;
  /** The deadline the call ran under, ms after its arrival. */
  readonly sloMs: number;
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
  /** The host stage: the event loop every call crosses, measured. */
  readonly host = new HostMonitor();
  /** Event-loop time by stage of the host path. */
  readonly stages = new HostStageTotals();
  readonly metrics = new RuntimeMetrics(this.host, this.stages);
  /** One device per kind the models use (a model picks its own with `device`), each with its own lanes. */
  readonly devices = new Map<DeviceKind, Device>();
  readonly models: ModelRegistry;
  readonly batchers = new Map<string, ModelBatcher>();
  readonly modelStatus = new Map<string, ModelStatus>();
  readonly versions: VersionStore;
  /** Time limits on calls' `pre` and `post`: one sweep for all, no timer per call. */
  readonly hookLimits = new HookLimits();
  readonly #live = new Map<string, LiveStats>();
  /** Per model, the loosest SLO among its functions: the default deadline of its v2 calls. */
  readonly #v2DefaultSlo = new Map<string, number>();
  #batchSeq = 0;
  #accepting = true;

  constructor(config: ResolvedConfig, log: Logger) {
    this.config = config;
    this.log = log;
    this.versions = new VersionStore(config.dataDir);
    for (const kind of new Set(Object.values(config.models).map((m) => m.device))) {
      this.devices.set(kind, new Device({ device: kind, lanes: lanesOn(config, kind), threads: config.threadsPerLane }));
    }
    this.models = new ModelRegistry(config.models, (model) => this.devices.get(config.models[model].device)!, config.limits.modelCacheBytes);
    for (const model of Object.values(config.models)) {
      this.modelStatus.set(model.name, { state: 'loading' });
      this.batchers.set(
        model.name,
        new ModelBatcher({
          model,
          models: this.models,
          device: this.devices.get(model.device)!,
          lanes: lanesOn(config, model.device),
          fitWindow: config.scheduler.fitWindow,
          marginMs: config.scheduler.marginMs,
          meanObjectiveFraction: config.scheduler.meanObjectiveFraction,
          overloadFactor: config.scheduler.overloadFactor,
          hostLagFraction: config.scheduler.hostLagFraction,
          power: config.energy,
          host: () => this.host.view(),
          nextBatchId: () => ++this.#batchSeq,
          onBatch: (b) => this.#onBatch(b),
        }),
      );
    }
    this.functions.onChange(() => this.#updateObjectives());
    this.#updateObjectives();
    this.host.start();
  }

  /** Opens every model and loads every handler file. Bad files are reported, not fatal. */
  async start(): Promise<void> {
    await Promise.all(
      Object.keys(this.config.models).map(async (name) => {
        try {
          const { meta } = await this.models.ensure(name);
          this.#capByMemory(name, meta);
          this.modelStatus.set(name, { state: 'ready' });
        } catch (err) {
          const error = (err as Error).message;
          this.modelStatus.set(name, { state: 'failed', error });
          this.log.error({ model: name, err: error }, 'model failed to load');
        }
      }),
    );
    // Deployed versions outlive restarts and take precedence over a file of the same name.
    const deployed = await this.versions.deployed();
    for (const file of await scanFunctions(this.config.functionsDir)) {
      if (!deployed.some((d) => d.name === functionNameOf(file))) await this.loadFile(file);
    }
    for (const d of deployed) await this.loadFile(d.file, d.name);
    // The checks warmed up every model a function uses; a model whose probe failed tries once more.
    for (const [name, batcher] of this.batchers) if (!batcher.scheduler.fit.get()) await this.warmUp(name);
  }

  /**
   * Applies a model's `maxBatchBytes`: b_max = min(maxBatch, floor(budget / bytes per item)), with the bytes
   * per item read from the loaded model's shapes (throws, failing the model, when they are not fixed).
   */
  #capByMemory(name: string, meta: ModelMeta): void {
    const { maxBatch, maxBatchBytes } = this.config.models[name];
    if (maxBatchBytes === undefined) return;
    const perItem = bytesPerItem(meta, name);
    const cap = batchCapForMemory(maxBatch, maxBatchBytes, perItem);
    this.batchers.get(name)!.scheduler.setMaxBatch(cap);
    this.log.info({ model: name, maxBatch, maxBatchBytes, bytesPerItem: perItem, batchCap: cap }, 'batch capped by memory');
  }

  /** True once every model is loaded. */
  get ready(): boolean {
    return [...this.modelStatus.values()].every((s) => s.state === 'ready');
  }

  /** Imports a handler file and runs every check on it (functions/checks.ts) without serving it. */
  check(file: string, name?: string): Promise<LoadResult> {
    return checkFunction(
      {
        hookTimeoutFactor: this.config.limits.hookTimeoutFactor,
        probe: { timeoutMs: this.config.limits.checkTimeoutMs, heapMb: this.config.limits.checkHeapMb },
        knownModel: (m) => this.models.has(m),
        modelFailure: (m) => {
          const s = this.modelStatus.get(m);
          return s?.state === 'failed' ? s.error : undefined;
        },
        tryExample: (fn) => this.tryExample(fn),
        ensureFit: async (fn) => {
          if (!this.batchers.get(fn.definition.model)?.scheduler.fit.get()) await this.warmUp(fn.definition.model, fn);
        },
        feasibility: (fn) => feasibility(this, fn),
      },
      file,
      name,
    );
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
      const batcher = this.batchers.get(model)!;
      const k = Math.min(8, batcher.scheduler.maxBatch);
      await batcher.probe(feeds, [1, k], false);
      batcher.scheduler.fit.clear();
      await batcher.probe(feeds, k > 1 ? [1, k, 1, k, 1, k] : [1, 1, 1], true);
      this.log.info({ model, fit: batcher.scheduler.fit.get() }, 'warm-up probe done');
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

  /** Tells each model's scheduler the tightest SLO among the functions on it (its objective follows). */
  #updateObjectives(): void {
    for (const [model, batcher] of this.batchers) {
      const slos = this.functions.usersOf(model).map((f) => f.sloMs);
      // A configured v2 SLO is a promise like a function's; the default (the loosest) never tightens anything.
      const v2 = this.config.models[model].v2SloMs;
      if (v2 !== undefined) slos.push(v2);
      batcher.scheduler.setTightestSlo(slos.length ? Math.min(...slos) : 1000);
      if (slos.length) this.#v2DefaultSlo.set(model, Math.max(...slos));
      else this.#v2DefaultSlo.delete(model);
    }
  }


  /** The model's mean-latency objective S for the device, ms. */
  objectiveMs(model: string): number {
    return this.batchers.get(model)!.scheduler.objectiveMs();
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
    this.liveStats(fn.name).arrival(startedMs);
    const slo = Math.min(fn.sloMs, sloMs ?? Infinity);
    const arrival = Math.min(arrivalMs ?? startedMs, startedMs);
    const call: AdmittedCall = { fn, arrivalMs: arrival, startedMs, sloMs: slo, deadlineMs: arrival + slo, shed: this.#sheds(fn) };
    const refusal = this.#refusalAtDoor(fn.definition.model, callerOf(fn), call.shed, call.deadlineMs, slo);
    if (refusal) this.#countFailure(fn, refusal);
    return refusal ?? call;
  }

  /** Runs a call {@link admit} let in: reads its body (if `options.readBody`), validates, pre, queue, batch, post. */
  async run(call: AdmittedCall, body: unknown, options: InvokeOptions = {}): Promise<InvokeResult> {
    const { fn, arrivalMs, startedMs, sloMs, deadlineMs, shed } = call;
    const model = fn.definition.model;
    const batcher = this.batchers.get(model)!;
    const stages = this.stages;
    try {
      if (options.readBody) body = await options.readBody();
      let t = performance.now();
      const input = await validateInput(fn, body);
      t = lap(stages, 'validate', t);
      const loaded = this.models.meta(model) ?? (await this.models.ensure(model)).meta;
      const feeds = await prepareItem(fn, input, loaded, this.config.models[model].input, this.hookLimits);
      t = lap(stages, 'pre', t);
      const preMs = t - startedMs;
      if (shed) this.#refuse(callerOf(fn), sloMs, batcher.scheduler.admit(deadlineMs, 'queued', sloMs));
      const cancel = options.cancel ?? (options.signal && fromAbortSignal(options.signal));
      const batch = await batcher.submit(feeds, fn.name, arrivalMs, deadlineMs, cancel, shed);
      const postStart = performance.now();
      let result: unknown;
      try {
        const made = fn.definition.post({ output: Object.values(batch.outputs)[0], outputs: batch.outputs }, input as never);
        result = await this.hookLimits.limit(made, fn.hookTimeoutMs, fn.name, 'post');
      } catch (err) {
        if (err instanceof HookTimeoutError) throw err;
        const errorId = randomUUID();
        // pino's err serializer keeps the stack: where in post() it failed.
        this.log.error({ function: fn.name, model, errorId, err }, 'post() failed');
        throw new RunFailedError(`"${fn.name}" post() failed: ${(err as Error).message}`, errorId, err);
      }
      const done = performance.now();
      stages.add('post', done - postStart);
      const totalMs = done - arrivalMs;
      batcher.scheduler.noteHostTime(preMs, done - batch.finishedAtMs);
      const series = this.metrics.series(fn.name, model);
      series.outcome.ok.inc();
      series.latency.observe(totalMs);
      series.queueTime.observe(batch.queueMs);
      this.liveStats(fn.name).record(totalMs, batch.batchSize, totalMs <= sloMs);
      return { result, fn, batch, preMs, postMs: done - postStart, totalMs };
    } catch (err) {
      this.#countFailure(fn, err);
      throw err;
    }
  }

  /** Counts a function call that ended without a result, once, by what ended it. */
  #countFailure(fn: LoadedFunction, err: unknown): void {
    countFailure(this.metrics.series(fn.name, fn.definition.model), this.liveStats(fn.name), err);
  }

  /**
   * Runs one call whose body carries model rows itself (the v2 protocol): admitted at the door like any
   * call, then `readRows` reads and decodes the body into n rows, which become n items of the model's queue
   * and batch with every function call on it (batching/row-group.ts). Outcomes come back in row order.
   * Counted in the metrics and live figures under {@link v2Caller}.
   */
  async invokeRows(model: string, readRows: (meta: ModelMeta) => Promise<readonly ItemFeeds[]>, options: Omit<InvokeOptions, 'readBody'> = {}): Promise<RowsResult> {
    if (!this.batchers.has(model)) throw new NotFoundError('model', model);
    const caller = v2Caller(model);
    const series = this.metrics.series(caller, model);
    const live = this.liveStats(caller);
    const started = performance.now();
    const arrivalMs = Math.min(options.arrivalMs ?? started, started);
    live.arrival(started);
    try {
      const sloMs = Math.min(this.v2SloMs(model), options.sloMs ?? Infinity);
      const deadlineMs = arrivalMs + sloMs;
      const shed = this.config.scheduler.admission;
      const who = { name: `a v2 call to "${model}"`, details: { model } };
      const refusal = this.#refusalAtDoor(model, who, shed, deadlineMs, sloMs);
      if (refusal) throw refusal;
      const batcher = this.batchers.get(model)!;
      const meta = this.models.meta(model) ?? (await this.models.ensure(model)).meta;
      const rows = await readRows(meta);
      const queuedAt = performance.now();
      const room = this.config.limits.queueLength - batcher.waiting;
      if (rows.length > room) throw new OverloadedError(`the queue of model "${model}" has room for ${Math.max(0, room)} items, this call has ${rows.length} rows`, 1, { model });
      if (shed) this.#refuse(who, sloMs, batcher.scheduler.admit(deadlineMs, 'queued', sloMs));
      const cancel = options.cancel ?? (options.signal && fromAbortSignal(options.signal));
      const batches = await submitRows(batcher, rows, caller, arrivalMs, deadlineMs, cancel, shed);
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

  /**
   * The deadline of a v2 call without `x-slo-ms`: the model's `v2Slo` from hono.config.ts, else the loosest
   * SLO of the functions on the model (a promise the model's owner already made and the scheduler is already
   * sized for; a tighter one would have tensor clients shed first), else 1 s.
   */
  v2SloMs(model: string): number {
    return this.config.models[model].v2SloMs ?? this.#v2DefaultSlo.get(model) ?? 1000;
  }

  /** Whether a function's calls may be answered 503 instead of late. */
  #sheds(fn: LoadedFunction): boolean {
    return this.config.scheduler.admission && fn.definition.overload !== 'serve-late';
  }

  /**
   * Why a call on `model` is refused at the door, or undefined when it may come in: the runtime is stopping,
   * the model failed, its queue is full, or (when `shed`) the scheduler says it cannot meet its deadline.
   */
  #refusalAtDoor(model: string, who: Caller, shed: boolean, deadlineMs: number, sloMs: number): EdgebatchError | undefined {
    if (!this.#accepting) return new OverloadedError('the runtime is shutting down', 1);
    const status = this.modelStatus.get(model);
    if (status?.state === 'failed') return new ModelUnavailableError(model, status.error);
    const batcher = this.batchers.get(model)!;
    if (batcher.waiting >= this.config.limits.queueLength) {
      return new OverloadedError(`the queue of model "${model}" is full (${this.config.limits.queueLength} items)`, 1);
    }
    if (!shed) return undefined;
    const decision = batcher.scheduler.admit(deadlineMs, 'door', sloMs);
    return decision.admit ? undefined : overloaded(who, sloMs, decision);
  }

  #refuse(who: Caller, sloMs: number, decision: AdmissionDecision): void {
    if (!decision.admit) throw overloaded(who, sloMs, decision);
  }

  #onBatch(b: BatchRecord): void {
    this.stages.add('handover', b.hostMs);
    this.metrics.batchSize.observe({ model: b.model }, b.size);
    if (b.ok) this.metrics.batchRunTime.observe({ model: b.model }, b.runMs / 1000);
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
    await this.closeDevices();
  }

  /** Stops measuring the host and closes every device's lanes, queued calls or not (a stop cut short). */
  async closeDevices(): Promise<void> {
    this.host.stop();
    await Promise.all([...this.devices.values()].map((d) => d.close()));
  }
}

/**
 * The name v2 calls of a model go by where a function's name goes: `function="v2:mlp"` in /metrics, their
 * live figures, the items' caller in the queue. No function name contains a colon, so none collides.
 */
export function v2Caller(model: string): string {
  return `v2:${model}`;
}

/** Who a refusal names, and the details its reply carries. */
interface Caller {
  readonly name: string;
  readonly details: Record<string, unknown>;
}

function callerOf(fn: LoadedFunction): Caller {
  return { name: `"${fn.name}"`, details: { function: fn.name } };
}

/** The 503 of a call its model's scheduler refused. */
function overloaded(who: Caller, sloMs: number, decision: Extract<AdmissionDecision, { admit: false }>): OverloadedError {
  return new OverloadedError(`${who.name} cannot meet its SLO of ${sloMs} ms: ${decision.reason}`, decision.retryAfterSec, who.details);
}

/** Counts a call that did not end in a 200, once, by outcome. */
function countFailure(series: FunctionSeries, live: LiveStats, err: unknown): void {
  const outcome = err instanceof OverloadedError ? 'shed' : err instanceof CancelledError ? 'cancelled' : err instanceof EdgebatchError && err.status < 500 ? 'bad_input' : 'failed';
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

/** An AbortSignal (the embedding API) as the batcher's cancellation. */
function fromAbortSignal(signal: AbortSignal): Cancellation {
  return {
    get cancelled() {
      return signal.aborted;
    },
    onCancel(fn) {
      signal.addEventListener('abort', fn, { once: true });
      return () => signal.removeEventListener('abort', fn);
    },
  };
}
