import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Duration } from '../duration.ts';
import type { ItemTensor } from '../models/tensor.ts';

/** What `pre` returns: one item of the model's batched input, or one item per input name. */
export type ItemInput = ItemTensor | Readonly<Record<string, ItemTensor>>;

/** What `post` receives: the item's slice of the model's first output, and every output by name. */
export interface ItemOutput {
  readonly output: ItemTensor;
  readonly outputs: Readonly<Record<string, ItemTensor>>;
}

/** A request body taken as it came, for a function that declares {@link RawOption}: the bytes and their type. */
export interface RawBody {
  readonly body: Uint8Array;
  /** The request's media type, lower case, without parameters (e.g. `image/png`). */
  readonly contentType: string;
}

/** Which non-JSON bodies a function takes as raw bytes. */
export interface RawOption {
  /**
   * Media types taken as raw bytes (`image/png`, `application/octet-stream`), or a whole family
   * (`image/*`). A body of another non-JSON type is answered 415.
   */
  readonly types: readonly string[];
}

/** What `pre` and `post` receive: the validated JSON input, or, for a function that takes raw bytes, a {@link RawBody}. */
export type HookInput<Schema extends StandardSchemaV1, Raw extends RawOption | undefined> =
  StandardSchemaV1.InferOutput<Schema> | (Raw extends RawOption ? RawBody : never);

/**
 * A function as its handler file declares it. `Schema` is any Standard Schema (zod, valibot, arktype...),
 * so the input type of `pre`, `post` and `example` follows from it.
 */
export interface FunctionDefinition<
  Schema extends StandardSchemaV1 = StandardSchemaV1,
  Result = unknown,
  Raw extends RawOption | undefined = RawOption | undefined,
> {
  /** A model named in hono.config.ts. */
  readonly model: string;
  /** Latency objective of one call, e.g. `"50ms"`, `"0.5s"`, or ms. */
  readonly slo: Duration;
  /** Validates the JSON body; a failure is a 400 that lists what is wrong. */
  readonly input: Schema;
  /**
   * Also take the request body as raw bytes when its Content-Type is one of `types` (e.g. a PNG posted
   * with `content-type: image/png`). Such a call skips `input` and `pre`/`post` get a {@link RawBody}
   * instead, so `pre` checks the bytes itself (a throw is a 400). JSON bodies are validated as always.
   */
  readonly raw?: Raw;
  /** One request -> one item (no batch dimension). Throwing here is a 400: the input could not be made into an item. */
  readonly pre: (input: HookInput<Schema, Raw>) => ItemInput | Promise<ItemInput>;
  /** One output item -> the JSON reply. */
  readonly post: (output: ItemOutput, input: HookInput<Schema, Raw>) => Result | Promise<Result>;
  /** A valid input, shown by `GET /functions/:name` and used by smoke tests and the warm-up probe. */
  readonly example: StandardSchemaV1.InferInput<Schema>;
  /** One line for listings. */
  readonly description?: string;
  /**
   * Longest `pre` and `post` may each take for one call; past it the call is answered 504 `hook_timeout`.
   * Default: `limits.hookTimeoutFactor` (10) times the SLO, at least 1 s.
   */
  readonly hookTimeout?: Duration;
  /** When the SLO cannot be met: `shed` answers 503 at once (default), `serve-late` queues anyway. */
  readonly overload?: 'shed' | 'serve-late';
}

/**
 * Declares a function in a handler file. A typed identity: it gives the handler author completion and
 * type errors and does nothing at run time; the loader validates the shape.
 *
 * @example
 * import { z } from 'zod';
 * import { defineFunction } from 'edgebatch';
 * export default defineFunction({
 *   model: 'mlp',
 *   slo: '50ms',
 *   input: z.object({ features: z.array(z.number()).length(128) }),
 *   pre: ({ features }) => ({ data: Float32Array.from(features), dims: [128] }),
 *   post: ({ output }) => ({ label: argmax(output.data) }),
 *   example: { features: new Array(128).fill(0) },
 * });
 */
export function defineFunction<Schema extends StandardSchemaV1, Result, Raw extends RawOption | undefined = undefined>(
  definition: FunctionDefinition<Schema, Result, Raw>,
): FunctionDefinition<Schema, Result, Raw> {
  return definition;
}
