/** The PyTorch parity fixture `../shared/fixtures/tiny-distilbert-qa` (see its fixture.json → doc). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { QaBatch } from '../../src/records.js';
import { sharedDir } from '../helpers/cli.js';
import { at } from '../../src/util/checked-index.js';

export const tinyDir = join(sharedDir, 'fixtures', 'tiny-distilbert-qa');

interface FixtureJson {
  batches: { input_ids: number[][]; attention_mask: number[][]; start_positions: number[]; end_positions: number[] }[];
  forward: { start_logits: number[][]; end_logits: number[][]; loss: number };
}

export const fixture = JSON.parse(readFileSync(join(tinyDir, 'fixture.json'), 'utf8')) as FixtureJson;

export function fixtureBatch(i: number, labelled = true): QaBatch {
  const b = fixture.batches[i];
  if (b === undefined) throw new Error(`fixture has no batch ${i}`);
  return labelled
    ? { inputIds: b.input_ids, attentionMask: b.attention_mask, startPositions: b.start_positions, endPositions: b.end_positions }
    : { inputIds: b.input_ids, attentionMask: b.attention_mask };
}

/** max |a - b| / max |b| over a whole tensor (b is the reference). */
export function relMaxDiff(a: ArrayLike<number>, b: ArrayLike<number>): { maxDiff: number; maxRef: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} ≠ ${b.length}`);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < a.length; i++) {
    const x = at(a, i), ref = at(b, i);
    maxDiff = Math.max(maxDiff, Math.abs(x - ref));
    maxRef = Math.max(maxRef, Math.abs(ref));
  }
  return { maxDiff, maxRef };
}
