import type { BatchPolicy } from '../types.ts';

/** Seed 004's greedy dynamic batching: a free lane takes everything waiting, up to the max batch. */
export const greedyPolicy: BatchPolicy = {
  name: 'greedy',
  decide: (state) => ({ dispatch: state.maxBatch }),
};
