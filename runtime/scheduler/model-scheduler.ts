import { admit, type AdmissionDecision } from './admission.ts';
import type { Clock } from './clock.ts';
import { CostFitter } from './cost-fit.ts';
import { LatencyFeedback } from './feedback.ts';
import type { PowerModel } from './formula.ts';
import { ModelQueue } from './model-queue.ts';
import { RateMeter } from './rate.ts';
import type { BatchPolicy, HostView, Pending, PolicyContext } from './types.ts';

export interface ModelSchedulerOptions<T> {
  clock: Clock;
  policy: BatchPolicy;
  maxBatch: number;
  /** Batches of this model in flight at once (device lanes). */
  lanes: number;
  /** Batches in the cost fit's window. */
  fitWindow: number;
  /** Time constant of the arrival-rate meter, ms. Default 1000. */
  rateTimeConstantMs?: number;
  /** Kept free before a deadline, ms (the configured margin; the host's share is added live). */
  marginMs: number;
  /** The model's mean-latency objective is this fraction of the tightest SLO on it. */
  meanObjectiveFraction: number;
  /** Shed when the device's mean-latency bound at the live rate exceeds the objective by this factor. */
  overloadFactor: number;
  /** At the door, shed while the event loop's lag exceeds this fraction of the call's SLO. */
  hostLagFraction: number;
  power?: PowerModel;
  /** The host stage now (the event loop every call crosses). */
  host(): HostView;
  canJoin?(head: T, other: T): boolean;
  /** Whether an item may be answered 503 instead of late (default: every item may). */
  mayExpire?(item: T): boolean;
  /** Hands a batch to the device; the owner calls {@link ModelScheduler.finished} (or `failed`) when it is done. */
  dispatch(batch: Pending<T>[]): void;
  /** Items that can no longer meet their deadline: answer them now (503), they cost no device time. */
  onExpire(items: Pending<T>[]): void;
}

/**
 * Everything that decides about one model's calls, with no I/O: its earliest-deadline-first queue and
 * policy, the device cost fit, the arrival rate, the latency feedback, admission at the door and after
 * `pre`, expiry of items that can no longer make it, and the live objective and margin. The runtime's
 * batcher (batching/model-batcher.ts) and the simulator (simulator.ts) both drive this class, so the
 * simulator checks the very decisions production takes.
 *
 * Time comes from the injected clock; the host stage (the event loop, which under load limits and delays
 * a call more than the device) from `host()`.
 */
export class ModelScheduler<T> {
  readonly fit: CostFitter;
  readonly rate: RateMeter;
  readonly #opts: ModelSchedulerOptions<T>;
  readonly #queue: ModelQueue<T>;
  /** What recent items saw: the feedback the slo policy checks the formula against. */
  readonly #feedback = new LatencyFeedback();
  /** When each batch on the device was dispatched, for the device time still owed to it. */
  readonly #running = new Map<readonly Pending<T>[], number>();
  #tightestSloMs = 1000;
  /** Smoothed host time of a call before its item is queued (read, parse, validate, pre), ms. */
  #preMs = 0;
  /** Smoothed host time of a call after its batch (post and reply), ms: kept free before a deadline. */
  #postMs = 0;
  #hostTimesSeen = false;

