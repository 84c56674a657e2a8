/**
 * Typed reads of what TF.js passes a kernel (or a gradient function): its named tensor inputs, its attributes
 * (`NamedAttrMap`, a union of every attribute type) and the axes of a shape the kernel has already checked. Each
 * type is checked once, at the read; a miss is a bug in qa-ft or a TF.js version it does not know, so it throws a
 * plain Error naming the kernel (reported as an internal error), never a made-up default.
 */
import type { NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';

/** Attributes as the kernels (`NamedAttrMap`) and the gradient functions see them. */
type Attrs = Readonly<Record<string, unknown>>;

function isNumberList(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((d) => typeof d === 'number');
}

function attrError(kernel: string, name: string, expected: string, v: unknown): Error {
  return new Error(`${kernel}: attribute '${name}' should be ${expected}, got ${JSON.stringify(v)}`);
}

/** The tensor inputs `names` of `kernel`, each present. */
export function tensorInputs<K extends string>(
  inputs: NamedTensorInfoMap,
  names: readonly K[],
  kernel: string,
): Record<K, TensorInfo> {
  const picked: Partial<Record<K, TensorInfo>> = {};
  for (const name of names) {
    const t = inputs[name];
    if (t === undefined)
      throw new Error(`${kernel}: input '${name}' is missing (got ${Object.keys(inputs).join(', ')})`);
    picked[name] = t;
  }
  return picked as Record<K, TensorInfo>; // every name was just set
}

/** Attribute `name` of `kernel`, a number. */
export function numberAttr(attrs: Attrs, name: string, kernel: string): number {
  const v = attrs[name];
  if (typeof v !== 'number') throw attrError(kernel, name, 'a number', v);
  return v;
}

/** Attribute `name` of `kernel`, a number or absent (undefined or null: TF.js ops pass null for "not given"). */
export function optionalNumberAttr(attrs: Attrs, name: string, kernel: string): number | undefined {
  const v = attrs[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number') throw attrError(kernel, name, 'a number or absent', v);
  return v;
}

/** Attribute `name` of `kernel`, a list of numbers (a shape, a permutation, repetitions). */
export function numbersAttr(attrs: Attrs, name: string, kernel: string): number[] {
  const v = attrs[name];
  if (!isNumberList(v)) throw attrError(kernel, name, 'a list of numbers', v);
  return v;
}

/**
 * Attribute `name` of `kernel`, a number, a list of numbers or absent (undefined or null): reduction axes
 * (absent: all of them) and slice begins and sizes, as the TF.js ops pass them on from their callers.
 */
export function numberOrListAttr(attrs: Attrs, name: string, kernel: string): number | number[] | undefined {
  const v = attrs[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' && !isNumberList(v))
    throw attrError(kernel, name, 'a number, a list of numbers or absent', v);
  return v;
}

/** `shape[axis]`, where `kernel` has already checked that the axis exists. */
export function dim(shape: readonly number[], axis: number, kernel: string): number {
  const d = shape[axis];
  if (d === undefined) throw new Error(`${kernel}: shape [${shape.join(', ')}] has no axis ${axis}`);
  return d;
}
