/**
 * Seeded random numbers for initialisation and dropout. Hand-written because TF.js's seeded generators
 * (seedrandom's alea behind tf.randomNormal / tf.randomUniform) are slow on the host: tf.randomNormal took ~18 s
 * for distilbert-base's 66M weights, and a dropout mask over [16, 12, 384, 384] attention weights holds 28M draws
 * per layer per step. xoshiro128** (with Box–Muller for normals) does the same work in a fraction of the time.
 */

/**
 * splitmix32: output `key` of the stream that starts at `seed` (the counter moves by the golden ratio 0x9e3779b9,
 * then two xor-shift-multiply rounds mix it), a well-mixed 32-bit seed. A string key is folded in one UTF-16 unit
 * at a time. The model's and the trainer's derived seeds all come from here: xoshiro's state, each parameter's
 * init seed, each micro-batch's dropout seed. native/dropout-rule.h `SplitMix64` is its 64-bit twin, mixing inside
 * the dropout kernels.
 */
export function mixSeed(seed: number, key: number | string): number {
  if (typeof key === 'string') {
    let h = seed >>> 0;
    for (let i = 0; i < key.length; i++) h = mixSeed(h, key.charCodeAt(i));
    return h;
  }
  let z = ((seed >>> 0) + Math.imul(key + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

/** A uniform generator on [0, 1) with 2^-32 resolution: xoshiro128** seeded through splitmix32. */
function uniformGenerator(seed: number): () => number {
  let a = mixSeed(seed, 0);
  let b = mixSeed(seed, 1);
  let c = mixSeed(seed, 2);
  let d = mixSeed(seed, 3);
  return (): number => {
    const r = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return r / 4294967296;
  };
}

function rotl(v: number, k: number): number {
  return (v << k) | (v >>> (32 - k));
}

/** `count` draws of normal(0, std). */
export function normalSample(count: number, std: number, seed: number): Float32Array {
  const next = uniformGenerator(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const r = std * Math.sqrt(-2 * Math.log(1 - next())); // 1 - u ∈ (0, 1]: the log is finite
    const theta = 2 * Math.PI * next();
    out[i] = r * Math.cos(theta);
    if (i + 1 < count) out[i + 1] = r * Math.sin(theta);
  }
  return out;
}

/** Inverted-dropout multipliers: 0 with probability `rate`, else 1 / (1 - rate), as torch.nn.Dropout. */
export function dropoutMask(count: number, rate: number, seed: number): Float32Array {
  const next = uniformGenerator(seed);
  const keep = 1 / (1 - rate);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = next() < rate ? 0 : keep;
  return out;
}
