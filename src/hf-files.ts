/**
 * The file names of a Hugging Face model directory that qa-ft reads, downloads and writes, in one place.
 * Imports nothing.
 */

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';
/**
 * A fast tokenizer's files (`tokenizer.json`, or WordPiece's `vocab.txt`, or byte-level BPE's `vocab.json` +
 * `merges.txt`) and their settings; each optional.
 */
export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'vocab.txt',
  'vocab.json',
  'merges.txt',
  'special_tokens_map.json',
] as const;
/** The tokenizer's settings (its class, special tokens, lower-casing), one of `TOKENIZER_FILES`. */
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';
/**
 * The tokenizer files fetched from the hub: `special_tokens_map.json` is left out, as `tokenizer.json` carries the
 * special tokens (and a cache Python wrote often lacks it, which would cost a request on every run).
 */
export const DOWNLOADED_TOKENIZER_FILES = TOKENIZER_FILES.filter((f) => f !== 'special_tokens_map.json');

/** What a tokenizer needs of those files, in words for messages. */
export const TOKENIZER_NEEDS = 'tokenizer.json, vocab.txt, or vocab.json + merges.txt';

/** Whether the files `has` reports make a tokenizer: `tokenizer.json`, `vocab.txt`, or `vocab.json` + `merges.txt`. */
export function makesTokenizer(has: (file: string) => boolean): boolean {
  return has('tokenizer.json') || has('vocab.txt') || (has('vocab.json') && has('merges.txt'));
}

/** qa-ft's own training state beside transformers' `trainer_state.json` (in checkpoints and the final model). */
export const QA_FT_STATE_FILE = 'qa-ft-state.json';
