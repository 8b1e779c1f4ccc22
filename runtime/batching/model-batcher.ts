import { randomUUID } from 'node:crypto';
import type { ResolvedModelConfig } from '../config.ts';
import { CancelledError, OverloadedError, RunFailedError } from '../errors.ts';
import type { Device } from '../lanes/device.ts';
import type { WireTensor } from '../lanes/protocol.ts';
import type { ModelRegistry } from '../models/registry.ts';
import { canShareBatch, elementType, stack, tagOf, unstack, type ItemTensor } from '../models/tensor.ts';
import { systemClock, type Clock } from '../scheduler/clock.ts';
import { ModelScheduler } from '../scheduler/model-scheduler.ts';
import { policyFor } from '../scheduler/policies/index.ts';
import type { BatchPolicy, HostView, Pending } from '../scheduler/types.ts';

/** One invocation's item, keyed by model input name, with its batched input first. */
export type ItemFeeds = Readonly<Record<string, ItemTensor>>;

/** What an invocation learns about the batch it rode in. */
export interface BatchOutcome {
  readonly outputs: Record<string, ItemTensor>;
  readonly batchId: number;
  readonly batchSize: number;
  /** Arrival to dispatch. */
  readonly queueMs: number;
  /** Dispatch to outputs back, including the wait for a lane. */
  readonly inferenceMs: number;
  /** The batch's outputs came back: post starts from here. */
  readonly finishedAtMs: number;
}

/** A finished batch, for metrics. */
export interface BatchRecord {
  readonly model: string;
  readonly batchId: number;
  readonly size: number;
  /** Device time of the run alone, timed by the lane around `session.run` (what the fit and energy model use). */
  readonly runMs: number;
  /** Main-thread time spent stacking the batch and splitting its outputs, ms. */
  readonly hostMs: number;
  readonly ok: boolean;
  readonly errorId?: string;
  readonly error?: string;
}

/** How the HTTP edge tells the batcher that a client went away: cheaper than an AbortSignal per call. */
export interface Cancellation {
  readonly cancelled: boolean;
  /** Calls `fn` once when the client goes away; the returned function stops listening. */
  onCancel(fn: () => void): () => void;
}

interface Invocation {
  readonly feeds: ItemFeeds;
  readonly fn: string;
  /** May be answered 503 instead of late when its deadline can no longer be met. */
  readonly shed: boolean;
  resolve(outcome: BatchOutcome): void;
  reject(err: Error): void;
}

export interface ModelBatcherOptions {
  model: ResolvedModelConfig;
  models: ModelRegistry;
  device: Device;
  lanes: number;
  fitWindow: number;
  marginMs: number;
  meanObjectiveFraction: number;
  overloadFactor: number;
  hostLagFraction: number;
  /** The lane's power model (energy in hono.config.ts). */
  power?: { busyWatts: number; idleWatts: number };
  host(): HostView;
  nextBatchId(): number;
  onBatch?(record: BatchRecord): void;
  clock?: Clock;
  policy?: BatchPolicy;
}

/**
 * A model's batcher: the device side of its {@link ModelScheduler}. The scheduler decides; this class
 * stacks the items of a batch (padding dynamic dims), runs it once on a lane, and splits the outputs back in
 * order. A failed run fails only its own items; the queue carries on.
 */
export class ModelBatcher {
  readonly name: string;
  readonly scheduler: ModelScheduler<Invocation>;
  readonly #opts: ModelBatcherOptions;
  readonly #clock: Clock;
  readonly #idleWaiters: (() => void)[] = [];

  constructor(options: ModelBatcherOptions) {
    this.#opts = options;
    this.name = options.model.name;
    this.#clock = options.clock ?? systemClock;
    const pad = options.model.shapes === 'pad';
    this.scheduler = new ModelScheduler<Invocation>({
      clock: this.#clock,
      policy: options.policy ?? policyFor(options.model),
      maxBatch: options.model.maxBatch,
      lanes: options.lanes,
      fitWindow: options.fitWindow,
      marginMs: options.marginMs,
      meanObjectiveFraction: options.meanObjectiveFraction,
      overloadFactor: options.overloadFactor,
      hostLagFraction: options.hostLagFraction,
      power: options.power,
      host: options.host,
      canJoin: (head, other) => {
        const name = this.#batchedInput();
        // Strings cannot be padded: string items of different shapes wait for a batch of their own shape.
        return Object.keys(head.feeds).every((k) => other.feeds[k] && canShareBatch(head.feeds[k].dims, other.feeds[k].dims, pad && k === name && !Array.isArray(head.feeds[k].data)));
      },
      mayExpire: (it) => it.shed,
      dispatch: (batch) => void this.#execute(batch),
      // An item that cannot finish by its deadline even alone gets its 503 now, and its device time goes to
      // items that can still make it (under overload, running late items first is what collapses goodput).
      onExpire: (items) => {
        for (const it of items) it.payload.reject(new OverloadedError(`"${it.payload.fn}" can no longer meet its deadline: it would finish after it at the current load`, 1, { function: it.payload.fn }));
        this.#notifyIfIdle();
      },
    });
  }

