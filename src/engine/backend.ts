/**
 * The `native` backend object: TF.js's MathBackendCPU plus a pool of released output arrays (the first write to a
 * fresh large array costs more than a kernel in page faults, and a training step allocates gigabytes). An array is
 * recycled only when nothing else can still see it: allocated here for a kernel output, never handed out of TF.js,
 * no other tensor viewing its buffer (`noteAliases`), and its storage freed (refCount 0). In bf16 mode it also keeps
 * each float32 array a matmul read rounded to bf16 (`bf16Of`), converted once however many matmuls read it; the copy
 * goes with the array, or with `forgetBf16` where a kernel writes the array in place (AdamW). A kernel output that
 * only bf16 matmuls read next can be held in bf16 only (`bf16OnlyTensor`), its float32 array filled on first read.
 */
import type { BackendValues, DataId, KernelFunc, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

const MIN_POOLED_BYTES = 1 << 18; // smaller arrays come cheaply from V8's heap
const CLASSES_PER_OCTAVE = 4; // pooled capacities: 2^(k/4) elements, so at most 19% of an array is slack

/**
 * The capacity (elements) an `n`-element pooled array gets: the next of 2^(k/4), rounded up to 1024. Exact
 * lengths made dynamic padding miss the pool on every batch (each sequence length is new) and fault fresh pages.
 */
export function pooledCapacity(n: number): number {
  if (n <= 1024) return 1024;
  const k = Math.ceil(Math.log2(n) * CLASSES_PER_OCTAVE - 1e-9);
  const cap = Math.ceil(2 ** (k / CLASSES_PER_OCTAVE) / 1024) * 1024;
  return cap >= n ? cap : Math.ceil(2 ** ((k + 1) / CLASSES_PER_OCTAVE) / 1024) * 1024;
}

/**
 * How the backend's matmuls compute: `fp32` (OpenBLAS sgemm), `bf16` (torch.autocast(cpu, bfloat16): inputs
 * rounded to bf16, float32 sums, on oneDNN). For tests on CPUs without AVX512_BF16, the same rounding with float32
 * products: `bf16-sgemm` on OpenBLAS, `bf16-onednn-f32` through the oneDNN path (its primitives, cache and data
 * handles) with a float32 primitive. Set through `setNativePrecision` (./index.ts), which checks that it can run.
 */
export type MatmulMode = 'fp32' | 'bf16' | 'bf16-sgemm' | 'bf16-onednn-f32';

/** bf16 copies: bf16 bits, or (the `bf16-onednn-f32` test mode) float32 values rounded to bf16. */
export type Bf16Copy = Uint16Array | Float32Array;

export class NativeBackend extends MathBackendCPU {
  matmulMode: MatmulMode = 'fp32';

  private readonly bf16Copies = new WeakMap<Float32Array, Bf16Copy>();
  private readonly unwritten = new WeakMap<DataId, Float32Array>(); // bf16-only tensors' arrays, not yet filled

  private readonly free = new Map<number, ArrayBuffer[]>(); // by byte length
  private readonly order: ArrayBuffer[] = []; // oldest first, for eviction
  private readonly recyclable = new WeakSet<ArrayBuffer>();
  private pooledBytes = 0;

  constructor(private readonly basePooledBytes: number) {
    super();
  }

  /**
   * The pool's cap: in bf16 mode 1.5× the float32 one, since the bf16 copies add half the size of every matmul
   * input a step keeps (measured: +0.85 GB peak RSS on distilbert-base 16×384); at the float32 cap a step would
   * fault in up to that much fresh memory each time (page faults cost more than kernels on a busy VM, see above).
   */
  private get maxPooledBytes(): number {
    return this.matmulMode === 'bf16' ? Math.floor(this.basePooledBytes * 1.5) : this.basePooledBytes;
  }

  /**
   * A float32 array of `n` elements with arbitrary contents (every caller overwrites all of it). A big one is a
   * view of the start of a pooled buffer of capacity `pooledCapacity(n)`.
   */
  allocF32(n: number): Float32Array {
    if (n * 4 < MIN_POOLED_BYTES) return new Float32Array(n);
    return new Float32Array(this.takeBuffer(pooledCapacity(n) * 4), 0, n);
  }

  /** A byte array of `n` elements with arbitrary contents (bool masks), pooled like `allocF32`. */
  allocU8(n: number): Uint8Array {
    if (n < MIN_POOLED_BYTES) return new Uint8Array(n);
    return new Uint8Array(this.takeBuffer(pooledCapacity(Math.ceil(n / 4)) * 4), 0, n);
  }

  private takeBuffer(bytes: number): ArrayBuffer {
    const reused = this.free.get(bytes)?.pop();
    if (reused !== undefined) {
      this.order.splice(this.order.lastIndexOf(reused), 1);
      this.pooledBytes -= bytes;
      this.recyclable.add(reused);
      return reused;
    }
    const fresh = new ArrayBuffer(bytes); // zero-filled
    this.recyclable.add(fresh);
    return fresh;
  }

  /**
   * `values` (a tensor's float32 array) rounded to bf16, converted by `convert` on first use and kept while the
   * array lives (see the class comment); `bits`: bf16 bits (Uint16Array), else rounded float32 values.
   */
  bf16Of(values: Float32Array, bits: boolean, convert: (src: Float32Array, dst: Bf16Copy) => void): Bf16Copy {
    const cached = this.bf16Copies.get(values);
    if (cached !== undefined && cached instanceof Uint16Array === bits) return cached;
    if (cached !== undefined) this.forgetBf16(values);
    const copy = bits ? this.allocBf16(values.length) : this.allocF32(values.length);
    convert(values, copy);
    this.bf16Copies.set(values, copy);
    return copy;
  }

  /**
   * In `bf16` mode, a pooled array for the bf16 copy of an `n`-element kernel output that bf16 matmuls will read,
   * for the kernel to write in the same pass as the output (then `adoptBf16`); null in other modes.
   */
  bf16Output(n: number): Uint16Array | null {
    return this.matmulMode === 'bf16' && n > 0 ? this.allocBf16(n) : null;
  }

  /** Records `copy` (written by the kernel that wrote `values`) as the bf16 copy of `values`. */
  adoptBf16(values: Float32Array, copy: Uint16Array): void {
    this.forgetBf16(values);
    this.bf16Copies.set(values, copy);
  }

  private allocBf16(n: number): Uint16Array {
    return n * 2 < MIN_POOLED_BYTES
      ? new Uint16Array(n)
      : new Uint16Array(this.takeBuffer(pooledCapacity(Math.ceil(n / 2)) * 4), 0, n);
  }

  /**
   * Registers `values`, which the kernel left unwritten, as a new float32 tensor held in bf16 only: `copy` (the
   * kernel's output rounded to bf16) is what bf16 matmuls read. Anything else that reads the tensor's values (a
   * kernel, `dataSync`) gets the copy widened to float32, written into `values` on the first read.
   */
  bf16OnlyTensor(shape: number[], values: Float32Array, copy: Uint16Array): TensorInfo {
    const info = this.makeTensorInfo(shape, 'float32', values);
    this.adoptBf16(values, copy);
    this.unwritten.set(info.dataId, values);
    const entry = this.data.get(info.dataId)!;
    const settle = (v: typeof entry.values): void => {
      this.unwritten.delete(info.dataId);
      Object.defineProperty(entry, 'values', { value: v, writable: true, enumerable: true, configurable: true });
    };
    Object.defineProperty(entry, 'values', {
      enumerable: true,
      configurable: true,
      get: () => {
        widenBf16(copy, values);
        settle(values);
        return values;
      },
      set: settle,
    });
    return info;
  }

  /** A float32 tensor's array as a bf16 matmul takes it (it reads the bf16 copy): unwritten for a bf16-only tensor. */
  matmulValues(dataId: DataId): Float32Array {
    return this.storedValues(dataId) as Float32Array;
  }

  /** A tensor's array without filling a bf16-only one (for bookkeeping that does not read the values). */
  private storedValues(dataId: DataId): BackendValues | undefined {
    return this.unwritten.get(dataId) ?? this.data.get(dataId)?.values;
  }

  /** Drops the bf16 copy of `values` (after a kernel wrote it in place), its storage back to the pool. */
  forgetBf16(values: Float32Array): void {
    const copy = this.bf16Copies.get(values);
    if (copy === undefined) return;
    this.bf16Copies.delete(values);
    if (this.recyclable.has(copy.buffer as ArrayBuffer)) {
      this.recyclable.delete(copy.buffer as ArrayBuffer);
      this.release(copy.buffer as ArrayBuffer);
    }
  }

  /** A zeroed float32 array. */
  allocF32Zeroed(n: number): Float32Array {
    const pooled = n * 4 >= MIN_POOLED_BYTES && (this.free.get(pooledCapacity(n) * 4)?.length ?? 0) > 0;
    const out = this.allocF32(n);
    if (pooled) out.fill(0);
    return out;
  }

  /** Bytes held for reuse now. */
  get pooled(): number {
    return this.pooledBytes;
  }

  /**
   * Reading a pooled array hands out a copy of exactly the tensor's length (a view of a bigger buffer would
   * surprise `Tensor.bytes()`, which takes `.buffer`); the storage stays the pool's. Other arrays are handed out
   * as the cpu backend does.
   */
  override readSync(dataId: DataId): ReturnType<MathBackendCPU['readSync']> {
    const values = this.data.get(dataId)?.values;
    if (
      (values instanceof Float32Array || values instanceof Uint8Array) &&
      this.recyclable.has(values.buffer as ArrayBuffer)
    ) {
      return values.slice();
    }
    return super.readSync(dataId);
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.storedValues(dataId);
    const freed = super.disposeData(dataId, force);
    if (freed && values instanceof Float32Array && !this.data.has(dataId)) this.forgetBf16(values);
    const pooled = values instanceof Float32Array || values instanceof Uint8Array;
    if (freed && pooled && !this.data.has(dataId) && this.recyclable.has(values.buffer as ArrayBuffer)) {
      this.recyclable.delete(values.buffer as ArrayBuffer);
      this.release(values.buffer as ArrayBuffer);
    }
    return freed;
  }

  private release(a: ArrayBuffer): void {
    if (a.byteLength > this.maxPooledBytes) return;
    while (this.pooledBytes + a.byteLength > this.maxPooledBytes && this.order.length > 0) {
      const old = this.order.shift()!;
      const list = this.free.get(old.byteLength)!;
      list.splice(list.indexOf(old), 1);
      this.pooledBytes -= old.byteLength;
    }
    let list = this.free.get(a.byteLength);
    if (list === undefined) this.free.set(a.byteLength, (list = []));
    list.push(a);
    this.order.push(a);
    this.pooledBytes += a.byteLength;
  }

  /** After a kernel: an output with its own storage that views an input's buffer pins that buffer for good. */
  noteAliases(inputs: NamedTensorInfoMap, outputs: TensorInfo | TensorInfo[]): void {
    let watched: Set<ArrayBufferLike> | undefined;
    for (const t of Object.values(inputs)) {
      const v = t === undefined ? undefined : this.storedValues(t.dataId);
      if ((v instanceof Float32Array || v instanceof Uint8Array) && this.recyclable.has(v.buffer as ArrayBuffer))
        (watched ??= new Set()).add(v.buffer);
    }
    if (watched === undefined) return;
    const inputIds = new Set(Object.values(inputs).map((t) => t?.dataId));
    for (const o of Array.isArray(outputs) ? outputs : [outputs]) {
      if (inputIds.has(o.dataId)) continue; // same storage (Reshape, Identity): refCount covers it
      const v = this.storedValues(o.dataId);
      if (v !== undefined && typeof v === 'object' && 'buffer' in v && watched.has(v.buffer)) {
        this.recyclable.delete(v.buffer as ArrayBuffer);
      }
    }
  }
}

/** Wraps a kernel of the native backend so that its outputs are checked for aliasing (see `noteAliases`). */
export function guardAliases(fn: KernelFunc): KernelFunc {
  return (params) => {
    const out = fn(params);
    if (params.backend instanceof NativeBackend) params.backend.noteAliases(params.inputs, out);
    return out;
  };
}

/** bf16 bits widened to float32 (exact: a bf16 number is the upper half of a float32's bits). */
function widenBf16(bits: Uint16Array, out: Float32Array): void {
  const words = new Uint32Array(out.buffer, out.byteOffset, bits.length);
  for (let i = 0; i < bits.length; i++) words[i] = bits[i]! << 16;
}
