/**
 * The checks of `prepareDataset`'s options that need no file (the split spec and the test size), in a module
 * light to import: `qa-ft prepare` makes them before it loads the pipeline (the tokenizer, the Arrow and Parquet
 * readers) or downloads anything.
 */
import { checkTestSize, parseSplit } from '../data/split.js';

export function checkPrepareOptions(options: { readonly split: string; readonly testSize: number }): void {
  parseSplit(options.split);
  checkTestSize(options.testSize);
}
