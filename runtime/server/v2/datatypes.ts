/**
 * The Open Inference Protocol's tensor datatypes and how each maps onto onnxruntime's element types and the
 * runtime's arrays (runtime/models/tensor.ts). One table, so metadata, decoding and encoding cannot disagree.
 * Pure: no I/O, unit-tested in test/v2-codec.test.ts.
 */
import { elementCarrier, type NumericArray } from '../../models/element-types.ts';
import { fromHalf, isHalfNonFinite, toHalf } from '../../models/half.ts';
import { largestFinite, type TaggedType } from '../../models/tensor.ts';

export const v2Datatypes = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
] as const;
export type V2Datatype = (typeof v2Datatypes)[number];

/** How the runtime carries a datatype. */
export interface Carrier {
  /** onnxruntime's name for the element type (what model metadata reports). */
  readonly ort: string;
  /** The typed array; undefined for BYTES, carried as string[]. */
  readonly array?: NumericArray;
  /** The tag the runtime's tensors need where the array alone is ambiguous (BOOL, FP16). */
  readonly tag?: TaggedType;
  /** Inclusive integer range JSON values must fit; undefined for floating point, BOOL and BYTES. */
  readonly range?: readonly [number, number];
}

// JSON numbers are doubles: a 64-bit integer beyond 2^53 cannot arrive intact, so JSON values are held to
// the safe range (the protocol has no string form for integers); binary carries the full range. The array
// and tag of each come from the runtime's one element-type table (models/element-types.ts).
const names: Record<V2Datatype, Omit<Carrier, 'array' | 'tag'>> = {
  BOOL: { ort: 'bool' },
  UINT8: { ort: 'uint8', range: [0, 255] },
  UINT16: { ort: 'uint16', range: [0, 2 ** 16 - 1] },
  UINT32: { ort: 'uint32', range: [0, 2 ** 32 - 1] },
  UINT64: { ort: 'uint64', range: [0, Number.MAX_SAFE_INTEGER] },
  INT8: { ort: 'int8', range: [-128, 127] },
  INT16: { ort: 'int16', range: [-(2 ** 15), 2 ** 15 - 1] },
  INT32: { ort: 'int32', range: [-(2 ** 31), 2 ** 31 - 1] },
  INT64: { ort: 'int64', range: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER] },
  FP16: { ort: 'float16' },
  FP32: { ort: 'float32' },
  FP64: { ort: 'float64' },
  BYTES: { ort: 'string' },
};
const table = Object.fromEntries(v2Datatypes.map((d) => [d, { ...names[d], ...elementCarrier(names[d].ort) }])) as Record<
  V2Datatype,
  Carrier
>;

const byOrt = new Map<string, V2Datatype>(v2Datatypes.map((d) => [table[d].ort, d]));

export function isV2Datatype(s: string): s is V2Datatype {
  return Object.hasOwn(table, s);
}

/** The v2 datatype of an onnxruntime element type, for metadata and responses; undefined for non-tensor values. */
export function fromOrtType(ort: string): V2Datatype | undefined {
  return byOrt.get(ort);
}

/** How the runtime carries `d`. */
export function carrier(d: V2Datatype): Carrier {
  return table[d];
}

/** Why an FP16 or FP32 element cannot be held; built only for an element that is out of range. */
function beyond(d: 'FP16' | 'FP32'): { why: string } {
  return { why: `beyond what ${d} holds (at most ±${largestFinite[table[d].ort]})` };
}

/**
 * One JSON value as the element `d` stores, or a reason it is not one: BOOL takes true/false, BYTES a string,
 * FP16 and FP32 a number within their finite range (FP16 rounded to the nearest half), integers a whole number
 * in their range.
 */
export function jsonElement(d: V2Datatype, v: unknown): number | bigint | string | { why: string } {
  if (d === 'BOOL') return typeof v === 'boolean' ? (v ? 1 : 0) : { why: 'not true or false' };
  if (d === 'BYTES') return typeof v === 'string' ? v : { why: 'not a string' };
  if (typeof v !== 'number') return { why: 'not a number' };
  // Beyond the largest finite value the conversion gives Infinity, and the model NaN (FP64 holds any JSON
  // number). Each is judged as its conversion rounds: 3.4028235e38, as other languages print the largest
  // float32, is taken, and so is 65519, which rounds to the largest half (65504).
  if (d === 'FP32' && !Number.isFinite(Math.fround(v))) return beyond(d);
  if (d === 'FP16') {
    const h = toHalf(v);
    return isHalfNonFinite(h) ? beyond(d) : h;
  }
  const range = table[d].range;
  if (range && (!Number.isInteger(v) || v < range[0] || v > range[1]))
    return {
      why: `not a ${d} (an integer from ${range[0]} to ${range[1]}${d.endsWith('64') ? ', the most JSON carries exactly; send larger ones as binary' : ''})`,
    };
  return d === 'INT64' || d === 'UINT64' ? BigInt(v) : v;
}

/** One stored element as its JSON value: BOOL as true/false, FP16 as the number, 64-bit integers as numbers. */
export function jsonValue(d: V2Datatype, x: number | bigint | string): number | boolean | string {
  if (d === 'BOOL') return x !== 0;
  if (d === 'FP16') return fromHalf(x as number);
  return typeof x === 'bigint' ? Number(x) : x;
}
