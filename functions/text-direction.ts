import { z } from 'zod';
import { defineFunction } from 'edgebatch';
import { decodeImage, imageOf, rawImage, directionInput, directionLabel } from './_shared/ocr.ts';
import { sampleLine } from './_shared/samples.ts';

/** Is this text line upright or upside down? PaddleOCR's direction classifier. */
export default defineFunction({
  description: 'Text-line direction (0 or 180 degrees) of a PNG or JPEG: base64 in JSON, or the raw bytes',
  model: 'ocr-cls',
  slo: '100ms',
  input: z.object({ image: z.string().min(1).describe('base64 PNG or JPEG of one text line') }),
  raw: rawImage,
  pre: async (input) => directionInput(await decodeImage(imageOf(input))),
  post: ({ output }) => {
    const { angle, score } = directionLabel(output.data as Float32Array);
    return { angle, upright: angle === 0, score };
  },
  example: { image: sampleLine },
});
