import { z } from 'zod';
import { defineFunction } from 'edgebatch';
import { ctcDecode, decodeImage, imageOf, rawImage, loadDictionary, recognitionInput } from './_shared/ocr.ts';
import { sampleLine } from './_shared/samples.ts';

const dictionary = await loadDictionary();

/** Reads one text line: PP-OCRv4 recogniser, greedy CTC decoding with the dictionary shipped beside it. */
export default defineFunction({
  description: 'Text of one upright text line in a PNG or JPEG: base64 in JSON, or the raw bytes',
  model: 'ocr-rec',
  slo: '500ms',
  input: z.object({ image: z.string().min(1) }),
  raw: rawImage,
  pre: async (input) => recognitionInput(await decodeImage(imageOf(input))),
  post: ({ output }) => {
    const [steps, classes] = output.dims;
    const { text, confidence } = ctcDecode(output.data as Float32Array, steps, classes, dictionary);
    // The recogniser can emit a space for a wide white margin; it is never part of the line.
    return { text: text.trim(), confidence };
  },
  example: { image: sampleLine },
});
