/**
 * The queueing formula the scheduler is built on (README, "The scheduler"; seed 004).
 *
 * Model, for one ONNX model: invocations arrive as a Poisson stream of rate `lambda` (per second, all
 * handlers that share the model together). A batch of `b` items occupies the device for
 * `tau(b) = alpha*b + tau0` seconds. Greedy dynamic batching: a free lane takes everything waiting.
 * The load is `rho = lambda*alpha`, and the queue is stable only while `rho < 1`.
 *
 * The latency bound is exact for a slightly slower system in which an empty queue still costs one batch
 * time `tau0` (a "phantom" batch of size 0). In that system the batch sizes form a Markov chain,
 * `B' ~ Poisson(lambda*(alpha*B + tau0 + h))`, whose stationary moments are
 *
 *     E[B] = lambda*(tau0 + h)/(1 - rho)          Var[B] = E[B]/(1 - rho^2)
 *
 * A request that arrives during a cycle of length C (length-biased) waits the residual of that cycle,
 * then rides in the next batch together with Poisson(lambda*C) other arrivals, so its mean latency is
 *
 *     (1 + 2*rho)/2 * E[C^2]/E[C] + tau0 + alpha
 *
 * which simplifies to `meanLatencyBound` (h = 0) and `meanLatencyBoundWithHold`.
 *
 * Everything here is pure: no I/O, no runtime imports. Times are in SECONDS, rates per SECOND, power in
 * WATTS, energy in JOULES, memory in BYTES. Negative, NaN or (unless said otherwise) infinite inputs throw a
 * RangeError naming the argument, what was expected and what was given.
 */

/**
 * Linear batch cost tau(b) = alpha*b + tau0, seconds.
 *
 * - `alpha`: marginal device seconds per item (>= 0).
 * - `tau0`: fixed device seconds per batch (>= 0), paid once whatever the batch size.
 *
 * Fitted online from the runtime's own batches (seed 003).
 */
export interface BatchCost {
  readonly alpha: number;
  readonly tau0: number;
}

/**
 * Power drawn by one lane's device: `busyWatts` while computing a batch, `idleWatts` otherwise
 * (both watts, >= 0). Batching pays in energy when `busyWatts > idleWatts`.
 */
export interface PowerModel {
  readonly busyWatts: number;
  readonly idleWatts: number;
}

// ---------------------------------------------------------------------------------------------------------
// argument checks

function describe(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  return typeof value;
}

/** Throws unless `value` is a finite number >= 0. */
function nonNegative(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`${name} must be a finite number >= 0, got ${describe(value)}`);
  }
  return value;
}

