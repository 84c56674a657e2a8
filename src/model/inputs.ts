/**
 * A QaBatch checked against the model it is fed to and turned into input tensors once per batch, outside any
 * gradient tape (masks and ids must not be taped): token ids, the padding-row mask, position ids (0 … T-1, or
 * RoBERTa's count from the padding index), token type ids and the additive attention mask.
 */
import * as tf from '@tensorflow/tfjs-core';
import { QaFtError } from '../errors.js';
import type { QaBatch } from '../records.js';
import { FLOAT32_MIN } from './fused-ops.js';

/** What a family needs from its inputs. */
export interface InputSpec {
  readonly modelType: string;
  readonly vocabSize: number;
  readonly padTokenId: number;
  /** The longest sequence T the position table covers. */
  readonly maxPositionEmbeddings: number;
  /** Rows of the token type table; 0: the family has none and a batch with tokenTypeIds is refused. */
  readonly typeVocabSize: number;
  /** `absolute`: 0 … T-1; `roberta`: padding_idx + cumsum(id ≠ pad) on real tokens, padding_idx on padding. */
  readonly positions: 'absolute' | 'roberta';
  /**
   * `keys` (absent): padding keys are masked, [B, 1, 1, T]; `pairs`: DeBERTa's query × key mask, [B, 1, T, T],
   * whose padding query rows are masked whole (their softmax is then uniform, as transformers computes it).
   */
  readonly mask?: 'keys' | 'pairs';
  /** Further int32 index vectors the graph gathers with (DeBERTa's relative-position rows), by name, for length T. */
  readonly indices?: (seqLen: number) => Record<string, Int32Array>;
}

export interface ModelInputs {
  ids: tf.Tensor1D; // [B·T] int32
  notPad: tf.Tensor2D; // [B·T, 1] float32: 0 where the token is the padding id (its embedding row gets no gradient)
  positions: tf.Tensor1D; // [T] int32 (absolute) or [B·T] int32 (roberta)
  typeIds: tf.Tensor1D | null; // [B·T] int32, zeros when the batch has none; null when the family has no token types
  maskBias: tf.Tensor4D; // [B, 1, 1, T] (or [B, 1, T, T]) float32: 0 where attended, the float32 minimum where masked
  tokenMask: tf.Tensor3D; // [B, T, 1] float32: the attention mask (1 real token, 0 padding)
  /** The spec's `indices`, int32: built here, outside the tape, because gradients read them after the forward. */
  indices: ReadonlyMap<string, tf.Tensor1D>;
  batch: number;
  seqLen: number;
}

/**
 * Rectangular, non-empty, ids inside the vocabulary, T within the position table, token types only where the
 * family has them and inside its table, positions integers.
 */
export function validateBatch(batch: QaBatch, spec: InputSpec): void {
  const b = batch.inputIds.length;
  const fail = (what: string): never => {
    throw new QaFtError('BAD_ARGUMENT', `batch: ${what}`);
  };
  if (b === 0) fail('inputIds is empty');
  const t = batch.inputIds[0]?.length ?? 0;
  if (t === 0) fail('inputIds rows are empty');
  if (t > spec.maxPositionEmbeddings)
    fail(`sequence length ${t} exceeds max_position_embeddings ${spec.maxPositionEmbeddings}`);
  if (batch.attentionMask.length !== b) fail(`attentionMask has ${batch.attentionMask.length} rows, inputIds ${b}`);
  for (const [i, ids] of batch.inputIds.entries()) {
    const mask = batch.attentionMask[i] ?? [];
    if (ids.length !== t) fail(`row ${i} of inputIds has ${ids.length} tokens, row 0 has ${t}`);
    if (mask.length !== t) fail(`row ${i} of attentionMask has ${mask.length} entries, inputIds ${t}`);
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= spec.vocabSize)
        fail(`row ${i} has token id ${id}, outside [0, ${spec.vocabSize})`);
    }
  }
  const types = batch.tokenTypeIds;
  if (types !== undefined) {
    if (spec.typeVocabSize === 0)
      fail(`tokenTypeIds given, but ${spec.modelType} models have no token type embeddings (leave them out)`);
    if (types.length !== b) fail(`tokenTypeIds has ${types.length} rows, inputIds ${b}`);
    for (const [i, row] of types.entries()) {
      if (row.length !== t) fail(`row ${i} of tokenTypeIds has ${row.length} entries, inputIds ${t}`);
      for (const v of row) {
        if (!Number.isInteger(v) || v < 0 || v >= spec.typeVocabSize)
          fail(`row ${i} has token type id ${v}, outside [0, ${spec.typeVocabSize}) (type_vocab_size)`);
      }
    }
  }
  for (const key of ['startPositions', 'endPositions'] as const) {
    const pos = batch[key];
    if (pos === undefined) continue;
    if (pos.length !== b) fail(`${key} has ${pos.length} entries, inputIds ${b} rows`);
    if (!pos.every((p) => Number.isInteger(p))) fail(`${key} must be integers`);
  }
  if ((batch.startPositions === undefined) !== (batch.endPositions === undefined))
    fail('give both startPositions and endPositions, or neither');
}

