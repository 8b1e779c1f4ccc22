/**
 * The open-loop runs of a plan, as RunSpecs: every rate a fraction of the capacity C of its model, and
 * every schedule seeded by the run's name, so each peer meets exactly the same arrivals for the same run.
 */
import { MODELS, type PeerDef, type Plan } from '../plan.ts';
import type { RunSpec } from './session.ts';

/** A stable 32-bit seed from a name. */
export function seedOf(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}

const fnOf = (model: string) => MODELS.find((m) => m.model === model)!.fn;
const sweepLabel = (f: number) => `${f.toFixed(2)}C`;

/** The runs of an inference peer: sweeps, burst, two SLOs, two models, and the overload where it applies. */
export function runSpecs(plan: Plan, capacity: Map<string, number>, peer: PeerDef): RunSpec[] {
  const base = { leadInMs: plan.leadInMs, durationMs: plan.durationMs, drainMs: plan.drainMs };
  const specs: RunSpec[] = [];
  for (const { model, fn } of MODELS) {
    const c = capacity.get(model)!;
    for (const f of plan.sweep) {
      const label = sweepLabel(f);
      specs.push({
        ...base,
        scenario: `sweep:${model}`,
        label,
        fraction: f,
        ratePerSec: f * c,
        streams: [{ fn, weight: 1 }],
        seed: seedOf(`sweep:${model}/${label}`),
      });
    }
  }
  for (const model of plan.burst.models) {
    const b = plan.burst;
    specs.push({
      ...base,
      durationMs: b.durationMs,
      scenario: `burst:${model}`,
      label: `${b.baseFraction.toFixed(2)}C, x${b.factor} for ${b.lengthMs} ms`,
      fraction: b.baseFraction,
      ratePerSec: b.baseFraction * capacity.get(model)!,
      streams: [{ fn: fnOf(model), weight: 1 }],
      seed: 3,
      burst: { atMs: b.atMs, lengthMs: b.lengthMs, factor: b.factor },
    });
  }
  for (const f of plan.twoSlo) {
    const label = sweepLabel(f);
    specs.push({
      ...base,
      scenario: 'two-slo',
      label,
      fraction: f,
      ratePerSec: f * capacity.get('mlp')!,
      streams: [
        { fn: 'mlp-classify', weight: 1 },
        { fn: 'mlp-scores', weight: 1 },
      ],
      seed: seedOf(`two-slo/${label}`),
    });
  }
  for (const f of plan.twoModels) {
    const label = `${f.toFixed(2)} of C shared`;
    const rMlp = (f / 2) * capacity.get('mlp')!;
    const rOcr = (f / 2) * capacity.get('ocr-cls')!;
    specs.push({
      ...base,
      scenario: 'two-models',
      label,
      fraction: f,
      ratePerSec: rMlp + rOcr,
      streams: [
        { fn: 'mlp-classify', weight: rMlp },
        { fn: 'text-direction', weight: rOcr },
      ],
      seed: seedOf(`two-models/${label}`),
    });
  }
  if (plan.overload.peers.includes(peer.name)) specs.push(overloadSpec(plan, capacity));
  return specs;
}

/** Sustained overload on mlp-classify at `factor` x C(mlp), then the recovery trickle. */
export function overloadSpec(plan: Plan, capacity: Map<string, number>): RunSpec {
  const o = plan.overload;
  const label = `${o.factor.toFixed(2)}C for ${(o.durationMs / 1000).toFixed(0)} s`;
  return {
    scenario: 'overload:mlp',
    label,
    fraction: o.factor,
    ratePerSec: o.factor * capacity.get('mlp')!,
    streams: [{ fn: 'mlp-classify', weight: 1 }],
    seed: seedOf(`overload:mlp/${label}`),
    leadInMs: plan.leadInMs,
    durationMs: o.durationMs,
    drainMs: o.drainMs,
    trickle: o.trickle,
  };
}

/**
 * hono-echo's host-path runs: each model's function (its bodies) at the given fractions of that model's C,
 * with the very schedule of the sweep run at the same fraction, so its main-thread CPU per call compares
 * with the runtime's at the same offered rate.
 */
export function hostSpecs(plan: Plan, capacity: Map<string, number>): RunSpec[] {
  const base = { leadInMs: plan.leadInMs, durationMs: plan.durationMs, drainMs: plan.drainMs };
  return MODELS.flatMap(({ model, fn }) =>
    plan.hostFractions.map((f) => ({
      ...base,
      scenario: `host:${model}`,
      label: sweepLabel(f),
      fraction: f,
      ratePerSec: f * capacity.get(model)!,
      streams: [{ fn, weight: 1 }],
      seed: seedOf(`sweep:${model}/${sweepLabel(f)}`),
    })),
  );
}