  constructor(options: ModelSchedulerOptions<T>) {
    this.#opts = { ...options };
    this.fit = new CostFitter(options.fitWindow);
    this.rate = new RateMeter(options.rateTimeConstantMs);
    this.#queue = new ModelQueue<T>({
      clock: options.clock,
      policy: options.policy,
      maxBatch: options.maxBatch,
      lanes: options.lanes,
      context: () => this.context(),
      canJoin: options.canJoin,
      dispatch: (batch) => {
        this.#running.set(batch, options.clock.now());
        options.dispatch(batch);
      },
      isExpired: (it, nowMs) =>
        (options.mayExpire?.(it.payload) ?? true) && nowMs + (this.fit.predict(1) ?? 0) + this.#afterBatchMs() > it.deadlineMs,
      onExpire: options.onExpire,
    });
  }

  /** Items waiting to be dispatched. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** The largest batch in force: the configured one, or the memory cap set once the model's shapes are known. */
  get maxBatch(): number {
    return this.#opts.maxBatch;
  }

  /** Sets the largest batch (the memory cap, b_max); admission and the queue use it from now on. */
  setMaxBatch(maxBatch: number): void {
    this.#queue.setMaxBatch(maxBatch);
    this.#opts.maxBatch = maxBatch;
  }

  /** The waiting items, earliest deadline first (read-only). */
  get waitingItems(): readonly Pending<T>[] {
    return this.#queue.waiting;
  }

  /** Batches on the device now. */
  get inFlight(): number {
    return this.#queue.inFlight;
  }

  /** The tightest SLO among the functions on this model, ms: the objective follows it. */
  setTightestSlo(ms: number): void {
    this.#tightestSloMs = ms;
  }

  /**
   * A served call's host time outside the queue and the device: `preMs` from the read of its request to
   * its item being queued, `postMs` from its batch's end to its reply. Smoothed (EWMA).
   */
  noteHostTime(preMs: number, postMs: number): void {
    const w = this.#hostTimesSeen ? 0.05 : 1;
    this.#preMs += w * (preMs - this.#preMs);
    this.#postMs += w * (postMs - this.#postMs);
    this.#hostTimesSeen = true;
  }

  /** The call's own host time, both visits, ms. */
  #hostMs(): number {
    return this.#preMs + this.#postMs;
  }

  /**
   * The model's mean-latency objective S for the device: the configured fraction of the tightest SLO, less
   * what the host stage takes of a call (its own time, and the loop's lag before and after the batch).
   */
  objectiveMs(): number {
    const host = this.#opts.host();
    return Math.max(0, this.#tightestSloMs * this.#opts.meanObjectiveFraction - this.#hostMs() - host.lagMs);
  }

  /**
   * Time a call still needs after its batch, ms: its post and reply. The loop's lag is charged once, at
   * arrival (a call's deadline counts from when it reached the server); charging it again here made every
   * call after a single 30 ms pause look late twice over.
   */
  #afterBatchMs(): number {
    return this.#postMs;
  }

  /** What the policy sees now. */
  context(): PolicyContext {
    const f = this.fit.get();
    const now = this.#opts.clock.now();
    return {
      predictMs: this.#predict,
      cost: f && { alphaMs: f.alphaMs, tau0Ms: f.tau0Ms },
      ratePerSec: this.rate.perSecond(now),
      objectiveMs: this.objectiveMs(),
      // The margin before a deadline covers what happens after the device: post and the reply.
      marginMs: this.#opts.marginMs + this.#afterBatchMs(),
      measuredMeanMs: this.#feedback.meanMs,
      recentLateShare: this.#feedback.lateShare,
      power: this.#opts.power,
    };
  }

  /** Predicted device time still owed to the batches running now, ms (0 without a fit). */
  runningRemainingMs(): number {
    const now = this.#opts.clock.now();
    let owed = 0;
    for (const [batch, startMs] of this.#running) owed += Math.max(0, (this.fit.predict(batch.length) ?? 0) - (now - startMs));
    return owed;
  }

  /** Waiting items that an arrival with `deadlineMs` would queue behind (earliest deadline first). */
  itemsAhead(deadlineMs: number): number {
    // The queue is sorted by deadline: a binary search counts them in O(log n).
    const w = this.#queue.waiting;
    let lo = 0;
    let hi = w.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (w[mid].deadlineMs <= deadlineMs) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The fit's prediction, as admission and the policy take it: one function, not a closure per decision. */
  readonly #predict = (batch: number): number | undefined => this.fit.predict(batch);

  /**
   * Whether a call with `deadlineMs` can still make it. `stage` says what the call still needs on the
   * host: at the door (before its body is read) it needs its whole host time; once its item exists only
   * what follows its batch. Pure of side effects: a refused call costs nothing here. `ownHostMs` (after
   * `pre` only) is the call's own host work when it ran alone, which lets a refusal say it never fits.
   */
  admit(deadlineMs: number, stage: 'door' | 'queued', sloMs: number, ownHostMs?: number): AdmissionDecision {
    const nowMs = this.#opts.clock.now();
    const host = this.#opts.host();
    const f = this.fit.get();
    const door = stage === 'door';
    return admit({
      nowMs,
      deadlineMs,
      itemsAhead: this.itemsAhead(deadlineMs),
      runningRemainingMs: this.runningRemainingMs(),
      maxBatch: this.#opts.maxBatch,
      lanes: this.#opts.lanes,
      predictMs: this.#predict,
      cost: f && { alpha: f.alphaMs / 1000, tau0: f.tau0Ms / 1000 },
      ratePerSec: this.rate.perSecond(nowMs),
      // The mean check judges the whole path against the whole objective: the device's share of it moves
      // with the loop's lag, and comparing against that share would shed on every lag spike.
      objectiveMs: this.#tightestSloMs * this.#opts.meanObjectiveFraction,
      hostMeanMs: this.#hostMs() + host.lagMs,
      overloadFactor: this.#opts.overloadFactor,
      // At the door the call still needs all of its host time; once its item is queued, only its post.
      extraMs: (door ? this.#preMs : 0) + this.#postMs,
      // One object shape for both stages (a spread of two shapes made every admission a slow clone).
      hostLagMs: door ? host.lagMs : undefined,
      hostLagBudgetMs: door ? Math.max(minLagBudgetMs, this.#opts.hostLagFraction * sloMs) : undefined,
      ownHostMs: door ? undefined : ownHostMs,
      sloMs: door ? undefined : sloMs,
    });
  }

  /** Queues an item; the policy decides at once. */
  push(item: Pending<T>): void {
    this.rate.record(this.#opts.clock.now());
    this.#queue.push(item);
  }

  /** Takes a waiting item out (its client left). False when it was already dispatched. */
  remove(item: Pending<T>): boolean {
    return this.#queue.remove(item);
  }

  /**
   * A batch this scheduler dispatched has run: `deviceMs` is the device's own time for it (measured by the
   * lane around `session.run`, so the fit never learns event-loop waits as device time).
   */
  finished(batch: readonly Pending<T>[], deviceMs: number): void {
    const endMs = this.#opts.clock.now();
    this.fit.add(batch.length, deviceMs);
    for (const it of batch) this.#feedback.record(endMs - it.arrivalMs, endMs + this.#afterBatchMs() > it.deadlineMs);
    this.#complete(batch);
  }

  /** A batch this scheduler dispatched failed: its lane is free again; nothing is learnt. */
  failed(batch: readonly Pending<T>[]): void {
    this.#complete(batch);
  }

  #complete(batch: readonly Pending<T>[]): void {
    this.#running.delete(batch);
    this.#queue.complete();
  }

  /** Feeds the fit a probe run, kept as an anchor of the line (warm-up). */
  probed(batchSize: number, deviceMs: number): void {
    this.fit.anchor(batchSize, deviceMs);
  }
}

/** The smallest lag budget at the door, ms: below this, lag is timer noise, not a backlog. */
export const minLagBudgetMs = 2;
