/**
 * `exportModel`: a trained model directory → a clean Hugging Face model directory (config.json, model.safetensors,
 * tokenizer files, a model card; with `onnx`, transformers.js's onnx/ files). Weights and tokenizer are checked
 * against the config (with the model's own parsers, so an export accepts exactly what `loadQaModel` does) before
 * anything is written; the directory appears complete or not at all, and `outDir` follows src/util/out-guard.ts.
 */
import { copyFile, lstat, mkdir, readFile, realpath, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { field, firstLine, opt, OptionError, type OptionText, QaFtError } from '../errors.js';
import { parseModelConfig, qaArchitecture } from '../model/config.js';
import { QA_OUTPUTS } from '../model/qa-head.js';
import { readSafetensors, SafetensorsFile } from '../model/safetensors.js';
import { parameterShapes } from '../model/weights.js';
import { checkTokenizerFitsModel } from '../tokenize/model-fit.js';
import { loadTokenizer } from '../tokenize/tokenizer.js';
import { ONNX_DIR, ONNX_FP32_FILE, ONNX_Q8_FILE, onnxModels } from '../onnx/model.js';
import { writeDirAtomic, writeIntoDir } from '../util/atomic.js';
import { checkOutputOutside, checkOutputTarget, isWithin } from '../util/out-guard.js';
import { isFile } from '../util/is-file.js';
import { finalMetrics, readTrainingSummary, renderModelCard, type FinalMetrics } from './model-card.js';
import { CONFIG_FILE, makesTokenizer, TOKENIZER_FILES, TOKENIZER_NEEDS, WEIGHTS_FILE } from '../hf-files.js';

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16']);

/** Every file an export may write: with --overwrite, an earlier export's files this one does not write are removed. */
const EXPORT_FILES: readonly string[] = [
  'README.md',
  CONFIG_FILE,
  WEIGHTS_FILE,
  ...TOKENIZER_FILES,
  `${ONNX_DIR}/${ONNX_FP32_FILE}`,
  `${ONNX_DIR}/${ONNX_Q8_FILE}`,
];

export interface ExportOptions {
  /** Where the tokenizer files come from (default: the model directory). */
  tokenizerDir?: string;
  /** The model's name in the card (default: the output directory's name). */
  name?: string;
  /** The model it was fine-tuned from, for the card (`base_model`). */
  baseModel?: string;
  /** The training dataset, for the card (`datasets`). */
  dataset?: string;
  /** Write into a non-empty `outDir`, replacing the files an export writes (and only those). */
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

export async function exportModel(
  modelDir: string,
  outDir: string,
  options: ExportOptions = {},
): Promise<ExportResult> {
  const tokDir = options.tokenizerDir ?? modelDir;
  const sources: Array<[OptionText, string]> = [[opt`the model directory`, modelDir]];
  if (options.tokenizerDir !== undefined)
    sources.push([opt`the ${field('tokenizerDir')} directory`, options.tokenizerDir]);
  await checkOutputOutside('outDir', outDir, sources);
  const target = await checkOutputTarget(outDir, {
    option: { field: 'outDir' },
    command: 'export',
    kind: 'directory',
    owner: 'an export',
    isOurs: async () => true, // any directory: with `overwrite`, export replaces only its own files in it
    overwrite: {
      given: options.overwrite === true,
      hint: opt`pass ${field('overwrite')} to write the export into it (only the files export writes are replaced; other files are kept), or choose a new directory`,
    },
    notOursHint: opt`choose a new directory`,
  });

  const configPath = await exportSource(modelDir, CONFIG_FILE);
  const rawConfig = await readJsonObject(configPath);
  const config = parseModelConfig(rawConfig, configPath);
  const weightsPath = await exportSource(modelDir, WEIGHTS_FILE);
  const parameters = await checkWeights(weightsPath, parameterShapes(config));

  const tokenizerFiles: string[] = [];
  for (const f of TOKENIZER_FILES) if (await isFile(join(tokDir, f))) tokenizerFiles.push(f);
  if (!makesTokenizer((f) => tokenizerFiles.includes(f))) {
    throw new OptionError('FILE_NOT_FOUND', [`no tokenizer in ${tokDir} (expected ${TOKENIZER_NEEDS})`], {
      hint: opt`pass ${field('tokenizerDir')} with the tokenizer the model was trained with, e.g. distilbert-base-uncased`,
    });
  }
  if (options.onnx === true && !tokenizerFiles.includes('tokenizer.json')) {
    throw new OptionError(
      'FILE_NOT_FOUND',
      [`no tokenizer.json in ${tokDir}: transformers.js needs it beside the ONNX files (vocab.txt is not enough)`],
      {
        hint: opt`pass ${field('tokenizerDir')} with a directory or hub id that has tokenizer.json, e.g. distilbert-base-uncased`,
      },
    );
  }
  const copies: Array<[string, string]> = [[weightsPath, WEIGHTS_FILE]];
  for (const f of tokenizerFiles) copies.push([await exportSource(tokDir, f), f]);
  // after exportSource has refused links out of tokDir: the tokenizer read here is the one copied
  checkTokenizerFitsModel(
    await loadTokenizer(tokDir),
    config,
    configPath,
    opt`pass ${field('tokenizerDir')} with the tokenizer the model was trained with`,
  );

  const training = await readTrainingSummary(modelDir);
  const name = options.name ?? basename(resolve(outDir));
  const card = renderModelCard({
    name,
    baseModel: options.baseModel,
    dataset: options.dataset,
    architecture: qaArchitecture(config),
    modelType: config.modelType,
    onnx: options.onnx === true,
    config,
    parameters,
    training,
  });
  const hfConfig = sortKeys({ ...rawConfig, architectures: [qaArchitecture(config)], model_type: config.modelType });

  const configText = `${JSON.stringify(hfConfig, null, 2)}\n`;
  const onnxFiles = options.onnx === true ? onnxModels(config, await readSafetensors(weightsPath)) : null;
  let bytes =
    Buffer.byteLength(configText) +
    Buffer.byteLength(card) +
    (onnxFiles === null ? 0 : onnxFiles.fp32.length + onnxFiles.q8.length);
  for (const [from] of copies) bytes += (await stat(from)).size;
  const fill = async (tmp: string): Promise<void> => {
    await writeFile(join(tmp, CONFIG_FILE), configText);
    for (const [from, name] of copies) await copyFile(from, join(tmp, name));
    await writeFile(join(tmp, 'README.md'), card);
    if (onnxFiles !== null) {
      await mkdir(join(tmp, ONNX_DIR));
      await writeFile(join(tmp, ONNX_DIR, ONNX_FP32_FILE), onnxFiles.fp32);
      await writeFile(join(tmp, ONNX_DIR, ONNX_Q8_FILE), onnxFiles.q8);
    }
  };
  // a file-system failure is reported at its path in outDir, with the whole export's size
  if (target === 'absent') await writeDirAtomic(outDir, fill, { bytes });
  else await writeIntoDir(outDir, fill, { bytes, stale: EXPORT_FILES });
  return {
    outDir,
    files: [
      'README.md',
      CONFIG_FILE,
      WEIGHTS_FILE,
      ...tokenizerFiles,
      ...(onnxFiles === null ? [] : [`${ONNX_DIR}/${ONNX_FP32_FILE}`, `${ONNX_DIR}/${ONNX_Q8_FILE}`]),
    ].sort(),
    parameters,
    metrics: finalMetrics(training?.history ?? []),
    trainingSources: training?.sources ?? [],
  };
}

/**
 * `dir/name` to read for the export, refused when it is a symbolic link that leads out of `dir` (`vocab.txt ->
 * /etc/passwd` would otherwise be copied in as a regular file, ready to upload). Links within `dir` are followed;
 * so are a hub cache snapshot's links into its repository's `blobs/` (the cache's own layout, src/hub/cache.ts).
 */
async function exportSource(dir: string, name: string): Promise<string> {
  const path = join(dir, name);
  const info = await lstat(path).catch(() => undefined);
  if (info === undefined || !info.isSymbolicLink()) return path;
  const target = await realpath(path).catch(() => undefined);
  if (target === undefined) return path; // dangling or a loop: reading it fails with its own message
  const root = await realpath(dir);
  const roots = basename(dirname(root)) === 'snapshots' ? [root, join(dirname(dirname(root)), 'blobs')] : [root];
  if (roots.some((r) => isWithin(target, r))) return path;
  throw new QaFtError(
    'BAD_ARGUMENT',
    `${path} is a symbolic link to ${target}, outside ${dir}; refusing to export it`,
    {
      hint: 'replace the link with the file it stands for, or remove it',
    },
  );
}

/**
 * Checks every parameter against the config: names (missing/unexpected), shapes and a float dtype. Returns the
 * parameter count.
 */
async function checkWeights(path: string, expected: Map<string, number[]>): Promise<number> {
  const file = await SafetensorsFile.open(path);
  try {
    const missing = [...expected.keys()].filter((n) => !file.entries.has(n));
    const unexpected = [...file.entries.keys()].filter((n) => !expected.has(n));
    const problems: string[] = [];
    if (missing.length)
      problems.push(`missing ${missing.length} (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''})`);
    if (unexpected.length)
      problems.push(
        `unexpected ${unexpected.length} (${unexpected.slice(0, 3).join(', ')}${unexpected.length > 3 ? ', …' : ''})`,
      );
    let count = 0;
    for (const [name, shape] of expected) {
      const e = file.entries.get(name);
      if (!e) continue;
      if (e.shape.join(',') !== shape.join(','))
        problems.push(`${name} is [${e.shape.join(', ')}], expected [${shape.join(', ')}]`);
      if (!FLOAT_DTYPES.has(e.dtype)) problems.push(`${name} has dtype ${e.dtype}, expected F32, F16 or BF16`);
      count += shape.reduce((a, b) => a * b, 1);
    }
    if (problems.length > 0) {
      throw new QaFtError('BAD_WEIGHTS', `${path} does not match its config.json: ${problems.slice(0, 4).join('; ')}`, {
        hint: missing.includes(`${QA_OUTPUTS}.weight`)
          ? 'this is not a question-answering model; train it first (qa-ft train)'
          : 'export the directory that qa-ft train wrote',
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
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new QaFtError('BAD_CONFIG', `${path}: expected a JSON object`);
  return json as Record<string, unknown>;
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
