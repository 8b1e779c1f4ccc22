import type { ResolvedConfig, ResolvedModelConfig } from '../config.ts';
import { ModelUnavailableError, OverloadedError, type EdgebatchError } from '../errors.ts';
import type { ItemFeeds } from '../batching/batch-feeds.ts';
import type { Cancellation } from '../batching/cancellation.ts';
import { ModelBatcher, type BatchOutcome, type BatchRecord } from '../batching/model-batcher.ts';
import type { LoadedFunction } from '../functions/load.ts';
import { prepareItem, validateInput } from '../functions/prepare.ts';
import type { HostStageTotals } from '../host/host-stages.ts';
import type { Device } from '../lanes/device.ts';
import type { ModelMeta } from '../lanes/protocol.ts';
import type { Logger } from '../logger.ts';
import type { GpuEnergy } from '../metrics/gpu-energy.ts';
import type { RuntimeMetrics } from '../metrics/prometheus.ts';
import { bytesPerItem } from '../models/item-bytes.ts';
import type { ModelRegistry } from '../models/registry.ts';
import { batchCapForMemory, sloFeasibility, type BatchCost } from '../scheduler/formula.ts';
import type { HostView } from '../scheduler/types.ts';
import { withoutPaths } from '../without-paths.ts';
import { refused, type Caller } from './caller.ts';

export type ModelStatus = { state: 'loading' } | { state: 'ready' } | { state: 'failed'; error: string };

/** What a pipeline is built from: its model's config and the shared parts the runtime owns. */
export interface ModelPipelineOptions {
  readonly model: ResolvedModelConfig;
  readonly config: Pick<ResolvedConfig, 'scheduler' | 'limits' | 'energy'>;
  readonly models: ModelRegistry;
  readonly device: Device;
  readonly lanes: number;
  readonly log: Logger;
  /** Where its batches are counted: the batch-size and run-time histograms, and the handover stage. */
  readonly metrics: Pick<RuntimeMetrics, 'batchSize' | 'batchRunTime'>;
  readonly stages: HostStageTotals;
  /** Where a model on a GPU books its batches, for joules per inference from the GPU's own counter. */
  readonly gpuEnergy?: Pick<GpuEnergy, 'book'>;
  host(): HostView;
  /** Batch ids are unique across models, so the runtime hands them out. */
  nextBatchId(): number;
}

/** The default objective and v2 deadline of a model no function uses and no `v2Slo` configures, ms. */
const unusedModelSloMs = 1000;

/**
 * Everything about one model, kept once: its batcher and scheduler (queue, fit, rate, objective), its
 * status, the door's checks for its calls, its warm-up probe and its batch metrics. The runtime holds one
 * per configured model and routes calls to them; nothing here knows about functions' registry or HTTP.
 */
export class ModelPipeline {
  readonly name: string;
  readonly config: ResolvedModelConfig;
  readonly batcher: ModelBatcher;
  readonly #opts: ModelPipelineOptions;
  readonly #queueLength: number;
  #status: ModelStatus = { state: 'loading' };
  /** The loosest SLO among the model's functions: the default deadline of its v2 calls. */
  #v2DefaultSlo: number | undefined;

  constructor(options: ModelPipelineOptions) {
    const { model, config } = options;
    this.#opts = options;
    this.name = model.name;
    this.config = model;
    this.#queueLength = config.limits.queueLength;
    this.batcher = new ModelBatcher({
      model,
      models: options.models,
      device: options.device,
      lanes: options.lanes,
      fitWindow: config.scheduler.fitWindow,
      marginMs: config.scheduler.marginMs,
      meanObjectiveFraction: config.scheduler.meanObjectiveFraction,
      overloadFactor: config.scheduler.overloadFactor,
      hostLagFraction: config.scheduler.hostLagFraction,
      power: config.energy,
      host: options.host,
      nextBatchId: options.nextBatchId,
      onBatch: (b) => this.#onBatch(b),
    });
  }

  get scheduler() {
    return this.batcher.scheduler;
  }

  get status(): ModelStatus {
    return this.#status;
  }

  /** Room left in the queue, items. */
  get room(): number {
    return this.#queueLength - this.batcher.waiting;
  }

  /** True when nothing waits and no batch is running. */
  get idle(): boolean {
    return this.batcher.idle;
  }

  /** Resolves when nothing waits and no batch is running. */
  onIdle(): Promise<void> {
    return this.batcher.onIdle();
  }

  /** Opens the model on its device and applies its memory cap; a failure marks the model failed, logged. */
  async open(): Promise<void> {
    try {
      const { meta } = await this.#opts.models.ensure(this.name);
      this.#capByMemory(meta);
      this.#status = { state: 'ready' };
    } catch (err) {
      // The status is what /readyz, 503s and the dashboard show: no paths of this host; the log has all.
      this.#status = { state: 'failed', error: withoutPaths((err as Error).message) };
      this.#opts.log.error({ model: this.name, file: this.config.file, err }, 'model failed to load');
    }
  }

