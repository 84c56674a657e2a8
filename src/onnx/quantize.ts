/**
 * q8: dynamic int8 quantization of a graph's MatMul weights — the `model_quantized.onnx` that transformers.js loads
 * by default — in the form onnxruntime's `quantize_dynamic(weight_type=QInt8)` writes (QOperator format, per
 * tensor, `MatMulConstBOnly`): each MatMul whose second input is a float initializer becomes
 *
 *   DynamicQuantizeLinear(x) → x_q (uint8), x_scale, x_zero_point          (once per activation tensor)
 *   MatMulInteger(x_q, W_q, x_zero_point, W_zero_point) → int32
 *   Cast(float) · (x_scale · W_scale)                                       (the MatMul's original output)
 *
 * with W_q = clip(round_half_even(W / s), −127, 127) as int8, s = max|W| / 127 (the symmetric range, zero point
 * 0), as onnxruntime's quant_utils computes it. MatMuls of two activations (attention scores and context) stay
 * float, and so do embeddings, LayerNorm and biases.
 */
import { tensorProto } from './graph.js';
import { DataType, type GraphProto, type NodeProto, type TensorProto } from './proto.js';

const INT8_SYMMETRIC_MAX = 127; // onnxruntime's symmetric int8 range is [−127, 127]
const FLOAT32_TINY = 1.1754943508222875e-38; // numpy.finfo(float32).tiny: below it the scale is 1

/** numpy's round: halves to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** A float32 tensor's symmetric per-tensor int8 quantization: its values and scale. */
export function quantizeWeight(w: Float32Array): { q: Int8Array; scale: number } {
  let absMax = 0;
  for (const v of w) absMax = Math.max(absMax, Math.abs(v));
  let scale = Math.fround((2 * absMax) / (2 * INT8_SYMMETRIC_MAX));
  if (scale < FLOAT32_TINY) scale = 1;
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) {
    q[i] = Math.min(
      INT8_SYMMETRIC_MAX,
      Math.max(-INT8_SYMMETRIC_MAX, roundHalfEven(Math.fround((w[i] as number) / scale))),
    );
  }
  return { q, scale };
}

function floatData(t: TensorProto): Float32Array {
  const bytes = t.raw_data;
  if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  return new Float32Array(bytes.slice().buffer); // unaligned view: copy
}

/**
 * `graph` with every MatMul by a float initializer dynamically quantized; the float weights it replaced are dropped.
 */
export function quantizeMatMuls(graph: GraphProto): GraphProto {
  const initializers = new Map(graph.initializer.map((t) => [t.name, t]));
  const added = new Map<string, TensorProto>();
  const quantizedActivations = new Set<string>();
  const nodes: NodeProto[] = [];
  const node = (
    op_type: string,
    name: string,
    input: string[],
    output: string[],
    attribute: NodeProto['attribute'] = [],
  ): void => {
    nodes.push({ name, op_type, input, output, attribute });
  };
  for (const n of graph.node) {
    const [x, b] = n.input;
    const w = b === undefined ? undefined : initializers.get(b);
    if (
      n.op_type !== 'MatMul' ||
      x === undefined ||
      w === undefined ||
      w.data_type !== DataType.FLOAT ||
      w.dims.length !== 2
    ) {
      nodes.push(n);
      continue;
    }
    const [xq, xScale, xZero] = [`${x}_quantized`, `${x}_scale`, `${x}_zero_point`];
    if (!quantizedActivations.has(x)) {
      node('DynamicQuantizeLinear', `${x}_QuantizeLinear`, [x], [xq, xScale, xZero]);
      quantizedActivations.add(x);
    }
    const [wq, wScale, wZero] = [`${w.name}_quantized`, `${w.name}_scale`, `${w.name}_zero_point`];
    if (!added.has(wq)) {
      const { q, scale } = quantizeWeight(floatData(w));
      added.set(wq, tensorProto(wq, w.dims, DataType.INT8, q));
      added.set(wScale, tensorProto(wScale, [], DataType.FLOAT, Float32Array.of(scale)));
      added.set(wZero, tensorProto(wZero, [], DataType.INT8, Int8Array.of(0)));
    }
    const out = n.output[0] ?? n.name;
    node('MatMulInteger', `${n.name}_quant`, [xq, wq, xZero, wZero], [`${out}_output_quantized`]);
    node(
      'Cast',
      `${n.name}_cast`,
      [`${out}_output_quantized`],
      [`${out}_output_quantized_cast`],
      [{ name: 'to', type: 2, i: DataType.FLOAT }],
    );
    node('Mul', `${n.name}_scales_mul`, [xScale, wScale], [`${n.name}_scales`]);
    node('Mul', `${n.name}_output_scale_mul`, [`${out}_output_quantized_cast`, `${n.name}_scales`], [out]);
  }
  const used = new Set(nodes.flatMap((n) => n.input));
  const kept = graph.initializer.filter((t) => used.has(t.name));
  return { ...graph, node: nodes, initializer: [...kept, ...added.values()] };
}
