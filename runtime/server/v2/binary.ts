/**
 * Triton's binary tensor data extension, the framing only: a body is a JSON header of
 * `Inference-Header-Content-Length` bytes followed by each binary tensor's bytes, in the order of the
 * tensors that declare `parameters.binary_data_size`. Large tensors then skip JSON's text form both ways.
 * What the bytes mean (datatype, shape) is the codec's business.
 */
import { BadInputError } from '../../errors.ts';

export const headerLengthName = 'inference-header-content-length';

/** Splits a body into its JSON header and the binary bytes after it (none when the header is absent). */
export function splitBody(body: Buffer, headerLength: string | undefined): { json: Buffer; binary: Buffer } {
  if (headerLength === undefined) return { json: body, binary: body.subarray(body.length) };
  const n = Number(headerLength);
  if (!Number.isInteger(n) || n < 0)
    throw new BadInputError('bad_request', `Inference-Header-Content-Length must be a byte count, got "${headerLength}"`);
  if (n > body.length)
    throw new BadInputError('bad_request', `Inference-Header-Content-Length is ${n} but the body has only ${body.length} bytes`);
  return { json: body.subarray(0, n), binary: body.subarray(n) };
}

/** The declared `binary_data_size` of a tensor: undefined when it has none, else a checked byte count. */
export function binarySize(name: string, parameters: Record<string, unknown> | undefined): number | undefined {
  const size = parameters?.binary_data_size;
  if (size === undefined) return undefined;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 0)
    throw new BadInputError('bad_request', `binary_data_size of "${name}" must be a byte count, got ${JSON.stringify(size)}`);
  return size;
}

/**
 * Cuts the binary part into one chunk per tensor, in order (undefined for a tensor sent as JSON). The sizes
 * must add up to exactly the bytes after the header: a short or long body is refused, never guessed at.
 */
export function binaryChunks(
  tensors: readonly { name: string; parameters?: Record<string, unknown> }[],
  binary: Buffer,
): (Buffer | undefined)[] {
  const sizes = tensors.map((t) => binarySize(t.name, t.parameters));
  const declared = sizes.reduce<number>((sum, s) => sum + (s ?? 0), 0);
  if (declared !== binary.length) {
    throw new BadInputError(
      'bad_request',
      `binary sizes do not add up: the inputs declare ${declared} bytes of binary_data_size, the body carries ${binary.length} after the JSON header`,
    );
  }
  let offset = 0;
  return sizes.map((s) => {
    if (s === undefined) return undefined;
    const chunk = binary.subarray(offset, offset + s);
    offset += s;
    return chunk;
  });
}

/** A body of a JSON header followed by binary chunks, and the header length to send with it. */
export function joinBody(header: string, chunks: readonly Buffer[]): { body: Buffer; headerLength: number } {
  const json = Buffer.from(header, 'utf8');
  return { body: Buffer.concat([json, ...chunks]), headerLength: json.length };
}
