/**
 * The model card (README.md) of an exported model, in the shape the Hugging Face Trainer writes: YAML front
 * matter the hub reads (library, pipeline tag, datasets, `model-index` results), a summary of the evaluation,
 * the training hyperparameters and the "Training results" table built from the training log.
 *
 * The log is read from the trained directory: `metrics.jsonl` (one record per line) or the `log_history` of
 * `trainer_state.json`, with the Trainer's keys (`loss`, `eval_loss`, `eval_exact_match`, `eval_f1`, `epoch`,
 * `step`); the run settings come from qa-ft's own `qa-ft-state.json` (an older qa-ft's `trainer_state.json`), its
 * `run`. All are optional.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { QA_FT_STATE_FILE } from '../hf-files.js';

type LogRecord = Record<string, unknown>;

export interface TrainingSummary {
  /** Training-log records in order (step and eval records mixed, as in HF `log_history`). */
  readonly history: readonly LogRecord[];
  /** Run settings (learning rate, batch size, seed…) when trainer_state.json has them. */
  readonly run?: Readonly<Record<string, unknown>>;
  readonly globalStep?: number;
  readonly epochs?: number;
  /** The files the summary came from. */
  readonly sources: readonly string[];
}

export interface FinalMetrics {
  readonly exactMatch?: number;
  readonly f1?: number;
  readonly evalLoss?: number;
  readonly trainingLoss?: number;
  readonly epoch?: number;
  readonly step?: number;
}

export interface ModelCardInfo {
  readonly name: string;
  readonly baseModel?: string;
  readonly dataset?: string;
  /** The model's QA class, e.g. `BertForQuestionAnswering`. */
  readonly architecture: string;
  /** config.json's `model_type` (`bert`, `deberta-v2`, …): the hub's family tag. */
  readonly modelType: string;
  /** Whether the export has `onnx/model.onnx` (what transformers.js loads). */
  readonly onnx?: boolean;
  readonly config: {
    dim: number;
    nLayers: number;
    nHeads: number;
    hiddenDim: number;
    vocabSize: number;
    maxPositionEmbeddings: number;
  };
  readonly parameters: number;
  readonly training?: TrainingSummary;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return undefined; // absent or unreadable: the card is written without it
  }
}

async function readJsonLines(path: string): Promise<LogRecord[] | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  const out: LogRecord[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const v: unknown = JSON.parse(line);
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) out.push(v as LogRecord);
    } catch {
      // a torn last line of an interrupted run: skip it
    }
  }
  return out;
}

/** What the trained directory says about its training, or undefined when it has neither file. */
export async function readTrainingSummary(dir: string): Promise<TrainingSummary | undefined> {
  const sources: string[] = [];
  const lines = await readJsonLines(join(dir, 'metrics.jsonl'));
  if (lines) sources.push('metrics.jsonl');
  const state = (await readJson(join(dir, 'trainer_state.json'))) as Record<string, unknown> | undefined;
  const stateOk = typeof state === 'object' && state !== null && !Array.isArray(state);
  if (stateOk) sources.push('trainer_state.json');
  if (sources.length === 0) return undefined;
  const stateHistory = stateOk && Array.isArray(state.log_history) ? (state.log_history as LogRecord[]) : [];
  const own = (await readJson(join(dir, QA_FT_STATE_FILE))) as Record<string, unknown> | undefined;
  const withRun = [own, stateOk ? state : undefined].find((s) => typeof s?.run === 'object' && s.run !== null);
  if (own !== undefined && withRun === own) sources.push(QA_FT_STATE_FILE);
  const run = withRun ? (withRun.run as Record<string, unknown>) : undefined;
  return {
    history: lines && lines.length > 0 ? lines : stateHistory,
    run,
    globalStep: stateOk ? num(state.global_step) : undefined,
    epochs: stateOk ? num(state.epoch) : undefined,
    sources,
  };
}

