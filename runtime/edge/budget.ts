/**
 * A call's time budget at the edge: the function's SLO, tightened by the caller's `x-slo-ms`, counted from
 * when the call reached the edge. The runtime gets what is left as its own `x-slo-ms`, so its deadline is
 * the caller's deadline, not a fresh one per hop.
 */
import { sloMsOf } from '../shared/edge-protocol.ts';

export interface Budget {
  /** The call's whole objective in ms (SLO, or the caller's tighter one). */
  readonly totalMs: number;
  /** When the call reached the edge (ms, the edge clock). */
  readonly arrivalMs: number;
}

/**
 * The objective of a call: the smaller of the function's SLO and the caller's `x-slo-ms`. A malformed
 * header does not count here: it is forwarded untouched, so that the runtime answers it with its own 400.
 */
export function callBudget(arrivalMs: number, fnSloMs: number | undefined, header: string | null, defaultMs: number): Budget {
  const caller = (header !== null && sloMsOf(header)) || Infinity;
  const slo = Math.min(fnSloMs ?? Infinity, caller);
  return { totalMs: Number.isFinite(slo) ? slo : defaultMs, arrivalMs };
}

/** Ms left of the budget at `nowMs` (negative once the deadline has passed). */
export function remainingMs(b: Budget, nowMs: number): number {
  return b.totalMs - (nowMs - b.arrivalMs);
}

/** The `x-slo-ms` to forward: what is left, rounded down to 0.1 ms so it never promises more than there is. */
export function forwardedSlo(remaining: number): string {
  return (Math.floor(remaining * 10) / 10).toFixed(1);
}
