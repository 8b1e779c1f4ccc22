import { z } from 'zod';

/**
 * A number a float32 model input holds: finite, and within ±3.4028234663852886e38, past which Float32Array
 * stores Infinity (the model would answer NaN). In the schema, so a 400 names the request's own field.
 */
export const float32 = z.number().min(-3.4028234663852886e38).max(3.4028234663852886e38);

/** Numerically stable softmax of a logit vector. */
export function softmax(logits: Float32Array): Float32Array {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  const out = new Float32Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += out[i] = Math.exp(logits[i] - max);
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

/** Index of the largest value. */
export function argmax(xs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}
