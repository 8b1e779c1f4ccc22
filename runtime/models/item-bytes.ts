import type { ModelMeta } from '../lanes/protocol.ts';
import { elementBytes } from './element-types.ts';
import { sizeOf } from './tensor.ts';


/**
 * Bytes one item adds to a batch: every input and output tensor's elements past the batch axis (the first),
 * times the element size. These are what a batch must hold on the device besides the weights, and they grow
 * with the batch; activations inside the graph are not visible here (hence the headroom the README asks for).
 *
 * @throws Error naming the tensor when a dimension past the batch axis is not fixed (a text line's width,
 *   say): its bytes per item depend on the request, so a byte budget cannot become a batch cap.
 * @example bytesPerItem(meta, 'mlp') // 128-in, 10-out float32 MLP: (128 + 10) * 4 = 552
 */
export function bytesPerItem(meta: ModelMeta, model: string): number {
  let total = 0;
  for (const v of [...meta.inputs, ...meta.outputs]) {
    const size = elementBytes(v.type);
    if (size === undefined) throw new Error(`model "${model}": maxBatchBytes cannot size tensor "${v.name}" of type ${v.type}`);
    const rest = v.shape.slice(1);
    const dynamic = rest.find((d) => typeof d !== 'number');
    if (dynamic !== undefined) {
      throw new Error(`model "${model}": maxBatchBytes needs fixed item shapes, but tensor "${v.name}" has a dynamic dimension "${dynamic}" past the batch axis; use maxBatch instead`);
    }
    total += size * sizeOf(rest as number[]);
  }
  return total;
}
