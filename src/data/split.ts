/**
 * Hugging Face `datasets` split strings (`train`, `train[:5000]`, `train[100:200]`, `train[:10%]`,
 * `train[-10%:](pct1_dropremainder)`) and the seeded train/test split of `Dataset.train_test_split`.
 */
import { field, OptionError, opt, QaFtError } from '../errors.js';
import { at, type Defined } from '../util/checked-index.js';
import { permutation } from './rng.js';

export interface SplitSpec {
  /** The split name, e.g. `train`. */
  readonly name: string;
  readonly from?: number;
  readonly to?: number;
  /** `%` when the bounds are percentages of the split. */
  readonly unit: 'abs' | '%';
  readonly rounding: 'closest' | 'pct1_dropremainder';
}

// datasets' _SUB_SPEC_RE: name, optional [from:to] with optional % on each bound, optional (rounding)
const SPLIT_RE = /^(\w+(?:\.\w+)*)(?:\[(?:(-?\d+)(%)?)?:(?:(-?\d+)(%)?)?\])?(?:\(([^)]*)\))?$/;

/** `text` as a split spec; a malformed one is an OptionError naming the option field `option` it came from. */
export function parseSplit(text: string, option = 'split'): SplitSpec {
  const bad = (why: string): QaFtError =>
    new OptionError('BAD_ARGUMENT', opt`malformed ${field(option)} '${text}': ${why}`, {
      hint: opt`expected NAME or NAME[FROM:TO] with integers or percentages, e.g. 'train', 'train[:5000]', 'train[100:200]', 'train[:10%]'`,
    });
  const [, name, fromS, fromPct, toS, toPct, roundingS] = SPLIT_RE.exec(text.trim()) ?? [];
  if (name === undefined) throw bad('not of the form NAME[FROM:TO]'); // the name is the one group every match has
  // as in datasets, one `%` makes both bounds percentages (`train[10%:20]` = 10% to 20%)
  const unit = fromPct || toPct ? '%' : 'abs';
  const from = fromS === undefined ? undefined : Number(fromS);
  const to = toS === undefined ? undefined : Number(toS);
  if (unit === '%' && [from, to].some((b) => b !== undefined && Math.abs(b) > 100)) {
    throw bad('percentages must lie in [-100, 100]');
  }
  const rounding = roundingS === undefined || roundingS === '' ? 'closest' : roundingS;
  if (rounding !== 'closest' && rounding !== 'pct1_dropremainder') {
    throw bad(`unknown rounding '${rounding}' (closest or pct1_dropremainder)`);
  }
  if (rounding !== 'closest' && unit !== '%') throw bad('a rounding applies to percentage slices only');
  return { name, from, to, unit, rounding };
}

/** Python's `round()`: halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The absolute [from, to) row range a split selects from `n` rows (datasets' `_rel_to_abs_instr`). */
export function splitRange(spec: SplitSpec, n: number): { from: number; to: number } {
  const pct = (b: number): number => {
    if (spec.rounding === 'closest') return roundHalfEven((b * n) / 100);
    if (n < 100) {
      throw new QaFtError('BAD_ARGUMENT', `pct1_dropremainder needs at least 100 rows, the split has ${n}`);
    }
    return b * Math.trunc(n / 100);
  };
  let from = spec.from === undefined ? 0 : spec.unit === '%' ? pct(spec.from) : spec.from;
  let to = spec.to === undefined ? n : spec.unit === '%' ? pct(spec.to) : spec.to;
  if (from < 0) from = Math.max(n + from, 0);
  if (to < 0) to = Math.max(n + to, 0);
  from = Math.min(from, n);
  to = Math.min(to, n);
  return { from, to: Math.max(from, to) };
}

export function applySplit<T>(rows: readonly T[], spec: SplitSpec): T[] {
  const { from, to } = splitRange(spec, rows.length);
  return rows.slice(from, to);
}

interface TrainTest<T> {
  readonly train: T[];
  readonly test: T[];
}

/** The fraction held out for test: in [0, 1) (0 keeps every row in train). */
export function checkTestSize(testSize: number): void {
  if (!(testSize >= 0 && testSize < 1)) {
    throw new OptionError('BAD_ARGUMENT', opt`${field('testSize')} must be in [0, 1), got ${testSize}`, {
      hint: opt`e.g. 0.2 for an 80/20 split, 0 to keep every row in train`,
    });
  }
}

/**
 * `Dataset.train_test_split(test_size=testSize, seed=seed)`: test = the first ceil(testSize·n) indices of
 * `np.random.default_rng(seed).permutation(n)`, train = the rest, both in permutation order.
 * `testSize` 0 keeps every row in train, in its original order.
 */
export function trainTestSplit<T extends Defined>(
  rows: readonly T[],
  options: { testSize: number; seed: number },
): TrainTest<T> {
  const { testSize, seed } = options;
  checkTestSize(testSize);
  if (!Number.isInteger(seed) || seed < 0) {
    throw new QaFtError('BAD_ARGUMENT', `seed must be a non-negative integer, got ${seed}`);
  }
  if (testSize === 0) return { train: [...rows], test: [] };
  const n = rows.length;
  const nTest = Math.ceil(testSize * n);
  const nTrain = n - nTest;
  if (nTrain <= 0) {
    throw new QaFtError('BAD_ARGUMENT', `with ${n} rows and test size ${testSize} the train split would be empty`);
  }
  const perm = permutation(n, seed);
  return {
    test: perm.slice(0, nTest).map((i) => at(rows, i)),
    train: perm.slice(nTest).map((i) => at(rows, i)),
  };
}
