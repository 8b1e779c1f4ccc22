/**
 * Generates the deterministic synthetic ONNX models used by the examples,
 * tests and benchmarks (no weights are downloaded):
 *
 *   models/mlp-large.onnx  128 -> 2048 -> 2048 -> 10   (~18 MB of float32 weights)
 *   models/mlp-small.onnx  128 -> 64 -> 10
 *
 * Each model is a plain MLP: Gemm + Relu per hidden layer and a final Gemm,
 * input `x` float32 [N, 128] (N is a symbolic dim_param), output `logits`
 * float32 [N, 10]. Weights are He-uniform (U(-sqrt(6/fan_in), +sqrt(6/fan_in)))
 * and biases U(-0.1, 0.1), drawn from a mulberry32 PRNG seeded per model, so
 * the bytes are identical on every run and machine. The large model is big
 * enough that one batched call is much cheaper than many single-row calls,
 * which is what the runtime's batching is meant to exploit.
 *
 * Idempotent: the bytes are regenerated in memory (fast) and compared by
 * sha256 with the file on disk; the file is only (atomically) rewritten when
 * it is missing or differs.
 *
 * Usage:  npx tsx scripts/gen-models.ts
 *         import { ensureModels } from './scripts/gen-models.ts'
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import onnxProto from 'onnx-proto';
import { mulberry32 } from '../runtime/scheduler/arrivals.ts';

const { onnx } = onnxProto;

export const MODELS_DIR = fileURLToPath(new URL('../models/', import.meta.url));

export interface MlpSpec {
  /** file name under models/ */
  file: string;
  /** layer widths, input first, output last */
  layers: number[];
  seed: number;
}

export const MODEL_SPECS = {
  large: { file: 'mlp-large.onnx', layers: [128, 2048, 2048, 10], seed: 0x5eed_0001 },
  small: { file: 'mlp-small.onnx', layers: [128, 64, 10], seed: 0x5eed_0002 },
} as const satisfies Record<string, MlpSpec>;

export type ModelName = keyof typeof MODEL_SPECS;
export type ModelPaths = Record<ModelName, string>;

/** count float32 values in U(-limit, limit), serialised little-endian (ONNX raw_data layout). */
function uniformRaw(rand: () => number, count: number, limit: number): Uint8Array {
  const bytes = new Uint8Array(count * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < count; i++) view.setFloat32(i * 4, (rand() * 2 - 1) * limit, true);
  return bytes;
}

function floatTensor(name: string, dims: number[], rawData: Uint8Array) {
  return onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData });
}

function floatValueInfo(name: string, dims: Array<number | string>) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  });
}

/** Serialises the MLP described by `spec` to ONNX ModelProto bytes (deterministic). */
export function buildMlpModel(spec: MlpSpec): Uint8Array {
  const rand = mulberry32(spec.seed);
  const { layers } = spec;
  const initializer = [];
  const node = [];
  let current = 'x';
  for (let l = 0; l + 1 < layers.length; l++) {
    const fanIn = layers[l];
    const fanOut = layers[l + 1];
    const w = `fc${l}.weight`;
    const b = `fc${l}.bias`;
    initializer.push(floatTensor(w, [fanIn, fanOut], uniformRaw(rand, fanIn * fanOut, Math.sqrt(6 / fanIn))));
    initializer.push(floatTensor(b, [fanOut], uniformRaw(rand, fanOut, 0.1)));
    const last = l + 2 === layers.length;
    const gemmOut = last ? 'logits' : `fc${l}.out`;
    node.push(onnx.NodeProto.create({ name: `fc${l}`, opType: 'Gemm', input: [current, w, b], output: [gemmOut] }));
    if (!last) {
      const reluOut = `relu${l}.out`;
      node.push(onnx.NodeProto.create({ name: `relu${l}`, opType: 'Relu', input: [gemmOut], output: [reluOut] }));
      current = reluOut;
    }
  }
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'edgebatch/scripts/gen-models.ts',
    producerVersion: '1',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: path.basename(spec.file, '.onnx'),
      node,
      initializer,
      input: [floatValueInfo('x', ['N', layers[0]])],
      output: [floatValueInfo('logits', ['N', layers[layers.length - 1]])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function readIfExists(file: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export interface EnsureOptions {
  /** print one status line per model (default true) */
  log?: boolean;
}

/** Makes sure models/*.onnx exist with the expected content; returns their absolute paths. */
export async function ensureModels(opts: EnsureOptions = {}): Promise<ModelPaths> {
  const log = opts.log ?? true;
  await mkdir(MODELS_DIR, { recursive: true });
  const paths = {} as ModelPaths;
  for (const name of Object.keys(MODEL_SPECS) as ModelName[]) {
    const spec: MlpSpec = MODEL_SPECS[name];
    const file = path.join(MODELS_DIR, spec.file);
    const bytes = buildMlpModel(spec);
    const want = sha256(bytes);
    const existing = await readIfExists(file);
    let status: string;
    if (existing && existing.length === bytes.length && sha256(existing) === want) {
      status = 'up to date';
    } else {
      // write to a unique temp file then rename, so concurrent callers never see a partial model
      const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
      try {
        await writeFile(tmp, bytes);
        await rename(tmp, file);
      } finally {
        await rm(tmp, { force: true });
      }
      status = existing ? 'rewritten' : 'written';
    }
    if (log) {
      const mb = (bytes.length / 1e6).toFixed(1);
      console.log(`models/${spec.file}: ${status} (${spec.layers.join('-')}, ${mb} MB, sha256 ${want.slice(0, 12)})`);
    }
    paths[name] = file;
  }
  return paths;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await ensureModels();
}
