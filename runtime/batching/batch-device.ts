import type { ModelMeta, ModelRef, WireTensor } from '../lanes/protocol.ts';

/**
 * What the batcher needs of a device: run one batch on a lane, timed. lanes/device.ts's Device is one; a
 * unit test's recording fake is another.
 */
export interface BatchDevice {
  /**
   * Runs `feeds` on a lane; batches wait for a lane nearest `deadlineMs` first. `runMs`: the run alone;
   * `inputs`: the feeds' buffers handed back for reuse, where the device does that.
   */
  run(
    model: ModelRef,
    feeds: Record<string, WireTensor>,
    deadlineMs: number,
  ): Promise<{ outputs: Record<string, WireTensor>; runMs: number; inputs?: ArrayBuffer[] }>;
}

/** What the batcher needs of the model registry: the model open before a batch, and its metadata. */
export interface BatchModels {
  ensure(name: string): Promise<unknown>;
  meta(name: string): ModelMeta | undefined;
}
