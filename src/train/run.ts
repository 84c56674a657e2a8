/**
 * `qa-ft train` as a library call: read the prepared data, build the model to fine-tune (`pretrained`: its
 * weights; `random`: a new init from its config, or from a config file), check the data fits it, and run
 * `trainLoop`, saving with the tokenizer the features were made with, once it is checked against the model, and its
 * tokenizer_config.json fitted to the model's family (saved-tokenizer.ts). Hub ids are resolved by the caller (the
 * command): this is given a function returning the model's directory, called only once the data has been read,
 * so a bad data directory fails before any download.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { field, opt, OptionError, QaFtError } from '../errors.js';
import { CONFIG_FILE, TOKENIZER_NEEDS } from '../hf-files.js';
import { familyTokenizer, loadConfig, readConfigFile, type ModelConfig } from '../model/config.js';
import { checkModelFitsMemory, describeEstimate } from '../model/memory.js';
import { createRandomQaModel, loadQaModel } from '../model/qa-model.js';
import type { BackendName, Precision, QaModel } from '../model/types.js';
import { checkDataFitsModel, checkTokenizerFitsModel } from '../tokenize/model-fit.js';
import { readPrepared, type PreparedManifest } from '../tokenize/prepared.js';
import { fittedTokenizerConfig } from '../tokenize/saved-tokenizer.js';
import { loadTokenizer, tokenizerFilesIn, type QaTokenizer } from '../tokenize/tokenizer.js';
import { checkTrainLoopOptions, trainLoop, type TrainLoopOptions, type TrainLoopResult } from './loop.js';

interface TrainPreparedOptions
  extends Omit<TrainLoopOptions, 'maxLength' | 'padTokenId' | 'tokenizerFiles' | 'tokenizerConfig'> {
  /** The prepared-data directory (`qa-ft prepare`'s output). */
  readonly dataDir: string;
  /** `pretrained`: load the model's weights; `random`: its config only (or `configFile`'s), new weights. */
  readonly init: 'pretrained' | 'random';
  /**
   * The model's directory; `weights` false when only its config.json and tokenizer are needed (random init).
   * With `configFile` it may fail: the directory is then only a fallback for the tokenizer files.
   */
  readonly modelDir: (weights: boolean) => Promise<string>;
  /** With `random` init: a config.json to build the model from instead of the model directory's. */
  readonly configFile?: string;
  readonly backend: BackendName;
  /** Matmul precision (`bf16`: `--bf16`); default fp32. */
  readonly precision?: Precision;
  /** Notices while the model loads (e.g. a backend fallback). */
  readonly onNotice?: (message: string) => void;
  /** Called with the model once it is built and fits the data, before training starts. */
  readonly onModel?: (model: QaModel) => void;
}

/**
 * The model to train (`init`), the directory it came from, if any (for the tokenizer files), and the config file it
 * was built from (for messages). Its memory floor for training is checked (and said in a notice) before a weight is
 * allocated.
 */
async function buildModel(
  options: TrainPreparedOptions,
): Promise<{ model: QaModel; modelDir?: string; source: string }> {
  const load = {
    backend: options.backend,
    seed: options.seed,
    onNotice: options.onNotice,
    purpose: 'training' as const,
    ...(options.precision ? { precision: options.precision } : {}),
  };
  const announce = (config: ModelConfig, source: string): void => {
    const estimate = checkModelFitsMemory(config, 'training', source);
    options.onNotice?.(`Building the model: ${describeEstimate(estimate, 'training')}`);
  };
  if (options.init === 'pretrained') {
    const modelDir = await options.modelDir(true);
    const source = join(modelDir, CONFIG_FILE);
    announce(await loadConfig(modelDir), source);
    return { model: await loadQaModel(modelDir, load), modelDir, source };
  }
  let modelDir: string | undefined;
  let config: ModelConfig;
  let source: string;
  if (options.configFile !== undefined) {
    config = await readConfigFile(options.configFile);
    source = options.configFile;
    modelDir = await options.modelDir(false).catch(() => undefined); // the data's manifest names a tokenizer too
  } else {
    modelDir = await options.modelDir(false);
    config = await loadConfig(modelDir);
    source = join(modelDir, CONFIG_FILE);
  }
  announce(config, source);
  return { model: await createRandomQaModel(config, { ...load, source }), modelDir, source };
}

/**
 * The tokenizer the features were made with (the manifest's), else the model directory's, which must then be as
 * large as the one the data was prepared with.
 */
async function savedTokenizer(
  manifest: PreparedManifest,
  dataDir: string,
  modelDir: string | undefined,
): Promise<{ tokenizer: QaTokenizer; files: string[] }> {
  const fromManifest = manifest.tokenizer.files.map((f) => (isAbsolute(f) ? f : join(manifest.tokenizer.dir, f)));
  if (fromManifest.length > 0 && fromManifest.every((f) => existsSync(f)))
    return { tokenizer: await loadTokenizer(manifest.tokenizer.dir), files: fromManifest };
  const fromModel = modelDir === undefined ? [] : tokenizerFilesIn(modelDir);
  if (modelDir === undefined || fromModel.length === 0) {
    throw new OptionError(
      'FILE_NOT_FOUND',
      opt`no tokenizer files in ${manifest.tokenizer.dir} (from the prepared data's manifest)${modelDir ? ` or ${modelDir}` : ''}`,
      {
        hint: opt`the saved model needs its tokenizer: pass ${field('model')} with a directory holding ${TOKENIZER_NEEDS}`,
      },
    );
  }
  const tokenizer = await loadTokenizer(modelDir);
  if (tokenizer.vocabSize !== manifest.tokenizer.vocabSize) {
    throw new QaFtError(
      'BAD_CONFIG',
      `the data in ${dataDir} was tokenized with a ${manifest.tokenizer.vocabSize}-token tokenizer (${manifest.tokenizer.dir}, now gone), but the tokenizer in ${modelDir} has ${tokenizer.vocabSize} tokens`,
      {
        hint: 'run `qa-ft prepare --tokenizer` again with the model’s tokenizer',
      },
    );
  }
  return { tokenizer, files: fromModel };
}

export async function trainPrepared(options: TrainPreparedOptions): Promise<TrainLoopResult> {
  const data = await readPrepared(options.dataDir);
  checkTrainLoopOptions(data, options); // before the model is built: a refused run costs nothing
  const { model, modelDir, source } = await buildModel(options);
  try {
    checkDataFitsModel({ manifest: data.manifest, dir: options.dataDir }, model.config);
    // before the first step and before anything is written: the tokenizer saved with the model must fit it
    const { tokenizer, files } = await savedTokenizer(data.manifest, options.dataDir, modelDir);
    checkTokenizerFitsModel(
      tokenizer,
      model.config,
      source,
      'prepare the data with the model’s own tokenizer (`qa-ft prepare --tokenizer` with the model)',
    );
    const tokenizerConfig = await fittedTokenizerConfig(tokenizer, familyTokenizer(model.config), model.config);
    options.onModel?.(model);
    return await trainLoop(model, data, {
      ...options,
      maxLength: data.manifest.maxLength,
      padTokenId: model.config.padTokenId,
      tokenizerFiles: files,
      tokenizerConfig,
    });
  } finally {
    model.dispose();
  }
}
