/** The typed arrays a numeric tensor's elements live in. */
export type NumericData = Float32Array | Float64Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array | BigInt64Array | BigUint64Array;

/**
 * The element type where the array alone does not say it: `'bool'` (a Uint8Array of 0 and 1) and
 * `'float16'` (a Uint16Array of IEEE half bit patterns). Left out, the array's own type is meant.
 */
export type TaggedType = 'bool' | 'float16';

/** A typed-array class that can carry a numeric element type. */
export type NumericArray = { new (n: number): NumericData; new (buffer: ArrayBuffer): NumericData; readonly BYTES_PER_ELEMENT: number };

/** How the runtime carries one onnxruntime element type. */
export interface ElementCarrier {
  /** The typed array; undefined for `string`, carried as string[]. */
  readonly array?: NumericArray;
  /** The tag the runtime's tensors need where the array alone is ambiguous (bool, float16). */
  readonly tag?: TaggedType;
}

/**
 * Every onnxruntime element type the runtime carries, by onnxruntime's name, and its array: the one table
 * that tensors (models/tensor.ts), batch sizing (item-bytes.ts) and the v2 datatypes (server/v2/datatypes.ts)
 * read, so that they cannot disagree.
 */
const elementTypes: Readonly<Record<string, ElementCarrier>> = {
  float32: { array: Float32Array },
  float64: { array: Float64Array },
  float16: { array: Uint16Array, tag: 'float16' },
  int8: { array: Int8Array },
  int16: { array: Int16Array },
  int32: { array: Int32Array },
  int64: { array: BigInt64Array },
  uint8: { array: Uint8Array },
  uint16: { array: Uint16Array },
  uint32: { array: Uint32Array },
  uint64: { array: BigUint64Array },
  bool: { array: Uint8Array, tag: 'bool' },
  string: {},
};

/** How onnxruntime element type `ort` is carried, or undefined for a type the runtime does not carry. */
export function elementCarrier(ort: string): ElementCarrier | undefined {
  return Object.hasOwn(elementTypes, ort) ? elementTypes[ort] : undefined;
}

/** Bytes of one element of `ort`, or undefined where it has no fixed size (string) or is not carried. */
export function elementBytes(ort: string): number | undefined {
  return elementCarrier(ort)?.array?.BYTES_PER_ELEMENT;
}

/** The element type an untagged array stands for (a Uint8Array is uint8, a Uint16Array uint16). */
const untaggedByArray = new Map<unknown, string>(
  Object.entries(elementTypes).flatMap(([ort, c]) => (c.array && !c.tag ? [[c.array, ort] as const] : [])),
);

/**
 * The onnxruntime element type of a typed array by its class, without a tag; a subclass (Node's Buffer is a
 * Uint8Array) counts as uint8, as any byte array does.
 */
export function untaggedTypeOf(data: NumericData): string {
  return untaggedByArray.get(data.constructor) ?? 'uint8';
}