/** The last evaluation and the last training loss of the log. */
export function finalMetrics(history: readonly LogRecord[]): FinalMetrics {
  const lastEval = [...history]
    .reverse()
    .find((r) => num(r.eval_f1) !== undefined || num(r.eval_exact_match) !== undefined);
  const lastTrain = [...history].reverse().find((r) => num(r.loss) !== undefined);
  return {
    exactMatch: num(lastEval?.eval_exact_match),
    f1: num(lastEval?.eval_f1),
    evalLoss: num(lastEval?.eval_loss),
    trainingLoss: num(lastTrain?.loss),
    epoch: num(lastEval?.epoch) ?? num(lastTrain?.epoch),
    step: num(lastEval?.step) ?? num(lastTrain?.step),
  };
}

function fmt(v: number | undefined, digits = 4): string {
  return v === undefined ? '—' : digits === 0 ? String(v) : v.toFixed(digits);
}

/** One table row per evaluation, with the last training loss logged before it (as the HF Trainer's card). */
function resultsTable(history: readonly LogRecord[]): string[] {
  const rows: string[] = [];
  let trainLoss: number | undefined;
  for (const r of history) {
    if (num(r.loss) !== undefined) trainLoss = num(r.loss);
    if (num(r.eval_f1) === undefined && num(r.eval_exact_match) === undefined) continue;
    rows.push(
      `| ${fmt(trainLoss)} | ${fmt(num(r.epoch), 2)} | ${fmt(num(r.step), 0)} | ${fmt(num(r.eval_loss))} | ${fmt(num(r.eval_exact_match), 2)} | ${fmt(num(r.eval_f1), 2)} |`,
    );
  }
  if (rows.length === 0) return [];
  return [
    '| Training Loss | Epoch | Step | Validation Loss | Exact Match | F1 |',
    '|---|---|---|---|---|---|',
    ...rows,
  ];
}

/** The family's usual spelling in prose, by `model_type`. */
const FAMILY_NAME: Readonly<Record<string, string>> = {
  distilbert: 'DistilBERT',
  bert: 'BERT',
  roberta: 'RoBERTa',
  'xlm-roberta': 'XLM-RoBERTa',
  camembert: 'CamemBERT',
  electra: 'ELECTRA',
  albert: 'ALBERT',
  'deberta-v2': 'DeBERTa-v2',
};

/**
 * "How to use": transformers 5.x (no `pipeline("question-answering")` there) with the model and the decode the QA
 * pipeline did — the best start ≤ end pair of context tokens, at most 30 tokens long, cut from the context by the
 * fast tokenizer's offsets — then transformers.js and qa-ft.
 */
function usage(name: string, onnx: boolean): string[] {
  return [
    '## How to use',
    '',
    'With transformers (5.x, PyTorch):',
    '',
    '```python',
    'import torch',
    'from transformers import AutoModelForQuestionAnswering, AutoTokenizer',
    '',
    `model_id = ${q(name)}`,
    'tokenizer = AutoTokenizer.from_pretrained(model_id)',
    'model = AutoModelForQuestionAnswering.from_pretrained(model_id)',
    '',
    'question, context = "Who wrote it?", "It was written by Ada Lovelace in 1843."',
    'inputs = tokenizer(question, context, truncation="only_second", max_length=384, return_offsets_mapping=True, return_tensors="pt")',
    'offsets = inputs.pop("offset_mapping")[0].tolist()',
    'in_context = torch.tensor([s == 1 for s in inputs.sequence_ids(0)])',
    'with torch.no_grad():',
    '    out = model(**inputs)',
    'start = out.start_logits[0].masked_fill(~in_context, -torch.inf)',
    'end = out.end_logits[0].masked_fill(~in_context, -torch.inf)',
    'n = start.numel()',
    'allowed = torch.ones(n, n, dtype=torch.bool).triu().tril(29)  # start <= end, at most 30 tokens',
    'scores = (start[:, None] + end[None, :]).masked_fill(~allowed, -torch.inf)',
    's, e = divmod(int(scores.argmax()), n)',
    'print(context[offsets[s][0] : offsets[e][1]])',
    '```',
    '',
    `With transformers.js (Node.js or the browser; it loads \`onnx/model_quantized.onnx\`${onnx ? '' : ', which `qa-ft export --onnx` writes'}):`,
    '',
    '```js',
    "import { pipeline } from '@huggingface/transformers';",
    '',
    `const qa = await pipeline('question-answering', ${q(name)});`,
    "console.log(await qa('Who wrote it?', 'It was written by Ada Lovelace in 1843.'));",
    '```',
    '',
    'Or with qa-ft: `qa-ft ask --model <this directory> --question "…" --context "…"`.',
    '',
  ];
}

