import { writeFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/**
 * Writes an Identity model, `y = x`, for one ONNX element type (onnx.TensorProto.DataType): a real model
 * whose input and output have that type, so a datatype can be shown to round-trip through a batch.
 */
export function writeIdentityModel(file: string, elemType: number, dims: (number | string)[] = ['N', 3]): void {
  writeGraph(file, {
    name: 'identity',
    node: [onnx.NodeProto.create({ opType: 'Identity', input: ['x'], output: ['y'] })],
    input: [valueInfo('x', elemType, dims)],
    output: [valueInfo('y', elemType, dims)],
  });
}

/**
 * Writes a tiny ONNX model that fails at run time on demand: `values = Gather(table, index)` with a
 * 4-row table. An index outside 0..3 passes every shape check but makes onnxruntime throw, which is
 * how a real model run fails; tests use it to prove a failed batch fails only its own items.
 * Input `index` int64 [N]; output `values` float32 [N, 2] (row i is [i, 10 i]).
 */
export function writeLookupModel(file: string): void {
  const table = new Float32Array([0, 0, 1, 10, 2, 20, 3, 30]);
  writeGraph(file, {
    name: 'lookup',
    node: [
      onnx.NodeProto.create({
        opType: 'Gather',
        input: ['table', 'index'],
        output: ['values'],
        attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }],
      }),
    ],
    initializer: [
      onnx.TensorProto.create({
        name: 'table',
        dims: [4, 2],
        dataType: onnx.TensorProto.DataType.FLOAT,
        rawData: new Uint8Array(table.buffer),
      }),
    ],
    input: [valueInfo('index', onnx.TensorProto.DataType.INT64, ['N'])],
    output: [valueInfo('values', onnx.TensorProto.DataType.FLOAT, ['N', 2])],
  });
}

/** Writes a one-graph model at opset 17. */
function writeGraph(file: string, graph: onnxProto.onnx.IGraphProto): void {
  const model = onnx.ModelProto.create({ irVersion: 8, producerName: 'edgebatch test', opsetImport: [{ domain: '', version: 17 }], graph });
  writeFileSync(file, onnx.ModelProto.encode(model).finish());
}

export function valueInfo(name: string, elemType: number, dims: (number | string)[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  });
}
