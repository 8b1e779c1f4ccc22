import { randomUUID } from 'node:crypto';
import type { ResolvedModelConfig } from '../config.ts';
import { CancelledError, OverloadedError, RunFailedError } from '../errors.ts';
import type { Device } from '../lanes/device.ts';
import type { WireTensor } from '../lanes/protocol.ts';
import type { ModelRegistry } from '../models/registry.ts';
import { canShareBatch, dataType, stack, unstack, type ItemTensor } from '../models/tensor.ts';
import { systemClock, type Clock } from '../scheduler/clock.ts';
import { CostFitter } from '../scheduler/cost-fit.ts';
import { LatencyFeedback } from '../scheduler/feedback.ts';
import { ModelQueue } from '../scheduler/model-queue.ts';
import { policyFor } from '../scheduler/policies/index.ts';
import { RateMeter } from '../scheduler/rate.ts';
import type { BatchPolicy, Pending, PolicyContext } from '../scheduler/types.ts';

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
}

/** A finished batch, for metrics and the cost fit. */
export interface BatchRecord {
  readonly model: string;
  readonly batchId: number;
  readonly size: number;
  /** Device time of the run alone (what the energy model charges). */
  readonly runMs: number;
  /** Dispatch to outputs back, less any wait for a lane: what the queue experiences and the fit learns. */
  readonly serviceMs: number;
  readonly ok: boolean;
  readonly inputBytes: number;
  readonly errorId?: string;
  readonly error?: string;
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
  /** Time kept free before a deadline, ms: the configured margin plus what the call still needs after its batch (post, reply). */
  marginMs(): number;
  fitWindow: number;
  /** The lane's power model (energy in hono.config.ts). */
  power?: { busyWatts: number; idleWatts: number };
  /** The model's mean-latency objective, ms (depends on which functions use it right now). */
  objectiveMs(): number;
  nextBatchId(): number;
  onBatch?(record: BatchRecord): void;
  clock?: Clock;
  policy?: BatchPolicy;
}

/**
 * A model's batcher: one queue fed by every function on the model. It turns the scheduler's decisions into
 * device runs: stack the items (padding dynamic dims), run once on a lane, split outputs back in order.
 * A failed run fails only its own items; the queue carries on.
 */
export class ModelBatcher {
  readonly name: string;
  readonly fit: CostFitter;
  readonly rate = new RateMeter();
  readonly #opts: ModelBatcherOptions;
  readonly #clock: Clock;
  readonly #queue: ModelQueue<Invocation>;
  readonly #pad: boolean;
  /** What recent items saw: the feedback the slo policy checks the formula against. */
  readonly #feedback = new LatencyFeedback();
  #inFlightBatches = new Set<Promise<void>>();
  /** Dispatch time and size of each batch on the device, for the time still owed to it. */
  readonly #running = new Set<{ startMs: number; size: number }>();

  constructor(options: ModelBatcherOptions) {
    this.#opts = options;
    this.name = options.model.name;
    this.#clock = options.clock ?? systemClock;
    this.#pad = options.model.shapes === 'pad';
    this.fit = new CostFitter(options.fitWindow);
    const input = () => this.#batchedInput();
    this.#queue = new ModelQueue<Invocation>({
      clock: this.#clock,
      policy: options.policy ?? policyFor(options.model),
      maxBatch: options.model.maxBatch,
      lanes: options.lanes,
      context: () => this.context(),
      canJoin: (head, other) => {
        const name = input();
        return Object.keys(head.feeds).every((k) => other.feeds[k] && canShareBatch(head.feeds[k].dims, other.feeds[k].dims, this.#pad && k === name));
      },
      dispatch: (batch) => this.#run(batch),
      // An item that cannot finish by its deadline even alone gets its 503 now, and its device time goes to
      // items that can still make it (under overload, running late items first is what collapses goodput).
      isExpired: (it, nowMs) => it.payload.shed && nowMs + (this.fit.predict(1) ?? 0) > it.deadlineMs,
      onExpire: (items) => {
        for (const it of items) it.payload.reject(new OverloadedError(`"${it.payload.fn}" can no longer meet its deadline: it would finish after it at the current load`, 1, { function: it.payload.fn }));
      },
    });

  }

  /** Items waiting to be dispatched. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** The waiting items, earliest deadline first (read-only). */
  get waitingItems(): readonly Pending<unknown>[] {
    return this.#queue.waiting;
  }

  /** Batches on the device now. */
  get inFlight(): number {
    return this.#queue.inFlight;
  }

