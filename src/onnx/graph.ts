/**
 * `GraphBuilder`: an ONNX graph assembled node by node, with the model's weights as initializers. Node outputs get
 * generated names (`MatMul_12`), parameters keep their Hugging Face names (a torch.nn.Linear weight, stored
 * transposed for MatMul, as `<name>_t`), and each initializer is added once however often it is used (ALBERT's
 * shared layers).
 */
import type { HostTensor } from '../model/safetensors.js';
import {
  DataType,
  type AttributeProto,
  type DataTypeCode,
  type GraphProto,
  type NodeProto,
  type TensorProto,
  type ValueInfo,
} from './proto.js';

/** Parameters by Hugging Face name, as read from model.safetensors. */
export type Weights = ReadonlyMap<string, HostTensor>;

/** Attribute helpers: onnx.proto's AttributeType INT (2), FLOAT (1), INTS (7). */
export const intAttr = (name: string, i: number): AttributeProto => ({ name, type: 2, i });
export const floatAttr = (name: string, f: number): AttributeProto => ({ name, type: 1, f });
export const intsAttr = (name: string, ints: number[]): AttributeProto => ({ name, type: 7, ints });

/** The little-endian bytes of a typed array (a view where the machine is little-endian, as every Node target is). */
export function leBytes(a: Float32Array | Int8Array | Uint8Array | BigInt64Array): Uint8Array {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1)
    throw new Error('big-endian hosts are not supported by the ONNX writer');
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export function tensorProto(
  name: string,
  dims: readonly number[],
  dataType: DataTypeCode,
  data: Float32Array | Int8Array | Uint8Array | BigInt64Array,
): TensorProto {
  return { name, dims: [...dims], data_type: dataType, raw_data: leBytes(data) };
}

export class GraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers = new Map<string, TensorProto>();
  private counter = 0;

  constructor(private readonly weights: Weights) {}

  /** A node with `outputs` outputs; returns their names. */
  node(opType: string, inputs: readonly string[], attribute: AttributeProto[] = [], outputs = 1): string[] {
    const id = this.counter++;
    const names = Array.from({ length: outputs }, (_, k) =>
      outputs === 1 ? `${opType}_${id}` : `${opType}_${id}_${k}`,
    );
    this.nodes.push({ name: `${opType}_${id}`, op_type: opType, input: [...inputs], output: names, attribute });
    return names;
  }

  /** A single-output node; returns its output's name. */
  op(opType: string, inputs: readonly string[], attribute: AttributeProto[] = []): string {
    return this.node(opType, inputs, attribute)[0] as string;
  }

  /** A node whose single output has a given name (the graph's outputs). */
  named(output: string, opType: string, inputs: readonly string[], attribute: AttributeProto[] = []): string {
    this.nodes.push({ name: output, op_type: opType, input: [...inputs], output: [output], attribute });
    return output;
  }

  /** A float32 constant initializer. */
  floats(values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.initializer(`const_${this.counter++}`, dims, DataType.FLOAT, Float32Array.from(values));
  }

  /** An int64 constant initializer (shapes, axes, indices). */
  int64s(values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.initializer(`const_${this.counter++}`, dims, DataType.INT64, BigInt64Array.from(values.map(BigInt)));
  }

  /** A parameter as stored: `name` itself. */
  param(name: string): string {
    if (this.initializers.has(name)) return name;
    const w = this.weight(name);
    return this.initializer(name, w.shape, DataType.FLOAT, w.data);
  }

  /** Row `row` of a [rows, E] parameter as a [E] constant (RoBERTa's single token type embedding). */
  paramRow(name: string, row: number): string {
    const key = `${name}_row${row}`;
    if (this.initializers.has(key)) return key;
    const w = this.weight(name);
    const width = w.shape[1] ?? 0;
    return this.initializer(key, [width], DataType.FLOAT, w.data.slice(row * width, (row + 1) * width));
  }

  /** A torch.nn.Linear weight [out, in] transposed to [in, out] for MatMul, as `<name>_t`. */
  paramTransposed(name: string): string {
    const key = `${name}_t`;
    if (this.initializers.has(key)) return key;
    const w = this.weight(name);
    const [rows, cols] = [w.shape[0] ?? 0, w.shape[1] ?? 0]; // [out, in]
    const t = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w.data[r * cols + c] as number;
    return this.initializer(key, [cols, rows], DataType.FLOAT, t); // [in, out]
  }

  build(name: string, inputs: ValueInfo[], outputs: ValueInfo[]): GraphProto {
    return {
      name,
      node: [...this.nodes],
      initializer: [...this.initializers.values()],
      input: inputs,
      output: outputs,
    };
  }

  private weight(name: string): HostTensor {
    const w = this.weights.get(name);
    if (w === undefined) throw new Error(`ONNX export: parameter ${name} missing`); // the export checks every name first
    return w;
  }

  private initializer(
    name: string,
    dims: readonly number[],
    dataType: DataTypeCode,
    data: Float32Array | BigInt64Array,
  ): string {
    this.initializers.set(name, tensorProto(name, dims, dataType, data));
    return name;
  }
}
