/**
 * What a function call's Content-Type asks for: a JSON body (parsed and validated as always) or raw bytes,
 * which only a function with a `raw` option takes. Kept to a few string operations: it runs on every call.
 */
import { UnsupportedMediaTypeError } from '../errors.ts';
import type { LoadedFunction } from '../functions/load.ts';

/** The media type of a Content-Type header, lower case, without parameters; '' when there is none. */
export function mediaType(header: string | undefined): string {
  if (!header || header === 'application/json') return header ?? '';
  const semi = header.indexOf(';');
  return (semi < 0 ? header : header.slice(0, semi)).trim().toLowerCase();
}

/**
 * Bodies read as JSON: no type, `application/json` or `+json`, and what clients send for a plain string
 * body (`text/plain` from fetch, `application/x-www-form-urlencoded` from `curl -d`), as before raw bodies.
 */
function isJsonType(type: string): boolean {
  return (
    type === '' ||
    type === 'application/json' ||
    type.endsWith('+json') ||
    type === 'text/plain' ||
    type === 'application/x-www-form-urlencoded'
  );
}

/** How a call's body is read: as JSON, as raw bytes, or as a multipart form whose file part is the raw bytes. */
export type BodyKind = 'json' | 'raw' | 'multipart';

/** Whether a function's `raw.types` list a media type, exactly or as its family (`image/*`). */
export function takesRawType(fn: LoadedFunction, type: string): boolean {
  const types = fn.definition.raw?.types ?? [];
  const slash = type.indexOf('/');
  return types.includes(type) || (slash > 0 && types.includes(`${type.slice(0, slash)}/*`));
}

/** What a function takes, as its 415 says: JSON, and for a function with `raw`, its types and multipart forms. */
export function acceptedTypes(fn: LoadedFunction): string[] {
  const types = fn.definition.raw?.types;
  return types ? ['application/json', ...types, 'multipart/form-data'] : ['application/json'];
}

/**
 * How the call's body is to be read. A function with a `raw` option also takes `multipart/form-data` (its
 * file part is checked against `raw.types` once parsed). A non-JSON type the function does not take is a 415
 * that says what it takes.
 */
export function bodyKind(fn: LoadedFunction, type: string): BodyKind {
  if (isJsonType(type)) return 'json';
  if (fn.definition.raw && type === 'multipart/form-data') return 'multipart';
  if (takesRawType(fn, type)) return 'raw';
  throw new UnsupportedMediaTypeError(fn.name, type, acceptedTypes(fn));
}
