import type { DeviceKind } from '../config.ts';
import type { NativeLogLevel } from '../models/providers.ts';
import type { TensorData } from '../models/tensor.ts';

/**
 * Messages between the main thread and a lane worker. Numeric tensors travel as transferred typed arrays;
 * string tensors (string[]) are structured-cloned, having no buffer to transfer.
 */
export interface WireTensor {
  type: string;
  data: TensorData;
  dims: number[];
}

export interface ModelRef {
  name: string;
  file: string;
}

export interface LaneOptions {
  device: DeviceKind;
  threads: number;
  /** onnxruntime's own logger in the lane (providers.ts: nativeLogLevel), from the runtime's log level. */
  nativeLogLevel: NativeLogLevel;
}

export interface ValueInfo {
  name: string;
  type: string;
  /** Dimensions; strings are dynamic (named) dimensions. */
  shape: (number | string)[];
}

export interface ModelMeta {
  inputs: ValueInfo[];
  outputs: ValueInfo[];
}

export type LaneRequest =
  | { id: number; type: 'load'; model: ModelRef }
  | { id: number; type: 'run'; model: ModelRef; feeds: Record<string, WireTensor> }
  | { id: number; type: 'unload'; name: string };

export type LaneReply =
  | {
      id: number;
      ok: true;
      meta?: ModelMeta;
      outputs?: Record<string, WireTensor>;
      runMs?: number;
      /** A run's input buffers, handed back for the next batches (batching/batch-memory.ts). */
      inputs?: ArrayBuffer[];
    }
  | { id: number; ok: false; error: string };

/** The buffers of `tensors` to transfer with a message (each once; string tensors have none). */
export function transferList(tensors: Iterable<WireTensor>): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const t of tensors) if (!Array.isArray(t.data)) out.add(t.data.buffer as ArrayBuffer);
  return [...out];
}
