/**
 * The JSON shape of a v2 inference request (the REST text of the Open Inference Protocol), as a zod schema.
 * Tensor `data` is left `unknown` here: walking a large numeric array through zod costs more than the
 * codec's own single pass (codec.ts), which also checks it against the shape and the model.
 */
import { z } from 'zod';
import { BadInputError } from '../../errors.ts';

const parameters = z.record(z.string(), z.unknown()).optional();

const requestInput = z.object({
  name: z.string().min(1),
  shape: z.array(z.number().int().nonnegative()),
  datatype: z.string(),
  parameters,
  data: z.unknown().optional(),
});

const requestOutput = z.object({ name: z.string().min(1), parameters });

const inferenceRequest = z.object({
  id: z.string().optional(),
  parameters,
  inputs: z.array(requestInput).min(1),
  outputs: z.array(requestOutput).optional(),
});

export type RequestInput = z.infer<typeof requestInput>;
export type RequestOutput = z.infer<typeof requestOutput>;
export type InferenceRequest = z.infer<typeof inferenceRequest>;

/** Parses the JSON header of an inference request; a bad one is a 400 naming the first wrong field. */
export function parseInferenceRequest(json: Buffer): InferenceRequest {
  let body: unknown;
  try {
    body = JSON.parse(json.toString('utf8'));
  } catch (err) {
    throw new BadInputError('bad_json', `the inference request is not valid JSON: ${(err as Error).message}`);
  }
  const r = inferenceRequest.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
    throw new BadInputError('invalid_input', `bad inference request: ${where}${issue.message}`);
  }
  return r.data;
}
