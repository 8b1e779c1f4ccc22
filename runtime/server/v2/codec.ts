/**
 * v2 tensors to the runtime's items and back, pure. A request tensor of shape [n, ...] becomes n rows, each
 * one item per model input, exactly what a function's `pre` gives; the rows' outputs are put back together
 * as [n, ...] tensors. Every check that can fail a request runs here, before anything is queued, so a bad
 * request is a 400 of its own and never reaches a batch where it could fail its neighbours.
 */
import type { ItemFeeds } from '../../batching/batch-feeds.ts';
import { BadInputError, EdgebatchError } from '../../errors.ts';
import type { ModelMeta, ValueInfo } from '../../lanes/protocol.ts';
import {
  allocLike,
  copyInto,
  elementType,
  firstNonFinite,
  sizeOf,
  sliceOf,
  type ItemTensor,
  type TensorData,
} from '../../models/tensor.ts';
import { carrier, fromOrtType, isV2Datatype, jsonElement, jsonValue, v2Datatypes, type V2Datatype } from './datatypes.ts';
import { v2Shape } from './metadata.ts';
import type { RequestInput, RequestOutput } from './schema.ts';

function bad(message: string): BadInputError {
  return new BadInputError('bad_request', message);
}

const show = (spec: readonly (number | string)[]) => `[${v2Shape(spec).join(', ')}]`;

/** Why a request shape does not fit a model input (with the batch axis first), or undefined when it fits. */
export function shapeProblem(name: string, shape: readonly number[], spec: readonly (number | string)[]): string | undefined {
  if (shape.length !== spec.length)
    return `input "${name}" must have ${spec.length} dimensions, shape ${show(spec)}, got [${shape.join(', ')}]`;
  if (shape[0] < 1) return `input "${name}" has a batch dimension of ${shape[0]}; at least one row is needed`;
  for (let i = 1; i < shape.length; i++) {
    const want = spec[i];
    if (shape[i] < 1) return `dimension ${i} of input "${name}" is ${shape[i]}; every dimension must be at least 1`;
    if (typeof want === 'number' && want >= 0 && shape[i] !== want)
      return `dimension ${i} of input "${name}" must be ${want} (model shape ${show(spec)}), got [${shape.join(', ')}]`;
  }
  return undefined;
}

/** What kind of JSON value `v` is, for error messages. */
function kind(v: unknown): string {
  return v === null
    ? 'null'
    : Array.isArray(v)
      ? 'an array'
      : typeof v === 'string'
        ? `the string ${JSON.stringify(v.slice(0, 20))}`
        : `${typeof v} ${String(v)}`;
}

/** How deep the first elements of `data` are nested (1 for a flat array). */
function depthOf(data: unknown[]): number {
  let depth = 1;
  let a: unknown = data[0];
  while (Array.isArray(a)) {
    depth++;
    a = a[0];
  }
  return depth;
}

/** Fills the datatype's array from JSON `data`, flat or nested exactly as deep as the shape. */
function fromJson(name: string, datatype: V2Datatype, data: unknown, shape: readonly number[]): TensorData {
  if (!Array.isArray(data)) throw bad(`data of input "${name}" must be an array, got ${kind(data)}`);
  const count = sizeOf(shape);
  const depth = depthOf(data);
  if (depth !== 1 && depth !== shape.length) {
    throw bad(
      `data of input "${name}" is nested ${depth} deep but its shape [${shape.join(', ')}] has ${shape.length} dimensions: send it flat, or nested exactly ${shape.length} deep`,
    );
  }
  if (depth === 1 && data.length !== count)
    throw bad(`input "${name}" has ${data.length} values but shape [${shape.join(', ')}] needs ${count}`);
  const array = carrier(datatype).array;
  const out: TensorData = array ? new array(count) : new Array<string>(count);
  let k = 0;
  const put = (v: unknown, where: string) => {
    const x = jsonElement(datatype, v);
    if (typeof x === 'object') throw bad(`${where} of input "${name}" is ${typeof v === 'number' ? v : kind(v)}, ${x.why}`);
    (out as unknown as (typeof x)[])[k++] = x;
  };
  if (depth === 1) {
    for (let i = 0; i < data.length; i++) put(data[i], `data[${i}]`);
    return out;
  }
  // Nested: every level must be an array of exactly its dimension, scalars only at the last level.
  const walk = (a: unknown, d: number, where: string): void => {
    if (!Array.isArray(a))
      throw bad(`${where} of input "${name}" is ${kind(a)}, expected an array of ${shape[d]} (shape [${shape.join(', ')}])`);
    if (a.length !== shape[d])
      throw bad(`${where} of input "${name}" has ${a.length} entries but shape [${shape.join(', ')}] says ${shape[d]}`);
    if (d === shape.length - 1) for (let i = 0; i < a.length; i++) put(a[i], `${where}[${i}]`);
    else for (let i = 0; i < a.length; i++) walk(a[i], d + 1, `${where}[${i}]`);
  };
  walk(data, 0, 'data');
  return out;
}

