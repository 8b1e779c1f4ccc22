import { z } from 'zod';
import { defineFunction } from 'edgebatch';
import { float32Vector, softmax } from './_shared/vector.ts';

/** The same MLP as mlp-classify with a looser SLO and every score: two SLOs sharing one model. */
export default defineFunction({
  description: 'All 10 class probabilities of a 128-feature vector (generated MLP; relaxed SLO)',
  model: 'mlp',
  slo: '200ms',
  input: z.object({ features: float32Vector(128) }),
  pre: ({ features }) => ({ data: Float32Array.from(features), dims: [128] }),
  post: ({ output }) => ({ scores: Array.from(softmax(output.data as Float32Array)) }),
  example: { features: Array.from({ length: 128 }, (_, i) => Math.cos(i)) },
});
