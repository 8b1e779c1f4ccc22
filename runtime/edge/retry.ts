/** How one try of an origin ended, as far as deciding what to do next needs. */
export type AttemptEnd =
  /** The origin answered; `retryAfterSec` is its Retry-After (on a 503). */
  | { readonly kind: 'answer'; readonly status: number; readonly retryAfterSec?: number }
  /** No answer: connection refused or reset, DNS, TLS. The call never reached a runtime's queue. */
  | { readonly kind: 'unreachable' }
  /** No answer before the call's deadline (plus grace): the budget is spent. */
  | { readonly kind: 'timeout' };

/**
 * Whether to try the next origin after a try ended: only on a 503 (the origin shed it: full, or could not
 * make the deadline) or when the origin could not be reached, and only while another origin is left and
 * the budget still covers a hop. Every other answer, 4xx and 500s included, is the call's answer, as the
 * runtime gave it: a bad input is bad everywhere, and a failed batch is not retried behind the caller's back.
 */
export function shouldTryNext(end: AttemptEnd, remainingMs: number, minBudgetMs: number, originsLeft: number): boolean {
  if (originsLeft <= 0 || remainingMs < minBudgetMs) return false;
  if (end.kind === 'unreachable') return true;
  return end.kind === 'answer' && end.status === 503;
}

/** A Retry-After header in ms (seconds form only, as the runtime sends it); 1 s when absent or unreadable. */
export function retryAfterMs(header: string | null): number {
  const sec = header === null ? NaN : Number(header);
  return Number.isFinite(sec) && sec >= 0 ? sec * 1000 : 1000;
}
