/**
 * Reading `config.json` fields with checks, shared by every family's config parser: each read names the file and
 * the field and says what was expected (one-line BAD_CONFIG errors). A field that is present but `null` is an
 * error, not "absent".
 */
import { QaFtError } from '../errors.js';

export function bad(source: string, what: string, hint?: string): QaFtError {
  return new QaFtError('BAD_CONFIG', `${source}: ${what}`, hint === undefined ? {} : { hint });
}

export interface ConfigReader {
  readonly o: Readonly<Record<string, unknown>>;
  /** The raw value, or `dflt` when the key is absent. */
  get(key: string, dflt: unknown): unknown;
  /** A positive integer (a size). */
  posInt(key: string, dflt: number): number;
  /** A probability in [0, 1) (a dropout rate). */
  rate(key: string, dflt: number): number;
  /** A positive finite number (initializer_range, layer_norm_eps). */
  positive(key: string, dflt: number): number;
  /** A token id inside a vocabulary of `vocabSize`. */
  tokenId(key: string, dflt: number, vocabSize: number): number;
  /** One of `allowed` strings. */
  oneOf<T extends string>(key: string, dflt: T, allowed: readonly T[]): T;
}

/** Checked reads of a parsed config.json; throws unless it is a JSON object. */
export function configReader(json: unknown, source: string): ConfigReader {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw bad(source, `expected a JSON object, got ${Array.isArray(json) ? 'an array' : JSON.stringify(json)}`);
  }
  const o = json as Record<string, unknown>;
  const get = (key: string, dflt: unknown): unknown => (key in o ? o[key] : dflt);
  return {
    o,
    get,
    posInt(key, dflt) {
      const v = get(key, dflt);
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0)
        throw bad(source, `${key} is ${JSON.stringify(v)}, expected a positive integer`);
      return v;
    },
    rate(key, dflt) {
      const v = get(key, dflt);
      if (typeof v !== 'number' || !(v >= 0 && v < 1))
        throw bad(source, `${key} is ${JSON.stringify(v)}, expected a probability in [0, 1)`);
      return v;
    },
    positive(key, dflt) {
      const v = get(key, dflt);
      if (typeof v !== 'number' || !(v > 0 && Number.isFinite(v)))
        throw bad(source, `${key} is ${JSON.stringify(v)}, expected a positive number`);
      return v;
    },
    tokenId(key, dflt, vocabSize) {
      const v = get(key, dflt);
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v >= vocabSize) {
        throw bad(source, `${key} is ${JSON.stringify(v)}, expected an integer in [0, ${vocabSize})`);
      }
      return v;
    },
    oneOf<T extends string>(key: string, dflt: T, allowed: readonly T[]): T {
      const v = get(key, dflt);
      const found = allowed.find((a) => a === v);
      if (found === undefined)
        throw bad(
          source,
          `${key} is ${JSON.stringify(v)}, expected ${allowed.map((a) => JSON.stringify(a)).join(' or ')}`,
        );
      return found;
    },
  };
}
