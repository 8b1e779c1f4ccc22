/**
 * What the v2 metadata routes answer: the server's name, version and extensions, and a model's inputs and
 * outputs as v2 tensors (datatype names of the protocol, -1 for a dynamic dimension).
 */
import { readFileSync } from 'node:fs';
import type { ModelMeta, ValueInfo } from '../../lanes/protocol.ts';
import { fromOrtType } from './datatypes.ts';

/** Every model has one version here: the file hono.config.ts names. */
export const modelVersion = '1';

const packageVersion = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** `GET /v2`: the binary tensor extension is the one extension served. */
export function serverMetadata() {
  return { name: 'edgebatch', version: packageVersion, extensions: ['binary_tensor_data'] };
}

/** A model input's shape as v2 reports it: -1 for a dynamic dimension. */
export function v2Shape(spec: readonly (number | string)[]): number[] {
  return spec.map((d) => (typeof d === 'number' ? d : -1));
}

function tensorMetadata(v: ValueInfo) {
  return { name: v.name, datatype: fromOrtType(v.type) ?? v.type, shape: v2Shape(v.shape) };
}

/** `GET /v2/models/{model}`: platform `onnxruntime_onnx`, as Triton names an ONNX Runtime model. */
export function modelMetadata(name: string, meta: ModelMeta) {
  return {
    name,
    versions: [modelVersion],
    platform: 'onnxruntime_onnx',
    inputs: meta.inputs.map(tensorMetadata),
    outputs: meta.outputs.map(tensorMetadata),
  };
}