/** JSON strings are valid YAML scalars, so every string in the front matter is written as one. */
const q = (s: string): string => JSON.stringify(s);

export function renderModelCard(info: ModelCardInfo): string {
  const m = finalMetrics(info.training?.history ?? []);
  const hasEval = m.exactMatch !== undefined || m.f1 !== undefined;
  const yaml: string[] = [
    '---',
    'library_name: transformers',
    'pipeline_tag: question-answering',
    'tags:',
    '- question-answering',
    `- ${q(info.modelType)}`,
    '- qa-ft',
  ];
  if (info.baseModel) yaml.push(`base_model: ${q(info.baseModel)}`);
  if (info.dataset) yaml.push('datasets:', `- ${q(info.dataset)}`);
  if (hasEval) {
    yaml.push(
      'model-index:',
      `- name: ${q(info.name)}`,
      '  results:',
      '  - task:',
      '      type: question-answering',
      '      name: Question Answering',
    );
    if (info.dataset) yaml.push('    dataset:', `      type: ${q(info.dataset)}`, `      name: ${q(info.dataset)}`);
    yaml.push('    metrics:');
    if (m.exactMatch !== undefined)
      yaml.push('    - type: exact_match', `      value: ${m.exactMatch}`, '      name: Exact Match');
    if (m.f1 !== undefined) yaml.push('    - type: f1', `      value: ${m.f1}`, '      name: F1');
  }
  yaml.push('---');

  const family = FAMILY_NAME[info.modelType] ?? info.modelType;
  const base = info.baseModel
    ? `a fine-tuned version of [${info.baseModel}](https://huggingface.co/${info.baseModel})`
    : `a ${family} model`;
  const on = info.dataset ? ` on the ${info.dataset} dataset` : '';
  const body: string[] = [
    '',
    `# ${info.name}`,
    '',
    `This model is ${base} for extractive question answering${on}, trained with qa-ft (TensorFlow.js).`,
  ];
  if (hasEval) {
    body.push('It achieves the following results on the evaluation set:');
    if (m.evalLoss !== undefined) body.push(`- Loss: ${fmt(m.evalLoss)}`);
    if (m.exactMatch !== undefined) body.push(`- Exact Match: ${fmt(m.exactMatch, 2)}`);
    if (m.f1 !== undefined) body.push(`- F1: ${fmt(m.f1, 2)}`);
  } else {
    body.push('No evaluation results were recorded with this model.');
  }
  const c = info.config;
  body.push(
    '',
    '## Model details',
    '',
    `${info.architecture}: ${c.nLayers} layers, dim ${c.dim}, ${c.nHeads} heads, FFN ${c.hiddenDim}, vocabulary ${c.vocabSize}, ` +
      `up to ${c.maxPositionEmbeddings} tokens; ${(info.parameters / 1e6).toFixed(2)} M parameters (float32 safetensors).`,
  );
  const t = info.training;
  if (t) {
    body.push('', '## Training procedure', '');
    const settings = Object.entries(t.run ?? {}).filter(
      ([, v]) => typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean',
    );
    if (t.epochs !== undefined) settings.push(['num_epochs', t.epochs]);
    if (t.globalStep !== undefined) settings.push(['optimizer_steps', t.globalStep]);
    if (settings.length > 0) {
      body.push('### Training hyperparameters', '', 'The following settings were used during training:');
      for (const [k, v] of settings) body.push(`- ${k}: ${String(v)}`);
      body.push('');
    }
    const table = resultsTable(t.history);
    if (table.length > 0) body.push('### Training results', '', ...table, '');
    else if (m.trainingLoss !== undefined)
      body.push(`Final training loss: ${fmt(m.trainingLoss)} (step ${fmt(m.step, 0)}).`, '');
    body.push(`(From ${t.sources.join(' and ')} of the trained model.)`);
  }
  body.push('', ...usage(info.name, info.onnx === true));
  return [...yaml, ...body].join('\n');
}