/** Throws unless `value` is a finite number > 0. */
function positive(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a finite number > 0, got ${describe(value)}`);
  }
  return value;
}

function checkCost(cost: BatchCost): BatchCost {
  if (typeof cost !== 'object' || cost === null) {
    throw new RangeError(`cost must be an object { alpha, tau0 }, got ${describe(cost)}`);
  }
  nonNegative('alpha', cost.alpha);
  nonNegative('tau0', cost.tau0);
  return cost;
}

function checkPower(power: PowerModel): PowerModel {
  if (typeof power !== 'object' || power === null) {
    throw new RangeError(`power must be an object { busyWatts, idleWatts }, got ${describe(power)}`);
  }
  nonNegative('busyWatts', power.busyWatts);
  nonNegative('idleWatts', power.idleWatts);
  return power;
}

/** Seconds to milliseconds, rounded to the microsecond, for messages: 0.0525 -> "52.5 ms". */
function ms(seconds: number): string {
  return `${Number((seconds * 1000).toFixed(3))} ms`;
}

// ---------------------------------------------------------------------------------------------------------
// the formula

/**
 * Device time of one batch: `tau(b) = alpha*b + tau0`, seconds.
 *
 * @param cost the fitted batch cost.
 * @param b batch size, items (>= 0; fractional values are allowed so a mean batch size can be priced).
 * @returns seconds the device is busy with a batch of `b` items.
 */
export function batchTime(cost: BatchCost, b: number): number {
  checkCost(cost);
  nonNegative('b', b);
  return cost.alpha * b + cost.tau0;
}

/**
 * Load of the device: `rho = lambda*alpha` (dimensionless).
 *
 * It is the share of device time spent on per-item work. Only the marginal cost counts: greedy batching
 * grows the batch until `tau0` is amortised, so the queue is stable exactly while `rho < 1`, and the largest
 * rate a lane can sustain is `1/alpha` requests per second.
 *
 * @param lambda arrival rate, requests per second (>= 0).
 * @param cost the fitted batch cost.
 */
export function utilization(lambda: number, cost: BatchCost): number {
  nonNegative('lambda', lambda);
  checkCost(cost);
  return lambda * cost.alpha;
}

/**
 * Upper bound on the mean latency (arrival to the reply leaving the device) under greedy batching,
 * seconds:
 *
 *     U(lambda) = 3*tau0 / (2*(1 - rho)) + alpha*(2 + rho) / (2*(1 - rho^2)),   rho = lambda*alpha
 *
 * Exact for the slower system where an empty queue still costs `tau0`; `U(0) = 3*tau0/2 + alpha`, U grows
 * with `lambda` and without bound as `rho -> 1`. At light load it is loose (a lone request really takes
 * `alpha + tau0`); from moderate load on it is within a few percent of the exact mean (seed 004).
 *
 * @param lambda arrival rate, requests per second (>= 0).
 * @param cost the fitted batch cost.
 * @returns seconds; `Infinity` when `rho >= 1` (the queue is unstable).
 */
export function meanLatencyBound(lambda: number, cost: BatchCost): number {
  const rho = utilization(lambda, cost);
  if (rho >= 1) return Infinity;
  const { alpha, tau0 } = cost;
  return (3 * tau0) / (2 * (1 - rho)) + (alpha * (2 + rho)) / (2 * (1 - rho * rho));
}

/**
 * Upper bound on the mean latency when, after each batch, the lane waits `hold` seconds before taking
 * everything waiting (the energy-aware hold), seconds:
 *
 *     U_h(lambda) = U(lambda) + h*(1 + 2*rho) / (2*(1 - rho))
 *
 * Same argument as `U` with the cycle `tau(B) + h` in place of `tau(B)`: the hold lengthens the cycle a
 * request lands in (it waits half of the extra, length-biased) and, through the `rho` share of the batch
 * it rides in, the batch it leaves with. `U_h(lambda, 0) = U(lambda)`, and `U_h` increases with `h`.
 *
 * @param lambda arrival rate, requests per second (>= 0).
 * @param cost the fitted batch cost.
 * @param hold seconds the lane holds after each batch (>= 0).
 * @returns seconds; `Infinity` when `rho >= 1`.
 */
export function meanLatencyBoundWithHold(lambda: number, cost: BatchCost, hold: number): number {
  nonNegative('hold', hold);
  const u = meanLatencyBound(lambda, cost);
  if (u === Infinity) return Infinity;
  const rho = lambda * cost.alpha;
  return u + (hold * (1 + 2 * rho)) / (2 * (1 - rho));
}

/**
 * Mean batch size to expect, items:
 *
 *     E[B] = lambda*(tau0 + h) / (1 - rho)
 *
 * The stationary mean of the batch-size chain `B' ~ Poisson(lambda*(alpha*B + tau0 + h))`: each cycle
 * lasts `alpha*B + tau0 + h` and the next batch is what arrived meanwhile. It counts the bound system's
 * empty (phantom) batches as size 0, so at light load it falls below 1; callers that price a real batch
 * should take `max(1, ...)`. Used to size buffers and to price energy.
 *
 * @param lambda arrival rate, requests per second (>= 0).
 * @param cost the fitted batch cost.
 * @param hold seconds held after each batch (>= 0, default 0).
 * @returns items; `Infinity` when `rho >= 1`.
 */
export function expectedBatchSize(lambda: number, cost: BatchCost, hold: number = 0): number {
  nonNegative('hold', hold);
  const rho = utilization(lambda, cost);
  if (rho >= 1) return Infinity;
  return (lambda * (cost.tau0 + hold)) / (1 - rho);
}

/**
 * The energy-and-latency-aware hold: the longest hold that keeps the mean latency bound at the objective,
 * seconds:
 *
 *     h* = max(0, (S - U(lambda)) * 2*(1 - rho) / (1 + 2*rho))
 *
 * It solves `U_h(lambda, h) = S` for `h`. Holding longer makes batches bigger, which never costs energy
 * and saves it when busy power exceeds idle power (seed 004: run as busy as the latency target allows), so
 * the lane spends all of the slack the objective leaves. The scheduler must still never hold an item past
 * its own deadline; this is the mean-latency side only.
 *
 * @param lambda arrival rate, requests per second (>= 0).
 * @param cost the fitted batch cost.
 * @param objective mean latency objective S, seconds (>= 0).
 * @returns seconds; 0 when `U(lambda) >= S` (no slack) or `rho >= 1`.
 */
export function holdForObjective(lambda: number, cost: BatchCost, objective: number): number {
  nonNegative('objective', objective);
  const u = meanLatencyBound(lambda, cost);
  if (u === Infinity || u >= objective) return 0;
  const rho = lambda * cost.alpha;
  return Math.max(0, ((objective - u) * 2 * (1 - rho)) / (1 + 2 * rho));
}

/**
 * The largest arrival rate whose mean latency bound stays within the objective, requests per second:
 * the largest `lambda` with `U(lambda) <= S`.
 *
 * `U` is increasing in `rho`, and `U(rho) = S` multiplied through by `2*(1 - rho^2)` is the quadratic
 *
 *     2*S*rho^2 + (3*tau0 + alpha)*rho - (2*S - 3*tau0 - 2*alpha) = 0
 *
 * whose positive root, written without cancellation, is
 *
 *     rho* = 2*c / (b + sqrt(b^2 + 8*S*c)),   b = 3*tau0 + alpha,  c = 2*S - 3*tau0 - 2*alpha = 2*(S - U(0))
 *
 * and `lambda* = rho* / alpha`. The quadratic is positive at `rho = 1`, so `rho* < 1` and `lambda* < 1/alpha`;
 * a final step nudges the result down (by ulps, then doubling) if rounding put `U(lambda*)` a hair above `S`.
 * Used for admission control and for reporting each function's capacity at its SLO.
 *
 * @param cost the fitted batch cost.
 * @param objective mean latency objective S, seconds (>= 0).
 * @returns requests per second: 0 when `U(0) > S` (not even a lone request meets it; also 0 when
 *   `U(0) = S` exactly); when `alpha = 0`, rho is always 0 and `U = 3*tau0/2` at every rate, so `Infinity`
 *   if `3*tau0/2 <= S` and 0 otherwise.
 */
export function maxRateWithin(cost: BatchCost, objective: number): number {
  checkCost(cost);
  nonNegative('objective', objective);
  const { alpha, tau0 } = cost;
  const s = objective;
  if (alpha === 0) return (3 * tau0) / 2 <= s ? Infinity : 0;
  const u0 = meanLatencyBound(0, cost);
  if (u0 >= s) return 0; // not even a lone request at zero load meets S (or only exactly at lambda = 0)
  const c = 2 * (s - u0);
  const b = 3 * tau0 + alpha;
  const rhoStar = (2 * c) / (b + Math.sqrt(b * b + 8 * s * c));
  let lambda = rhoStar / alpha;
  // Rounding can leave U(lambda) an ulp above S (or rho at 1 when S is huge). Step down, doubling the
  // relative step each time; the first steps are ulp-sized, and 1e-9 relative is reached by step ~23.
  let step = 4 * Number.EPSILON;
  while (lambda > 0 && !(meanLatencyBound(lambda, cost) <= s)) {
    lambda = step >= 1 ? 0 : lambda * (1 - step);
    step *= 2;
  }
  return lambda;
}

/**
 * Energy per inference on one lane, joules:
 *
 *     B = max(1, E[B](lambda, h))                 mean batch (a real batch holds at least one item)
 *     f = min(1, lambda*(alpha + tau0/B))         busy fraction of the lane
 *     J = (busyWatts*f + idleWatts*(1 - f)) / lambda
 *
 * The lane draws `busyWatts` while computing and `idleWatts` otherwise; per second it computes
 * `lambda*alpha` of per-item work and `lambda/B` batches of `tau0` each. A larger batch (more load, or a
 * longer hold) spreads `tau0` over more items, so with `busyWatts >= idleWatts` J never increases with
 * `lambda` nor with `hold` (seed 004: efficiency only grows with load).
 *
 * Caveat, inherited from the bound system: its mean batch counts the phantom batches an empty queue costs,
 * so whenever `E[B] >= 1` the busy fraction is `f = rho + (1 - rho)*tau0/(tau0 + h)`; with no hold that is
 * exactly 1 and `J = busyWatts/lambda`. The only idle time it sees is the hold, so without a hold it
 * overstates energy at light-to-moderate load, where a real lane does sit idle.
 *
 * Edge cases:
 * - `lambda = 0`: no request arrives, so the idle draw has nothing to be divided by; returns the busy cost
 *   of one item alone, `busyWatts*(alpha + tau0)`. (This is not the limit as lambda -> 0, which is
 *   `Infinity` when `idleWatts > 0`.)
 * - `rho >= 1`: the lane is busy all the time and completes at most `1/alpha` requests per second, so this
 *   divides by that served rate instead of `lambda`: `busyWatts*alpha` (continuous at `rho = 1`).
 *
 * @param lambda arrival rate, requests per second (>= 0).
 * @param cost the fitted batch cost.
 * @param power the lane's busy and idle power, watts.
 * @param hold seconds held after each batch (>= 0, default 0).
 */
export function joulesPerInference(lambda: number, cost: BatchCost, power: PowerModel, hold: number = 0): number {
  nonNegative('lambda', lambda);
  checkCost(cost);
  checkPower(power);
  nonNegative('hold', hold);
  const { alpha, tau0 } = cost;
  const { busyWatts, idleWatts } = power;
  if (lambda === 0) return busyWatts * (alpha + tau0);
  if (lambda * alpha >= 1) return busyWatts * alpha;
  const batch = Math.max(1, expectedBatchSize(lambda, cost, hold));
  const f = Math.min(1, lambda * (alpha + tau0 / batch));
  return (busyWatts * f + idleWatts * (1 - f)) / lambda;
}

/**
 * The batch cap, items: `b_max = min(maxBatch, floor(memoryBudgetBytes / bytesPerItem))`, at least 1.
 *
 * The memory side of seed 000: a batch may not grow past what the model accepts nor past what its input
 * and output tensors can occupy within the budget. A single item is always allowed (refusing every
 * request would help nobody; an item that does not fit alone fails in the lane, not here).
 *
 * @param maxBatch the model's largest batch, items (a whole number >= 1, or `Infinity` for no limit).
 * @param memoryBudgetBytes bytes one batch may occupy (>= 0), or `undefined` for no memory limit.
 * @param bytesPerItem bytes one item adds to a batch (> 0).
 */
export function batchCapForMemory(maxBatch: number, memoryBudgetBytes: number | undefined, bytesPerItem: number): number {
  if (
    typeof maxBatch !== 'number' ||
    Number.isNaN(maxBatch) ||
    maxBatch < 1 ||
    (Number.isFinite(maxBatch) && !Number.isInteger(maxBatch))
  ) {
    throw new RangeError(`maxBatch must be a whole number >= 1 or Infinity, got ${describe(maxBatch)}`);
  }
  positive('bytesPerItem', bytesPerItem);
  if (memoryBudgetBytes === undefined) return maxBatch;
  if (typeof memoryBudgetBytes !== 'number' || Number.isNaN(memoryBudgetBytes) || memoryBudgetBytes < 0) {
    throw new RangeError(`memoryBudgetBytes must be a number >= 0 or undefined, got ${describe(memoryBudgetBytes)}`);
  }
  const byMemory = Math.floor(memoryBudgetBytes / bytesPerItem);
  return Math.max(1, Math.min(maxBatch, byMemory));
}

/**
 * Whether a latency SLO can be met on this device at all: feasible iff the zero-load bound
 * `U(0) = 3*tau0/2 + alpha` is within `slo` (seconds).
 *
 * Checked at deploy, so a function whose SLO the device cannot meet is reported with a reason naming
 * both numbers in milliseconds instead of failing later under load. Since `U` is an upper bound, a lone
 * request (which takes `alpha + tau0`) can beat it; the check is deliberately conservative.
 *
 * @param cost the fitted batch cost.
 * @param slo latency objective, seconds (>= 0).
 * @returns `feasible`, the `zeroLoadBound` in seconds, and, when infeasible, a readable `reason`.
 */
export function sloFeasibility(cost: BatchCost, slo: number): { feasible: boolean; zeroLoadBound: number; reason?: string } {
  checkCost(cost);
  nonNegative('slo', slo);
  const zeroLoadBound = meanLatencyBound(0, cost);
  if (zeroLoadBound <= slo) return { feasible: true, zeroLoadBound };
  return {
    feasible: false,
    zeroLoadBound,
    reason:
      `SLO ${ms(slo)} cannot be met on this device: even at zero load the mean latency bound is ` +
      `${ms(zeroLoadBound)} (3/2*tau0 + alpha with tau0 = ${ms(cost.tau0)}, alpha = ${ms(cost.alpha)} per item)`,
  };
}

// ---------------------------------------------------------------------------------------------------------
// the host stage: the event loop in series with the device

/**
 * The host stage of a call: the one event loop that reads, parses, validates, runs `pre`, hands the batch
 * over and back, runs `post` and writes the reply, shared by every call of every model.
 *
 * - `perCall`: seconds of event-loop time one call costs (both of its visits together, > 0 or 0).
 * - `rate`: calls per second through the loop, every model together (>= 0).
 */
export interface HostStage {
  readonly perCall: number;
  readonly rate: number;
}

/**
 * Utilisation of the event loop: `rho_h = rate_host * perCall`. The runtime is stable only while both
 * `rho_h < 1` and the device's `rho < 1`: under load the loop, not the model, was what saturated first.
 */
export function hostUtilization(host: HostStage): number {
  nonNegative('host.perCall', host.perCall);
  nonNegative('host.rate', host.rate);
  return host.rate * host.perCall;
}

/**
 * Mean time a call spends in the host stage, waiting included, seconds:
 *
 *     W_host = perCall / (1 - rho_h)
 *
 * The loop is a single FIFO server. By Pollaczek-Khinchine a visit of mean length s waits
 * `lambda*E[S^2] / (2*(1 - rho_h))`, and with service times no more variable than exponential
 * (`E[S^2] <= 2 s^2`) that is at most `rho_h*s/(1 - rho_h)`. A call visits twice (before its batch: read to
 * hand-over; after: post and reply), each visit about half of `perCall`, so its host time is at most
 * `perCall + rho_h*perCall/(1 - rho_h) = perCall/(1 - rho_h)`. The post visits of one batch arrive together,
 * which Poisson arrivals do not capture; the simulator measures how much that adds.
 *
 * @returns seconds; `Infinity` when `rho_h >= 1`.
 */
export function hostSojourn(host: HostStage): number {
  const rho = hostUtilization(host);
  if (rho >= 1) return Infinity;
  return host.perCall / (1 - rho);
}

/**
 * Mean latency of the whole path (request read to reply written), seconds: the device's bound with hold
 * plus the host stage's sojourn,
 *
 *     U_path = U_h(lambda) + perCall / (1 - rho_h)
 *
 * The two stages are in series and each call crosses both, so their means add. `lambda` is this model's
 * rate; `host.rate` is the loop's, which includes every other model's calls.
 */
export function pathLatencyBound(lambda: number, cost: BatchCost, hold: number, host: HostStage): number {
  const device = meanLatencyBoundWithHold(lambda, cost, hold);
  const h = hostSojourn(host);
  return device + h;
}

/**
 * The largest rate of one model whose whole-path bound stays within `objective`, requests per second,
 * with `otherRate` calls per second of other models sharing the loop. Both stages limit it: the device
 * (`U_h` grows without bound as `rho -> 1`) and the loop (`W_host` as `rho_h -> 1`). `U_path` increases with
 * the rate, so a bisection finds the crossing to within 0.1%.
 *
 * @returns requests per second: 0 when not even a lone call meets the objective; `Infinity` when neither
 *   stage has a per-call cost (alpha = 0 and perCall = 0) and the zero-load bound is within it.
 */
export function maxRateWithinPath(
  cost: BatchCost,
  objective: number,
  host: { perCall: number; otherRate: number },
  hold: number = 0,
): number {
  checkCost(cost);
  nonNegative('objective', objective);
  nonNegative('host.perCall', host.perCall);
  nonNegative('host.otherRate', host.otherRate);
  const u = (lambda: number) => pathLatencyBound(lambda, cost, hold, { perCall: host.perCall, rate: host.otherRate + lambda });
  if (!(u(0) <= objective)) return 0;
  let hi = Infinity;
  if (cost.alpha > 0) hi = 1 / cost.alpha;
  if (host.perCall > 0) hi = Math.min(hi, Math.max(0, 1 / host.perCall - host.otherRate));
  if (hi === Infinity) return Infinity;
  let lo = 0;
  while (hi - lo > 1e-3 * Math.max(lo, 1e-9)) {
    const mid = (lo + hi) / 2;
    if (u(mid) <= objective) lo = mid;
    else hi = mid;
    if (hi < 1e-9) break;
  }
  return lo;
}

/**
 * Device energy per inference that the call itself causes, joules: the busy power over its share of its
 * batch's device time, plus the idle power over its share of the hold the policy chose,
 *
 *     J_attr = (busyWatts*(alpha*B + tau0) + idleWatts*h) / B,   B = max(1, E[B](lambda, h))
 *
 * Unlike {@link joulesPerInference}, it does not charge a quiet lane's idle draw to the few calls that
 * arrive (at 0.01 calls/s that would be 1,000 J each): it stays finite and near `busyWatts*(alpha + tau0)`
 * at light load, and falls as batches grow. This is what the runtime reports per call.
 */
export function attributedJoulesPerInference(lambda: number, cost: BatchCost, power: PowerModel, hold: number = 0): number {
  nonNegative('lambda', lambda);
  checkCost(cost);
  checkPower(power);
  nonNegative('hold', hold);
  const e = expectedBatchSize(lambda, cost, hold);
  if (!Number.isFinite(e)) return power.busyWatts * cost.alpha; // saturated: tau0 is spread over ever larger batches
  const b = Math.max(1, e);
  return (power.busyWatts * (cost.alpha * b + cost.tau0) + power.idleWatts * hold) / b;
}
