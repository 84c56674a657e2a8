/**
 * A trained model → its ONNX graphs: `model.onnx` (fp32, the weights as initializers) and `model_quantized.onnx`
 * (q8, quantize.ts), the files transformers.js reads from a model's `onnx/` folder. Inputs `input_ids`,
 * `attention_mask` (and `token_type_ids` where the family has a segment table), int64 [batch_size,
 * sequence_length]; outputs `start_logits` and `end_logits`, float32 [batch_size, sequence_length].
 */
import { QaFtError } from '../errors.js';
import type { ModelConfig } from '../model/config.js';
import { bertGraph } from './bert.js';
import { albertGraph } from './albert.js';
import { debertaV2Graph } from './deberta-v2.js';
import { distilBertGraph } from './distilbert.js';
import type { OnnxFamily } from './family.js';
import { GraphBuilder, type Weights } from './graph.js';
import { ATTENTION_MASK, INPUT_IDS, qaHead, TOKEN_TYPE_IDS } from './layers.js';
import { DataType, encodeModel, type GraphProto, type ValueInfo } from './proto.js';
import { quantizeMatMuls } from './quantize.js';

/** The folder of a model directory that transformers.js loads ONNX files from, and their names (fp32, q8). */
export const ONNX_DIR = 'onnx';
export const ONNX_FP32_FILE = 'model.onnx';
export const ONNX_Q8_FILE = 'model_quantized.onnx';

const DYNAMIC_AXES = ['batch_size', 'sequence_length'];

/** The families with an ONNX graph, in the order messages list them. */
const ONNX_FAMILIES = ['distilbert', 'bert', 'roberta', 'xlm-roberta', 'camembert', 'electra', 'albert', 'deberta-v2'];

function onnxFamily(c: ModelConfig): OnnxFamily {
  const modelType: string = c.modelType;
  switch (c.modelType) {
    case 'distilbert':
      return distilBertGraph(c);
    case 'bert':
      return bertGraph(c, 'bert');
    case 'roberta':
    case 'xlm-roberta':
    case 'camembert':
      return bertGraph(c, 'roberta');
    case 'electra':
      return bertGraph(c, 'electra');
    case 'albert':
      return albertGraph(c);
    case 'deberta-v2':
      return debertaV2Graph(c);
    default: // a family added to src/model before its graph here
      throw new QaFtError(
        'BAD_ARGUMENT',
        `no ONNX export for ${modelType} models (ONNX export covers ${ONNX_FAMILIES.join(', ')})`,
        {
          hint: 'export without --onnx: the Hugging Face files load in transformers and optimum exports them to ONNX',
        },
      );
  }
}

/** The graph's input names for a config, in order. */
export function onnxInputNames(c: ModelConfig): string[] {
  return onnxFamily(c).tokenTypeIds ? [INPUT_IDS, ATTENTION_MASK, TOKEN_TYPE_IDS] : [INPUT_IDS, ATTENTION_MASK];
}

/** The fp32 graph of a `…ForQuestionAnswering` with these weights (every parameter of the config, by HF name). */
export function qaGraph(c: ModelConfig, weights: Weights): GraphProto {
  const g = new GraphBuilder(weights);
  qaHead(g, onnxFamily(c).hidden(g));
  const io = (name: string, elemType: ValueInfo['elemType']): ValueInfo => ({
    name,
    elemType,
    dims: [...DYNAMIC_AXES],
  });
  return g.build(
    c.modelType,
    onnxInputNames(c).map((n) => io(n, DataType.INT64)),
    ['start_logits', 'end_logits'].map((n) => io(n, DataType.FLOAT)),
  );
}

/** The two files' bytes: fp32 and q8. */
export function onnxModels(c: ModelConfig, weights: Weights): { fp32: Uint8Array; q8: Uint8Array } {
  const graph = qaGraph(c, weights);
  return { fp32: encodeModel(graph), q8: encodeModel(quantizeMatMuls(graph)) };
}
