import { OverloadedError } from '../errors.ts';
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

/** The 503 of a call its model's scheduler refused. */
export function overloaded(who: Caller, sloMs: number, decision: Extract<AdmissionDecision, { admit: false }>): OverloadedError {
  return new OverloadedError(`${who.name} cannot meet its SLO of ${sloMs} ms: ${decision.reason}`, decision.retryAfterSec, who.details);
}
