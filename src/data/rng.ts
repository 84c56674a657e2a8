/**
 * NumPy's `np.random.default_rng(seed).permutation(n)`, bit for bit, so that a seeded split here selects the same
 * rows as Hugging Face `datasets.Dataset.train_test_split(seed=…)`.
 *
 * Hand-written because no npm package reproduces NumPy's Generator: SeedSequence (entropy → 4-word pool → state
 * words) seeds PCG64 (128-bit LCG, XSL-RR output), and `Generator.shuffle` walks i = n-1 … 1 swapping with
 * `random_interval(i)` (masked rejection sampling on 32-bit draws, which PCG64 serves half a 64-bit output at a
 * time). Checked against NumPy in test/data/rng.test.ts.
 */

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

export type Entropy = number | bigint | readonly (number | bigint)[];

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
  const pool: number[] = [];
  for (let i = 0; i < POOL_SIZE; i++) pool.push(hashmix(i < ent.length ? (ent[i] as number) : 0));
  for (let src = 0; src < POOL_SIZE; src++) {
    for (let dst = 0; dst < POOL_SIZE; dst++) {
      if (src !== dst) pool[dst] = mix(pool[dst] as number, hashmix(pool[src] as number));
    }
  }
  for (let src = POOL_SIZE; src < ent.length; src++) {
    for (let dst = 0; dst < POOL_SIZE; dst++) pool[dst] = mix(pool[dst] as number, hashmix(ent[src] as number));
  }
  let hashB = INIT_B;
  const out: number[] = [];
  for (let i = 0; i < nWords; i++) {
    let v = ((pool[i % POOL_SIZE] as number) ^ hashB) >>> 0;
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
    const u64 = (lo: number, hi: number): bigint => (BigInt(hi) << 32n) | BigInt(lo);
    const initState = (u64(w[0] as number, w[1] as number) << 64n) | u64(w[2] as number, w[3] as number);
    const initSeq = (u64(w[4] as number, w[5] as number) << 64n) | u64(w[6] as number, w[7] as number);
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
    const t = a[i] as number;
    a[i] = a[j] as number;
    a[j] = t;
  }
  return a;
}
