/**
 * The `native` backend object: TF.js's MathBackendCPU plus a pool of released output arrays. On this VM the first
 * write to a freshly allocated 100 MB array costs more than the kernel itself (page faults: 1.2 s against 12-40 ms
 * warm, measured), and a training step allocates gigabytes, so native kernels take their outputs from arrays that
 * earlier tensors released. An array is recycled only when nothing else can still see it:
 *  - it was allocated here for a kernel output (never an array a user passed to `tf.tensor`);
 *  - it never left TF.js (`dataSync`/`data`/`array` mark it escaped);
 *  - no other tensor views its buffer (a kernel whose output aliases an input's buffer, like the cpu Slice's
 *    subarray, marks that input escaped: `noteAliases`, run after every kernel);
 *  - its storage was really freed (refCount 0).
 */
import type { DataId, KernelFunc, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

const MIN_POOLED_BYTES = 1 << 18; // smaller arrays come cheaply from V8's heap

export class NativeBackend extends MathBackendCPU {
  private readonly free = new Map<number, Float32Array[]>(); // by length
  private readonly order: Float32Array[] = []; // oldest first, for eviction
  private readonly recyclable = new WeakSet<ArrayBuffer>();
  private pooledBytes = 0;

  constructor(private readonly maxPooledBytes: number) {
    super();
  }

  /** A float32 array of `n` elements with arbitrary contents (every caller overwrites all of it). */
  allocF32(n: number): Float32Array {
    const reused = this.free.get(n)?.pop();
    if (reused !== undefined) {
      this.order.splice(this.order.indexOf(reused), 1);
      this.pooledBytes -= reused.byteLength;
      this.recyclable.add(reused.buffer as ArrayBuffer);
      return reused;
    }
    const fresh = new Float32Array(n); // zero-filled by V8
    if (fresh.byteLength >= MIN_POOLED_BYTES) this.recyclable.add(fresh.buffer);
    return fresh;
  }

  /** A zeroed float32 array. */
  allocF32Zeroed(n: number): Float32Array {
    const reused = this.free.get(n)?.length ? this.allocF32(n) : undefined;
    if (reused === undefined) return this.allocF32(n);
    reused.fill(0);
    return reused;
  }

  /** Bytes held for reuse now. */
  get pooled(): number {
    return this.pooledBytes;
  }

  private escape(dataId: DataId): void {
    const values = this.data.get(dataId)?.values;
    if (values instanceof Float32Array) this.recyclable.delete(values.buffer as ArrayBuffer);
  }

  override readSync(dataId: DataId): ReturnType<MathBackendCPU['readSync']> {
    this.escape(dataId);
    return super.readSync(dataId);
  }

  override async read(dataId: DataId): ReturnType<MathBackendCPU['read']> {
    this.escape(dataId);
    return super.read(dataId);
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.data.get(dataId)?.values;
    const freed = super.disposeData(dataId, force);
    if (freed && values instanceof Float32Array && !this.data.has(dataId) && this.recyclable.has(values.buffer as ArrayBuffer)) {
      this.recyclable.delete(values.buffer as ArrayBuffer);
      this.release(values);
    }
    return freed;
  }

  private release(a: Float32Array): void {
    if (a.byteLength > this.maxPooledBytes) return;
    while (this.pooledBytes + a.byteLength > this.maxPooledBytes && this.order.length > 0) {
      const old = this.order.shift()!;
      const list = this.free.get(old.length)!;
      list.splice(list.indexOf(old), 1);
      this.pooledBytes -= old.byteLength;
    }
    let list = this.free.get(a.length);
    if (list === undefined) this.free.set(a.length, (list = []));
    list.push(a);
    this.order.push(a);
    this.pooledBytes += a.byteLength;
  }

  /** After a kernel: an output with its own storage that views an input's buffer pins that buffer for good. */
  noteAliases(inputs: NamedTensorInfoMap, outputs: TensorInfo | TensorInfo[]): void {
    let watched: Set<ArrayBufferLike> | undefined;
    for (const t of Object.values(inputs)) {
      const v = t === undefined ? undefined : this.data.get(t.dataId)?.values;
      if (v instanceof Float32Array && this.recyclable.has(v.buffer as ArrayBuffer)) (watched ??= new Set()).add(v.buffer);
    }
    if (watched === undefined) return;
    const inputIds = new Set(Object.values(inputs).map((t) => t?.dataId));
    for (const o of Array.isArray(outputs) ? outputs : [outputs]) {
      if (inputIds.has(o.dataId)) continue; // same storage (Reshape, Identity): refCount covers it
      const v = this.data.get(o.dataId)?.values;
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