/** Reads a binary chunk as the datatype's array; its size must be exactly what shape and datatype need. */
function fromBinary(name: string, datatype: V2Datatype, chunk: Buffer, shape: readonly number[]): TensorData {
  const array = carrier(datatype).array;
  if (!array) return bytesFromBinary(name, chunk, sizeOf(shape));
  const need = sizeOf(shape) * array.BYTES_PER_ELEMENT;
  if (chunk.length !== need)
    throw bad(`binary_data_size of input "${name}" is ${chunk.length} bytes; shape [${shape.join(', ')}] of ${datatype} needs ${need}`);
  // A copy into a fresh, aligned buffer (a chunk may start at any offset in the body). The protocol's
  // little-endian bytes are read as they are: x64 and arm64 hosts are little-endian.
  const copy = new ArrayBuffer(need);
  new Uint8Array(copy).set(chunk);
  const out = new array(copy);
  // BOOL is one byte per element; any byte but 0 is true, stored as onnxruntime's 1.
  if (datatype === 'BOOL') for (let i = 0; i < out.length; i++) out[i] = out[i] ? 1 : 0;
  return out;
}

/** BYTES in binary form: each element a 4-byte little-endian length, then that many bytes (read as UTF-8). */
export function bytesFromBinary(name: string, chunk: Buffer, count: number): string[] {
  const out: string[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 4 > chunk.length)
      throw bad(`binary data of BYTES input "${name}" ends at element ${i} of ${count}: its 4-byte length is missing`);
    const len = chunk.readUInt32LE(at);
    at += 4;
    if (at + len > chunk.length) throw bad(`element ${i} of BYTES input "${name}" says ${len} bytes but only ${chunk.length - at} remain`);
    out.push(chunk.toString('utf8', at, at + len));
    at += len;
  }
  if (at !== chunk.length)
    throw bad(`binary data of BYTES input "${name}" has ${chunk.length - at} bytes left after its ${count} elements`);
  return out;
}

/** Strings in BYTES binary form (see {@link bytesFromBinary}). */
export function bytesToBinary(data: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const s of data) {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    parts.push(len, b);
  }
  return Buffer.concat(parts);
}

export interface DecodeLimits {
  /** Most elements one request tensor may have; refused before anything is allocated. */
  readonly maxElements: number;
}

/**
 * Checks a request's inputs against the model and cuts them into rows: one {@link ItemFeeds} per entry of
 * the batch dimension, views into one buffer per input. `chunks[i]` is input i's binary data, if it came so.
 */
export function decodeRows(
  inputs: readonly RequestInput[],
  chunks: readonly (Buffer | undefined)[],
  meta: ModelMeta,
  model: string,
  limits: DecodeLimits,
): ItemFeeds[] {
  const specs = new Map(meta.inputs.map((s) => [s.name, s]));
  const seen = new Set<string>();
  for (const input of inputs) {
    if (!specs.has(input.name))
      throw bad(`model "${model}" has no input "${input.name}"; its inputs are ${[...specs.keys()].map((n) => `"${n}"`).join(', ')}`);
    if (seen.has(input.name)) throw bad(`input "${input.name}" is given twice`);
    seen.add(input.name);
  }
  for (const name of specs.keys()) if (!seen.has(name)) throw bad(`input "${name}" of model "${model}" is missing`);

  const tensors = inputs.map((input, i) => ({
    name: input.name,
    shape: input.shape,
    data: decodeInput(input, chunks[i], specs.get(input.name)!, model, limits),
    tag: carrier(input.datatype as V2Datatype).tag,
  }));
  const n = tensors[0].shape[0];
  for (const t of tensors)
    if (t.shape[0] !== n)
      throw bad(`inputs disagree on the batch dimension: "${tensors[0].name}" has ${n} rows, "${t.name}" has ${t.shape[0]}`);

  const rows: Record<string, ItemTensor>[] = Array.from({ length: n }, () => ({}));
  for (const spec of meta.inputs) {
    const t = tensors.find((x) => x.name === spec.name)!;
    const dims = t.shape.slice(1);
    const per = sizeOf(dims);
    for (let r = 0; r < n; r++) {
      const data = sliceOf(t.data, r * per, (r + 1) * per);
      rows[r][spec.name] = t.tag ? { data, dims, type: t.tag } : { data, dims };
    }
  }
  return rows;
}

