/**
 * The ONNX file format: the messages of onnx.proto (ONNX IR) that an inference graph with initializers uses, and
 * `encodeModel`, which serializes a model to the bytes of a `.onnx` file.
 *
 * Why protobufjs with the schema declared here: protobufjs is already qa-ft's protobuf library (TensorBoard event
 * files) and is well kept; the npm package that ships ONNX's schema (`onnx-proto`) is a static build pinned to
 * protobufjs 6 (a second, older copy of the library for a few message types). The declarations below carry
 * onnx.proto's own field names and numbers (IR version 8), so the wire format is protobufjs's, not hand-written.
 */
import protobuf from 'protobufjs';

/** onnx.proto's TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7 } as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** IR version 8 (ONNX 1.10+) carries opset 17; onnxruntime 1.2x and transformers.js load both. */
export const IR_VERSION = 8;
/** LayerNormalization is an ai.onnx operator from opset 17 (the oldest opset with every op the graphs use). */
export const OPSET = 17;

export interface TensorProto {
  name: string;
  dims: number[];
  data_type: DataTypeCode;
  /** Little-endian element bytes. */
  raw_data: Uint8Array;
}

export interface AttributeProto {
  name: string;
  /** onnx.proto's AttributeType: FLOAT 1, INT 2, TENSOR 4, INTS 7. */
  type: 1 | 2 | 4 | 7;
  f?: number;
  i?: number;
  t?: TensorProto;
  ints?: number[];
}

export interface NodeProto {
  name: string;
  op_type: string;
  input: string[];
  output: string[];
  attribute: AttributeProto[];
}

/** A graph input or output: a tensor of `elem_type` whose dimensions are numbers or named dynamic axes. */
export interface ValueInfo {
  name: string;
  elemType: DataTypeCode;
  dims: (number | string)[];
}

export interface GraphProto {
  name: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfo[];
  output: ValueInfo[];
}

const tensorFields = {
  dims: { rule: 'repeated', type: 'int64', id: 1 },
  data_type: { type: 'int32', id: 2 },
  name: { type: 'string', id: 8 },
  raw_data: { type: 'bytes', id: 9 },
};

const SCHEMA = protobuf.Root.fromJSON({
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            ir_version: { type: 'int64', id: 1 },
            producer_name: { type: 'string', id: 2 },
            graph: { type: 'GraphProto', id: 7 },
            opset_import: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
            metadata_props: { rule: 'repeated', type: 'StringStringEntryProto', id: 14 },
          },
        },
        OperatorSetIdProto: { fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } } },
        StringStringEntryProto: { fields: { key: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            op_type: { type: 'string', id: 4 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            t: { type: 'TensorProto', id: 5 },
            ints: { rule: 'repeated', type: 'int64', id: 8 },
            type: { type: 'int32', id: 20 },
          },
        },
        TensorProto: { fields: tensorFields },
        ValueInfoProto: { fields: { name: { type: 'string', id: 1 }, type: { type: 'TypeProto', id: 2 } } },
        TypeProto: {
          fields: { tensor_type: { type: 'Tensor', id: 1 } },
          nested: {
            Tensor: { fields: { elem_type: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 } } },
          },
        },
        TensorShapeProto: {
          fields: { dim: { rule: 'repeated', type: 'Dimension', id: 1 } },
          nested: {
            Dimension: { fields: { dim_value: { type: 'int64', id: 1 }, dim_param: { type: 'string', id: 2 } } },
          },
        },
      },
    },
  },
});
const MODEL = SCHEMA.lookupType('onnx.ModelProto');

function valueInfo(v: ValueInfo): object {
  const dim = v.dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d }));
  return { name: v.name, type: { tensor_type: { elem_type: v.elemType, shape: { dim } } } };
}

/** The bytes of a `.onnx` file holding `graph` (weights inline as initializers), with `metadata` as metadata_props. */
export function encodeModel(graph: GraphProto, metadata: Record<string, string> = {}): Uint8Array {
  const message = MODEL.fromObject({
    ir_version: IR_VERSION,
    producer_name: 'qa-ft',
    opset_import: [{ domain: '', version: OPSET }],
    metadata_props: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    graph: { ...graph, input: graph.input.map(valueInfo), output: graph.output.map(valueInfo) },
  });
  return MODEL.encode(message).finish();
}

/** A message of the schema decoded back to a plain object (tests read the files they wrote). */
export function decodeModel(bytes: Uint8Array): Record<string, unknown> {
  return MODEL.toObject(MODEL.decode(bytes), { longs: Number, defaults: false });
}
