import { statSync } from 'node:fs';
import { LRUCache } from 'lru-cache';
import type { ResolvedModelConfig } from '../config.ts';
import type { Device } from '../lanes/device.ts';
import type { ModelMeta } from '../lanes/protocol.ts';

export interface LoadedModel {
  readonly config: ResolvedModelConfig;
  readonly meta: ModelMeta;
  /** Size of the model file: the cache's measure of what a loaded model costs. */
  readonly bytes: number;
}

/**
 * The models the runtime knows and which of them are open on the device. Open sessions are kept in an
 * lru-cache bounded by bytes; an evicted model's sessions are released and opened again on demand.
 */
export class ModelRegistry {
  readonly #configs: Record<string, ResolvedModelConfig>;
  /** The device a model runs on (its `device` in the config). */
  readonly #deviceOf: (model: string) => Device;
  readonly #loaded: LRUCache<string, LoadedModel>;
  readonly #loading = new Map<string, Promise<LoadedModel>>();
  /** Metadata outlives eviction: shapes are checked before a request queues, loaded or not. */
  readonly #meta = new Map<string, ModelMeta>();

  constructor(configs: Record<string, ResolvedModelConfig>, deviceOf: (model: string) => Device, maxBytes: number) {
    this.#configs = configs;
    this.#deviceOf = deviceOf;
    this.#loaded = new LRUCache<string, LoadedModel>({
      maxSize: maxBytes,
      sizeCalculation: (m) => Math.max(1, m.bytes),
      dispose: (m, name, reason) => {
        if (reason === 'evict' || reason === 'delete') void this.#deviceOf(name).unload(name).catch(() => {});
      },
    });
  }

  has(name: string): boolean {
    return name in this.#configs;
  }

  /** Metadata of a model that has been opened at least once. */
  meta(name: string): ModelMeta | undefined {
    return this.#meta.get(name);
  }

  isLoaded(name: string): boolean {
    return this.#loaded.has(name);
  }

  /** Opens the model on the device unless it is open, and marks it recently used. */
  async ensure(name: string): Promise<LoadedModel> {
    const hit = this.#loaded.get(name);
    if (hit) return hit;
    const inFlight = this.#loading.get(name);
    if (inFlight) return inFlight;
    const config = this.#configs[name];
    if (!config) throw new Error(`unknown model "${name}"`);
    const p = (async () => {
      const bytes = statSync(config.file).size;
      const meta = await this.#deviceOf(name).load({ name, file: config.file });
      const model: LoadedModel = { config, meta, bytes };
      this.#meta.set(name, meta);
      this.#loaded.set(name, model);
      return model;
    })().finally(() => this.#loading.delete(name));
    this.#loading.set(name, p);
    return p;
  }
}
