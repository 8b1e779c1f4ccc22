import { Worker } from 'node:worker_threads';
import {
  transferList,
  type LaneOptions,
  type LaneReply,
  type LaneRequest,
  type ModelMeta,
  type ModelRef,
  type WireTensor,
} from './protocol.ts';
import { workerEntry } from '../build-mode.ts';

/** What one batch's run gives back. */
export interface LaneRun {
  outputs: Record<string, WireTensor>;
  /** Device time of the run alone, ms. */
  runMs: number;
  /** The input buffers, back from the worker for reuse. */
  inputs: ArrayBuffer[];
}

type Pending = { resolve: (r: LaneReply & { ok: true }) => void; reject: (e: Error) => void };
type DistributiveOmit<T, K extends keyof any> = T extends unknown ? Omit<T, K> : never;

/**
 * The main thread's handle on one lane worker: request/reply by id. If the worker dies, every request in
 * flight fails with the reason and a fresh worker takes its place, so one crash costs one batch.
 */
export class Lane {
  readonly #options: LaneOptions;
  readonly #pending = new Map<number, Pending>();
  #worker!: Worker;
  #nextId = 1;
  #closed = false;

  constructor(options: LaneOptions) {
    this.#options = options;
    this.#spawn();
  }

  #spawn(): void {
    const worker = new Worker(workerEntry('lane-worker', new URL('./lane-bootstrap.mjs', import.meta.url)), { workerData: this.#options });
    worker.on('message', (reply: LaneReply) => {
      const p = this.#pending.get(reply.id);
      if (!p) return;
      this.#pending.delete(reply.id);
      if (reply.ok) p.resolve(reply);
      else p.reject(new Error(reply.error));
    });
    const fail = (reason: string) => {
      for (const p of this.#pending.values()) p.reject(new Error(reason));
      this.#pending.clear();
      if (!this.#closed) this.#spawn();
    };
    worker.on('error', (err: Error) => fail(`lane worker crashed: ${err.message}`));
    worker.on('exit', (code) => {
      if (this.#worker === worker && !this.#closed) fail(`lane worker exited with code ${code}`);
    });
    this.#worker = worker;
  }

  #request(req: DistributiveOmit<LaneRequest, 'id'>, transfer: ArrayBuffer[] = []): Promise<LaneReply & { ok: true }> {
    if (this.#closed) return Promise.reject(new Error('lane is closed'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ ...req, id }, transfer);
    });
  }

  /** Opens (or reuses) a session and returns its input and output metadata. */
  async load(model: ModelRef): Promise<ModelMeta> {
    return (await this.#request({ type: 'load', model })).meta!;
  }

  /**
   * Runs one batch; the feeds' buffers are transferred to the worker, which hands them back as `inputs`
   * once the run is over. `runMs` is the device time alone.
   */
  async run(model: ModelRef, feeds: Record<string, WireTensor>): Promise<LaneRun> {
    const transfer = transferList(Object.values(feeds));
    const reply = await this.#request({ type: 'run', model, feeds }, transfer);
    return { outputs: reply.outputs!, runMs: reply.runMs!, inputs: reply.inputs ?? [] };
  }

  async unload(name: string): Promise<void> {
    await this.#request({ type: 'unload', name });
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#worker.terminate();
    for (const p of this.#pending.values()) p.reject(new Error('lane closed'));
    this.#pending.clear();
  }
}