/** Tensors for a batch that `validateBatch` accepted. */
export function modelInputs(spec: InputSpec, batch: QaBatch): ModelInputs {
  const b = batch.inputIds.length;
  const t = batch.inputIds[0]?.length ?? 0;
  const ids = new Int32Array(b * t);
  const notPad = new Float32Array(b * t);
  const tokenMask = new Float32Array(b * t);
  const positions = spec.positions === 'roberta' ? new Int32Array(b * t) : null;
  const types = spec.typeVocabSize > 0 ? new Int32Array(b * t) : null; // zeros unless given
  for (const [i, row] of batch.inputIds.entries()) {
    const mask = batch.attentionMask[i] ?? [];
    const typeRow = batch.tokenTypeIds?.[i];
    let count = 0; // real (non-padding) tokens so far: RoBERTa's cumsum
    for (const [j, id] of row.entries()) {
      const k = i * t + j;
      const real = id !== spec.padTokenId;
      ids[k] = id;
      notPad[k] = real ? 1 : 0;
      tokenMask[k] = mask[j] === 0 ? 0 : 1;
      if (real) count++;
      if (positions !== null) positions[k] = real ? spec.padTokenId + count : spec.padTokenId;
      if (types !== null && typeRow !== undefined) types[k] = typeRow[j] ?? 0;
    }
  }
  return {
    ids: tf.tensor1d(ids, 'int32'),
    notPad: tf.tensor2d(notPad, [b * t, 1]),
    positions: positions === null ? (tf.range(0, t, 1, 'int32') as tf.Tensor1D) : tf.tensor1d(positions, 'int32'),
    typeIds: types === null ? null : tf.tensor1d(types, 'int32'),
    maskBias:
      spec.mask === 'pairs'
        ? pairBias(tokenMask, b, t)
        : tf.tensor4d(
            tokenMask.map((m) => (m === 0 ? FLOAT32_MIN : 0)),
            [b, 1, 1, t],
          ),
    tokenMask: tf.tensor3d(tokenMask, [b, t, 1]),
    indices: new Map(Object.entries(spec.indices?.(t) ?? {}).map(([k, v]) => [k, tf.tensor1d(v, 'int32')])),
    batch: b,
    seqLen: t,
  };
}

/** [B, 1, T, T]: 0 where both query i and key j are real tokens, the float32 minimum elsewhere. */
function pairBias(tokenMask: Float32Array, b: number, t: number): tf.Tensor4D {
  const bias = new Float32Array(b * t * t);
  for (let r = 0; r < b; r++) {
    for (let i = 0; i < t; i++) {
      for (let j = 0; j < t; j++)
        bias[(r * t + i) * t + j] = tokenMask[r * t + i] === 0 || tokenMask[r * t + j] === 0 ? FLOAT32_MIN : 0;
    }
  }
  return tf.tensor4d(bias, [b, 1, t, t]);
}

export function disposeInputs(inp: ModelInputs): void {
  tf.dispose([
    inp.ids,
    inp.notPad,
    inp.positions,
    inp.maskBias,
    inp.tokenMask,
    ...inp.indices.values(),
    ...(inp.typeIds === null ? [] : [inp.typeIds]),
  ]);
}