  /**
   * Applies `maxBatchBytes`: b_max = min(maxBatch, floor(budget / bytes per item)), with the bytes per item
   * read from the loaded model's shapes (throws, failing the model, when they are not fixed).
   */
  #capByMemory(meta: ModelMeta): void {
    const { maxBatch, maxBatchBytes } = this.config;
    if (maxBatchBytes === undefined) return;
    const perItem = bytesPerItem(meta, this.name);
    const cap = batchCapForMemory(maxBatch, maxBatchBytes, perItem);
    this.scheduler.setMaxBatch(cap);
    this.#opts.log.info({ model: this.name, maxBatch, maxBatchBytes, bytesPerItem: perItem, batchCap: cap }, 'batch capped by memory');
  }

  /** The model's metadata once it has been opened (it outlives eviction). */
  meta(): ModelMeta | undefined {
    return this.#opts.models.meta(this.name);
  }

  /** The model's metadata, opening it first when it never was. */
  async ensureMeta(): Promise<ModelMeta> {
    return (await this.#opts.models.ensure(this.name)).meta;
  }

  /** Validates `fn`'s example and runs its `pre`: the item the model would get. */
  async exampleItem(fn: LoadedFunction, meta: ModelMeta): Promise<ItemFeeds> {
    return prepareItem(fn, await validateInput(fn, fn.definition.example), meta, this.config.input);
  }

  /**
   * Tells the scheduler the SLOs of the functions on this model: the objective follows the tightest. A
   * configured v2 SLO is a promise like a function's; the default v2 deadline (the loosest) never tightens
   * anything.
   */
  setSlos(slos: number[]): void {
    if (this.config.v2SloMs !== undefined) slos.push(this.config.v2SloMs);
    this.scheduler.setTightestSlo(slos.length ? Math.min(...slos) : unusedModelSloMs);
    this.#v2DefaultSlo = slos.length ? Math.max(...slos) : undefined;
  }

  /**
   * The deadline of a v2 call without `x-slo-ms`: the model's `v2Slo` from hono.config.ts, else the loosest
   * SLO of the functions on the model (a promise the model's owner already made and the scheduler is already
   * sized for; a tighter one would have tensor clients shed first), else 1 s.
   */
  v2SloMs(): number {
    return this.config.v2SloMs ?? this.#v2DefaultSlo ?? unusedModelSloMs;
  }

  /**
   * Why a call on this model is refused at the door, or undefined when it may come in: the model failed, its
   * queue is full, or (when `shed`) the scheduler says it cannot meet its deadline.
   */
  refusal(who: Caller, shed: boolean, deadlineMs: number, sloMs: number): EdgebatchError | undefined {
    const status = this.#status;
    if (status.state === 'failed') return new ModelUnavailableError(this.name, status.error);
    if (this.batcher.waiting >= this.#queueLength)
      return new OverloadedError(`the queue of model "${this.name}" is full (${this.#queueLength} items)`, 1);
    if (!shed) return undefined;
    const decision = this.scheduler.admit(deadlineMs, 'door', sloMs);
    return decision.admit ? undefined : refused(who, sloMs, decision);
  }

  /** The fitted cost of a batch in seconds, once there is a fit. */
  cost(): BatchCost | undefined {
    const f = this.scheduler.fit.get();
    return f && { alpha: f.alphaMs / 1000, tau0: f.tau0Ms / 1000 };
  }

  /** Whether an SLO of `sloMs` can be met at all on this device (U(0) <= SLO), once the cost is known. */
  feasibility(sloMs: number): { feasible: boolean; zeroLoadBoundMs: number; reason?: string } | null {
    const cost = this.cost();
    if (!cost) return null;
    const f = sloFeasibility(cost, sloMs / 1000);
    return { feasible: f.feasible, zeroLoadBoundMs: f.zeroLoadBound * 1000, ...(f.reason ? { reason: f.reason } : {}) };
  }

  /**
   * Throws the refusal of a call that, once its body was read and its item made, can no longer meet its
   * deadline: 503, or 422 when its own work (`ownHostMs`, measured alone) shows it never could.
   */
  admitQueued(who: Caller, deadlineMs: number, sloMs: number, ownHostMs?: number): void {
    const decision = this.scheduler.admit(deadlineMs, 'queued', sloMs, ownHostMs);
    if (!decision.admit) throw refused(who, sloMs, decision);
  }

  /** Queues one item; see {@link ModelBatcher.submit}. */
  submit(
    feeds: ItemFeeds,
    caller: string,
    arrivalMs: number,
    deadlineMs: number,
    cancel: Cancellation | undefined,
    shed: boolean,
  ): Promise<BatchOutcome> {
    return this.batcher.submit(feeds, caller, arrivalMs, deadlineMs, cancel, shed);
  }

  /**
   * The warm-up probe, run with `fn`'s example once the model is ready. Each size runs once unmeasured (a
   * session's first run at a new shape allocates), then sizes 1 and min(8, maxBatch) three times each feed
   * the cost fit, so the scheduler has predictions before the first request. Returns whether it ran; a
   * failure is logged, and the scheduler starts without a fit.
   */
  async warmUp(fn: LoadedFunction): Promise<boolean> {
    const meta = this.meta();
    if (!meta || this.#status.state !== 'ready') return false;
    try {
      const feeds = await this.exampleItem(fn, meta);
      const k = Math.min(8, this.scheduler.maxBatch);
      await this.batcher.probe(feeds, [1, k], false);
      this.scheduler.fit.clear();
      await this.batcher.probe(feeds, k > 1 ? [1, k, 1, k, 1, k] : [1, 1, 1], true);
      this.#opts.log.info({ model: this.name, fit: this.scheduler.fit.get() }, 'warm-up probe done');
      return true;
    } catch (err) {
      this.#opts.log.warn(
        { model: this.name, function: fn.name, err: (err as Error).message },
        'warm-up probe failed; the scheduler starts without a cost fit',
      );
      return false;
    }
  }

  #onBatch(b: BatchRecord): void {
    const { metrics, stages, log } = this.#opts;
    stages.add('handover', b.hostMs);
    metrics.batchSize.observe({ model: b.model }, b.size);
    if (b.ok) metrics.batchRunTime.observe({ model: b.model }, b.runMs / 1000);
    if (b.ok) this.#opts.gpuEnergy?.book(b.model, b.size, b.runMs);
    else log.error({ model: b.model, batchId: b.batchId, size: b.size, errorId: b.errorId, err: b.error }, 'batch failed');
  }
}
