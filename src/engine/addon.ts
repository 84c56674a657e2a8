/**
 * Loading the compiled addon (`build/Release/qaft_native.node`, built by node-gyp from `native/`), refused when its
 * op codes are not this source's. Typed arrays passed in are read and written in place; shapes travel as
 * Float64Array. Neither the addon nor this loader checks types or sizes: the TypeScript kernels that call it
 * (src/engine) size every array from the tensor shapes.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export type F32 = Float32Array;
export type Any32 = Float32Array | Int32Array;

export interface NativeAddon {
  /** Each kind's op codes by name, from native/kernels.h's lists (checked against OP_CODES on load). */
  readonly opCodes: OpCodes;
  matmul(
    a: F32,
    b: F32,
    c: F32,
    aIndex: Int32Array,
    bIndex: Int32Array,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
    bias: F32 | null,
    activation: number,
  ): void;
  /**
   * `matmul` with torch.autocast(cpu, bfloat16) semantics (inputs rounded to bf16, float32 sums and output). `how`:
   * 0 on oneDNN's bf16 kernels; for tests, the same rounding with float32 products, 1 on sgemm, 2 through the
   * oneDNN path with a float32 primitive. Returns null, or why it could not run.
   */
  matmulBf16(
    a: F32,
    b: F32,
    c: F32,
    aIndex: Int32Array,
    bIndex: Int32Array,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
    bias: F32 | null,
    activation: number,
    how: 0 | 1 | 2,
  ): string | null;
  /**
   * `matmulBf16` on inputs already rounded (`toBf16`): bf16 bits, or float32 values for the float32 test
   * primitive; each read in its stored layout (transposes are strides, no copy). Returns null, or why it could not run.
   */
  matmulBf16Ready(
    a: Uint16Array | F32,
    b: Uint16Array | F32,
    c: F32,
    aIndex: Int32Array,
    bIndex: Int32Array,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
    bias: F32 | null,
    activation: number,
  ): string | null;
  /** `src` rounded to bf16 (nearest even) into `dst`: bf16 bits, or float32 values; dst's length elements. */
  toBf16(src: F32, dst: Uint16Array | F32): void;
  /** linked: built with oneDNN; hardware: the CPU has AVX512_BF16 as oneDNN sees it; isa: oneDNN's ISA name. */
  bf16Support(): { linked: boolean; hardware: boolean; isa: string };
  /** oneDNN's implementation of a [m,k]×[k,n] bf16 matmul (e.g. `brg:avx512_core_bf16`), or why none. */
  bf16Impl(m: number, n: number, k: number, transA?: boolean, transB?: boolean): string;
  unary(op: number, x: F32, out: F32): void;
  binary(
    op: number,
    a: F32,
    b: F32,
    out: F32,
    shape: Float64Array,
    aStrides: Float64Array,
    bStrides: Float64Array,
  ): void;
  reduce(op: number, x: F32, out: F32, outer: number, inner: number): void;
  reduceMiddle(op: number, x: F32, out: F32, pre: number, red: number, post: number): void;
  fill(out: F32, value: number): void;
  softmax(x: F32, out: F32, outer: number, inner: number): void;
  /** `bf16` (nullable; float32 only) gets out rounded to bf16 in the same pass. */
  transpose(x: Any32, out: Any32, shape: Float64Array, perm: Int32Array, bf16?: Uint16Array | null): void;
  /** Returns the position of the first out-of-range index, or -1. */
  gather(x: Any32, indices: Int32Array, out: Any32, outer: number, axisDim: number, inner: number): number;
  select(cond: Uint8Array, t: Any32, e: Any32, out: Any32): void;
  tile(
    x: Float32Array | Int32Array | Uint8Array,
    out: Float32Array | Int32Array | Uint8Array,
    elemSize: number,
    shape: Float64Array,
    reps: Float64Array,
  ): void;
  dropout(x: F32, out: F32, mask: Uint8Array, rate: number, seed: number, scale: number): void;
  maskedScale(x: F32, mask: Uint8Array, out: F32, scale: number): void;
  /** erf-GELU; `bf16` (nullable) gets out rounded to bf16 in the same pass; with it, out may be null (bf16 only). */
  gelu(x: F32, out: F32 | null, bf16?: Uint16Array | null): void;
  geluGrad(x: F32, dy: F32, out: F32, bf16?: Uint16Array | null): void;
  /**
   * Fused mask add + softmax (+ dropout when mask is given) over rows of tk (native/attention.h); `bf16`
   * (nullable) gets the weights P·V reads (y, else probs) rounded to bf16 in the same pass; with it and mask, y may
   * be null (the dropped weights in bf16 only).
   */
  attentionProbs(
    scores: F32,
    maskBias: F32 | null,
    probs: F32,
    y: F32 | null,
    mask: Uint8Array | null,
    batch: number,
    heads: number,
    tq: number,
    tk: number,
    maskRows: number,
    rate: number,
    seed: number,
    scale: number,
    bf16?: Uint16Array | null,
  ): void;
  /**
   * The fused dropout + softmax gradient over `rows` rows of tk (mask null: no dropout); `bf16` gets ds rounded, and
   * with it ds may be null (bf16 only).
   */
  attentionProbsGrad(
    dw: F32,
    probs: F32,
    mask: Uint8Array | null,
    ds: F32 | null,
    rows: number,
    tk: number,
    scale: number,
    bf16?: Uint16Array | null,
  ): void;
  /**
   * LayerNorm(x + r) over rows of length d (r null, or adding its row i % rRows to row i): writes y and normed
   * (x's size) and std (one per row).
   */
  addLayerNorm(
    x: F32,
    r: F32 | null,
    rRows: number,
    w: F32,
    b: F32,
    eps: number,
    d: number,
    y: F32,
    normed: F32,
    std: F32,
    yBf16: Uint16Array | null,
  ): void;
  /** Its gradient from dy and the forward's normed, std: dx (dy's size), dw and db (d each). */
  addLayerNormGrad(
    dy: F32,
    normed: F32,
    std: F32,
    w: F32,
    d: number,
    dx: F32,
    dw: F32,
    db: F32,
    dxBf16: Uint16Array | null,
  ): void;
  segmentSum(x: F32, ids: Int32Array, out: F32, inner: number, numSegments: number): void;
  adamw(
    param: F32,
    grad: F32,
    m: F32,
    v: F32,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    step: number,
    gradScale: number,
  ): void;
  sumOfSquares(x: F32): number;
  setThreads(n: number): number;
  getThreads(): number;
  /**
   * Once JavaScript listens for SIGINT and SIGTERM: the first of them restores both to their default action (in the
   * signal handler itself, so while JavaScript is busy too) and is then passed on to the listener; the second ends
   * the process. False when there was no listener's handler to pass on to (native/stop-signals.h).
   */
  armStopSignals(): boolean;
  /** Undoes `armStopSignals` if no signal came. */
  disarmStopSignals(): void;
}

