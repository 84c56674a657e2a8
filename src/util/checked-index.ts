/**
 * Index reads that the compiler can check (`noUncheckedIndexedAccess` types `xs[i]` as `T | undefined`), for an
 * index that the caller's own logic keeps in range: a permutation of `0…n-1`, arrays built one per input. A miss
 * there is a bug in qa-ft, not a missing value, so it throws a plain RangeError (the CLI reports it as an internal
 * error, with its stack) instead of going on with `undefined` or a made-up default.
 * `T extends Defined`: elements are never `undefined`, so `undefined` can only mean out of range.
 */

/** Any value but `undefined`. */
// biome-ignore lint/complexity/noBannedTypes: `{}` is meant: every value but null and undefined.
export type Defined = {} | null;

/** `items[i]`, or a RangeError when `i` is not an index of `items`. */
export function at<T extends Defined>(items: ArrayLike<T>, i: number): T {
  const v = items[i];
  if (v === undefined) throw new RangeError(`index ${i} is out of range for ${items.length} items`);
  return v;
}

/** `[a[i], b[i]]` for each i; arrays of different lengths are a RangeError (a bug in the caller, as above). */
export function zip<A, B extends Defined>(a: readonly A[], b: readonly B[]): [A, B][] {
  if (a.length !== b.length) throw new RangeError(`zip of ${a.length} and ${b.length} items`);
  return a.map((x, i) => [x, at(b, i)]);
}
