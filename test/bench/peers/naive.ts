/**
 * Peer 1, naive: Hono + @hono/node-server and one `session.run` per request, on the main thread, as a
 * user would first write it. Same handlers, same intra-op thread count as a runtime lane.
 */
import { rowOf, runPeer, timedRun } from './peer-kit.ts';

let batchId = 0;
await runPeer((stats) => async (model, item) => {
  const out = await timedRun(model, item.data as Float32Array, [1, ...item.dims], stats);
  return { output: rowOf(out, 0), batchSize: 1, batchId: ++batchId };
});
