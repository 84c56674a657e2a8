/**
 * The checks of `prepareDataset`'s options that need no file (the split spec and the test size), in a module
 * light to import: `qa-ft prepare` makes them before it loads the pipeline (the tokenizer, the Arrow and Parquet
 * readers) or downloads anything.
 */
import { QaFtError } from '../errors.js';
import { parseSplit } from '../data/split.js';

export function checkPrepareOptions(options: { readonly split: string; readonly testSize: number }): void {
  parseSplit(options.split);
  if (!(options.testSize >= 0 && options.testSize < 1)) {
    throw new QaFtError('BAD_ARGUMENT', `--test-size must be in [0, 1), got ${options.testSize}`, {
      hint: 'e.g. 0.2 for an 80/20 split, 0 to keep every row in train',
    });
  }
}
