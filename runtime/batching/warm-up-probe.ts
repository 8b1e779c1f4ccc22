import type { ModelRef } from '../lanes/protocol.ts';
import type { BatchDevice } from './batch-device.ts';
import { stackFeeds, type ItemFeeds } from './batch-feeds.ts';

/**
 * The warm-up probe: copies of one item at each of `sizes`, run straight on the device one after another
 * (no queue, no deadline: nothing else is waiting before the first call), each run's device time handed to
 * `measured`. Gives the scheduler's cost fit its anchors before the first request.
 */
export async function probeBatchCosts(
  device: BatchDevice,
  model: ModelRef,
  item: ItemFeeds,
  padValue: number,
  sizes: readonly number[],
  measured: (size: number, runMs: number) => void,
): Promise<void> {
  for (const b of sizes) {
    const feeds = stackFeeds(
      Array.from({ length: b }, () => item),
      padValue,
    );
    const { runMs } = await device.run(model, feeds, -Infinity);
    measured(b, runMs);
  }
}
