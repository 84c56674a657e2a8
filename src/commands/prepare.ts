/**
 * `qa-ft prepare`: the user's QA data (a JSON Lines, JSON, SQuAD JSON, CSV, TSV, Parquet or Arrow file, columns by
 * name; or any hub dataset with QA columns; by default the hub's rajpurkar/squad, or rajpurkar/squad_v2 with
 * `--version-2-with-negative`) → tokenized, labelled train/test features on disk. The test split is drawn at
 * random (`--test-size`) or given (`--validation-file`, `--validation-split`).
 */
import { Command } from 'commander';
import { join } from 'node:path';
import { DEFAULTS } from '../defaults.js';
import { resolveDatasetFiles, resolveTokenizer } from '../hub/index.js';
import { parseSplit } from '../data/split.js';
import { addColumnOptions, COLUMN_FLAGS, columnOptions, type ColumnFlags } from './data-options.js';
import { QaFtError } from '../errors.js';
import type { PrepareOptions, PreparePhase } from '../tokenize/pipeline.js';
import { checkPrepareOptions } from '../tokenize/prepare-options.js';
import type { PreparedManifest } from '../tokenize/prepared.js';
import {
  addHubOptions,
  DEFAULT_DATA_DIR,
  downloadProgress,
  flagged,
  flagNames,
  hubResolveOptions,
  parseNumberOption,
  type HubFlags,
} from './options.js';
import { createProgress, info, printJson } from './output.js';

interface RawOptions extends HubFlags, ColumnFlags {
  quiet?: boolean;
  input?: string;
  validationFile?: string;
  dataset?: string;
  datasetConfig?: string;
  split?: string;
  validationSplit?: string;
  testSize?: string;
  maxTrainSamples?: string;
  maxEvalSamples?: string;
  seed: string;
  maxLength: string;
  docStride?: string;
  tokenizer?: string;
  out: string;
  skipInvalid?: boolean;
  version2WithNegative?: boolean;
  json?: boolean;
}

/** The tutorial's slice of the default hub dataset; a file or a named dataset is read whole unless sliced. */
const DEFAULT_SPLIT = 'train[:5000]';
const DEFAULT_TEST_SIZE = '0.2';

type ParsedOptions = Omit<PrepareOptions, 'inputs' | 'tokenizerDir' | 'validationInputs'> & {
  input?: string;
  validationFile?: string;
  dataset?: string;
  datasetConfig?: string;
  tokenizer?: string;
  json: boolean;
};

/** Typed, validated options (everything checkable without reading a file). */
function parsePrepareOptions(raw: RawOptions): ParsedOptions {
  if (raw.input !== undefined && raw.dataset !== undefined) {
    throw new QaFtError('BAD_ARGUMENT', '--input and --dataset both name the data; pass one', {
      hint: '--input FILE for a local file, --dataset ID for a hub dataset',
    });
  }
  if (raw.validationSplit !== undefined && raw.input !== undefined) {
    throw new QaFtError(
      'BAD_ARGUMENT',
      '--validation-split names a split of a hub dataset; with --input the validation data is a file',
      { hint: 'pass --validation-file FILE' },
    );
  }
  if (raw.validationSplit !== undefined && raw.validationFile !== undefined) {
    throw new QaFtError('BAD_ARGUMENT', '--validation-file and --validation-split both name the test split; pass one');
  }
  const given = raw.validationFile !== undefined || raw.validationSplit !== undefined;
  if (given && raw.testSize !== undefined) {
    throw new QaFtError(
      'BAD_ARGUMENT',
      `--test-size draws the test split from the input at random; with ${raw.validationFile !== undefined ? '--validation-file' : '--validation-split'} the test split is that data, as it is`,
      {
        hint: 'drop --test-size (use --max-eval-samples N to evaluate on fewer rows)',
      },
    );
  }
  if (raw.datasetConfig !== undefined && raw.input !== undefined) {
    throw new QaFtError(
      'BAD_ARGUMENT',
      '--dataset-config names a config of a hub dataset; it does not apply to --input',
    );
  }
  const split = raw.split ?? (raw.input !== undefined || raw.dataset !== undefined ? 'train' : DEFAULT_SPLIT);
  const testSize = given ? 0 : parseNumberOption('--test-size', raw.testSize ?? DEFAULT_TEST_SIZE);
  checkPrepareOptions({ split, testSize }); // a malformed --split or --test-size fails here, before anything is read
  if (raw.validationSplit !== undefined) parseSplit(raw.validationSplit);
  const seed = parseNumberOption('--seed', raw.seed, { int: true, min: 0 });
  const maxLength = parseNumberOption('--max-length', raw.maxLength, { int: true });
  const docStride =
    raw.docStride === undefined ? undefined : parseNumberOption('--doc-stride', raw.docStride, { int: true });
  const maxTrainSamples =
    raw.maxTrainSamples === undefined
      ? undefined
      : parseNumberOption('--max-train-samples', raw.maxTrainSamples, { int: true, min: 1 });
  const maxEvalSamples =
    raw.maxEvalSamples === undefined
      ? undefined
      : parseNumberOption('--max-eval-samples', raw.maxEvalSamples, { int: true, min: 1 });
  return {
    input: raw.input,
    validationFile: raw.validationFile,
    dataset: raw.dataset,
    datasetConfig: raw.datasetConfig,
    tokenizer: raw.tokenizer,
    split,
    ...(raw.validationSplit === undefined ? {} : { validationSplit: raw.validationSplit }),
    read: columnOptions(raw),
    testSize,
    seed,
    maxLength,
    docStride,
    ...(maxTrainSamples === undefined ? {} : { maxTrainSamples }),
    ...(maxEvalSamples === undefined ? {} : { maxEvalSamples }),
    outDir: raw.out,
    skipInvalid: Boolean(raw.skipInvalid),
    versionTwoWithNegative: Boolean(raw.version2WithNegative),
    json: Boolean(raw.json),
  };
}

