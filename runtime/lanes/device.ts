import PQueue from 'p-queue';
import { Lane, type LaneRun } from './lane.ts';
import type { LaneOptions, ModelMeta, ModelRef, WireTensor } from './protocol.ts';

export interface DeviceOptions extends LaneOptions {
  lanes: number;
}

/**
 * One accelerator (or the CPU) and its lanes. Batches of every model meet in one p-queue whose priority
 * is the batch's earliest deadline, so with several models on one device the most urgent batch runs next.
 */
export class Device {
  readonly #lanes: Lane[];
  readonly #free: Lane[];
  readonly #queue: PQueue;

  constructor(options: DeviceOptions) {
    this.#lanes = Array.from(
      { length: options.lanes },
      () => new Lane({ device: options.device, threads: options.threads, nativeLogLevel: options.nativeLogLevel }),
    );
    this.#free = [...this.#lanes];
    this.#queue = new PQueue({ concurrency: options.lanes });
  }

  /** Opens the model on every lane; resolves with its metadata. */
  async load(model: ModelRef): Promise<ModelMeta> {
    const metas = await Promise.all(this.#lanes.map((l) => l.load(model)));
    return metas[0];
  }

  /** Closes the model's sessions on every lane (the LRU evicted it); a later run opens it again. */
  async unload(name: string): Promise<void> {
    await Promise.all(this.#lanes.map((l) => l.unload(name)));
  }

  /**
   * Runs a batch on the first free lane. `deadlineMs` orders batches: the nearest deadline goes first.
   * Resolves when the batch has run; `waitMs` is the time it waited for a lane.
   */
  run(model: ModelRef, feeds: Record<string, WireTensor>, deadlineMs: number): Promise<LaneRun & { waitMs: number }> {
    const queuedAt = performance.now();
    return this.#queue.add(
      async () => {
        const lane = this.#free.pop()!;
        const waitMs = performance.now() - queuedAt;
        try {
          return { ...(await lane.run(model, feeds)), waitMs };
        } finally {
          this.#free.push(lane);
        }
      },
      // p-queue runs higher priority first; an earlier deadline must win.
      { priority: -deadlineMs },
    ) as Promise<LaneRun & { waitMs: number }>;
  }

  async close(): Promise<void> {
    await this.#queue.onIdle();
    await Promise.all(this.#lanes.map((l) => l.close()));
  }
}
