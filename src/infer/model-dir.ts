/**
 * Opening a fine-tuned model directory for inference: `config.json`, `model.safetensors` and the tokenizer
 * files, checked up front (one-line errors naming what is missing, before the engine is even loaded), then the
 * tokenizer and the model loaded. TF.js and the model code are imported here, lazily, so a command that fails
 * early (or never needs a model) does not pay for them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { QaFtError } from '../errors.js';
import { makesTokenizer, TOKENIZER_NEEDS } from '../hf-files.js';
import type { BackendName, Precision, QaModel } from '../model/types.js';
import type { QaTokenizer } from '../tokenize/tokenizer.js';

export interface OpenedModel {
  readonly model: QaModel;
  readonly tokenizer: QaTokenizer;
}

const HINT = `a model directory (what \`qa-ft train\` writes) holds config.json, model.safetensors and ${TOKENIZER_NEEDS}`;

/** Throws a one-line error when `dir` lacks the weights, config or tokenizer. */
function checkModelDir(dir: string): void {
  if (!existsSync(dir)) throw new QaFtError('FILE_NOT_FOUND', `model directory ${dir} does not exist`, { hint: HINT });
  const missing = (f: string): boolean => !existsSync(join(dir, f));
  if (missing('model.safetensors')) {
    throw new QaFtError('FILE_NOT_FOUND', `model directory ${dir} has no weights (model.safetensors)`, { hint: HINT });
  }
  if (missing('config.json'))
    throw new QaFtError('FILE_NOT_FOUND', `model directory ${dir} has no config.json`, { hint: HINT });
  if (!makesTokenizer((f) => !missing(f))) {
    throw new QaFtError('FILE_NOT_FOUND', `model directory ${dir} has no tokenizer (${TOKENIZER_NEEDS})`, {
      hint: HINT,
    });
  }
}

export async function openModelDir(
  dir: string,
  options: {
    backend?: BackendName;
    threads?: number;
    precision?: Precision;
    onNotice?: (message: string) => void;
  } = {},
): Promise<OpenedModel> {
  checkModelDir(dir);
  const [{ loadTokenizer }, { loadQaModel }] = await Promise.all([
    import('../tokenize/tokenizer.js'),
    import('../model/qa-model.js'),
  ]);
  // Both at once: the tokenizer parses while the weights are read.
  const [tokenizerResult, modelResult] = await Promise.allSettled([
    loadTokenizer(dir),
    loadQaModel(dir, {
      backend: options.backend ?? 'auto',
      ...(options.threads === undefined ? {} : { threads: options.threads }),
      ...(options.precision === undefined ? {} : { precision: options.precision }),
      ...(options.onNotice === undefined ? {} : { onNotice: options.onNotice }),
    }),
  ]);
  if (tokenizerResult.status === 'rejected') {
    if (modelResult.status === 'fulfilled') modelResult.value.dispose();
    throw tokenizerResult.reason;
  }
  if (modelResult.status === 'rejected') throw modelResult.reason;
  const tokenizer = tokenizerResult.value;
  const model = modelResult.value;
  if (tokenizer.vocabSize > model.config.vocabSize) {
    model.dispose();
    throw new QaFtError(
      'BAD_CONFIG',
      `${dir}: the tokenizer has ${tokenizer.vocabSize} tokens but the model only ${model.config.vocabSize} embeddings`,
      {
        hint: 'the tokenizer files belong to another model',
      },
    );
  }
  return { model, tokenizer };
}

/**
 * Whether the model in `dir` was trained and evaluated as SQuAD 2.0: its `trainer_state.json` (what `qa-ft train`
 * and the HF Trainer save beside the model) logs the 2.0 script's `eval_NoAns_*` or `eval_HasAns_*` figures. False
 * when there is no such file or it is unreadable (an exported or hub model: pass `--handle-impossible-answer`).
 */
export function trainedOnSquadV2(dir: string): boolean {
  const path = join(dir, 'trainer_state.json');
  if (!existsSync(path)) return false;
  try {
    const state = JSON.parse(readFileSync(path, 'utf8')) as { log_history?: unknown } | null;
    const history = Array.isArray(state?.log_history) ? (state.log_history as unknown[]) : [];
    return history.some(
      (r) => r !== null && typeof r === 'object' && Object.keys(r).some((k) => /^eval_(NoAns|HasAns)_/.test(k)),
    );
  } catch {
    return false;
  }
}