function decodeInput(input: RequestInput, chunk: Buffer | undefined, spec: ValueInfo, model: string, limits: DecodeLimits): TensorData {
  const { name, datatype, shape } = input;
  if (!isV2Datatype(datatype)) throw bad(`datatype "${datatype}" of input "${name}" is not one of ${v2Datatypes.join(', ')}`);
  const want = fromOrtType(spec.type);
  if (datatype !== want) throw bad(`input "${name}" of model "${model}" takes ${want ?? spec.type}, got ${datatype}`);
  const why = shapeProblem(name, shape, spec.shape);
  if (why) throw bad(why);
  const count = sizeOf(shape);
  if (count > limits.maxElements)
    throw bad(
      `input "${name}" has shape [${shape.join(', ')}], ${count} elements: more than one request may carry (${limits.maxElements})`,
    );
  if (chunk && input.data !== undefined) throw bad(`input "${name}" has both data and binary_data_size; send one`);
  if (chunk) {
    const data = fromBinary(name, datatype, chunk, shape);
    // Binary floats can carry NaN and Infinity bit patterns, which JSON cannot: refused as a function's item is.
    const at = firstNonFinite({ data, type: carrier(datatype).tag });
    if (at >= 0) throw bad(`element ${at} of input "${name}" (binary ${datatype}) is NaN or Infinity; a model input must be finite`);
    return data;
  }
  if (input.data === undefined) throw bad(`input "${name}" has no data (and no binary_data_size)`);
  return fromJson(name, datatype, input.data, shape);
}

/** One output as the request asked for it. */
export interface OutputChoice {
  readonly name: string;
  readonly binary: boolean;
}

/**
 * Which outputs to return and how: the requested ones (each must exist), else every model output; binary
 * where the output asks (`binary_data`) or, failing that, the request does (`binary_data_output`).
 */
export function chooseOutputs(
  requested: readonly RequestOutput[] | undefined,
  parameters: Record<string, unknown> | undefined,
  meta: ModelMeta,
  model: string,
): OutputChoice[] {
  const allBinary = parameters?.binary_data_output === true;
  if (!requested) return meta.outputs.map((o) => ({ name: o.name, binary: allBinary }));
  return requested.map((o) => {
    if (!meta.outputs.some((m) => m.name === o.name))
      throw bad(`model "${model}" has no output "${o.name}"; its outputs are ${meta.outputs.map((m) => `"${m.name}"`).join(', ')}`);
    const b = o.parameters?.binary_data;
    return { name: o.name, binary: typeof b === 'boolean' ? b : allBinary };
  });
}

/** An output put back together from its rows: [n, ...item dims]. */
export interface GatheredOutput {
  readonly name: string;
  readonly datatype: string;
  readonly shape: number[];
  readonly data: TensorData;
}

/** Concatenates each row's slice of an output, in row order. */
export function gatherOutput(name: string, rows: readonly ItemTensor[]): GatheredOutput {
  const dims = rows[0].dims;
  for (const r of rows) {
    // Rows of one request can ride in different batches; padded differently, their outputs would not stack.
    if (r.dims.length !== dims.length || r.dims.some((d, i) => d !== dims[i])) {
      throw new EdgebatchError(
        'run_failed',
        500,
        `output "${name}" came back with different shapes for rows of one request ([${dims.join(', ')}] and [${r.dims.join(', ')}])`,
      );
    }
  }
  const per = sizeOf(dims);
  const data = allocLike(rows[0].data, per * rows.length);
  rows.forEach((r, i) => copyInto(data, r.data, i * per));
  const ort = elementType(rows[0]);
  return { name, datatype: fromOrtType(ort) ?? ort, shape: [rows.length, ...dims], data };
}

/** An output tensor of the response: data inline as a flat JSON array, or its byte size with the bytes after the header. */
export function encodeOutput(o: GatheredOutput, binary: boolean): { tensor: Record<string, unknown>; chunk?: Buffer } {
  const head = { name: o.name, datatype: o.datatype, shape: o.shape };
  const d = o.datatype as V2Datatype;
  if (!binary) return { tensor: { ...head, data: Array.from(o.data as ArrayLike<number | bigint | string>, (x) => jsonValue(d, x)) } };
  const chunk = Array.isArray(o.data) ? bytesToBinary(o.data) : Buffer.from(o.data.buffer, o.data.byteOffset, o.data.byteLength);
  return { tensor: { ...head, parameters: { binary_data_size: chunk.length } }, chunk };
}
