import { z } from 'zod';
import { defineFunction } from 'edgebatch';
import { argmax, float32Vector, softmax } from './_shared/vector.ts';

/** A generated 128-2048-2048-10 MLP: the load-test function, tight SLO. */
export default defineFunction({
  description: 'Class of a 128-feature vector (generated MLP; for load tests)',
  model: 'mlp',
  slo: '50ms',
  input: z.object({ features: float32Vector(128) }),
  pre: ({ features }) => ({ data: Float32Array.from(features), dims: [128] }),
  post: ({ output }) => {
    const p = softmax(output.data as Float32Array);
    const label = argmax(p);
    return { label, probability: p[label] };
  },
  example: { features: Array.from({ length: 128 }, (_, i) => Math.sin(i)) },
});
