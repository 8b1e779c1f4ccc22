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
  return type === '' || type === 'application/json' || type.endsWith('+json') || type === 'text/plain' || type === 'application/x-www-form-urlencoded';
}

/**
 * Whether the call's body is to be taken as raw bytes (true) or read as JSON (false). A non-JSON type the
 * function does not list in `raw.types` (exactly or as `family/*`) is a 415 that says what it takes.
 */
export function takesRaw(fn: LoadedFunction, type: string): boolean {
  if (isJsonType(type)) return false;
  const types = fn.definition.raw?.types ?? [];
  const slash = type.indexOf('/');
  const family = slash < 0 ? undefined : `${type.slice(0, slash)}/*`;
  if (types.includes(type) || (family !== undefined && types.includes(family))) return true;
  throw new UnsupportedMediaTypeError(fn.name, type, ['application/json', ...types]);
}
