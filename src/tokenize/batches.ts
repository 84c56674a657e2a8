/**
 * Features → padded batches for training and evaluation.
 *
 * Order: without shuffle, features in order (inference). With shuffle, a permutation seeded by (seed, epoch) —
 * NumPy's `default_rng([seed, epoch]).permutation(n)`, deterministic and checkable in Python. With
 * `groupByLength`, Hugging Face's `LengthGroupedSampler` (`get_length_grouped_indices`): the permutation is cut
 * into mega-batches of `min(n // (4·batchSize), 50)·batchSize` features, each sorted by length, longest first, and
 * the single longest feature is swapped to the very front so an out-of-memory shows at the first step.
 * Padding: to the longest member of each batch (dynamic), or to `maxLength` with `padToMaxLength`; token type ids
 * (for models that take them) are padded with 0.
 */
import { QaFtError } from '../errors.js';
import { permutation } from '../data/rng.js';
import { at } from '../util/checked-index.js';
import type { Feature, QaBatch } from '../records.js';

export interface BatchOptions {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed?: number;
  readonly epoch?: number;
  readonly groupByLength?: boolean;
  readonly padToMaxLength?: boolean;
  /** Required with `padToMaxLength`; also an upper bound checked against every feature when given. */
  readonly maxLength?: number;
  readonly padTokenId: number;
  /**
   * Attach the features' token type ids, padded with 0 (`takesTokenTypeIds(model config)`; default false). Features
   * without them (a tokenizer that gives only type 0) leave the batch without them: absent = zeros.
   */
  readonly tokenTypeIds?: boolean;
  /** Attach start/end positions (default true). */
  readonly withLabels?: boolean;
  /** Drop the last incomplete batch (default false, as HF's `dataloader_drop_last`). */
  readonly dropLast?: boolean;
}

export interface IndexedBatch {
  readonly batch: QaBatch;
  /** Index into the `features` array of each batch row. */
  readonly featureIndices: number[];
}

/** HF `get_length_grouped_indices` over a given permutation. */
export function lengthGroupedOrder(lengths: readonly number[], batchSize: number, perm: readonly number[]): number[] {
  const n = lengths.length;
  const megaBatchMult = Math.max(1, Math.min(Math.floor(n / (batchSize * 4)), 50));
  const megaSize = megaBatchMult * batchSize;
  const keyed = perm.map((i) => ({ i, length: at(lengths, i) }));
  const megas: { i: number; length: number }[][] = [];
  for (let from = 0; from < n; from += megaSize) {
    // Array.prototype.sort is stable, like Python's sorted(..., reverse=True)
    megas.push(keyed.slice(from, from + megaSize).sort((a, b) => b.length - a.length));
  }
  // the longest feature to the very front: the head of the first mega-batch whose head is longest (torch.argmax:
  // first maximum) trades places with the head of the first mega-batch
  const [first, ...rest] = megas;
  const firstHead = first?.[0];
  if (first === undefined || firstHead === undefined) return [];
  let longest = first;
  let longestHead = firstHead;
  for (const m of rest) {
    const head = m[0];
    if (head !== undefined && head.length > longestHead.length) [longest, longestHead] = [m, head];
  }
  longest[0] = firstHead;
  first[0] = longestHead;
  return megas.flatMap((m) => m.map(({ i }) => i));
}

/** The feature order of one epoch. */
export function batchOrder(
  lengths: readonly number[],
  options: Pick<BatchOptions, 'batchSize' | 'shuffle' | 'seed' | 'epoch' | 'groupByLength'>,
): number[] {
  const n = lengths.length;
  if (!options.shuffle) {
    if (options.groupByLength)
      throw new QaFtError('BAD_ARGUMENT', 'groupByLength needs shuffle (it groups a random permutation)');
    return Array.from({ length: n }, (_, i) => i);
  }
  const perm = permutation(n, [options.seed ?? 0, options.epoch ?? 0]);
  return options.groupByLength ? lengthGroupedOrder(lengths, options.batchSize, perm) : perm;
}

export function makeBatches(features: readonly Feature[], options: BatchOptions): IndexedBatch[] {
  const { batchSize, padTokenId } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new QaFtError('BAD_ARGUMENT', `batch size must be a positive integer, got ${batchSize}`);
  if (options.padToMaxLength && options.maxLength === undefined) {
    throw new QaFtError('BAD_ARGUMENT', 'padToMaxLength needs maxLength');
  }
  const lengths = features.map((f) => f.inputIds.length);
  if (options.maxLength !== undefined) {
    const i = lengths.findIndex((l) => l > (options.maxLength as number));
    if (i >= 0) {
      throw new QaFtError(
        'BAD_DATA',
        `feature ${i} (example ${features[i]?.exampleId}) has ${lengths[i]} tokens, above max length ${options.maxLength}`,
      );
    }
  }
  const order = batchOrder(lengths, options);
  const withLabels = options.withLabels ?? true;
  const out: IndexedBatch[] = [];
  for (let i = 0; i < order.length; i += batchSize) {
    const idx = order.slice(i, i + batchSize);
    if (idx.length < batchSize && options.dropLast) break;
    const members = idx.map((j) => at(features, j));
    const width = options.padToMaxLength
      ? (options.maxLength as number)
      : Math.max(...members.map((f) => f.inputIds.length));
    const inputIds: number[][] = [];
    const attentionMask: number[][] = [];
    const withTypes = options.tokenTypeIds === true && members.some((f) => f.tokenTypeIds !== undefined);
    const tokenTypeIds: number[][] = [];
    for (const f of members) {
      // not `concat`: apache-arrow sets Symbol.isConcatSpreadable, which sends every concat in the process down V8's
      // slow path
      const row = new Array<number>(width).fill(padTokenId);
      const mask = new Array<number>(width).fill(0);
      f.inputIds.forEach((id, t) => {
        row[t] = id;
        mask[t] = 1;
      });
      inputIds.push(row);
      attentionMask.push(mask);
      if (withTypes) {
        const types = new Array<number>(width).fill(0); // [T], 0 at padding as the tokenizer pads
        f.tokenTypeIds?.forEach((v, t) => {
          types[t] = v;
        });
        tokenTypeIds.push(types);
      }
    }
    const labels = withLabels
      ? { startPositions: members.map((f) => f.startPosition), endPositions: members.map((f) => f.endPosition) }
      : {};
    const batch: QaBatch = { inputIds, attentionMask, ...(withTypes ? { tokenTypeIds } : {}), ...labels };
    out.push({ batch, featureIndices: idx });
  }
  return out;
}