  /** Items waiting to be dispatched. */
  get waiting(): number {
    return this.scheduler.waiting;
  }

  #batchedInput(): string | undefined {
    return this.#opts.model.input ?? this.#opts.models.meta(this.name)?.inputs[0]?.name;
  }

  /**
   * Queues one item that arrived at `arrivalMs`. It leaves the queue, costing no device time, if the
   * client goes away before dispatch.
   */
  submit(feeds: ItemFeeds, fn: string, arrivalMs: number, deadlineMs: number, cancel?: Cancellation, shed = false): Promise<BatchOutcome> {
    return new Promise<BatchOutcome>((resolve, reject) => {
      const pending: Pending<Invocation> = { arrivalMs, deadlineMs, payload: { feeds, fn, shed, resolve, reject } };
      if (cancel) {
        if (cancel.cancelled) return reject(new CancelledError('client went away before dispatch'));
        const stop = cancel.onCancel(() => {
          if (this.scheduler.remove(pending)) {
            reject(new CancelledError('client went away before dispatch'));
            this.#notifyIfIdle();
          }
        });
        pending.payload.resolve = (o) => (stop(), resolve(o));
        pending.payload.reject = (e) => (stop(), reject(e));
      }
      this.scheduler.push(pending);
    });
  }

  #stackFeeds(items: readonly ItemFeeds[]): Record<string, WireTensor> {
    const feeds: Record<string, WireTensor> = {};
    for (const key of Object.keys(items[0])) {
      const t = stack(items.map((it) => it[key]), this.#opts.model.padValue);
      feeds[key] = { type: elementType(t), data: t.data, dims: [...t.dims] };
    }
    return feeds;
  }

  async #execute(batch: Pending<Invocation>[]): Promise<void> {
    const { model, device, models } = this.#opts;
    const batchId = this.#opts.nextBatchId();
    const dispatchedAt = this.#clock.now();
    let earliest = Infinity;
    for (const it of batch) earliest = Math.min(earliest, it.deadlineMs);
    let hostMs = 0;
    try {
      await models.ensure(this.name);
      const t0 = this.#clock.now();
      const feeds = this.#stackFeeds(batch.map((it) => it.payload.feeds));
      hostMs += this.#clock.now() - t0;
      const { outputs, runMs } = await device.run({ name: this.name, file: model.file }, feeds, earliest);
      const finishedAt = this.#clock.now();
      const split: Record<string, ItemTensor[]> = {};
      for (const [name, out] of Object.entries(outputs)) split[name] = unstack({ data: out.data, dims: out.dims, type: tagOf(out.type) }, batch.length);
      this.scheduler.finished(batch, runMs);
      batch.forEach((it, i) => {
        const mine: Record<string, ItemTensor> = {};
        for (const name in split) mine[name] = split[name][i];
        it.payload.resolve({ outputs: mine, batchId, batchSize: batch.length, queueMs: dispatchedAt - it.arrivalMs, inferenceMs: finishedAt - dispatchedAt, finishedAtMs: finishedAt });
      });
      hostMs += this.#clock.now() - finishedAt;
      this.#opts.onBatch?.({ model: this.name, batchId, size: batch.length, runMs, hostMs, ok: true });
    } catch (err) {
      const errorId = randomUUID();
      const message = err instanceof Error ? err.message : String(err);
      this.scheduler.failed(batch);
      this.#opts.onBatch?.({ model: this.name, batchId, size: batch.length, runMs: 0, hostMs, ok: false, errorId, error: message });
      // The model's own words (onnxruntime's, with node names and paths) go to the log under errorId, not to clients.
      for (const it of batch) it.payload.reject(new RunFailedError(`model "${this.name}" failed on batch ${batchId}; the log has the reason under error id ${errorId}`, errorId, err, { model: this.name, batchId, batchSize: batch.length }));
    } finally {
      this.#notifyIfIdle();
    }
  }

  /**
   * Warm-up probe: runs copies of one item at each of `sizes` straight on the device. With `anchor`, the
   * device times stay in the cost fit for good (the fit's anchors), so the scheduler has predictions
   * before the first request and a slope even when later batches all have one size.
   */
  async probe(item: ItemFeeds, sizes: readonly number[], anchor: boolean): Promise<void> {
    const { model, device, models } = this.#opts;
    await models.ensure(this.name);
    for (const b of sizes) {
      const feeds = this.#stackFeeds(Array.from({ length: b }, () => item));
      const { runMs } = await device.run({ name: this.name, file: model.file }, feeds, -Infinity);
      if (anchor) this.scheduler.probed(b, runMs);
    }
  }

  #notifyIfIdle(): void {
    if (this.idle) for (const w of this.#idleWaiters.splice(0)) w();
  }

  /** Resolves when nothing waits and no batch is running. */
  onIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((r) => this.#idleWaiters.push(r));
  }

  /** True when nothing waits and no batch is running. */
  get idle(): boolean {
    return this.scheduler.waiting === 0 && this.scheduler.inFlight === 0;
  }
}
