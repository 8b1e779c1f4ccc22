import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { RateMeter } from '../scheduler/rate.ts';
import type { HostView } from '../scheduler/types.ts';

/** How often the loop's lag is sampled, ms. */
const tickMs = 10;
/** Window over which utilisation and the cost per call are measured, ms. */
const windowMs = 200;
/** Lag samples whose minimum is the standing lag. */
const lagSamples = 5;

/**
 * Measures the host stage: the one event loop every call crosses. A 10 ms timer samples how late it fires
 * (the loop's lag: what a request waits before it is read, and a finished batch before its post runs);
 * every 200 ms the loop's utilisation (`performance.eventLoopUtilization`) over the calls answered in that
 * window gives the loop time one call costs, HTTP parsing and writing included. Reads are O(1).
 *
 * The lag reported is the standing lag: the least of the last five samples (CoDel's idea: a queue that
 * stays is one whose minimum delay stays up). One long pause - a GC, a module load at start - leaves no
 * standing lag, and so refuses no call; a loop that cannot keep up is late at every tick.
 */
export class HostMonitor {
  readonly #rate = new RateMeter();
  readonly #lags = new Float64Array(lagSamples);
  #lagIndex = 0;
  #lagMs = 0;
  #utilization = 0;
  #perCallMs = 0;
  #calls = 0;
  #elu: EventLoopUtilization = performance.eventLoopUtilization();
  #lastWindowMs = performance.now();
  #expectedMs = 0;
  #timer: NodeJS.Timeout | undefined;
  #view: HostView = { lagMs: 0, perCallMs: 0, utilization: 0, ratePerSec: 0 };

  /** Starts sampling (the timer does not keep the process alive). */
  start(): this {
    if (this.#timer) return this;
    this.#expectedMs = performance.now() + tickMs;
    this.#timer = setInterval(() => this.#tick(), tickMs);
    this.#timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One call entered the host stage (counted for the loop's rate). */
  arrival(nowMs: number): void {
    this.#rate.record(nowMs);
  }

  /** One call was answered (served or refused): the cost per call is loop time over these. */
  answered(): void {
    this.#calls++;
  }

  /**
   * The host stage as the scheduler reads it: a snapshot taken at the last tick (at most 10 ms old), so the
   * several reads a call makes cost no allocation and no arithmetic.
   */
  view(): HostView {
    return this.#view;
  }

  #tick(): void {
    const now = performance.now();
    // Timers fire on the millisecond after their due time at best: one ms of lateness is not lag.
    const sample = Math.max(0, now - this.#expectedMs - 1);
    this.#lags[this.#lagIndex] = sample;
    this.#lagIndex = (this.#lagIndex + 1) % lagSamples;
    let min = Infinity;
    for (const l of this.#lags) min = Math.min(min, l);
    this.#lagMs = min;
    this.#expectedMs = now + tickMs;
    if (now - this.#lastWindowMs >= windowMs) this.#window(now);
    this.#view = { lagMs: this.#lagMs, perCallMs: this.#perCallMs, utilization: this.#utilization, ratePerSec: this.#rate.perSecond(now) };
  }

  #window(now: number): void {
    const elu = performance.eventLoopUtilization(this.#elu);
    this.#elu = performance.eventLoopUtilization();
    this.#utilization += 0.5 * (elu.utilization - this.#utilization);
    // Enough calls for the share of loop time per call to mean something; the timer's own cost is noise.
    if (this.#calls >= 20) {
      const perCall = elu.active / this.#calls;
      this.#perCallMs = this.#perCallMs === 0 ? perCall : this.#perCallMs + 0.3 * (perCall - this.#perCallMs);
    }
    this.#calls = 0;
    this.#lastWindowMs = now;
  }
}
