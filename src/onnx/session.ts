/**
 * An exported ONNX model run with onnxruntime-node (an optional package: `qa-ft evaluate --engine onnx` and the
 * export's tests use it) behind QaModel's inference surface, so evaluation and answering take it as they take the
 * TF.js model: QaBatches in, start/end logits (and, for labelled batches, Hugging Face's QA loss) out. It holds no
 * trainable parameters; the training members refuse. onnxruntime-node is imported on first use, so qa-ft runs
 * without it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { QaFtError } from '../errors.js';
import { loadConfig, type ModelConfig } from '../model/config.js';
import { qaLossOfRows } from '../model/qa-head.js';
import type { QaModel } from '../model/types.js';
import { ONNX_DIR, ONNX_FP32_FILE, ONNX_Q8_FILE, onnxInputNames } from './model.js';

type Ort = typeof import('onnxruntime-node');

async function loadOrt(): Promise<Ort> {
  try {
    return await import('onnxruntime-node');
  } catch {
    throw new QaFtError('BACKEND_UNAVAILABLE', 'the onnx engine needs onnxruntime-node, which is not installed', {
      hint: 'npm install onnxruntime-node (ONNXRUNTIME_NODE_INSTALL=skip: its CPU binaries ship in the package)',
    });
  }
}

/** A QaModel for inference whose forward pass is an ONNX file's session. */
export interface OnnxQaModel extends QaModel {
  /** The .onnx file it runs. */
  readonly path: string;
}

function int64Matrix(ort: Ort, rows: readonly (readonly number[])[], t: number): InstanceType<Ort['Tensor']> {
  const data = new BigInt64Array(rows.length * t);
  rows.forEach((row, i) => row.forEach((v, j) => (data[i * t + j] = BigInt(v))));
  return new ort.Tensor('int64', data, [rows.length, t]);
}

function matrix(data: Float32Array, b: number, t: number): number[][] {
  return Array.from({ length: b }, (_, i) => Array.from(data.subarray(i * t, (i + 1) * t)));
}

/** Opens `path` (a model.onnx or model_quantized.onnx exported for `config`) on onnxruntime's CPU provider. */
export async function openOnnxModel(
  path: string,
  config: ModelConfig,
  options: { threads?: number } = {},
): Promise<OnnxQaModel> {
  const ort = await loadOrt();
  let session: Awaited<ReturnType<Ort['InferenceSession']['create']>>;
  try {
    session = await ort.InferenceSession.create(path, {
      executionProviders: ['cpu'],
      ...(options.threads === undefined ? {} : { intraOpNumThreads: options.threads }),
    });
  } catch (e) {
    throw new QaFtError('BAD_FORMAT', `${path}: onnxruntime cannot load it (${(e as Error).message.split('\n')[0]})`, {
      hint: 'export it again with qa-ft export --onnx',
    });
  }
  const names = onnxInputNames(config);
  const missing = names.filter((n) => !session.inputNames.includes(n));
  if (missing.length > 0) {
    throw new QaFtError(
      'BAD_FORMAT',
      `${path}: inputs are ${session.inputNames.join(', ')}, expected ${names.join(', ')} for a ${config.modelType} model`,
    );
  }
  const inferenceOnly = (what: string): never => {
    throw new QaFtError('BAD_ARGUMENT', `${path}: the onnx engine runs inference only (${what} needs the TF.js model)`);
  };
  return {
    config,
    path,
    backend: 'onnxruntime',
    params: new Map(),
    logits: () => inferenceOnly('logits as tensors'),
    lossAndGradients: () => inferenceOnly('training'),
    save: async () => inferenceOnly('save'),
    async forward(batch) {
      const b = batch.inputIds.length;
      const t = batch.inputIds[0]?.length ?? 0;
      const feeds: Record<string, InstanceType<Ort['Tensor']>> = {
        input_ids: int64Matrix(ort, batch.inputIds, t),
        attention_mask: int64Matrix(ort, batch.attentionMask, t),
      };
      if (names.includes('token_type_ids'))
        feeds.token_type_ids = int64Matrix(ort, batch.tokenTypeIds ?? batch.inputIds.map((r) => r.map(() => 0)), t);
      const out = await session.run(feeds);
      const start = out.start_logits?.data;
      const end = out.end_logits?.data;
      if (!(start instanceof Float32Array) || !(end instanceof Float32Array))
        throw new QaFtError('BAD_FORMAT', `${path}: no float32 start_logits/end_logits outputs`);
      const [startLogits, endLogits] = [matrix(start, b, t), matrix(end, b, t)];
      const { startPositions: s, endPositions: e } = batch;
      if (s === undefined || e === undefined) return { startLogits, endLogits };
      return { startLogits, endLogits, loss: qaLossOfRows(startLogits, endLogits, s, e) };
    },
    dispose() {
      // onnxruntime-node frees the native session synchronously; release() only wraps that in a promise
      session.release().catch(() => undefined);
    },
  };
}

/** `qa-ft evaluate --engine`'s ONNX choices: the export's file each runs. */
export const ONNX_ENGINES = { onnx: ONNX_FP32_FILE, 'onnx-q8': ONNX_Q8_FILE } as const;
export type OnnxEngine = keyof typeof ONNX_ENGINES;

/** The ONNX model of an export directory (`qa-ft export --onnx`), with the directory's config.json. */
export async function openOnnxExport(dir: string, engine: OnnxEngine): Promise<OnnxQaModel> {
  const path = join(dir, ONNX_DIR, ONNX_ENGINES[engine]);
  if (!existsSync(path)) {
    throw new QaFtError(
      'FILE_NOT_FOUND',
      `${path} does not exist: --engine ${engine} runs the ONNX files of a qa-ft export --onnx directory`,
      {
        hint: `qa-ft export --model ${dir} --out EXPORT_DIR --onnx, then --model EXPORT_DIR`,
      },
    );
  }
  const config = await loadConfig(dir);
  return openOnnxModel(path, config);
}
