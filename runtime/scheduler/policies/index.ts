import type { ResolvedModelConfig } from '../../config.ts';
import type { BatchPolicy } from '../types.ts';
import { fixedDelayPolicy } from './fixed-delay.ts';
import { greedyPolicy } from './greedy.ts';
import { noBatchingPolicy } from './none.ts';
import { sloPolicy } from './slo.ts';

export { fixedDelayPolicy, greedyPolicy, noBatchingPolicy, sloPolicy };
export { holdPolicy } from './hold.ts';

/** The policy a model's config names. */
export function policyFor(model: Pick<ResolvedModelConfig, 'policy' | 'fixedDelay'>): BatchPolicy {
  switch (model.policy) {
    case 'slo':
      return sloPolicy;
    case 'greedy':
      return greedyPolicy;
    case 'none':
      return noBatchingPolicy;
    case 'fixed-delay':
      return fixedDelayPolicy(model.fixedDelay);
  }
}