/**
 * Op codes, by the TF.js kernel names the kernels register under. native/kernels.h's lists own them (a code is the
 * op's position there); these copies give the kernels typed constants, and `loadAddonFile` refuses an addon whose
 * `opCodes` differ from them (`opCodeMismatch`).
 */
export const UNARY = {
  Exp: 0,
  Erf: 1,
  Tanh: 2,
  Sqrt: 3,
  Rsqrt: 4,
  Square: 5,
  Neg: 6,
  Relu: 7,
  Sigmoid: 8,
  Log: 9,
  Abs: 10,
  Reciprocal: 11,
  Floor: 12,
} as const;
export const BINARY = {
  Add: 0,
  Sub: 1,
  Multiply: 2,
  RealDiv: 3,
  SquaredDifference: 4,
  Maximum: 5,
  Minimum: 6,
} as const;
export const REDUCE = { Sum: 0, Max: 1, Min: 2, Mean: 3 } as const;
export const ACTIVATION = { linear: 0, relu: 1 } as const;
export const OP_CODES = { unary: UNARY, binary: BINARY, reduce: REDUCE, activation: ACTIVATION } as const;
export type OpCodes = Record<keyof typeof OP_CODES, Record<string, number>>;

/** The first difference between an addon's `opCodes` and OP_CODES, in words; undefined when they agree. */
export function opCodeMismatch(codes: unknown): string | undefined {
  if (typeof codes !== 'object' || codes === null) return 'it exports no op codes';
  for (const [kind, ours] of Object.entries(OP_CODES)) {
    const theirs: unknown = (codes as Record<string, unknown>)[kind];
    if (typeof theirs !== 'object' || theirs === null) return `it has no ${kind} op codes`;
    const table = theirs as Record<string, unknown>;
    for (const [name, code] of Object.entries(ours)) {
      if (!(name in table)) return `it has no ${kind} op ${name}`;
      if (table[name] !== code) return `${kind} op ${name} is ${code} here but ${String(table[name])} in the addon`;
    }
    const extra = Object.keys(table).find((name) => !(name in ours));
    if (extra !== undefined) return `it has a ${kind} op ${extra} this qa-ft does not know`;
  }
  return undefined;
}

