/**
 * The Open Inference Protocol's tensor datatypes and how each maps onto onnxruntime's element types and the
 * runtime's typed arrays. One table, so metadata, decoding and encoding cannot disagree.
 */
import type { TensorData } from '../../models/tensor.ts';

export const v2Datatypes = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'] as const;
export type V2Datatype = (typeof v2Datatypes)[number];

/** A datatype the runtime can carry through a batch: its typed array and the integer range JSON values must fit. */
export interface Runnable {
  readonly array: { new (n: number): TensorData; new (buffer: ArrayBuffer): TensorData; readonly BYTES_PER_ELEMENT: number };
  /** Inclusive integer range, or undefined for floating point. */
  readonly range?: readonly [number, number];
}

interface Entry {
  /** onnxruntime's name for the element type (what model metadata reports). */
  readonly ort: string;
  /** Undefined where the runtime's tensors (runtime/models/tensor.ts) have no typed array for it. */
  readonly runnable?: Runnable;
}

const table: Record<V2Datatype, Entry> = {
  BOOL: { ort: 'bool' },
  UINT8: { ort: 'uint8', runnable: { array: Uint8Array, range: [0, 255] } },
  UINT16: { ort: 'uint16' },
  UINT32: { ort: 'uint32' },
  UINT64: { ort: 'uint64' },
  INT8: { ort: 'int8', runnable: { array: Int8Array, range: [-128, 127] } },
  INT16: { ort: 'int16' },
  INT32: { ort: 'int32', runnable: { array: Int32Array, range: [-(2 ** 31), 2 ** 31 - 1] } },
  // JSON numbers are doubles: an INT64 beyond 2^53 cannot arrive intact, so JSON values are held to the safe range.
  INT64: { ort: 'int64', runnable: { array: BigInt64Array, range: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER] } },
  FP16: { ort: 'float16' },
  FP32: { ort: 'float32', runnable: { array: Float32Array } },
  FP64: { ort: 'float64', runnable: { array: Float64Array } },
  BYTES: { ort: 'string' },
};

const byOrt = new Map<string, V2Datatype>(v2Datatypes.map((d) => [table[d].ort, d]));

export function isV2Datatype(s: string): s is V2Datatype {
  return Object.hasOwn(table, s);
}

/** The v2 datatype of an onnxruntime element type, for metadata and responses; undefined for non-tensor values. */
export function fromOrtType(ort: string): V2Datatype | undefined {
  return byOrt.get(ort);
}

/** How the runtime carries `d`, or undefined when it cannot (see the table above). */
export function runnable(d: V2Datatype): Runnable | undefined {
  return table[d].runnable;
}
