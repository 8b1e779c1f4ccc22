import { z } from 'zod';

/** The largest finite float32; a JSON number past it becomes Infinity in a Float32Array. */
const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * `n` numbers a float32 model input holds: finite (as every JSON number here), and within ±FLOAT32_MAX, past
 * which Float32Array stores Infinity and the model answers NaN. Checked in the schema, so the 400 names the
 * request's own fields (`features.3`), each one that is out of range. One pass over the array: a bounded
 * number schema per element ran two more checks per element, about 8% of the event loop per MLP call.
 */
export const float32Vector = (n: number) =>
  z
    .array(z.number())
    .length(n)
    .superRefine((xs, ctx) => {
      for (let i = 0; i < xs.length; i++) {
        const x = xs[i];
        // Rounded as Float32Array rounds: 3.4028235e38, as other languages print the largest float32, is kept.
        if (!Number.isFinite(Math.fround(x)))
          ctx.addIssue({ code: 'custom', path: [i], input: x, message: `${x} is beyond what a float32 holds (at most ±${FLOAT32_MAX})` });
      }
    });

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
