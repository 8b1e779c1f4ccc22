import type { Clock, TimerHandle } from './clock.ts';
import type { BatchPolicy, Pending, PolicyContext } from './types.ts';

export interface ModelQueueOptions<T> {
  clock: Clock;
  policy: BatchPolicy;
  /** Largest batch. */
  maxBatch: number;
  /** Batches of this model that may be in flight at once (device lanes). */
  lanes: number;
  /** Live figures for the policy, read at each decision. */
  context(): PolicyContext;
  /**
   * Whether `other` may ride in a batch led by `head` (e.g. equal shapes when the model cannot pad).
   * Items that may not wait for a later batch; they keep their place.
   */
  canJoin?(head: T, other: T): boolean;
  /** Hands a batch to a lane. The owner must call {@link ModelQueue.complete} once that batch has finished. */
  dispatch(batch: Pending<T>[]): void;
  /**
   * Whether a waiting item can no longer meet its deadline and should be answered now instead of costing
   * device time (checked when a batch is formed). Expired items go to {@link onExpire}, not to a batch.
   */
  isExpired?(item: Pending<T>, nowMs: number): boolean;
  onExpire?(items: Pending<T>[]): void;
}

function checkMaxBatch(maxBatch: number): void {
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new TypeError(`maxBatch must be an integer >= 1, got ${maxBatch}`);
}

/**
 * One model's queue, fed by every function that uses the model. It keeps items earliest-deadline first,
 * asks its policy whenever a lane is free, and holds or dispatches accordingly. It does no I/O and reads
 * time only from its clock, so the simulator drives it in virtual time.
 */
export class ModelQueue<T> {
  readonly #opts: ModelQueueOptions<T>;
  readonly #waiting: Pending<T>[] = [];
  #inFlight = 0;
  #holdStartMs: number | undefined;
  #timer: TimerHandle | undefined;
  /** When the armed timer fires, on the clock's scale. */
  #timerAtMs = Infinity;
  #pumping = false;

  constructor(options: ModelQueueOptions<T>) {
    checkMaxBatch(options.maxBatch);
    if (!Number.isInteger(options.lanes) || options.lanes < 1) throw new TypeError(`lanes must be an integer >= 1, got ${options.lanes}`);
    this.#opts = { ...options };
  }

  /** Lowers (or raises) the largest batch from the next decision on: a memory cap known once the model loads. */
  setMaxBatch(maxBatch: number): void {
    checkMaxBatch(maxBatch);
    this.#opts.maxBatch = maxBatch;
  }

  /** Items waiting (not yet dispatched). */
  get length(): number {
    return this.#waiting.length;
  }

  /** Batches dispatched and not yet completed. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** The waiting items, earliest deadline first (read-only view for admission control). */
  get waiting(): readonly Pending<T>[] {
    return this.#waiting;
  }

  /** Adds an item and lets the policy decide at once. */
  push(item: Pending<T>): void {
    // Binary search keeps earliest-deadline-first order; equal deadlines stay in arrival order.
    let lo = 0;
    let hi = this.#waiting.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#waiting[mid].deadlineMs <= item.deadlineMs) lo = mid + 1;
      else hi = mid;
    }
    this.#waiting.splice(lo, 0, item);
    this.#pump();
  }

  /** Takes a waiting item out (its client left). Returns false when it was already dispatched. */
  remove(item: Pending<T>): boolean {
    const i = this.#waiting.indexOf(item);
    if (i < 0) return false;
    this.#waiting.splice(i, 1);
    if (this.#waiting.length === 0) this.#clearTimer();
    return true;
  }

  /** A batch this queue dispatched has finished: the lane is free, and the hold clock starts now. */
  complete(): void {
    if (this.#inFlight === 0) throw new Error('complete() called with no batch in flight');
    this.#inFlight--;
    this.#holdStartMs = this.#waiting.length > 0 ? this.#opts.clock.now() : undefined;
    this.#pump();
  }

  #clearTimer(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#timerAtMs = Infinity;
  }

  /**
   * Wakes the queue at `atMs` to decide again. A timer already armed for then or earlier is kept: waking
   * early only asks the policy again, and under a steady hold every arrival asks for the same moment, so
   * re-arming per item cost a clearTimeout and a setTimeout per call on the host path.
   */
  #wakeAt(atMs: number, nowMs: number): void {
    if (this.#timer && this.#timerAtMs <= atMs) return;
    this.#clearTimer();
    this.#timerAtMs = atMs;
    this.#timer = this.#opts.clock.setTimer(() => {
      this.#timer = undefined;
      this.#timerAtMs = Infinity;
      this.#pump();
    }, atMs - nowMs);
  }

  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      const { clock, policy, maxBatch, lanes } = this.#opts;
      let waitUntilMs: number | undefined;
      let nowMs = 0;
      while (this.#inFlight < lanes && this.#waiting.length > 0) {
        nowMs = clock.now();
        const decision = policy.decide({
          nowMs,
          waiting: this.#waiting,
          maxBatch,
          holdStartMs: this.#holdStartMs,
          context: this.#opts.context(),
        });
        if ('waitUntilMs' in decision) {
          if (decision.waitUntilMs > nowMs) {
            waitUntilMs = decision.waitUntilMs;
            break;
          }
          this.#dispatch(maxBatch);
        } else {
          this.#dispatch(Math.max(1, Math.min(decision.dispatch, maxBatch)));
        }
      }
      // A timer stands only while the policy is holding; a dispatch, a busy lane or an empty queue stops it.
      if (waitUntilMs === undefined) this.#clearTimer();
      else this.#wakeAt(waitUntilMs, nowMs);
    } finally {
      this.#pumping = false;
    }
  }

  #dispatch(count: number): void {
    const { canJoin, isExpired, onExpire } = this.#opts;
    if (isExpired) {
      const now = this.#opts.clock.now();
      let expired = this.#waiting.filter((it) => isExpired(it, now));
      // A prediction that would refuse everything waiting is tested against reality instead: the items
      // whose deadline has not passed yet run, and their batch corrects the fit if it was wrong. Without
      // this, a fit that learnt a too-high cost expired every item before it ran and never learnt again.
      if (expired.length === this.#waiting.length) expired = expired.filter((it) => it.deadlineMs <= now);
      if (expired.length > 0) {
        for (const it of expired) this.#waiting.splice(this.#waiting.indexOf(it), 1);
        onExpire?.(expired);
        if (this.#waiting.length === 0) return;
      }
    }
    const head = this.#waiting[0];
    let batch: Pending<T>[];
    if (!canJoin) {
      batch = this.#waiting.splice(0, count);
    } else {
      batch = [];
      for (let i = 0; i < this.#waiting.length && batch.length < count;) {
        const it = this.#waiting[i];
        if (it === head || canJoin(head.payload, it.payload)) {
          batch.push(it);
          this.#waiting.splice(i, 1);
        } else i++;
      }
    }
    this.#inFlight++;
    // A lane that stays free (more lanes than batches) starts a fresh hold for what is left.
    this.#holdStartMs = this.#waiting.length > 0 ? this.#opts.clock.now() : undefined;
    this.#opts.dispatch(batch);
  }
}
