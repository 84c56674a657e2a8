/**
 * `exportModel`: a trained model directory → a clean Hugging Face model directory that `from_pretrained`,
 * the hub and qa-ft all load: `config.json` (architectures the family's …ForQuestionAnswering), `model.safetensors`,
 * the tokenizer files and a model card README.md with the training metrics. Checkpoints, optimizer state,
 * logs and curves stay behind. The weights are checked against the config (every HF name, shape and a float
 * dtype) before anything is written, and the directory appears complete or not at all. With `onnx`, also
 * `onnx/model.onnx` (fp32) and `onnx/model_quantized.onnx` (q8) beside them: the layout transformers.js's
 * `pipeline('question-answering', dir)` loads (it reads tokenizer.json, so that file is required then).
 *
 * Imports the model's config and safetensors parsers (rather than a second copy of them in src/hub): an
 * export must accept exactly what `loadQaModel` accepts.
 */
import { copyFile, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { firstLine, QaFtError } from '../errors.js';
import { parseModelConfig, qaArchitecture } from '../model/config.js';
import { readSafetensors, SafetensorsFile } from '../model/safetensors.js';
import { parameterShapes } from '../model/weights.js';
import { ONNX_DIR, ONNX_FP32_FILE, ONNX_Q8_FILE, onnxModels } from '../onnx/model.js';
import { writeDirAtomic } from '../util/atomic.js';
import { isFile } from './cache.js';
import { finalMetrics, readTrainingSummary, renderModelCard, type FinalMetrics } from './model-card.js';
import { CONFIG_FILE, makesTokenizer, TOKENIZER_FILES, TOKENIZER_NEEDS, WEIGHTS_FILE } from '../hf-files.js';

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16']);

export interface ExportOptions {
  /** Where the tokenizer files come from (default: the model directory). */
  tokenizerDir?: string;
  /** The model's name in the card (default: the output directory's name). */
  name?: string;
  /** The model it was fine-tuned from, for the card (`base_model`). */
  baseModel?: string;
  /** The training dataset, for the card (`datasets`). */
  dataset?: string;
  /** Replace a non-empty `outDir`. */
  overwrite?: boolean;
  /** Also write `onnx/model.onnx` (fp32) and `onnx/model_quantized.onnx` (q8 MatMul weights). */
  onnx?: boolean;
}

export interface ExportResult {
  readonly outDir: string;
  readonly files: string[];
  readonly parameters: number;
  readonly metrics: FinalMetrics;
  /** The training files the card's metrics came from (empty: none found). */
  readonly trainingSources: readonly string[];
}

export async function exportModel(modelDir: string, outDir: string, options: ExportOptions = {}): Promise<ExportResult> {
  if (resolve(modelDir) === resolve(outDir)) {
    throw new QaFtError('BAD_ARGUMENT', `--out ${outDir} is the model directory itself`, { hint: 'export into a new directory' });
  }
  await checkOutDir(outDir, options.overwrite === true);

  const configPath = join(modelDir, CONFIG_FILE);
  const rawConfig = await readJsonObject(configPath);
  const config = parseModelConfig(rawConfig, configPath);
  const parameters = await checkWeights(join(modelDir, WEIGHTS_FILE), parameterShapes(config));

  const tokDir = options.tokenizerDir ?? modelDir;
  const tokenizerFiles: string[] = [];
  for (const f of TOKENIZER_FILES) if (await isFile(join(tokDir, f))) tokenizerFiles.push(f);
  if (!makesTokenizer((f) => tokenizerFiles.includes(f))) {
    throw new QaFtError('FILE_NOT_FOUND', `no tokenizer in ${tokDir} (expected ${TOKENIZER_NEEDS})`, {
      hint: 'pass --tokenizer with the tokenizer the model was trained with, e.g. distilbert-base-uncased',
    });
  }
  if (options.onnx === true && !tokenizerFiles.includes('tokenizer.json')) {
    throw new QaFtError('FILE_NOT_FOUND', `no tokenizer.json in ${tokDir}: transformers.js needs it beside the ONNX files (vocab.txt is not enough)`, {
      hint: 'pass --tokenizer with a directory or hub id that has tokenizer.json, e.g. distilbert-base-uncased',
    });
  }

  const training = await readTrainingSummary(modelDir);
  const name = options.name ?? basename(resolve(outDir));
  const card = renderModelCard({ name, baseModel: options.baseModel, dataset: options.dataset, architecture: qaArchitecture(config), modelType: config.modelType, onnx: options.onnx === true, config, parameters, training });
  const hfConfig = sortKeys({ ...rawConfig, architectures: [qaArchitecture(config)], model_type: config.modelType });

  const configText = `${JSON.stringify(hfConfig, null, 2)}\n`;
  const copies: Array<[string, string]> = [[join(modelDir, WEIGHTS_FILE), WEIGHTS_FILE], ...tokenizerFiles.map((f): [string, string] => [join(tokDir, f), f])];
  const onnxFiles = options.onnx === true ? onnxModels(config, await readSafetensors(join(modelDir, WEIGHTS_FILE))) : null;
  let bytes = Buffer.byteLength(configText) + Buffer.byteLength(card) + (onnxFiles === null ? 0 : onnxFiles.fp32.length + onnxFiles.q8.length);
  for (const [from] of copies) bytes += (await stat(from)).size;
  await writeDirAtomic(
    outDir,
    async (tmp) => {
      await writeFile(join(tmp, CONFIG_FILE), configText);
      for (const [from, name] of copies) await copyFile(from, join(tmp, name));
      await writeFile(join(tmp, 'README.md'), card);
      if (onnxFiles !== null) {
        await mkdir(join(tmp, ONNX_DIR));
        await writeFile(join(tmp, ONNX_DIR, ONNX_FP32_FILE), onnxFiles.fp32);
        await writeFile(join(tmp, ONNX_DIR, ONNX_Q8_FILE), onnxFiles.q8);
      }
    },
    { bytes }, // a file-system failure is reported at its path in outDir, with the whole export's size
  );
  return {
    outDir,
    files: ['README.md', CONFIG_FILE, WEIGHTS_FILE, ...tokenizerFiles, ...(onnxFiles === null ? [] : [`${ONNX_DIR}/${ONNX_FP32_FILE}`, `${ONNX_DIR}/${ONNX_Q8_FILE}`])].sort(),
    parameters,
    metrics: finalMetrics(training?.history ?? []),
    trainingSources: training?.sources ?? [],
  };
}

async function checkOutDir(outDir: string, overwrite: boolean): Promise<void> {
  let info;
  try {
    info = await stat(outDir);
  } catch {
    return; // a new directory
  }
  if (!info.isDirectory()) throw new QaFtError('BAD_ARGUMENT', `--out ${outDir} exists and is not a directory`);
  if (!overwrite && (await readdir(outDir)).length > 0) {
    throw new QaFtError('BAD_ARGUMENT', `--out ${outDir} exists and is not empty`, { hint: 'pass --overwrite to replace it, or choose another directory' });
  }
}

/** Checks every parameter against the config: names (missing/unexpected), shapes and a float dtype. Returns the parameter count. */
async function checkWeights(path: string, expected: Map<string, number[]>): Promise<number> {
  const file = await SafetensorsFile.open(path);
  try {
    const missing = [...expected.keys()].filter((n) => !file.entries.has(n));
    const unexpected = [...file.entries.keys()].filter((n) => !expected.has(n));
    const problems: string[] = [];
    if (missing.length) problems.push(`missing ${missing.length} (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''})`);
    if (unexpected.length) problems.push(`unexpected ${unexpected.length} (${unexpected.slice(0, 3).join(', ')}${unexpected.length > 3 ? ', …' : ''})`);
    let count = 0;
    for (const [name, shape] of expected) {
      const e = file.entries.get(name);
      if (!e) continue;
      if (e.shape.join(',') !== shape.join(',')) problems.push(`${name} is [${e.shape.join(', ')}], expected [${shape.join(', ')}]`);
      if (!FLOAT_DTYPES.has(e.dtype)) problems.push(`${name} has dtype ${e.dtype}, expected F32, F16 or BF16`);
      count += shape.reduce((a, b) => a * b, 1);
    }
    if (problems.length > 0) {
      throw new QaFtError('BAD_WEIGHTS', `${path} does not match its config.json: ${problems.slice(0, 4).join('; ')}`, {
        hint: missing.includes('qa_outputs.weight') ? 'this is not a question-answering model; train it first (qa-ft train)' : 'export the directory that qa-ft train wrote',
      });
    }
    return count;
  } finally {
    await file.close();
  }
}

async function readJsonObject(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new QaFtError('FILE_NOT_FOUND', `${path}: no config.json in the model directory`, {
      hint: 'a model directory holds config.json and model.safetensors (what qa-ft train writes)',
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new QaFtError('BAD_CONFIG', `${path}: not valid JSON (${firstLine(e)})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new QaFtError('BAD_CONFIG', `${path}: expected a JSON object`);
  return json as Record<string, unknown>;
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
