/**
 * Peer 2, DataLoader batching: one `dataloader` per model with its default schedule, so every item that
 * reaches `load()` within one tick becomes one `session.run` (up to the model's maxBatch), on the main
 * thread. Same handlers, same intra-op thread count as a runtime lane.
 */
import DataLoader from 'dataloader';
import type { ItemTensor } from 'edgebatch';
import { rowOf, runPeer, timedRun, type Inferred, type PeerModel } from './peer-kit.ts';

let batchId = 0;
await runPeer((stats) => {
  const loaders = new Map<PeerModel, DataLoader<ItemTensor, Inferred>>();
  const loaderFor = (model: PeerModel) => {
    let l = loaders.get(model);
    if (!l) {
      l = new DataLoader<ItemTensor, Inferred>(
        async (items) => {
          const per = items[0].data.length;
          const data = new Float32Array(per * items.length);
          items.forEach((it, i) => data.set(it.data as Float32Array, i * per));
          const out = await timedRun(model, data, [items.length, ...items[0].dims], stats);
          const id = ++batchId;
          return items.map((_, i) => ({ output: rowOf(out, i), batchSize: items.length, batchId: id }));
        },
        { cache: false, maxBatchSize: model.maxBatch },
      );
      loaders.set(model, l);
    }
    return l;
  };
  return (model, item) => loaderFor(model).load(item);
});