const HOW_TO_GET =
  'install OpenBLAS (Debian/Ubuntu: apt-get install libopenblas-dev; macOS uses Accelerate) and a C++ compiler, then run `npm run build:native` (or `npm rebuild qa-ft`)';

let cached: { addon: NativeAddon } | { reason: string } | undefined;

/** The repository (or installed package) root: two levels above this file in both `src/engine` and `dist/engine`. */
function packageRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/** The addon file: build/Release/qaft_native.node, or QAFT_NATIVE_PATH's (another build: the sanitizer script's). */
export function addonPath(): string {
  return process.env['QAFT_NATIVE_PATH'] ?? path.join(packageRoot(), 'build', 'Release', 'qaft_native.node');
}

/** Loads the addon once; on failure says in one line why and how to get it. */
export function loadAddon(): { addon: NativeAddon } | { reason: string } {
  cached ??= loadAddonFile(addonPath());
  return cached;
}

/** Loads an addon file (uncached). */
export function loadAddonFile(file: string): { addon: NativeAddon } | { reason: string } {
  if (!existsSync(file)) {
    return { reason: `the native engine is not built (no ${file}): ${HOW_TO_GET}` };
  }
  try {
    // OpenBLAS's idle workers spin (sched_yield) for 2^28 cycles after every gemm before they sleep; on a
    // 2-core machine they took the core our own kernel threads needed between gemms (half the system time of a
    // small model's step, measured). 2^4 cycles: sleep at once (waking costs microseconds per gemm). Read when
    // the library loads, so it is set before the addon (and with it OpenBLAS) is loaded; a user's value wins.
    process.env['OPENBLAS_THREAD_TIMEOUT'] ??= '4';
    // The same for oneDNN's OpenMP threads (bf16 matmuls): libgomp's idle threads spin ~300k pauses after every
    // parallel region unless told otherwise, taking the cores our kernel threads run on between matmuls.
    if (process.env['GOMP_SPINCOUNT'] === undefined) process.env['OMP_WAIT_POLICY'] ??= 'PASSIVE';
    const require = createRequire(import.meta.url);
    const addon = require(file) as NativeAddon;
    const mismatch = opCodeMismatch(addon.opCodes);
    if (mismatch !== undefined) {
      return {
        reason: `the native engine (${file}) does not match this qa-ft's sources (${mismatch}): run \`npm run build:native\``,
      };
    }
    return { addon };
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    return { reason: `the native engine failed to load (${msg}): ${HOW_TO_GET}` };
  }
}