  /** Predicted device time still owed to the batches running now, ms (0 without a fit). */
  runningRemainingMs(): number {
    const now = this.#clock.now();
    let owed = 0;
    for (const r of this.#running) owed += Math.max(0, (this.fit.predict(r.size) ?? 0) - (now - r.startMs));
    return owed;
  }

  /** Waiting items that an arrival with `deadlineMs` would queue behind (earliest deadline first). */
  itemsAhead(deadlineMs: number): number {
    let n = 0;
    for (const it of this.#queue.waiting) if (it.deadlineMs <= deadlineMs) n++;
    return n;
  }

  /** What the policy sees about this model now. */
  context(): PolicyContext {
    const f = this.fit.get();
    return {
      predictMs: (b) => this.fit.predict(b),
      cost: f && { alphaMs: f.alphaMs, tau0Ms: f.tau0Ms },
      ratePerSec: this.rate.perSecond(this.#clock.now()),
      objectiveMs: this.#opts.objectiveMs(),
      marginMs: this.#opts.marginMs(),
      measuredMeanMs: this.#feedback.meanMs,
      recentLateShare: this.#feedback.lateShare,
      power: this.#opts.power,
    };
  }

  #batchedInput(): string | undefined {
    return this.#opts.model.input ?? this.#opts.models.meta(this.name)?.inputs[0]?.name;
  }

  /**
   * Queues one item. It leaves the queue, costing no device time, if `signal` aborts before dispatch.
   */
  submit(feeds: ItemFeeds, fn: string, deadlineMs: number, signal?: AbortSignal, shed = false): Promise<BatchOutcome> {
    const now = this.#clock.now();
    this.rate.record(now);
    return new Promise<BatchOutcome>((resolve, reject) => {
      const pending: Pending<Invocation> = {
        arrivalMs: now,
        deadlineMs,
        payload: { feeds, fn, shed, resolve, reject },
      };
      if (signal) {
        if (signal.aborted) return reject(new CancelledError('client went away before dispatch'));
        const onAbort = () => {
          if (this.#queue.remove(pending)) reject(new CancelledError('client went away before dispatch'));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        const clean = () => signal.removeEventListener('abort', onAbort);
        pending.payload.resolve = (o) => (clean(), resolve(o));
        pending.payload.reject = (e) => (clean(), reject(e));
      }
      this.#queue.push(pending);
    });
  }

  #run(batch: Pending<Invocation>[]): void {
    const p = this.#execute(batch).finally(() => {
      this.#inFlightBatches.delete(p);
      this.#queue.complete();
    });
    this.#inFlightBatches.add(p);
  }

  async #execute(batch: Pending<Invocation>[]): Promise<void> {
    const { model, device, models } = this.#opts;
    const batchId = this.#opts.nextBatchId();
    const dispatchedAt = this.#clock.now();
    let earliest = Infinity;
    for (const it of batch) earliest = Math.min(earliest, it.deadlineMs);
    let inputBytes = 0;
    const running = { startMs: dispatchedAt, size: batch.length };
    this.#running.add(running);
    try {
      await models.ensure(this.name);
      const feeds: Record<string, WireTensor> = {};
      for (const key of Object.keys(batch[0].payload.feeds)) {
        const t = stack(batch.map((it) => it.payload.feeds[key]), model.padValue);
        inputBytes += t.data.byteLength;
        feeds[key] = { type: dataType(t.data), data: t.data, dims: [...t.dims] };
      }
      const { outputs, runMs, waitMs } = await device.run({ name: this.name, file: model.file }, feeds, earliest);
      const finishedAt = this.#clock.now();
      // The fit learns what the queue experiences: handing the batch over, running it and getting outputs
      // back, without the wait for a lane that another model held.
      const serviceMs = Math.max(runMs, finishedAt - dispatchedAt - waitMs);
      const split: Record<string, ItemTensor[]> = {};
      for (const [name, out] of Object.entries(outputs)) split[name] = unstack(out, batch.length);
      this.fit.add(batch.length, serviceMs);
      this.#opts.onBatch?.({ model: this.name, batchId, size: batch.length, runMs, serviceMs, ok: true, inputBytes });
      for (const it of batch) this.#feedback.record(finishedAt - it.arrivalMs, finishedAt > it.deadlineMs);
      batch.forEach((it, i) => {
        const mine: Record<string, ItemTensor> = {};
        for (const name of Object.keys(split)) mine[name] = split[name][i];
        it.payload.resolve({ outputs: mine, batchId, batchSize: batch.length, queueMs: dispatchedAt - it.arrivalMs, inferenceMs: finishedAt - dispatchedAt });
      });
    } catch (err) {
      const errorId = randomUUID();
      const message = err instanceof Error ? err.message : String(err);
      this.#opts.onBatch?.({ model: this.name, batchId, size: batch.length, runMs: 0, serviceMs: 0, ok: false, inputBytes, errorId, error: message });
      for (const it of batch) it.payload.reject(new RunFailedError(`model "${this.name}" failed on batch ${batchId}: ${message}`, errorId, err, { batchId, batchSize: batch.length }));
    } finally {
      this.#running.delete(running);
    }
  }

  /**
   * Warm-up probe: runs copies of one item at each of `sizes` straight on the device and feeds the cost
   * fit, so the scheduler has predictions before the first request. Two sizes at least make a line.
   */
  async probe(item: ItemFeeds, sizes: readonly number[]): Promise<void> {
    const { model, device, models } = this.#opts;
    await models.ensure(this.name);
    for (const b of sizes) {
      const feeds: Record<string, WireTensor> = {};
      for (const [key, t] of Object.entries(item)) {
        const batch = stack(Array.from({ length: b }, () => t), model.padValue);
        feeds[key] = { type: dataType(batch.data), data: batch.data, dims: [...batch.dims] };
      }
      const start = this.#clock.now();
      const { runMs, waitMs } = await device.run({ name: this.name, file: model.file }, feeds, -Infinity);
      this.fit.add(b, Math.max(runMs, this.#clock.now() - start - waitMs));
    }
  }

  /** Resolves when nothing waits and no batch is running. */
  async onIdle(): Promise<void> {
    while (this.#queue.length > 0 || this.#inFlightBatches.size > 0) {
      await Promise.all([...this.#inFlightBatches]);
      if (this.#queue.length > 0 && this.#inFlightBatches.size === 0) await new Promise((r) => setTimeout(r, 1));
    }
  }
}
