/**
 * A multipart/form-data upload (`curl -F file=@line.png`) to a function that takes raw bytes: its first
 * file part is the call's body, as if that file had been posted alone with its own Content-Type. Parsed by
 * the WHATWG FormData parser that Node ships (undici, what Hono's `parseBody` uses too), from bytes already
 * read within `limits.bodyBytes`, so the hot path's own body reading and its limit stay as they are.
 */
import { BadInputError, UnsupportedMediaTypeError } from '../errors.ts';
import type { LoadedFunction } from '../functions/load.ts';
import { RawRequestBody } from '../functions/prepare.ts';
import { acceptedTypes, mediaType, takesRawType } from './body-type.ts';

/**
 * The first file part of a multipart body. A part without a type is taken as `application/octet-stream`
 * (what browsers send for an unknown file); an empty file input (no file name, no bytes) is not a file part.
 * A body that is not a well-formed form, or that has no file part (text fields only), is a 400; a file part of a type the function does not take is a 415.
 *
 * @example
 * const raw = await multipartFile(fn, bytes, 'multipart/form-data; boundary=x');  // RawRequestBody
 */
export async function multipartFile(fn: LoadedFunction, bytes: Uint8Array, contentType: string): Promise<RawRequestBody> {
  let form: FormData;
  try {
    form = await new Response(bytes, { headers: { 'content-type': contentType } }).formData();
  } catch (err) {
    throw new BadInputError('bad_request', `the multipart/form-data body could not be parsed: ${(err as Error).message}`);
  }
  const fields: string[] = [];
  for (const [name, value] of form) {
    // A browser sends a file input left empty as a part with no name and no bytes: that is no file.
    if (typeof value === 'string' || (value.name === '' && value.size === 0)) {
      fields.push(name);
      continue;
    }
    const type = mediaType(value.type) || 'application/octet-stream';
    if (!takesRawType(fn, type)) {
      throw new UnsupportedMediaTypeError(fn.name, type, acceptedTypes(fn), name);
    }
    return new RawRequestBody(new Uint8Array(await value.arrayBuffer()), type);
  }
  const had = fields.length ? `only the text field${fields.length > 1 ? 's' : ''} ${fields.map((f) => `"${f}"`).join(', ')}` : 'no parts';
  throw new BadInputError(
    'bad_request',
    `a multipart/form-data body to "${fn.name}" must carry a file part (curl -F file=@image.png); it had ${had}`,
  );
}
