import type { BatchPolicy } from '../types.ts';

/** No batching: one item per run, the naive server's behaviour with the runtime around it. */
export const noBatchingPolicy: BatchPolicy = {
  name: 'none',
  decide: () => ({ dispatch: 1 }),
};
