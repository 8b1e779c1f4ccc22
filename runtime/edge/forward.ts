import { attemptsHeader, loadHeader, originHeader, parseLoad, sloHeader, sloMsOf } from '../shared/edge-protocol.ts';
import { forwardedSlo, remainingMs, type Budget } from './budget.ts';
import type { OriginPool } from './origin-pool.ts';
import { overloaded } from './replies.ts';
import { retryAfterMs, shouldTryNext, type AttemptEnd } from './retry.ts';

/** What forwarding needs from the edge around it. */
export interface ForwardContext {
  readonly pool: OriginPool;
  readonly fetch: typeof fetch;
  readonly now: () => number;
  readonly minBudgetMs: number;
  readonly upstreamGraceMs: number;
}

/** One call to forward: already read, so it can be sent again to the next origin. */
export interface ForwardCall {
  readonly method: string;
  /** Path and query, e.g. `/functions/mlp-classify`. */
  readonly path: string;
  readonly headers: Headers;
  readonly body: ArrayBuffer | null;
  /** The model whose load the answers report. */
  readonly model: string;
  /** The function, whose calls an origin that sheds one asks to back off. */
  readonly fn: string;
  readonly budget: Budget;
  /** Where to try, in order (route.ts). */
  readonly order: readonly string[];
}

/** Request headers that belong to one hop, not to the call. */
const hopHeaders = [
  'host',
  'connection',
  'keep-alive',
  'content-length',
  'transfer-encoding',
  'upgrade',
  'cf-connecting-ip',
  'cf-ray',
  'cf-visitor',
  'cf-ipcountry',
];

/**
 * Sends a call to its origins in order until one answers it: a 503 or an unreachable origin moves on to
 * the next while the budget lasts (retry.ts); the origin that shed is left alone for its Retry-After, one
 * that cannot be reached counts toward being marked down (origin-pool.ts). Each try carries what is left
 * of the budget as `x-slo-ms`, and is abandoned shortly after the deadline. The answer keeps the origin's
 * status, body and headers, adds `edge` to Server-Timing (the edge's own time: everything but the answering
 * try) and names the origin that answered.
 */
export async function forward(ctx: ForwardContext, call: ForwardCall): Promise<Response> {
  const headers = new Headers(call.headers);
  for (const h of hopHeaders) headers.delete(h);
  // A malformed x-slo-ms goes through as sent, so the runtime refuses it with its own 400.
  const asked = headers.get(sloHeader);
  const carryBudget = asked === null || sloMsOf(asked) !== null;
  let lastShed: Response | undefined;
  let attempts = 0;
  for (let i = 0; i < call.order.length; i++) {
    const origin = call.order[i];
    const left = remainingMs(call.budget, ctx.now());
    if (left < ctx.minBudgetMs) break;
    if (carryBudget) headers.set(sloHeader, forwardedSlo(left));
    attempts++;
    const sentAt = ctx.now();
    let res: Response | undefined;
    let end: AttemptEnd;
    try {
      const reply = await ctx.fetch(`${origin}${call.path}`, {
        method: call.method,
        headers,
        body: call.body,
        signal: AbortSignal.timeout(Math.max(1, Math.ceil(left + ctx.upstreamGraceMs))),
      });
      // The body is read under the same timer (replies are small JSON): a reply the deadline cuts off is a
      // timeout here, not a stream that breaks after the edge has already passed its headers on.
      res = new Response(await reply.arrayBuffer(), reply);
      end = { kind: 'answer', status: res.status };
    } catch (err) {
      end = (err as Error)?.name === 'TimeoutError' ? { kind: 'timeout' } : { kind: 'unreachable' };
    }
    const answeredAt = ctx.now();
    if (end.kind !== 'answer') ctx.pool.failed(origin, answeredAt);
    else if (end.status === 503) ctx.pool.shed(origin, call.fn, answeredAt, await backOffMs(res!));
    else ctx.pool.answered(origin, call.model, answeredAt, parseLoad(res!.headers.get(loadHeader)));

    if (res && !shouldTryNext(end, remainingMs(call.budget, answeredAt), ctx.minBudgetMs, call.order.length - i - 1)) {
      return withEdgeHeaders(res, origin, attempts, sentAt - call.budget.arrivalMs);
    }
    if (res) {
      // Kept in case no later origin answers: then the last runtime's own 503 is the call's answer.
      lastShed = withEdgeHeaders(res, origin, attempts, sentAt - call.budget.arrivalMs);
    }
    if (end.kind === 'timeout') break;
  }
  if (lastShed) return lastShed;
  const left = remainingMs(call.budget, ctx.now());
  const why =
    attempts === 0
      ? call.order.length === 0
        ? 'no origin is available'
        : 'the budget was spent at the edge'
      : 'no origin could be reached within the budget';
  const res = overloaded(
    `${why} (${call.budget.totalMs} ms objective, ${Math.max(0, left).toFixed(1)} ms left)`,
    ctx.pool.nextChanceMs(call.fn, ctx.now()),
    {
      attempts,
    },
  );
  res.headers.set(attemptsHeader, String(attempts));
  return res;
}

/**
 * How long an origin that shed asks to be left alone: the runtime's exact `retryAfterSec` from its JSON
 * error when there is one (often well under a second), else the Retry-After header, which HTTP rounds up
 * to whole seconds. Backing a model's home off for a rounded-up second would send its whole rate to a
 * runtime where its batches are cold.
 */
async function backOffMs(res: Response): Promise<number> {
  try {
    const exact = ((await res.clone().json()) as { error?: { retryAfterSec?: unknown } }).error?.retryAfterSec;
    if (typeof exact === 'number' && Number.isFinite(exact) && exact >= 0) return exact * 1000;
  } catch {
    // not the runtime's JSON error: use the header
  }
  return retryAfterMs(res.headers.get('retry-after'));
}

/** The origin's answer with the edge's facts added; `edgeMs` is the edge's own time before the answering try. */
function withEdgeHeaders(out: Response, origin: string, attempts: number, edgeMs: number): Response {
  out.headers.append('server-timing', `edge;dur=${Math.max(0, edgeMs).toFixed(1)}`);
  out.headers.set(originHeader, origin);
  out.headers.set(attemptsHeader, String(attempts));
  return out;
}
