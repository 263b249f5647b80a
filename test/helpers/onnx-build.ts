/**
 * Tiny ONNX models built in TypeScript (with `onnx-proto`), for tests whose expected outputs can be
 * worked out by hand. Nothing here is shipped; the graphs use only standard ONNX ops (opset 17,
 * IR version 8), so onnxruntime-node runs them like any export.
 *
 * API
 *
 *   buildModel(spec: GraphSpec): Uint8Array
 *     A serialised ModelProto. `spec` = { inputs, outputs: TensorSpec[] ({ name, type: 'float32' |
 *     'int64', shape: (number | string)[] }, strings are symbolic axes), initializers:
 *     Initializer[] ({ name, dims, data: Float32Array | BigInt64Array }), nodes: NodeSpec[]
 *     ({ op, inputs, outputs, attrs? }), opset? (default 17) }. Attribute values: an integer
 *     number → INT, a non-integer number → FLOAT, `{ float: x }` → FLOAT (for integral floats such
 *     as Gemm's alpha = 1), number[] → INTS, Float32Array → FLOATS, string → STRING,
 *     `{ tensor: Initializer }` → TENSOR (Constant's `value`).
 *
 *   writeModel(file: string, bytes: Uint8Array): Promise<void>
 *     Writes the bytes, creating the parent folder.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export type ElemType = 'float32' | 'int64';

export interface TensorSpec {
  name: string;
  type: ElemType;
  /** Fixed sizes as numbers, symbolic axes ('batch', 'sequence') as strings. */
  shape: readonly (number | string)[];
}

export interface Initializer {
  name: string;
  dims: readonly number[];
  data: Float32Array | BigInt64Array;
}

export type AttrValue = number | readonly number[] | string | Float32Array | { float: number } | { tensor: Initializer };

export interface NodeSpec {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attrs?: Record<string, AttrValue>;
}

export interface GraphSpec {
  inputs: readonly TensorSpec[];
  outputs: readonly TensorSpec[];
  initializers?: readonly Initializer[];
  nodes: readonly NodeSpec[];
  /** Default opset 17. */
  opset?: number;
}

const DataType = onnx.TensorProto.DataType;
const AttrType = onnx.AttributeProto.AttributeType;

function elemType(t: ElemType): number {
  return t === 'float32' ? DataType.FLOAT : DataType.INT64;
}

function valueInfo(t: TensorSpec): onnxProto.onnx.IValueInfoProto {
  return {
    name: t.name,
    type: {
      tensorType: {
        elemType: elemType(t.type),
        shape: { dim: t.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function tensor(init: Initializer): onnxProto.onnx.ITensorProto {
  const count = init.dims.reduce((a, b) => a * b, 1);
  if (init.data.length !== count) {
    throw new Error(`initializer ${init.name}: dims [${init.dims.join(', ')}] need ${count} values, got ${init.data.length}`);
  }
  // raw_data is little-endian; so are the typed arrays on every machine we run on (x86, arm64).
  const raw = new Uint8Array(init.data.buffer.slice(init.data.byteOffset, init.data.byteOffset + init.data.byteLength));
  return {
    name: init.name,
    dims: [...init.dims],
    dataType: init.data instanceof Float32Array ? DataType.FLOAT : DataType.INT64,
    rawData: raw,
  };
}

function attribute(name: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  if (typeof v === 'number') {
    return Number.isInteger(v) ? { name, type: AttrType.INT, i: v } : { name, type: AttrType.FLOAT, f: v };
  }
  if (typeof v === 'string') return { name, type: AttrType.STRING, s: new TextEncoder().encode(v) };
  if (v instanceof Float32Array) return { name, type: AttrType.FLOATS, floats: [...v] };
  if (Array.isArray(v)) return { name, type: AttrType.INTS, ints: [...(v as readonly number[])] };
  if ('float' in v) return { name, type: AttrType.FLOAT, f: v.float };
  if ('tensor' in v) return { name, type: AttrType.TENSOR, t: tensor(v.tensor) };
  throw new Error(`attribute ${name}: unsupported value`);
}

/** A serialised ModelProto (IR version 8) for the graph. */
export function buildModel(spec: GraphSpec): Uint8Array {
  const model: onnxProto.onnx.IModelProto = {
    irVersion: 8,
    producerName: 'omnivec-test',
    opsetImport: [{ domain: '', version: spec.opset ?? 17 }],
    graph: {
      name: 'tiny',
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
      initializer: (spec.initializers ?? []).map(tensor),
      node: spec.nodes.map((n, i) => ({
        name: `${n.op.toLowerCase()}_${i}`,
        opType: n.op,
        input: [...n.inputs],
        output: [...n.outputs],
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
      })),
    },
  };
  const err = onnx.ModelProto.verify(model);
  if (err !== null) throw new Error(`ModelProto: ${err}`);
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** Writes a model's bytes to `file`, creating the folder. */
export async function writeModel(file: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, bytes);
}
