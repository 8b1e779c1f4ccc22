import { allocLike, type NumericData, type TensorData } from '../models/tensor.ts';

/** Smallest buffer kept, bytes: below it a fresh one costs about nothing. */
const minPooledBytes = 4096;

/**
 * Reusable memory for stacked batch inputs: seed 002's batch memory that is ready before the batch is.
 *
 * A stacked input used to be a fresh typed array per batch, transferred to the lane and dropped there. In a
 * CPU profile allocating and first writing it cost more per batch than the run's whole hand-over besides:
 * fresh pages are faulted in on first touch. A lane now hands each input buffer back with its outputs, and
 * the next batch of that size class is stacked into it. Buffers come in power-of-two byte sizes, so the
 * varying sizes of one model's batches share a few classes; at most `keepPerSize` wait per class (about one
 * per lane is ever in flight), the rest are left to the GC.
 *
 * A reused buffer is not zeroed: `stack` overwrites every element, and fills padding itself.
 */
export class BatchMemory {
  readonly #free = new Map<number, ArrayBuffer[]>();
  readonly #keepPerSize: number;

  constructor(keepPerSize = 4) {
    this.#keepPerSize = keepPerSize;
  }

  /**
   * An array of `n` elements of the same kind as `like`, over a pooled buffer when there is one (its
   * contents then left from an earlier batch). Strings have no buffer and get a fresh array.
   */
  take(like: TensorData, n: number): TensorData {
    if (Array.isArray(like) || n * like.BYTES_PER_ELEMENT < minPooledBytes) return allocLike(like, n);
    const size = sizeClass(n * like.BYTES_PER_ELEMENT);
    const buffer = this.#free.get(size)?.pop() ?? new ArrayBuffer(size);
    return new (like.constructor as new (buffer: ArrayBuffer, byteOffset: number, length: number) => NumericData)(buffer, 0, n);
  }

  /** Buffers a lane handed back after a run, ready for later batches. */
  give(buffers: readonly ArrayBuffer[]): void {
    for (const b of buffers) {
      if (b.byteLength < minPooledBytes || b.byteLength !== sizeClass(b.byteLength)) continue;
      let list = this.#free.get(b.byteLength);
      if (!list) this.#free.set(b.byteLength, (list = []));
      if (list.length < this.#keepPerSize) list.push(b);
    }
  }

  /** Buffers waiting, over every size class. */
  get pooled(): number {
    let n = 0;
    for (const list of this.#free.values()) n += list.length;
    return n;
  }
}

/** The power of two at or above `bytes`. */
function sizeClass(bytes: number): number {
  return 2 ** Math.ceil(Math.log2(bytes));
}
