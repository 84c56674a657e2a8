/**
 * The PyTorch parity fixtures `../shared/fixtures/tiny-*-qa` (see each fixture.json → doc): the DistilBERT one made
 * by test/fixtures/make_fixture.py (with every gradient), the other families' by test/fixtures/make_hf_fixture.py
 * (transformers' own modules, with the parameters whose gradient is only rounding noise listed in `noise_params`).
 * test/fixtures/parity-fixtures.json holds each one's command and the fixture version the loader checks.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { QaBatch } from '../../src/records.js';
import { repoRoot, sharedDir } from '../helpers/cli.js';
import { at } from '../../src/util/checked-index.js';

/** What made the fixtures: the version of their format and, per family, the command that regenerates it. */
interface ParityFixtures {
  fixture_version: number;
  regenerate: Record<string, string>;
}

const MANIFEST = 'test/fixtures/parity-fixtures.json';
const parity = JSON.parse(readFileSync(join(repoRoot, MANIFEST), 'utf8')) as ParityFixtures;

interface FixtureBatchJson {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids?: number[][];
  start_positions: number[];
  end_positions: number[];
}

export interface FixtureJson {
  /** The generator's format version (parity-fixtures.json); absent in fixtures made before it was written: 1. */
  fixture_version?: number;
  batches: FixtureBatchJson[];
  forward: { start_logits: number[][]; end_logits: number[][]; loss: number };
  train: {
    lr: number;
    weight_decay: number;
    max_grad_norm: number;
    steps: number;
    lrs: number[];
    losses: number[];
    grad_norms: number[];
  };
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

/**
 * `dir/fixture.json`, refused — with the command that regenerates it — when it is missing or its version is not
 * the one the tests read, so a stale fixture fails with a hint instead of as a wrong number.
 */
export function readFixtureJson(dir: string, family: string): FixtureJson {
  const file = join(dir, 'fixture.json');
  const regenerate = `regenerate it: ${parity.regenerate[family] ?? `see ${MANIFEST}`}`;
  let json: FixtureJson;
  try {
    json = JSON.parse(readFileSync(file, 'utf8')) as FixtureJson;
  } catch (e) {
    throw new Error(
      `${file}: cannot read the ${family} parity fixture (${(e as Error).message.split('\n')[0]}); ${regenerate}`,
    );
  }
  const version = json.fixture_version ?? 1;
  if (version !== parity.fixture_version) {
    throw new Error(
      `${file}: fixture version ${version}, but the tests read version ${parity.fixture_version} (${MANIFEST}); ${regenerate}`,
    );
  }
  return json;
}

export function fixtureDir(family: string): string {
  return join(sharedDir, 'fixtures', `tiny-${family}-qa`);
}

export function loadFixture(family: string): Fixture {
  const dir = fixtureDir(family);
  const json = readFixtureJson(dir, family);
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
    const x = at(a, i),
      ref = at(b, i);
    maxDiff = Math.max(maxDiff, Math.abs(x - ref));
    maxRef = Math.max(maxRef, Math.abs(ref));
  }
  return { maxDiff, maxRef };
}
