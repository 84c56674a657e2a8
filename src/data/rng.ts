/**
 * NumPy's `np.random.default_rng(seed).permutation(n)`, bit for bit, so that a seeded split here selects the same
 * rows as Hugging Face `datasets.Dataset.train_test_split(seed=…)`.
 *
 * Hand-written because no npm package reproduces NumPy's Generator: SeedSequence (entropy → 4-word pool → state
 * words) seeds PCG64 (128-bit LCG, XSL-RR output), and `Generator.shuffle` walks i = n-1 … 1 swapping with
 * `random_interval(i)` (masked rejection sampling on 32-bit draws, which PCG64 serves half a 64-bit output at a
 * time). Checked against NumPy in test/data/rng.test.ts.
 */
import { at } from '../util/checked-index.js';

const MASK32 = 0xffffffff;
const MASK64 = (1n << 64n) - 1n;
const MASK128 = (1n << 128n) - 1n;
const PCG_MULT = 0x2360ed051fc65da44385df649fccf645n;

// SeedSequence constants (numpy/random/bit_generator.pyx)
const INIT_A = 0x43b0d7e5;
const MULT_A = 0x931e8875;
const INIT_B = 0x8b51f9dd;
const MULT_B = 0x58f38ded;
const MIX_MULT_L = 0xca01f9dd;
const MIX_MULT_R = 0x4973f715;
const POOL_SIZE = 4;

type Entropy = number | bigint | readonly (number | bigint)[];

/** NumPy's `_coerce_to_uint32_array`: an int becomes its 32-bit words, least significant first. */
function entropyWords(x: Entropy): number[] {
  if (Array.isArray(x)) return x.flatMap((v) => entropyWords(v));
  let n = BigInt(x as number | bigint);
  if (n < 0n) throw new RangeError(`seed must be non-negative, got ${n}`);
  if (n === 0n) return [0];
  const words: number[] = [];
  while (n > 0n) {
    words.push(Number(n & 0xffffffffn));
    n >>= 32n;
  }
  return words;
}

/** `np.random.SeedSequence(entropy).generate_state(nWords, np.uint32)`. */
export function seedSequenceState(entropy: Entropy, nWords: number): number[] {
  const ent = entropyWords(entropy);
  let hashConst = INIT_A;
  const hashmix = (value: number): number => {
    value = (value ^ hashConst) >>> 0;
    hashConst = Math.imul(hashConst, MULT_A) >>> 0;
    value = Math.imul(value, hashConst) >>> 0;
    return (value ^ (value >>> 16)) >>> 0;
  };
  const mix = (x: number, y: number): number => {
    const r = (Math.imul(MIX_MULT_L, x) - Math.imul(MIX_MULT_R, y)) >>> 0;
    return (r ^ (r >>> 16)) >>> 0;
  };
  // NumPy pads entropy shorter than the pool with zero words: 0 is the real value there, not a stand-in
  const pool = Array.from({ length: POOL_SIZE }, (_, i) => hashmix(ent[i] ?? 0));
  for (const [src, s] of pool.entries()) {
    for (const [dst, d] of pool.entries()) if (src !== dst) pool[dst] = mix(d, hashmix(s));
  }
  for (const e of ent.slice(POOL_SIZE)) {
    for (const [dst, d] of pool.entries()) pool[dst] = mix(d, hashmix(e));
  }
  let hashB = INIT_B;
  const out: number[] = [];
  for (let i = 0; i < nWords; i++) {
    let v = (at(pool, i % POOL_SIZE) ^ hashB) >>> 0;
    hashB = Math.imul(hashB, MULT_B) >>> 0;
    v = Math.imul(v, hashB) >>> 0;
    out.push((v ^ (v >>> 16)) >>> 0);
  }
  return out;
}

/** NumPy's PCG64 bit generator seeded through SeedSequence, with its buffered 32-bit draws. */
export class Pcg64 {
  private state: bigint;
  private readonly inc: bigint;
  private buffered: number | null = null;

  constructor(seed: Entropy) {
    const w = seedSequenceState(seed, 8);
    // generate_state(4, uint64) views the 8 words as little-endian uint64s: [s_hi, s_lo, i_hi, i_lo]
    const u64 = (k: number): bigint => (BigInt(at(w, 2 * k + 1)) << 32n) | BigInt(at(w, 2 * k));
    const initState = (u64(0) << 64n) | u64(1);
    const initSeq = (u64(2) << 64n) | u64(3);
    this.inc = ((initSeq << 1n) | 1n) & MASK128;
    this.state = 0n;
    this.step();
    this.state = (this.state + initState) & MASK128;
    this.step();
  }

  private step(): void {
    this.state = (this.state * PCG_MULT + this.inc) & MASK128;
  }

  nextUint64(): bigint {
    this.step();
    const s = this.state;
    const x = ((s >> 64n) ^ s) & MASK64;
    const rot = s >> 122n;
    return ((x >> rot) | (x << ((64n - rot) & 63n))) & MASK64;
  }

  nextUint32(): number {
    if (this.buffered !== null) {
      const v = this.buffered;
      this.buffered = null;
      return v;
    }
    const next = this.nextUint64();
    this.buffered = Number(next >> 32n);
    return Number(next & 0xffffffffn);
  }

  /** NumPy's `random_interval(max)`: uniform in [0, max] by masked rejection. */
  interval(max: number): number {
    if (max === 0) return 0;
    if (max > MASK32) throw new RangeError('interval above 2^32 is not supported');
    let mask = max;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    mask >>>= 0;
    let v: number;
    do v = (this.nextUint32() & mask) >>> 0;
    while (v > max);
    return v;
  }
}

/** `np.random.default_rng(seed).permutation(n)`. */
export function permutation(n: number, seed: Entropy): number[] {
  const rng = new Pcg64(seed);
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.interval(i);
    const t = at(a, i);
    a[i] = at(a, j);
    a[j] = t;
  }
  return a;
}
