/**
 * `qa-ft export --model DIR --out DIR`: a clean Hugging Face model directory (config.json, model.safetensors,
 * tokenizer files, README.md model card with the training metrics) from what `qa-ft train` wrote; with `--onnx`,
 * also onnx/model.onnx and onnx/model_quantized.onnx for ONNX Runtime and transformers.js.
 */
import { Command } from 'commander';
import { addHubOptions, downloadProgress, flagged, flagNames, hubResolveOptions } from './options.js';
import { createProgress, info, printJson } from './output.js';

interface RawExportOptions {
  model: string;
  out: string;
  tokenizer?: string;
  name?: string;
  baseModel?: string;
  dataset?: string;
  overwrite?: boolean;
  onnx?: boolean;
  revision?: string;
  offline?: boolean;
  json?: boolean;
  quiet?: boolean;
}

async function run(raw: RawExportOptions): Promise<void> {
  const [{ resolveModel, resolveTokenizer }, { exportModel }] = await Promise.all([
    import('../hub/index.js'),
    import('../export/write-export.js'),
  ]);
  const progress = createProgress({ quiet: raw.json || raw.quiet });
  try {
    const hub = hubResolveOptions(raw, downloadProgress(progress));
    const modelDir = await resolveModel(raw.model, hub);
    const tokenizerDir = raw.tokenizer === undefined ? undefined : await resolveTokenizer(raw.tokenizer, hub);
    progress.stop();
    const result = await exportModel(modelDir, raw.out, {
      tokenizerDir,
      name: raw.name,
      baseModel: raw.baseModel,
      dataset: raw.dataset,
      overwrite: raw.overwrite,
      onnx: raw.onnx,
    });
    if (raw.json) {
      printJson(result);
      return;
    }
    const m = result.metrics;
    const scores =
      m.exactMatch !== undefined || m.f1 !== undefined
        ? `; EM ${m.exactMatch?.toFixed(2) ?? '—'}, F1 ${m.f1?.toFixed(2) ?? '—'} (from ${result.trainingSources.join(' and ')})`
        : '; no evaluation metrics found (metrics.jsonl / trainer_state.json)';
    info(
      `Exported ${(result.parameters / 1e6).toFixed(2)} M parameters to ${result.outDir}: ${result.files.join(', ')}${scores}.`,
    );
  } finally {
    progress.stop();
  }
}

/** `exportModel`'s option fields as this command's flags (the rest are the fields in kebab case). */
const EXPORT_FLAGS = flagNames({ outDir: '--out', tokenizerDir: '--tokenizer' });

export function exportCommand(): Command {
  const command = new Command('export')
    .description(
      'write a clean Hugging Face model directory (config, safetensors, tokenizer, model card) from a trained model',
    )
    .requiredOption('--model <dir>', 'trained model directory (what `qa-ft train` wrote) or hub id')
    .requiredOption(
      '--out <dir>',
      'the directory to write (new or empty, unless --overwrite; never the model or tokenizer directory or one holding them)',
    )
    .option(
      '--tokenizer <dir>',
      'take the tokenizer files from this directory or hub id (default: the model directory)',
    )
    .option('--name <name>', 'model name in the card (default: the --out directory name)')
    .option('--base-model <id>', 'the model it was fine-tuned from, for the card (e.g. distilbert-base-uncased)')
    .option('--dataset <id>', 'the training dataset, for the card (e.g. rajpurkar/squad)')
    .option('--overwrite', 'write into a non-empty --out directory: replace the files export writes, keep the others')
    .option(
      '--onnx',
      'also write onnx/model.onnx (fp32) and onnx/model_quantized.onnx (q8) for ONNX Runtime and transformers.js',
    );
  return addHubOptions(command)
    .option('--json', 'print the result as JSON')
    .option('--quiet', 'no progress bars')
    .action(async (raw: RawExportOptions) => {
      await flagged(EXPORT_FLAGS, () => run(raw)); // the library's option fields are this command's flags
    });
}