const PHASE_LABEL: Record<PreparePhase, string> = {
  read: 'Reading',
  'tokenize-train': 'Tokenizing train',
  'tokenize-test': 'Tokenizing test',
  write: 'Writing',
};

function summarize(m: PreparedManifest, outDir: string, seconds: number, REJECTED_FILE: string): string {
  const stride = m.docStride === null ? 'no doc stride' : `doc stride ${m.docStride}`;
  const skipped: string[] = [];
  if (m.counts.skippedInvalid > 0)
    skipped.push(
      `${m.counts.skippedInvalid} invalid rows skipped (written with their reasons to ${join(outDir, REJECTED_FILE)})`,
    );
  const located = m.counts.locatedAnswers ?? 0;
  if (located > 0) {
    const twice = m.counts.ambiguousAnswers ?? 0;
    skipped.push(
      `${located} answers without a start were located in their context${twice > 0 ? ` (${twice} occur${twice === 1 ? 's' : ''} more than once: the first occurrence was used)` : ''}`,
    );
  }
  const test = m.validation
    ? `test: ${m.validation.dataset ? `${m.validation.split ?? 'validation'} of ${m.validation.dataset}` : m.validation.path} (${m.validation.format}, ${m.validation.rows} rows), as it is`
    : `test size ${m.testSize}, seed ${m.seed}`;
  if (m.counts.skippedLongQuestion > 0)
    skipped.push(`${m.counts.skippedLongQuestion} rows skipped because the question leaves no room for context`);
  return (
    `Prepared ${m.split} of ${m.source.dataset ?? m.source.path} (${m.source.format}, ${m.source.rows} rows): ` +
    `${m.sizes.train.rows} train and ${m.sizes.test.rows} test examples (${test}) → ` +
    `${m.sizes.train.features} train and ${m.sizes.test.features} test features, max length ${m.maxLength}, ${stride}. ` +
    (m.versionTwoWithNegative
      ? `SQuAD 2.0: ${m.counts.noAnswerRows ?? 0} questions have no answer (labelled at [CLS]). `
      : '') +
    `${m.counts.truncated} contexts were truncated; ${m.counts.unanswerable} windows do not hold their answer and are labelled (0, 0)` +
    `${skipped.length ? `; ${skipped.join('; ')}` : ''}. Tokenizer: ${m.tokenizer.dir}. Written to ${outDir} in ${seconds.toFixed(1)} s.`
  );
}

async function run(raw: RawOptions): Promise<void> {
  const o = parsePrepareOptions(raw);
  const progress = createProgress({ quiet: Boolean(raw.quiet) });
  const hub = hubResolveOptions(raw, downloadProgress(progress));
  let inputs: string[];
  let validationInputs: string[] | undefined;
  let dataset: string | undefined;
  if (o.input !== undefined) inputs = [o.input];
  else {
    dataset = o.dataset ?? (o.versionTwoWithNegative ? DEFAULTS.squadV2DatasetId : DEFAULTS.datasetId);
    const hubData = { ...hub, ...(o.datasetConfig === undefined ? {} : { config: o.datasetConfig }) };
    inputs = await resolveDatasetFiles(dataset, parseSplit(o.split).name, hubData);
    if (o.validationSplit !== undefined)
      validationInputs = await resolveDatasetFiles(dataset, parseSplit(o.validationSplit).name, hubData);
  }
  if (o.validationFile !== undefined) validationInputs = [o.validationFile];
  const tokenizerDir = (): Promise<string> => resolveTokenizer(o.tokenizer ?? DEFAULTS.modelId, hub);
  // loaded here so that other commands do not pay for the tokenizer, Arrow and Parquet modules at start-up
  const { prepareDataset, REJECTED_FILE } = await import('../tokenize/pipeline.js');
  let phase: PreparePhase | undefined;
  try {
    const onNotice = (line: string): void => info(line);
    const options = {
      ...o,
      inputs,
      ...(validationInputs === undefined ? {} : { validationInputs }),
      dataset,
      tokenizerDir,
      onNotice,
    };
    const { manifest, seconds } = await prepareDataset(options, (p) => {
      if (p.phase !== phase) {
        phase = p.phase;
        progress.start(PHASE_LABEL[p.phase], p.total);
      }
      if (p.done > 0) progress.update(p.done);
    });
    progress.stop();
    if (o.json) printJson(manifest);
    else info(summarize(manifest, o.outDir, seconds, REJECTED_FILE));
  } finally {
    progress.stop();
  }
}

