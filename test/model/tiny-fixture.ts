/**
 * The PyTorch parity fixtures `../shared/fixtures/tiny-*-qa` (see each fixture.json → doc): the DistilBERT one made
 * by reference/make_fixture.py (with every gradient), the other families' by make_hf_fixture.py (transformers'
 * own modules, with the parameters whose gradient is only rounding noise listed in `noise_params`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { QaBatch } from '../../src/records.js';
import { sharedDir } from '../helpers/cli.js';
import { at } from '../../src/util/checked-index.js';

interface FixtureBatchJson {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids?: number[][];
  start_positions: number[];
  end_positions: number[];
}

export interface FixtureJson {
  batches: FixtureBatchJson[];
  forward: { start_logits: number[][]; end_logits: number[][]; loss: number };
  train: { lr: number; weight_decay: number; max_grad_norm: number; steps: number; lrs: number[]; losses: number[]; grad_norms: number[] };
  /** make_hf_fixture.py only: parameters whose gradient stayed below 1e-6 of the largest at every step. */
  noise_params?: string[];
}

export interface Fixture {
  readonly family: string;
  readonly dir: string;
  readonly json: FixtureJson;
  /** Batch `i` as the model takes it (token type ids where the fixture has them). */
  batch(i: number, labelled?: boolean): QaBatch;
}

export const FAMILIES = ['distilbert', 'bert', 'roberta', 'electra', 'albert', 'deberta-v2'] as const;

export function loadFixture(family: string): Fixture {
  const dir = join(sharedDir, 'fixtures', `tiny-${family}-qa`);
  const json = JSON.parse(readFileSync(join(dir, 'fixture.json'), 'utf8')) as FixtureJson;
  return {
    family,
    dir,
    json,
    batch(i, labelled = true) {
      const b = json.batches[i];
      if (b === undefined) throw new Error(`fixture ${family} has no batch ${i}`);
      const types = b.token_type_ids === undefined ? {} : { tokenTypeIds: b.token_type_ids };
      const labels = labelled ? { startPositions: b.start_positions, endPositions: b.end_positions } : {};
      return { inputIds: b.input_ids, attentionMask: b.attention_mask, ...types, ...labels };
    },
  };
}

const distilbert = loadFixture('distilbert');
export const tinyDir = distilbert.dir;
export const fixture = distilbert.json;

export function fixtureBatch(i: number, labelled = true): QaBatch {
  return distilbert.batch(i, labelled);
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
