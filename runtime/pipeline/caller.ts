import { OverloadedError, TooExpensiveError } from '../errors.ts';
import type { AdmissionDecision } from '../scheduler/admission.ts';

/** Who a refusal names, and the details its reply carries. */
export interface Caller {
  readonly name: string;
  readonly details: Record<string, unknown>;
}

/** A function as the caller its refusals name. */
export function functionCaller(fn: { readonly name: string }): Caller {
  let c = callers.get(fn);
  if (!c) callers.set(fn, (c = { name: `"${fn.name}"`, details: { function: fn.name } }));
  return c;
}

/** One Caller per loaded function, made on its first call: admission names the caller twice per call. */
const callers = new WeakMap<{ readonly name: string }, Caller>();

/**
 * The name v2 calls of a model go by where a function's name goes: `function="v2:mlp"` in /metrics, their
 * live figures, the items' caller in the queue. No function name contains a colon, so none collides.
 */
export function v2Caller(model: string): string {
  return `v2:${model}`;
}

/** The reply to a call its model's scheduler refused: 503 to try again later, or 422 when it never fits. */
export function refused(
  who: Caller,
  sloMs: number,
  decision: Extract<AdmissionDecision, { admit: false }>,
): OverloadedError | TooExpensiveError {
  const message = `${who.name} cannot meet its SLO of ${sloMs} ms: ${decision.reason}`;
  return decision.neverFits
    ? new TooExpensiveError(message, { ...who.details, sloMs })
    : new OverloadedError(message, decision.retryAfterSec, who.details);
}
