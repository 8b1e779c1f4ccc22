import type { StandardSchemaV1 } from '@standard-schema/spec';
import { BadInputError, HookTimeoutError } from '../errors.ts';
import type { ModelMeta } from '../lanes/protocol.ts';
import { fromHalf } from '../models/half.ts';
import { elementType, firstNonFinite, largestFinite, shapeMismatch, type ItemTensor } from '../models/tensor.ts';
import type { ItemFeeds } from '../batching/batch-feeds.ts';
import type { ItemInput, RawBody } from './define.ts';
import { isThenable, type HookLimits } from './hook-limits.ts';
import type { LoadedFunction } from './load.ts';

/** A body taken as raw bytes (the function's `raw` option): made only by the runtime, so never a JSON value. */
export class RawRequestBody implements RawBody {
  constructor(
    readonly body: Uint8Array,
    readonly contentType: string,
  ) {}
}

/**
 * Validates a body against the function's schema; a failure lists every issue with its path. Raw bytes have
 * no JSON to validate and go to `pre` as they are. Synchronous when the schema is (zod's are): a promise and
 * a turn of the microtask queue per call are worth saving on the hot path.
 */
export function validateInput(fn: LoadedFunction, body: unknown): unknown | Promise<unknown> {
  if (body instanceof RawRequestBody) return body;
  const schema = fn.definition.input as StandardSchemaV1;
  const result = schema['~standard'].validate(body);
  return result instanceof Promise ? result.then((r) => validated(fn, r)) : validated(fn, result);
}

function validated(fn: LoadedFunction, result: StandardSchemaV1.Result<unknown>): unknown {
  if (result.issues) {
    const issues = result.issues.map((i) => ({
      path: (i.path ?? []).map((p) => (typeof p === 'object' && p !== null && 'key' in p ? p.key : p)).join('.'),
      message: i.message,
    }));
    const first = issues[0];
    throw new BadInputError(
      'invalid_input',
      `input does not match the schema of "${fn.name}": ${first.path ? `${first.path}: ` : ''}${first.message}`,
      { issues },
    );
  }
  return result.value;
}

function isTensor(x: unknown): x is ItemTensor {
  return typeof x === 'object' && x !== null && ArrayBuffer.isView((x as ItemTensor).data) && Array.isArray((x as ItemTensor).dims);
}

/**
 * Runs `pre` and checks its item against the model's inputs, so a wrong shape is a 400 here and never
 * reaches a batch where it could fail its neighbours. With `limits`, a `pre` past its time limit fails the
 * call with a 504. Synchronous when `pre` is (it throws then rather than rejects).
 */
export function prepareItem(
  fn: LoadedFunction,
  input: unknown,
  meta: ModelMeta,
  batchedInput: string | undefined,
  limits?: HookLimits,
): ItemFeeds | Promise<ItemFeeds> {
  let made: ItemInput | PromiseLike<ItemInput>;
  try {
    made = fn.definition.pre(input as never);
  } catch (err) {
    throw preFailed(fn, err);
  }
  if (!isThenable(made)) return checkedItem(fn, made, meta, batchedInput);
  return Promise.resolve(limits ? limits.limit(made, fn.hookTimeoutMs, fn.name, 'pre') : made).then(
    (item) => checkedItem(fn, item, meta, batchedInput),
    (err: unknown) => {
      throw preFailed(fn, err);
    },
  );
}

/** A failed `pre` as the client sees it: its own time limit as it is, anything else a 400. */
function preFailed(fn: LoadedFunction, err: unknown): Error {
  if (err instanceof HookTimeoutError) return err;
  return new BadInputError('invalid_input', `"${fn.name}" could not prepare this input: ${(err as Error).message}`);
}

/** `pre`'s item as the model's feeds, checked input by input against the model's metadata. */
function checkedItem(fn: LoadedFunction, item: ItemInput, meta: ModelMeta, batchedInput: string | undefined): ItemFeeds {
  const mainInput = batchedInput ?? meta.inputs[0].name;
  const feeds: Record<string, ItemTensor> = isTensor(item) ? { [mainInput]: item } : { ...(item as Record<string, ItemTensor>) };
  for (const spec of meta.inputs) {
    const t = feeds[spec.name];
    if (!isTensor(t)) throw new BadInputError('bad_shape', `"${fn.name}" pre() gave no tensor for model input "${spec.name}"`);
    if (elementType(t) !== spec.type)
      throw new BadInputError('bad_shape', `input "${spec.name}" must be ${spec.type}, "${fn.name}" pre() gave ${elementType(t)}`);
    const why = shapeMismatch(t, spec.shape, spec.name);
    if (why) throw new BadInputError('bad_shape', why, { input: spec.name, dims: [...t.dims] });
    const at = firstNonFinite(t);
    if (at >= 0)
      throw nonFiniteInput(
        fn.name,
        spec.name,
        spec.type,
        at,
        t.type === 'float16' ? fromHalf(t.data[at] as number) : (t.data[at] as number),
      );
  }
  for (const key of Object.keys(feeds)) {
    if (!meta.inputs.some((i) => i.name === key))
      throw new BadInputError('bad_shape', `"${fn.name}" pre() gave "${key}", which is not an input of the model`);
  }
  return feeds;
}

/**
 * The 400 of an item whose floating-point tensor holds NaN or Infinity. From JSON it is almost always a
 * number beyond what the element type holds (1e308 becomes Infinity as float32), so the message names that
 * limit; the field of the request is the handler's to name (its schema), the model input is the runtime's.
 */
function nonFiniteInput(fn: string, input: string, type: string, index: number, value: number): BadInputError {
  const limit = largestFinite[type];
  return new BadInputError(
    'out_of_range',
    `input "${input}" of the model holds ${value} at element ${index} after "${fn}" pre(): a model input must be finite, and ${type} holds at most ±${limit} (is a value of the request beyond it?)`,
    { input, index, largest: limit },
  );
}
