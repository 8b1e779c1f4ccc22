import type { WireTensor } from '../lanes/protocol.ts';
import { elementType, stack, tagOf, unstack, type ItemTensor } from '../models/tensor.ts';
import type { BatchMemory } from './batch-memory.ts';

/** One invocation's item, keyed by model input name, with its batched input first. */
export type ItemFeeds = Readonly<Record<string, ItemTensor>>;

/**
 * A batch's items as the tensors a lane runs, one per model input: stacked along a new batch axis, dynamic
 * dimensions padded with `padValue` (models/tensor.ts), each tagged with its onnxruntime element type; into
 * `memory`'s reused buffers when given.
 */
export function stackFeeds(items: readonly ItemFeeds[], padValue: number, memory?: BatchMemory): Record<string, WireTensor> {
  const feeds: Record<string, WireTensor> = {};
  for (const key of Object.keys(items[0])) {
    const t = stack(
      items.map((it) => it[key]),
      padValue,
      memory && ((like, n) => memory.take(like, n)),
    );
    feeds[key] = { type: elementType(t), data: t.data, dims: [...t.dims] };
  }
  return feeds;
}

/** A lane's batched outputs split back into `n` items' outputs, in batch order (views of the one buffer). */
export function splitOutputs(outputs: Readonly<Record<string, WireTensor>>, n: number): Record<string, ItemTensor>[] {
  const split: Record<string, ItemTensor[]> = {};
  for (const [name, out] of Object.entries(outputs)) split[name] = unstack({ data: out.data, dims: out.dims, type: tagOf(out.type) }, n);
  return Array.from({ length: n }, (_, i) => {
    const mine: Record<string, ItemTensor> = {};
    for (const name in split) mine[name] = split[name][i];
    return mine;
  });
}
