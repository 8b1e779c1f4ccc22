import { z } from 'zod';
import { defineFunction } from 'edgebatch';
import { decodeImage, imageOf, rawImage, directionInput } from './_shared/ocr.ts';
import { sampleLine } from './_shared/samples.ts';

/** The threshold of a JSON call that gives none, and of every raw-bytes call (which has no fields). */
const defaultThreshold = 0.9;

/**
 * Same classifier as text-direction, different answer: should a scanner rotate this line before OCR?
 * Calls of both functions share batches on the `ocr-cls` model.
 */
export default defineFunction({
  description: 'Whether a text line must be rotated 180 degrees before recognition, with a threshold',
  model: 'ocr-cls',
  slo: '250ms',
  input: z.object({
    image: z.string().min(1),
    threshold: z.number().min(0.5).max(1).default(defaultThreshold).describe('probability of "upside down" needed to say rotate'),
  }),
  raw: rawImage,
  pre: async (input) => directionInput(await decodeImage(imageOf(input))),
  post: ({ output }, input) => {
    const threshold = 'threshold' in input ? input.threshold : defaultThreshold;
    const upsideDown = (output.data as Float32Array)[1];
    return { rotate: upsideDown >= threshold ? 180 : 0, probabilityUpsideDown: upsideDown };
  },
  example: { image: sampleLine, threshold: 0.9 },
});
