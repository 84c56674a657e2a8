/**
 * `qa-ft prepare`: a SQuAD file (or the hub's rajpurkar/squad, or rajpurkar/squad_v2 with
 * `--version-2-with-negative`) → tokenized, labelled train/test features on disk.
 */
import { Command } from 'commander';
import { DEFAULT_DATASET_ID, DEFAULT_MAX_LENGTH, DEFAULT_MODEL_ID, DEFAULT_SEED, SQUAD_V2_DATASET_ID } from '../defaults.js';
import { resolveDatasetFiles, resolveTokenizer } from '../hub/index.js';
import { parseSplit } from '../data/split.js';
import type { PrepareOptions, PreparePhase } from '../tokenize/pipeline.js';
import { checkPrepareOptions } from '../tokenize/prepare-options.js';
import type { PreparedManifest } from '../tokenize/prepared.js';
import { addHubOptions, DEFAULT_DATA_DIR, downloadProgress, hubResolveOptions, parseNumberOption, type HubFlags } from './options.js';
import { createProgress, info, printJson } from './output.js';

interface RawOptions extends HubFlags {
  quiet?: boolean;
  input?: string;
  split: string;
  testSize: string;
  seed: string;
  maxLength: string;
  docStride?: string;
  tokenizer?: string;
  out: string;
  skipInvalid?: boolean;
  version2WithNegative?: boolean;
  json?: boolean;
}

/** Typed, validated options (everything checkable without reading a file). */
function parsePrepareOptions(raw: RawOptions): Omit<PrepareOptions, 'inputs' | 'tokenizerDir'> & { input?: string; tokenizer?: string; json: boolean } {
  const testSize = parseNumberOption('--test-size', raw.testSize);
  checkPrepareOptions({ split: raw.split, testSize }); // a malformed --split or --test-size fails here, before anything is read
  const seed = parseNumberOption('--seed', raw.seed, { int: true, min: 0 });
  const maxLength = parseNumberOption('--max-length', raw.maxLength, { int: true });
  const docStride = raw.docStride === undefined ? undefined : parseNumberOption('--doc-stride', raw.docStride, { int: true });
  return {
    input: raw.input,
    tokenizer: raw.tokenizer,
    split: raw.split,
    testSize,
    seed,
    maxLength,
    docStride,
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

function summarize(m: PreparedManifest, outDir: string, seconds: number): string {
  const stride = m.docStride === null ? 'no doc stride' : `doc stride ${m.docStride}`;
  const skipped: string[] = [];
  if (m.counts.skippedInvalid > 0) skipped.push(`${m.counts.skippedInvalid} invalid rows skipped`);
  if (m.counts.skippedLongQuestion > 0) skipped.push(`${m.counts.skippedLongQuestion} rows skipped because the question leaves no room for context`);
  return (
    `Prepared ${m.split} of ${m.source.dataset ?? m.source.path} (${m.source.format}, ${m.source.rows} rows): ` +
    `${m.sizes.train.rows} train and ${m.sizes.test.rows} test examples (test size ${m.testSize}, seed ${m.seed}) → ` +
    `${m.sizes.train.features} train and ${m.sizes.test.features} test features, max length ${m.maxLength}, ${stride}. ` +
    (m.versionTwoWithNegative ? `SQuAD 2.0: ${m.counts.noAnswerRows ?? 0} questions have no answer (labelled at [CLS]). ` : '') +
    `${m.counts.truncated} contexts were truncated; ${m.counts.unanswerable} windows do not hold their answer and are labelled (0, 0)` +
    `${skipped.length ? `; ${skipped.join('; ')}` : ''}. Tokenizer: ${m.tokenizer.dir}. Written to ${outDir} in ${seconds.toFixed(1)} s.`
  );
}

async function run(raw: RawOptions): Promise<void> {
  const o = parsePrepareOptions(raw);
  const progress = createProgress({ quiet: Boolean(raw.quiet) });
  const hub = hubResolveOptions(raw, downloadProgress(progress));
  let inputs: string[];
  let dataset: string | undefined;
  if (o.input !== undefined) inputs = [o.input];
  else {
    dataset = o.versionTwoWithNegative ? SQUAD_V2_DATASET_ID : DEFAULT_DATASET_ID;
    inputs = await resolveDatasetFiles(dataset, parseSplit(o.split).name, hub);
  }
  const tokenizerDir = (): Promise<string> => resolveTokenizer(o.tokenizer ?? DEFAULT_MODEL_ID, hub);
  // loaded here so that other commands do not pay for the tokenizer, Arrow and Parquet modules at start-up
  const { prepareDataset } = await import('../tokenize/pipeline.js');
  let phase: PreparePhase | undefined;
  try {
    const onNotice = (line: string): void => info(line);
    const { manifest, seconds } = await prepareDataset({ ...o, inputs, dataset, tokenizerDir, onNotice }, (p) => {
      if (p.phase !== phase) {
        phase = p.phase;
        progress.start(PHASE_LABEL[p.phase], p.total);
      }
      if (p.done > 0) progress.update(p.done);
    });
    progress.stop();
    if (o.json) printJson(manifest);
    else info(summarize(manifest, o.outDir, seconds));
  } finally {
    progress.stop();
  }
}

export function prepareCommand(): Command {
  const command = new Command('prepare')
    .description('tokenize a SQuAD file into labelled train/test features (the HF question-answering tutorial)')
    .option('--input <file>', `SQuAD data: Parquet, Arrow IPC (file or stream) or SQuAD v1.1/2.0 JSON (default: the hub dataset ${DEFAULT_DATASET_ID})`)
    .option('--split <spec>', "datasets slice of the input: 'train', 'train[:5000]', 'train[100:200]', 'train[:10%]'", 'train[:5000]')
    .option('--test-size <fraction>', 'fraction of rows held out for test, in [0, 1); 0 keeps all rows in train', '0.2')
    .option('--seed <n>', 'seed of the train/test split (the same rows as datasets train_test_split(seed=n))', String(DEFAULT_SEED))
    .option('--max-length <n>', 'tokens per window, special tokens included', String(DEFAULT_MAX_LENGTH))
    .option('--doc-stride <n>', 'split long contexts into overlapping windows sharing N tokens (run_qa.py uses 128); off by default')
    .option('--tokenizer <dir|id>', `tokenizer directory (tokenizer.json, vocab.txt, or vocab.json + merges.txt; no config.json needed) or hub model id (default: ${DEFAULT_MODEL_ID})`)
    .option('--out <dir>', 'output directory', DEFAULT_DATA_DIR)
    .option('--skip-invalid', 'drop rows whose answer does not match the context, or with an empty context or question')
    .option('--version-2-with-negative', `SQuAD 2.0: keep questions without an answer, labelled at [CLS] (default data: ${SQUAD_V2_DATASET_ID})`)
    .option('--json', 'print the manifest as JSON instead of the summary')
    .option('--quiet', 'no progress bars');
  return addHubOptions(command).action(async (raw: RawOptions) => {
    await run(raw);
  });
}
