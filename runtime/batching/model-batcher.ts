import { randomUUID } from 'node:crypto';
import type { ResolvedModelConfig } from '../config.ts';
import { OverloadedError, RunFailedError } from '../errors.ts';
import { canShareBatch, type ItemTensor } from '../models/tensor.ts';
import { systemClock, type Clock } from '../scheduler/clock.ts';
import { ModelScheduler } from '../scheduler/model-scheduler.ts';
import { policyFor } from '../scheduler/policies/index.ts';
import type { BatchPolicy, HostView, Pending } from '../scheduler/types.ts';
import type { BatchDevice, BatchModels } from './batch-device.ts';
import { splitOutputs, stackFeeds, type ItemFeeds } from './batch-feeds.ts';
import { settleOnCancel, type Cancellation, type Settle } from './cancellation.ts';
import { IdleWaiters } from './idle-waiters.ts';
import { BatchMemory } from './batch-memory.ts';
import { probeBatchCosts } from './warm-up-probe.ts';

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

/** One queued item: its feeds, who called, and how to answer it. */
interface Invocation extends Settle<BatchOutcome> {
  readonly feeds: ItemFeeds;
  readonly fn: string;
  /** May be answered 503 instead of late when its deadline can no longer be met. */
  readonly shed: boolean;
}

export interface ModelBatcherOptions {
  model: ResolvedModelConfig;
  models: BatchModels;
  device: BatchDevice;
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
 * A model's batcher: the device side of its {@link ModelScheduler}, which decides when and how much. This
 * adapts the queue to calls (an item per call, answered once: with its outputs, a 503 when it expires, a
 * cancellation when its client leaves) and runs each batch the scheduler dispatches: stacked
 * (batch-feeds.ts), run once on a lane, its outputs split back in order. A failed run fails only its own
 * items; the queue carries on.
 */
export class ModelBatcher {
  readonly name: string;
  readonly scheduler: ModelScheduler<Invocation>;
  readonly #opts: ModelBatcherOptions;
  readonly #clock: Clock;
  readonly #idle = new IdleWaiters(() => this.idle);
  /** Stacked inputs' buffers, reused batch after batch. */
  readonly #memory = new BatchMemory();

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
        return Object.keys(head.feeds).every(
          (k) =>
            other.feeds[k] &&
            canShareBatch(head.feeds[k].dims, other.feeds[k].dims, pad && k === name && !Array.isArray(head.feeds[k].data)),
        );
      },
      mayExpire: (it) => it.shed,
      dispatch: (batch) => void this.#execute(batch),
      // An item that cannot finish by its deadline even alone gets its 503 now, and its device time goes to
      // items that can still make it (under overload, running late items first is what collapses goodput).
      onExpire: (items) => {
        for (const it of items)
          it.payload.reject(
            new OverloadedError(`"${it.payload.fn}" can no longer meet its deadline: it would finish after it at the current load`, 1, {
              function: it.payload.fn,
            }),
          );
        this.#idle.check();
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
      const settle = settleOnCancel(
        cancel,
        { resolve, reject },
        () => this.scheduler.remove(pending),
        () => this.#idle.check(),
      );
      if (!settle) return;
      pending.payload.resolve = settle.resolve;
      pending.payload.reject = settle.reject;
      this.scheduler.push(pending);
    });
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
      const feeds = stackFeeds(
        batch.map((it) => it.payload.feeds),
        model.padValue,
        this.#memory,
      );
      hostMs += this.#clock.now() - t0;
      const { outputs, runMs, inputs } = await device.run({ name: this.name, file: model.file }, feeds, earliest);
      const finishedAt = this.#clock.now();
      if (inputs) this.#memory.give(inputs);
      const split = splitOutputs(outputs, batch.length);
      this.scheduler.finished(batch, runMs);
      batch.forEach((it, i) => {
        it.payload.resolve({
          outputs: split[i],
          batchId,
          batchSize: batch.length,
          queueMs: dispatchedAt - it.arrivalMs,
          inferenceMs: finishedAt - dispatchedAt,
          finishedAtMs: finishedAt,
        });
      });
      hostMs += this.#clock.now() - finishedAt;
      this.#opts.onBatch?.({ model: this.name, batchId, size: batch.length, runMs, hostMs, ok: true });
    } catch (err) {
      const errorId = randomUUID();
      const message = err instanceof Error ? err.message : String(err);
      this.scheduler.failed(batch);
      this.#opts.onBatch?.({ model: this.name, batchId, size: batch.length, runMs: 0, hostMs, ok: false, errorId, error: message });
      // The model's own words (onnxruntime's, with node names and paths) go to the log under errorId, not to clients.
      for (const it of batch)
        it.payload.reject(
          new RunFailedError(
            `model "${this.name}" failed on batch ${batchId}; the log has the reason under error id ${errorId}`,
            errorId,
            err,
            { model: this.name, batchId, batchSize: batch.length },
          ),
        );
    } finally {
      this.#idle.check();
    }
  }

  /**
   * Warm-up probe ({@link probeBatchCosts}): copies of one item at each of `sizes`, straight on the device.
   * With `anchor`, the device times stay in the cost fit for good (the fit's anchors), so the scheduler has
   * predictions before the first request and a slope even when later batches all have one size.
   */
  async probe(item: ItemFeeds, sizes: readonly number[], anchor: boolean): Promise<void> {
    const { model, device, models } = this.#opts;
    await models.ensure(this.name);
    await probeBatchCosts(device, { name: this.name, file: model.file }, item, model.padValue, sizes, (b, runMs) => {
      if (anchor) this.scheduler.probed(b, runMs);
    });
  }

  /** Resolves when nothing waits and no batch is running. */
  onIdle(): Promise<void> {
    return this.#idle.wait();
  }

  /** True when nothing waits and no batch is running. */
  get idle(): boolean {
    return this.scheduler.waiting === 0 && this.scheduler.inFlight === 0;
  }
}
