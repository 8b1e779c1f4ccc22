/**
 * Items and batches as plain typed arrays, so they cross the worker boundary without copies of structure
 * and the stacking rules stay pure and testable. An item has no batch dimension; a batch adds it in front.
 */
import { isHalfNonFinite } from './half.ts';
import { elementCarrier, untaggedTypeOf, type NumericData, type TaggedType } from './element-types.ts';

export type { NumericData, TaggedType } from './element-types.ts';

/** Numbers in a typed array, or strings (onnxruntime's `string` tensors), which cross to a lane by structured clone. */
export type TensorData = NumericData | string[];

/** One item of one input or output: row-major data and its dimensions (no batch axis). */
export interface ItemTensor {
  readonly data: TensorData;
  readonly dims: readonly number[];
  readonly type?: TaggedType;
}

/** A batched tensor: `dims[0]` is the batch size. */
export interface BatchTensor {
  readonly data: TensorData;
  readonly dims: readonly number[];
  readonly type?: TaggedType;
}

/** A model input dimension from its metadata: a fixed size, or a name for a dynamic one. */
export type DimSpec = number | string;

/** Elements in a tensor of dimensions `dims`: their product (1 for a scalar). */
export function sizeOf(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/**
 * Why an item does not fit a model input whose shape (with the batch axis) is `spec`, or undefined when it fits.
 */
export function shapeMismatch(item: ItemTensor, spec: readonly DimSpec[] | undefined, inputName: string): string | undefined {
  const dims = item.dims;
  for (const d of dims) if (!(Number.isInteger(d) && d > 0)) return `input "${inputName}" has invalid dims ${shown(dims)}`;
  if (sizeOf(dims) !== item.data.length) return `input "${inputName}" has ${item.data.length} values but dims ${shown(dims)} need ${sizeOf(dims)}`;
  if (!spec) return undefined;
  if (dims.length !== spec.length - 1) return wrongShape(inputName, spec, dims);
  for (let i = 0; i < dims.length; i++) {
    const want = spec[i + 1];
    if (typeof want === 'number' && want > 0 && dims[i] !== want) return wrongShape(inputName, spec, dims);
  }
  return undefined;
}

// Every call's item is checked: the messages are built only for one that does not fit.
function shown(dims: readonly (number | string)[]): string {
  return `[${dims.join(', ')}]`;
}

function wrongShape(inputName: string, spec: readonly DimSpec[], dims: readonly number[]): string {
  const perItem = spec.slice(1).map((d) => (typeof d === 'number' ? d : '?'));
  return `input "${inputName}" must have shape ${shown(perItem)} per item, got ${shown(dims)}`;
}

/** True when two items can share a batch: same rank and, unless padding is allowed, the same dims. */
export function canShareBatch(a: readonly number[], b: readonly number[], pad: boolean): boolean {
  if (a.length !== b.length) return false;
  return pad || a.every((d, i) => d === b[i]);
}

/**
 * Stacks items into one batch. Items whose dims differ are padded at the end of each axis up to the
 * largest in the batch with `padValue` (what PaddleOCR's own batched predictor does for line widths).
 * `alloc` gives the batch's array (batching/batch-memory.ts reuses buffers); it need not be zeroed, as
 * every element is written.
 */
export function stack(items: readonly ItemTensor[], padValue = 0, alloc: (like: TensorData, n: number) => TensorData = allocLike): BatchTensor {
  if (items.length === 0) throw new RangeError('cannot stack an empty batch');
  const first = items[0];
  const rank = first.dims.length;
  const maxDims = first.dims.slice();
  for (const it of items) for (let a = 0; a < rank; a++) maxDims[a] = Math.max(maxDims[a], it.dims[a]);
  const per = sizeOf(maxDims);
  const out = alloc(first.data, per * items.length);
  const padded = items.some((it) => it.dims.some((d, a) => d !== maxDims[a]));
  if (padded && Array.isArray(out)) throw new RangeError('string tensors cannot be padded: items of different shapes must ride in different batches');
  if (padded) (out as Float32Array).fill(padValue);
  items.forEach((it, i) => {
    if (!padded || it.dims.every((d, a) => d === maxDims[a])) {
      copyInto(out, it.data, i * per);
      return;
    }
    copyPadded(it, maxDims, out, i * per);
  });
  return first.type ? { data: out, dims: [items.length, ...maxDims], type: first.type } : { data: out, dims: [items.length, ...maxDims] };
}

/** A zeroed array (empty strings for strings) of `n` elements of the same kind as `like`. */
export function allocLike(like: TensorData, n: number): TensorData {
  if (Array.isArray(like)) return new Array<string>(n).fill('');
  return new (like.constructor as new (n: number) => NumericData)(n);
}

/** Copies `src` into `out` from `offset`; both of one kind. */
export function copyInto(out: TensorData, src: TensorData, offset: number): void {
  if (Array.isArray(out)) for (let i = 0; i < src.length; i++) out[offset + i] = (src as string[])[i];
  else (out as Float32Array).set(src as Float32Array, offset);
}

/** Elements `from` to `to` of `data`: a view for a typed array, a copy for strings. */
export function sliceOf(data: TensorData, from: number, to: number): TensorData {
  return Array.isArray(data) ? data.slice(from, to) : (data.subarray(from, to) as NumericData);
}

/** Copies an item into a larger box, row by row along the last axis. */
function copyPadded(item: ItemTensor, box: readonly number[], out: TensorData, offset: number): void {
  const rank = box.length;
  const rowLen = item.dims[rank - 1];
  const rows = sizeOf(item.dims.slice(0, -1));
  const idx = new Array<number>(Math.max(0, rank - 1)).fill(0);
  for (let r = 0; r < rows; r++) {
    let dst = 0;
    for (let a = 0; a < rank - 1; a++) dst = dst * box[a] + idx[a];
    dst = dst * box[rank - 1];
    copyInto(out, sliceOf(item.data, r * rowLen, (r + 1) * rowLen), offset + dst);
    for (let a = rank - 2; a >= 0; a--) {
      if (++idx[a] < item.dims[a]) break;
      idx[a] = 0;
    }
  }
}

/** Splits a batched output back into `n` items, in order. The first axis must be the batch. */
export function unstack(batch: BatchTensor, n: number): ItemTensor[] {
  if (batch.dims[0] !== n) throw new RangeError(`output has batch dimension ${batch.dims[0]}, expected ${n}`);
  const dims = batch.dims.slice(1);
  const per = sizeOf(dims);
  const items: ItemTensor[] = [];
  // Views, not copies: the batch buffer came from the lane and is owned by these items alone.
  for (let i = 0; i < n; i++) {
    const data = sliceOf(batch.data, i * per, (i + 1) * per);
    items.push(batch.type ? { data, dims, type: batch.type } : { data, dims });
  }
  return items;
}

/** The onnxruntime element type name of an array, without a tag (see {@link elementType}). */
export function dataType(data: TensorData): string {
  return Array.isArray(data) ? 'string' : untaggedTypeOf(data);
}

/** The onnxruntime element type of a tensor: its tag, else what its array says. */
export function elementType(t: { readonly data: TensorData; readonly type?: TaggedType }): string {
  return t.type ?? dataType(t.data);
}

/** The tag a tensor of onnxruntime element type `ort` needs, if any (onnxruntime hands back 'bool' and 'float16' as plain arrays). */
export function tagOf(ort: string): TaggedType | undefined {
  return elementCarrier(ort)?.tag;
}

/**
 * The largest finite value of each floating-point element type. A JSON number beyond it cannot be held:
 * converting it gives Infinity (1e308 as float32), and a model fed Infinity answers NaN, a 200 with garbage.
 */
export const largestFinite: Readonly<Record<string, number>> = { float16: 65504, float32: 3.4028234663852886e38, float64: Number.MAX_VALUE };

/**
 * The index of the first element of a floating-point tensor that is not a finite number (NaN or
 * ±Infinity), or -1 when every element is finite or the type is not floating point. float16 is read from its
 * bit pattern (exponent bits all set). One pass, no allocation: it runs on every item before it is queued.
 */
export function firstNonFinite(t: { readonly data: TensorData; readonly type?: TaggedType }): number {
  const { data } = t;
  if (t.type === 'float16') {
    const h = data as Uint16Array;
    for (let i = 0; i < h.length; i++) if (isHalfNonFinite(h[i])) return i;
    return -1;
  }
  if (data instanceof Float32Array) return firstNonFinite32(data);
  if (data instanceof Float64Array) return firstNonFinite64(data);
  return -1;
}

// One loop per array type, so each stays monomorphic for the JIT. v - v is 0 for a finite v and NaN for NaN
// and ±Infinity.
function firstNonFinite32(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] - a[i] !== 0) return i;
  return -1;
}

function firstNonFinite64(a: Float64Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] - a[i] !== 0) return i;
  return -1;
}
