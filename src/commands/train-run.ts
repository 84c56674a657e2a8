/**
 * The work behind `qa-ft train`, loaded only when the command runs (the model, engine and training modules take
 * seconds to import, which every other command would otherwise pay at start-up): resolve the model and data, check
 * they fit together, and run `trainLoop`.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { QaFtError } from '../errors.js';
import { resolveModel, resolveTokenizer, type ResolveOptions } from '../hub/index.js';
import { readPrepared, type PreparedManifest } from '../tokenize/prepared.js';
import { loadConfig, readConfigFile, type DistilBertConfig } from '../model/config.js';
import { createRandomQaModel, loadQaModel } from '../model/qa-model.js';
import type { QaModel } from '../model/types.js';
import { evaluateModel } from '../infer/evaluate.js';
import { tokenizerFilesIn } from '../tokenize/tokenizer.js';
import { trainLoop, type TrainEvent, type TrainLoopResult } from '../train/loop.js';
import { createProgress, info } from './output.js';
import type { TrainCommandOptions } from './train.js';

/** The model to train (`--init`), its directory (for the tokenizer files) and notices to show. */
async function buildModel(o: TrainCommandOptions, hub: ResolveOptions, notice: (line: string) => void): Promise<{ model: QaModel; modelDir?: string }> {
  if (o.init === 'pretrained') {
    const modelDir = await resolveModel(o.model, hub);
    return { model: await loadQaModel(modelDir, { backend: o.backend, seed: o.seed, onNotice: notice }), modelDir };
  }
  let modelDir: string | undefined;
  let config: DistilBertConfig;
  if (o.configFile !== undefined) {
    config = await readConfigFile(o.configFile);
    modelDir = await resolveTokenizer(o.model, hub).catch(() => undefined); // the data's manifest names a tokenizer too
  } else {
    modelDir = await resolveTokenizer(o.model, hub);
    config = await loadConfig(modelDir);
  }
  return { model: await createRandomQaModel(config, { backend: o.backend, seed: o.seed, onNotice: notice }), modelDir };
}

/** The tokenizer the features were made with (the manifest's), else the model directory's. */
function tokenizerFiles(manifest: PreparedManifest, modelDir: string | undefined): string[] {
  const fromManifest = manifest.tokenizer.files.map((f) => (isAbsolute(f) ? f : join(manifest.tokenizer.dir, f)));
  if (fromManifest.length > 0 && fromManifest.every((f) => existsSync(f))) return fromManifest;
  const fromModel = modelDir === undefined ? [] : tokenizerFilesIn(modelDir);
  if (fromModel.length > 0) return fromModel;
  throw new QaFtError('FILE_NOT_FOUND', `no tokenizer files in ${manifest.tokenizer.dir} (from the prepared data's manifest)${modelDir ? ` or ${modelDir}` : ''}`, {
    hint: 'the saved model needs its tokenizer: pass --model with a directory holding tokenizer.json or vocab.txt',
  });
}

function checkCompatible(config: DistilBertConfig, manifest: PreparedManifest, dataDir: string): void {
  if (manifest.tokenizer.vocabSize > config.vocabSize) {
    throw new QaFtError('BAD_CONFIG', `the data in ${dataDir} was tokenized with a ${manifest.tokenizer.vocabSize}-token vocabulary, but the model has vocab_size ${config.vocabSize}`, {
      hint: 'prepare the data with the model’s tokenizer',
    });
  }
  if (manifest.maxLength > config.maxPositionEmbeddings) {
    throw new QaFtError('BAD_CONFIG', `the data in ${dataDir} has windows of up to ${manifest.maxLength} tokens, but the model has max_position_embeddings ${config.maxPositionEmbeddings}`, {
      hint: 'run `qa-ft prepare --max-length N` with N <= max_position_embeddings',
    });
  }
}

export async function runTrain(o: TrainCommandOptions, hub: ResolveOptions, onEvent: (e: TrainEvent) => void): Promise<TrainLoopResult> {
  const data = await readPrepared(o.dataDir);
  const { model, modelDir } = await buildModel(o, hub, (line) => info(line));
  try {
    checkCompatible(model.config, data.manifest, o.dataDir);
    if (!o.quiet) info(`Backend: ${model.backend}; model: ${o.init === 'random' ? `random init (${o.configFile ?? o.model})` : o.model}`);
    return await trainLoop(model, data, {
      ...o,
      maxLength: data.manifest.maxLength,
      padTokenId: model.config.padTokenId,
      tokenizerFiles: tokenizerFiles(data.manifest, modelDir),
      evaluate: async (m, split) => {
        const progress = createProgress({ quiet: o.quiet });
        progress.start('Evaluating', Math.ceil(split.features.length / o.evalBatchSize));
        try {
          return await evaluateModel(m, split.rows, split.features, { batchSize: o.evalBatchSize, onProgress: (done) => progress.update(done) });
        } finally {
          progress.stop();
        }
      },
      onEvent,
    });
  } finally {
    model.dispose();
  }
}
