import type { LoadReport } from '../shared/edge-protocol.ts';

/** How long a load report is believed: older ones say nothing about the origin now. */
const loadReportTtlMs = 2000;

/** What routing needs to know about one origin for one model, now. */
export interface OriginView {
  readonly url: string;
  /** Up, and not asked to back off for this function (a 503's Retry-After still running). */
  readonly available: boolean;
  /** Live rate / the formula's max rate for this model there, from its latest reply; undefined if not known. */
  readonly utilization: number | undefined;
}

interface LoadState {
  readonly load: LoadReport;
  readonly atMs: number;
}

interface OriginState {
  failures: number;
  down: boolean;
  /** Times it was marked down, and times it asked a function to back off, since the isolate started. */
  downs: number;
  backOffs: number;
  /** When a down origin may be probed next. */
  probeAtMs: number;
  probing: boolean;
  /**
   * Until when the origin asked (Retry-After on a 503) not to be sent a function's calls. Per function,
   * not per model: a runtime sheds by each function's SLO, and a tight SLO refused says nothing about a
   * looser one on the same model, whose calls should keep meeting there.
   */
  readonly backOffUntilMs: Map<string, number>;
  /** The latest load report per model. */
  readonly loads: Map<string, LoadState>;
}

/**
 * The edge's memory of its origins: which are down (after consecutive connection failures), which asked a
 * function's calls to back off (a 503 with Retry-After), and the load each last reported per model. One per
 * isolate; the clock is passed in, so tests drive it without waiting. A down origin gets no calls; it is
 * probed on `/readyz` once `probeIntervalMs` has passed and taken back when the probe answers.
 */
export class OriginPool {
  readonly #states = new Map<string, OriginState>();
  readonly #downAfterFailures: number;
  readonly #probeIntervalMs: number;

  constructor(origins: readonly string[], opts: { downAfterFailures: number; probeIntervalMs: number }) {
    for (const url of origins)
      this.#states.set(url, {
        failures: 0,
        down: false,
        downs: 0,
        backOffs: 0,
        probeAtMs: 0,
        probing: false,
        backOffUntilMs: new Map(),
        loads: new Map(),
      });
    this.#downAfterFailures = opts.downAfterFailures;
    this.#probeIntervalMs = opts.probeIntervalMs;
  }

  get urls(): string[] {
    return [...this.#states.keys()];
  }

  /** Every origin's routing view for a call of `fn` on `model` at `nowMs`, in configuration order. */
  view(model: string, fn: string, nowMs: number): OriginView[] {
    return this.urls.map((url) => {
      const s = this.#get(url);
      const l = s.loads.get(model);
      const fresh = l && nowMs - l.atMs <= loadReportTtlMs ? l.load : undefined;
      return {
        url,
        available: !s.down && !((s.backOffUntilMs.get(fn) ?? 0) > nowMs),
        utilization: fresh?.maxRatePerSec ? fresh.ratePerSec / fresh.maxRatePerSec : undefined,
      };
    });
  }

  /** An origin answered (any status but a 503 it sent to shed): it is up; remember the load it reported. */
  answered(url: string, model: string, nowMs: number, load: LoadReport | undefined): void {
    const s = this.#get(url);
    s.failures = 0;
    s.down = false;
    if (load) s.loads.set(model, { load, atMs: nowMs });
  }

  /** An origin shed a call of `fn` with 503: it is up, but asks for no more of them until Retry-After passes. */
  shed(url: string, fn: string, nowMs: number, retryAfterMs: number): void {
    const s = this.#get(url);
    s.failures = 0;
    s.backOffs++;
    s.backOffUntilMs.set(fn, nowMs + retryAfterMs);
  }

  /** A connection failed (refused, reset, no answer before the deadline). Returns true when this marks it down. */
  failed(url: string, nowMs: number): boolean {
    const s = this.#get(url);
    s.failures++;
    if (s.down || s.failures < this.#downAfterFailures) return false;
    s.down = true;
    s.downs++;
    s.probeAtMs = nowMs + this.#probeIntervalMs;
    return true;
  }

  isDown(url: string): boolean {
    return this.#get(url).down;
  }

  /** Down origins whose rest is over and that no probe is checking yet; each is marked as being probed. */
  takeDueProbes(nowMs: number): string[] {
    const due: string[] = [];
    for (const [url, s] of this.#states) {
      if (s.down && !s.probing && nowMs >= s.probeAtMs) {
        s.probing = true;
        due.push(url);
      }
    }
    return due;
  }

  /** The end of a probe: ready takes the origin back, anything else rests it another interval. */
  probed(url: string, ready: boolean, nowMs: number): void {
    const s = this.#get(url);
    s.probing = false;
    if (ready) {
      s.down = false;
      s.failures = 0;
    } else s.probeAtMs = nowMs + this.#probeIntervalMs;
  }

  /** When the first unavailable origin should be usable again for `fn` (for a Retry-After), in ms from now. */
  nextChanceMs(fn: string, nowMs: number): number {
    let best = Infinity;
    for (const s of this.#states.values()) {
      const until = s.down ? s.probeAtMs : (s.backOffUntilMs.get(fn) ?? nowMs);
      best = Math.min(best, Math.max(0, until - nowMs));
    }
    return Number.isFinite(best) ? best : this.#probeIntervalMs;
  }

  /** A snapshot for `GET /edge/status`. */
  status(nowMs: number): {
    url: string;
    down: boolean;
    failures: number;
    downs: number;
    backOffs: number;
    loads: Record<string, LoadReport>;
    backOffMs: Record<string, number>;
  }[] {
    return this.urls.map((url) => {
      const s = this.#get(url);
      const loads = Object.fromEntries([...s.loads].map(([model, l]) => [model, l.load]));
      const backOffMs = Object.fromEntries(
        [...s.backOffUntilMs].filter(([, until]) => until > nowMs).map(([fn, until]) => [fn, until - nowMs]),
      );
      return { url, down: s.down, failures: s.failures, downs: s.downs, backOffs: s.backOffs, loads, backOffMs };
    });
  }

  #get(url: string): OriginState {
    const s = this.#states.get(url);
    if (!s) throw new Error(`unknown origin ${url}`);
    return s;
  }
}
