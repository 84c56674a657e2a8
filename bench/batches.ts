/**
 * Batch shapes as the PyTorch baseline draws them: padded to `seq`, or (dynamic padding) batch i takes the
 * lengths at [i·B, (i+1)·B) of the lengths file in order and pads to their maximum. Token ids are random.
 */
import { readFile } from 'node:fs/promises';
import type { QaBatch } from '../src/records.js';

export async function readLengths(file: string): Promise<number[]> {
  return (await readFile(file, 'utf8'))
    .split(/\s+/)
    .filter((s) => s !== '')
    .map(Number);
}

/** Sequence length of each of the first `count` batches. */
export async function batchShapes(
  batch: number,
  seq: number,
  lengthsFile: string | undefined,
  count: number,
): Promise<number[]> {
  if (lengthsFile === undefined) return new Array<number>(count).fill(seq);
  const lengths = await readLengths(lengthsFile);
  return Array.from({ length: count }, (_, i) => {
    const start = (i * batch) % lengths.length;
    const chunk = lengths.slice(start, start + batch);
    return Math.max(...(chunk.length > 0 ? chunk : lengths.slice(0, batch)));
  });
}

/** All padded lengths of an epoch over `lengths` in order (the projection of a whole job). */
export function epochShapes(lengths: readonly number[], batch: number, examples: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < examples; i += batch) out.push(Math.max(...lengths.slice(i, Math.min(i + batch, examples))));
  return out;
}

/** Random ids in [1000, vocab) (as the PyTorch bench), full attention mask, a 3-token answer span. */
export function randomBatch(batch: number, seqLen: number, vocab: number, seed: number): QaBatch {
  let s = (seed * 2654435761) >>> 0;
  const next = (): number => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    return s / 4294967296;
  };
  const inputIds = Array.from({ length: batch }, () =>
    Array.from({ length: seqLen }, () => 1000 + Math.floor(next() * (vocab - 1000))),
  );
  const attentionMask = Array.from({ length: batch }, () => new Array<number>(seqLen).fill(1));
  const startPositions = Array.from({ length: batch }, () => Math.floor(next() * seqLen));
  const endPositions = startPositions.map((p) => Math.min(p + 3, seqLen - 1));
  return { inputIds, attentionMask, startPositions, endPositions };
}
