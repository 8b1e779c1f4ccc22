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

/**
 * A function as its handler file declares it. `Schema` is any Standard Schema (zod, valibot, arktype...),
 * so the input type of `pre`, `post` and `example` follows from it.
 */
export interface FunctionDefinition<Schema extends StandardSchemaV1 = StandardSchemaV1, Result = unknown> {
  /** A model named in hono.config.ts. */
  readonly model: string;
  /** Latency objective of one call, e.g. `"50ms"`, `"0.5s"`, or ms. */
  readonly slo: Duration;
  /** Validates the JSON body; a failure is a 400 that lists what is wrong. */
  readonly input: Schema;
  /** One request -> one item (no batch dimension). Throwing here is a 400: the input could not be made into an item. */
  readonly pre: (input: StandardSchemaV1.InferOutput<Schema>) => ItemInput | Promise<ItemInput>;
  /** One output item -> the JSON reply. */
  readonly post: (output: ItemOutput, input: StandardSchemaV1.InferOutput<Schema>) => Result | Promise<Result>;
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
export function defineFunction<Schema extends StandardSchemaV1, Result>(definition: FunctionDefinition<Schema, Result>): FunctionDefinition<Schema, Result> {
  return definition;
}
