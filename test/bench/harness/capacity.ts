/**
 * Capacity as an open-loop knee: the highest arrival rate at which a server still answers at least
 * `attainment` (95%) of the calls 200 within the SLO. Short open-loop runs, from a starting guess up by
 * `step` until one misses (or down until one keeps it), then geometric bisection between the highest rate
 * that kept the SLO and the lowest that missed, until they are within `tolerance` or the probes run out.
 *
 * Open loop, because a closed loop with a few calls in flight measures the probe as much as the server
 * (it never offers more than it gets back, so it cannot show what happens past the knee).
 *
 * With `confirmMisses`, a rate that misses is run once more (another seed) and counts as missed only if
 * that run misses too, so one run disturbed by another process on the machine does not pull C down.
 */
import type { KneeSearch } from '../plan.ts';
import type { PeerSession, RunRecord } from './session.ts';

export interface KneeProbe {
  ratePerSec: number;
  offeredPerSec: number;
  sloAttainment: number;
  goodputPerSec: number;
  shed: number;
  p99Ms: number;
  kept: boolean;
  notes: string[];
}

export interface Knee {
  peer: string;
  model: string;
  fn: string;
  /** The highest rate that kept the SLO; the lowest rate probed when none did (`found` false). */
  capacityPerSec: number;
  found: boolean;
  /** The lowest rate that missed (Infinity when none did). */
  missedAtPerSec: number;
  probes: KneeProbe[];
}

export async function findKnee(
  session: PeerSession,
  target: { model: string; fn: string; startPerSec: number; seed: number },
  k: KneeSearch,
  opts: { idleTimeoutMs: number; pauseMs: number; beforeProbe?: () => Promise<void>; log: (msg: string) => void },
): Promise<Knee> {
  let lo = 0;
  let hi = Infinity;
  let rate = target.startPerSec * k.startFactor;
  let seq = 0;
  const probes: KneeProbe[] = [];
  const probe = async (): Promise<boolean> => {
    await opts.beforeProbe?.();
    const rec: RunRecord = await session.measure(
      {
        scenario: `knee:${target.model}`,
        label: `${rate.toFixed(0)}/s #${seq}`,
        fraction: NaN,
        ratePerSec: rate,
        streams: [{ fn: target.fn, weight: 1 }],
        seed: target.seed + seq++,
        leadInMs: k.leadInMs,
        durationMs: k.durationMs,
        drainMs: k.drainMs,
      },
      opts.idleTimeoutMs,
    );
    const f = rec.figures;
    const kept = f.sloAttainment >= k.attainment;
    probes.push({
      ratePerSec: rate,
      offeredPerSec: f.offeredPerSec,
      sloAttainment: f.sloAttainment,
      goodputPerSec: f.goodputPerSec,
      shed: f.shed,
      p99Ms: f.p99Ms,
      kept,
      notes: rec.notes,
    });
    opts.log(
      `  knee ${session.def.name} ${target.fn} @ ${rate.toFixed(0)}/s: attainment ${(100 * f.sloAttainment).toFixed(1)}%, p99 ${f.p99Ms.toFixed(1)} ms, shed ${f.shed}${kept ? '' : ' (missed)'}${rec.notes.length ? ` [${rec.notes.join('; ')}]` : ''}`,
    );
    await new Promise((r) => setTimeout(r, opts.pauseMs));
    return kept;
  };
  for (let i = 0; i < k.maxProbes; i++) {
    const kept = (await probe()) || (k.confirmMisses && (await probe()));
    if (kept) lo = Math.max(lo, rate);
    else hi = Math.min(hi, rate);
    if (lo > 0 && hi / lo <= k.tolerance) break;
    rate = hi === Infinity ? rate * k.step : lo === 0 ? rate / k.step : Math.sqrt(lo * hi);
  }
  const found = lo > 0;
  return {
    peer: session.def.name,
    model: target.model,
    fn: target.fn,
    capacityPerSec: found ? lo : Math.min(...probes.map((p) => p.ratePerSec)),
    found,
    missedAtPerSec: hi,
    probes,
  };
}