/** `PrepareOptions`' fields as this command's flags (the rest are the fields in kebab case). */
const PREPARE_FLAGS = flagNames({
  inputs: '--input',
  validationInputs: '--validation-file',
  outDir: '--out',
  config: '--dataset-config', // the hub's dataset config
  versionTwoWithNegative: '--version-2-with-negative',
  ...COLUMN_FLAGS,
});

export function prepareCommand(): Command {
  const command = new Command('prepare')
    .description(
      'tokenize QA data (your own file, a hub dataset, or by default SQuAD) into labelled train/test features',
    )
    .addHelpText(
      'after',
      `
Data formats (--input, --validation-file; guessed from the name and first bytes, or --format):
  jsonl       JSON Lines, one record a line (also a .json file holding one record a line)
  json        a JSON array of flat records
  squad-json  SQuAD v1.1/2.0 JSON {data: [{title, paragraphs: [{context, qas: [...]}]}]}
  csv, tsv    a header line naming the columns; RFC 4180 quoting (commas, quotes, newlines in fields), BOM, \r\n
  parquet     any column names (the hub's SQuAD layout too)
  arrow       Arrow IPC, file or stream (what datasets' save_to_disk and cache hold)
Answer column cells: datasets' {"text": [...], "answer_start": [...]} (in a CSV cell as JSON text), a list of
strings, or one string; answers without a start are located in the context (the first occurrence). An empty list
or string is a question without an answer (SQuAD 2.0, with --version-2-with-negative).

Examples:
  qa-ft prepare --input faq.jsonl --validation-file faq-dev.jsonl
  qa-ft prepare --input sheet.csv --question-column query --context-column passage --answer-column answer
  qa-ft prepare --dataset rajpurkar/squad --split train --validation-split validation`,
    )
    .option(
      '--input <file>',
      `your data file (formats below; default: the hub dataset ${DEFAULTS.datasetId}, train[:5000])`,
    )
    .option(
      '--validation-file <file>',
      'the test split, used as it is (same format and columns as --input); no random split',
    )
    .option(
      '--dataset <id[@rev]>',
      "a hub dataset with QA columns, e.g. rajpurkar/squad or adversarial_qa (its Parquet files, or the hub's Parquet export)",
    )
    .option('--dataset-config <name>', 'the config (subset) of --dataset, e.g. adversarialQA')
    .option(
      '--split <spec>',
      `split and datasets slice to read: 'train', 'train[:5000]', 'train[100:200]', 'train[:10%]' (default: all of --input or --dataset's train; ${DEFAULT_SPLIT} of the default dataset)`,
    )
    .option(
      '--validation-split <spec>',
      "a split of the hub dataset used as the test split as it is, e.g. 'validation'",
    )
    .option(
      '--test-size <fraction>',
      `fraction of rows held out for test at random, in [0, 1); 0 keeps all rows in train (default ${DEFAULT_TEST_SIZE}; not with a validation file or split)`,
    )
    .option('--max-train-samples <n>', 'use only the first N train examples (as run_qa.py)')
    .option('--max-eval-samples <n>', 'use only the first N test examples (as run_qa.py)')
    .option(
      '--seed <n>',
      'seed of the train/test split (the same rows as datasets train_test_split(seed=n))',
      String(DEFAULTS.seed),
    )
    .option('--max-length <n>', 'tokens per window, special tokens included', String(DEFAULTS.maxLength))
    .option(
      '--doc-stride <n>',
      'split long contexts into overlapping windows sharing N tokens (run_qa.py uses 128); off by default',
    )
    .option(
      '--tokenizer <dir|id>',
      `tokenizer directory (tokenizer.json, vocab.txt, or vocab.json + merges.txt; no config.json needed) or hub model id (default: ${DEFAULTS.modelId})`,
    )
    .option('--out <dir>', 'output directory', DEFAULT_DATA_DIR)
    .option(
      '--skip-invalid',
      'drop rows whose answer is not in the context (or not at its answer_start), or with an empty context or question; they go to rejected.jsonl in --out',
    )
    .option(
      '--version-2-with-negative',
      `SQuAD 2.0: keep questions without an answer, labelled at [CLS] (default data: ${DEFAULTS.squadV2DatasetId})`,
    )
    .option('--json', 'print the manifest as JSON instead of the summary')
    .option('--quiet', 'no progress bars');
  return addHubOptions(addColumnOptions(command)).action(async (raw: RawOptions) => {
    await flagged(PREPARE_FLAGS, () => run(raw)); // the library's option fields are this command's flags
  });
}
