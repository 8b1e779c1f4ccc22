import type { Clock, TimerHandle } from './clock.ts';

/** Counts a clock's cancelled timers; shared by the clock and its timers so a handle needs no closure. */
interface CancelLedger {
  cancelled: number;
  onCancel(): void;
}

/** One timer; it is its own handle (no closure per timer, which keeps a busy simulation cheap). */
class Timer implements TimerHandle {
  constructor(
    readonly atMs: number,
    /** Creation order: breaks ties between timers due at the same moment (first set, first run). */
    readonly seq: number,
    public fn: (() => void) | undefined,
    readonly ledger: CancelLedger,
  ) {}

  cancel(): void {
    if (this.fn === undefined) return; // already run or cancelled
    this.fn = undefined;
    this.ledger.cancelled++;
    this.ledger.onCancel();
  }
}

/** True when timer `a` must run before timer `b`. */
function before(a: Timer, b: Timer): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}

/**
 * A {@link Clock} in virtual time, for the simulator and for tests. Time stands still until the owner
 * moves it with {@link advanceTo} or {@link runUntilIdle}; timers then run in order of due time, and
 * timers due at the same moment run in the order they were set, so a run is deterministic.
 *
 * Timers live in a binary min-heap. A cancelled timer stays in the heap, disarmed, until it is popped (or
 * until cancelled entries outnumber live ones, when the heap is rebuilt without them), so `cancel` is O(1)
 * and a queue that re-arms its timer on every arrival costs O(log n) per arrival.
 *
 * @example
 * const clock = new VirtualClock();
 * clock.setTimer(() => console.log('at', clock.now()), 5);
 * clock.advanceTo(10); // logs "at 5"; clock.now() is then 10
 */
export class VirtualClock implements Clock {
  #nowMs: number;
  #seq = 0;
  #heap: Timer[] = [];
  readonly #ledger: CancelLedger = {
    cancelled: 0,
    // Rebuild once cancelled entries outnumber live ones, so the heap stays O(live timers).
    onCancel: () => {
      if (this.#ledger.cancelled > 1024 && this.#ledger.cancelled * 2 > this.#heap.length) this.#compact();
    },
  };

  /** @param startMs the initial time, ms (default 0). */
  constructor(startMs = 0) {
    if (!Number.isFinite(startMs)) throw new TypeError(`startMs must be a finite number, got ${startMs}`);
    this.#nowMs = startMs;
  }

  now(): number {
    return this.#nowMs;
  }

  /** Timers set and neither run nor cancelled. */
  get pending(): number {
    return this.#heap.length - this.#ledger.cancelled;
  }

  /** Due time of the next live timer, or undefined when none is set. */
  nextDueMs(): number | undefined {
    this.#dropCancelledTop();
    return this.#heap[0]?.atMs;
  }

  /**
   * Runs `fn` once the clock reaches `now() + delayMs`. A negative or NaN delay counts as 0; such a timer
   * still runs only when the clock is next advanced, never inside this call.
   */
  setTimer(fn: () => void, delayMs: number): TimerHandle {
    const delay = delayMs > 0 ? delayMs : 0;
    const timer = new Timer(this.#nowMs + delay, this.#seq++, fn, this.#ledger);
    this.#push(timer);
    return timer;
  }

  /**
   * Runs every timer due at or before `targetMs`, in order (including timers those timers set, if due by
   * then), with `now()` equal to each timer's due time while it runs; then leaves the clock at `targetMs`.
   * Time never goes back: a target before `now()` only runs what is already due.
   */
  advanceTo(targetMs: number): void {
    if (Number.isNaN(targetMs)) throw new TypeError('targetMs must be a number, got NaN');
    for (;;) {
      this.#dropCancelledTop();
      const top = this.#heap[0];
      if (top === undefined || top.atMs > targetMs) break;
      this.#runTop();
    }
    if (targetMs > this.#nowMs) this.#nowMs = targetMs;
  }

  /** Moves the clock forward by `deltaMs`, running what falls due. */
  advanceBy(deltaMs: number): void {
    this.advanceTo(this.#nowMs + deltaMs);
  }

  /**
   * Runs timers until none is left (timers that set timers included) and leaves the clock at the last
   * one's due time. Throws after `maxTimers` runs, which guards against a timer that re-arms itself forever.
   *
   * @returns how many timers ran.
   */
  runUntilIdle(maxTimers = 100_000_000): number {
    let ran = 0;
    for (;;) {
      this.#dropCancelledTop();
      if (this.#heap.length === 0) return ran;
      if (ran >= maxTimers) throw new Error(`runUntilIdle: still busy after ${maxTimers} timers (a timer that re-arms itself forever?)`);
      this.#runTop();
      ran++;
    }
  }

  #runTop(): void {
    const timer = this.#pop();
    const fn = timer.fn;
    timer.fn = undefined; // a handle cancelled after its run must not count as a cancelled entry
    if (timer.atMs > this.#nowMs) this.#nowMs = timer.atMs;
    fn?.();
  }

  #dropCancelledTop(): void {
    while (this.#heap.length > 0 && this.#heap[0].fn === undefined) {
      this.#pop();
      this.#ledger.cancelled--;
    }
  }

  /** Rebuilds the heap without its cancelled entries. */
  #compact(): void {
    const live = this.#heap.filter((t) => t.fn !== undefined);
    this.#heap = [];
    this.#ledger.cancelled = 0;
    for (const t of live) this.#push(t);
  }

  #push(timer: Timer): void {
    const heap = this.#heap;
    let i = heap.length;
    heap.push(timer);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(timer, heap[parent])) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = timer;
  }

  #pop(): Timer {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop()!;
    const n = heap.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const child = r < n && before(heap[r], heap[l]) ? r : l;
        if (!before(heap[child], last)) break;
        heap[i] = heap[child];
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}
