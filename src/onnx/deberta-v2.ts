/**
 * DebertaV2ForQuestionAnswering (DeBERTa-v2 and -v3) as an ONNX graph, as src/model/deberta-v2.ts and
 * transformers' modeling_deberta_v2 compute it: embeddings (words [+ absolute positions] [+ token types]
 * [→ embed_proj], LayerNorm, times the attention mask), then layers of disentangled attention — content scores
 * q·kᵀ plus c2p[i, j] = q_i · Kr[c2p_pos(i, j)] and p2c[i, j] = k_j · Qr[p2c_pos(j, i)], all divided by √(dh·(1 +
 * terms)), over the query × key mask — and BERT's output and FFN blocks. The relative positions depend on i − j
 * only, so both index tables are constants for every pair up to max_position_embeddings, sliced to [T, T] at run
 * time and gathered from the [B, H, T, 2·span] products (GatherElements), as transformers' torch.gather does.
 */
import { attentionSpan, type DebertaV2Config } from '../model/config-deberta.js';
import { bucketPosition } from '../model/deberta-v2.js';
import type { OnnxFamily } from './family.js';
import { intAttr, intsAttr, type GraphBuilder } from './graph.js';
import {
  absolutePositions,
  ATTENTION_MASK,
  feedForward,
  INPUT_IDS,
  layerNorm,
  linear,
  TOKEN_TYPE_IDS,
  wordEmbeddings,
} from './layers.js';
import { DataType } from './proto.js';

const P = 'deberta';

/** [M, M] rows clamp(sign · δ(a − b) + span) for every pair a, b < M (sign −1: p2c's). */
function relativeIndex(c: DebertaV2Config, sign: 1 | -1): number[] {
  const m = c.maxPositionEmbeddings;
  const span = attentionSpan(c);
  const out: number[] = new Array<number>(m * m);
  for (let a = 0; a < m; a++) {
    for (let b = 0; b < m; b++) {
      const r = sign * bucketPosition(a - b, c.positionBuckets, c.maxRelativePositions) + span;
      out[a * m + b] = Math.min(Math.max(r, 0), 2 * span - 1);
    }
  }
  return out;
}

function embeddings(g: GraphBuilder, c: DebertaV2Config): string {
  const e = `${P}.embeddings`;
  let x = wordEmbeddings(g, `${e}.word_embeddings.weight`); // [B, T, E]
  if (c.positionBiasedInput) x = g.op('Add', [x, absolutePositions(g, `${e}.position_embeddings.weight`)]);
  if (c.typeVocabSize > 0)
    x = g.op('Add', [x, g.op('Gather', [g.param(`${e}.token_type_embeddings.weight`), TOKEN_TYPE_IDS])]);
  if (c.embeddingSize !== c.dim) x = g.op('MatMul', [x, g.paramTransposed(`${e}.embed_proj.weight`)]); // [B, T, D], no bias
  const normed = layerNorm(g, x, null, `${e}.LayerNorm`, c.layerNormEps); // [B, T, D]
  const mask = g.op('Unsqueeze', [g.op('Cast', [ATTENTION_MASK], [intAttr('to', DataType.FLOAT)]), g.int64s([2])]); // [B, T, 1]
  return g.op('Mul', [normed, mask]);
}

/** What every layer shares: the relative table, the [T, T] index tables expanded to [B, H, T, T], the pair mask. */
interface Shared {
  table: string | null; // [2·span, D]
  c2pIndex: string | null;
  p2cIndex: string | null;
  bias: string; // [B, 1, T, T]
}

function shared(g: GraphBuilder, c: DebertaV2Config): Shared {
  const m = g.op('Cast', [ATTENTION_MASK], [intAttr('to', DataType.FLOAT)]); // [B, T]
  const pairs = g.op('Mul', [g.op('Unsqueeze', [m, g.int64s([1, 3])]), g.op('Unsqueeze', [m, g.int64s([1, 2])])]); // [B, 1, T, T]
  const bias = g.op('Mul', [g.op('Sub', [g.floats([1], []), pairs]), g.floats([-3.4028234663852886e38], [])]);
  if (!c.relativeAttention) return { table: null, c2pIndex: null, p2cIndex: null, bias };
  const relative = `${P}.encoder.rel_embeddings.weight`;
  const table = c.normRelEmbedding
    ? layerNorm(g, g.param(relative), null, `${P}.encoder.LayerNorm`, c.layerNormEps)
    : g.param(relative);
  const shape = g.op('Shape', [INPUT_IDS]); // [B, T]
  const t = g.op('Gather', [shape, g.int64s([1])]); // [1]
  const tt = g.op('Concat', [t, t], [intAttr('axis', 0)]); // [T, T]
  const bhtt = g.op(
    'Concat',
    [g.op('Gather', [shape, g.int64s([0])]), g.int64s([c.nHeads]), t, t],
    [intAttr('axis', 0)],
  ); // [B, H, T, T]
  const m2 = c.maxPositionEmbeddings;
  const index = (sign: 1 | -1): string => {
    const full = g.int64s(relativeIndex(c, sign), [m2, m2]);
    return g.op('Expand', [g.op('Slice', [full, g.int64s([0, 0]), tt, g.int64s([0, 1])]), bhtt]); // [B, H, T, T]
  };
  return { table, c2pIndex: c.c2p ? index(1) : null, p2cIndex: c.p2c ? index(-1) : null, bias };
}

function layer(g: GraphBuilder, c: DebertaV2Config, x: string, i: number, s: Shared): string {
  const l = `${P}.encoder.layer.${i}`;
  const a = `${l}.attention.self`;
  const dh = c.dim / c.nHeads;
  const split = g.int64s([0, 0, c.nHeads, dh]);
  const heads = (y: string, perm: number[]): string =>
    g.op('Transpose', [g.op('Reshape', [y, split])], [intsAttr('perm', perm)]);
  const [q, k, v] = [linear(g, x, `${a}.query_proj`), linear(g, x, `${a}.key_proj`), linear(g, x, `${a}.value_proj`)]; // [B, T, D]
  const qh = heads(q, [0, 2, 1, 3]); // [B, H, T, dh]
  const kh = heads(k, [0, 2, 1, 3]); // [B, H, T, dh]
  let scores = g.op('MatMul', [qh, g.op('Transpose', [kh], [intsAttr('perm', [0, 1, 3, 2])])]); // [B, H, T, T]
  /** The relative table through a projection, per head: [H, dh, 2·span]. */
  const rel = (proj: string): string =>
    g.op(
      'Transpose',
      [g.op('Reshape', [linear(g, s.table as string, proj), g.int64s([0, c.nHeads, dh])])],
      [intsAttr('perm', [1, 2, 0])],
    );
  if (s.c2pIndex !== null) {
    const all = g.op('MatMul', [qh, rel(c.shareAttKey ? `${a}.key_proj` : `${a}.pos_key_proj`)]); // [B, H, T, 2·span]
    scores = g.op('Add', [scores, g.op('GatherElements', [all, s.c2pIndex], [intAttr('axis', 3)])]);
  }
  if (s.p2cIndex !== null) {
    const all = g.op('MatMul', [kh, rel(c.shareAttKey ? `${a}.query_proj` : `${a}.pos_query_proj`)]); // [B, H, Tk, 2·span]
    const byKey = g.op('GatherElements', [all, s.p2cIndex], [intAttr('axis', 3)]); // [B, H, Tk, Tq]
    scores = g.op('Add', [scores, g.op('Transpose', [byKey], [intsAttr('perm', [0, 1, 3, 2])])]);
  }
  const scale = Math.sqrt(dh * (1 + (s.c2pIndex !== null ? 1 : 0) + (s.p2cIndex !== null ? 1 : 0)));
  const probs = g.op(
    'Softmax',
    [g.op('Add', [g.op('Mul', [scores, g.floats([1 / scale], [])]), s.bias])],
    [intAttr('axis', -1)],
  ); // [B, H, T, T]
  const context = g.op(
    'Transpose',
    [g.op('MatMul', [probs, heads(v, [0, 2, 1, 3])])],
    [intsAttr('perm', [0, 2, 1, 3])],
  ); // [B, T, H, dh]
  const out = linear(g, g.op('Reshape', [context, g.int64s([0, 0, c.dim])]), `${l}.attention.output.dense`); // [B, T, D]
  const y = layerNorm(g, out, x, `${l}.attention.output.LayerNorm`, c.layerNormEps); // [B, T, D]
  const f = feedForward(g, y, `${l}.intermediate.dense`, `${l}.output.dense`, c.activation); // [B, T, D]
  return layerNorm(g, f, y, `${l}.output.LayerNorm`, c.layerNormEps);
}

export function debertaV2Graph(c: DebertaV2Config): OnnxFamily {
  return {
    tokenTypeIds: c.typeVocabSize > 0,
    hidden(g) {
      const s = shared(g, c);
      let x = embeddings(g, c); // [B, T, D]
      for (let i = 0; i < c.nLayers; i++) x = layer(g, c, x, i, s);
      return x;
    },
  };
}
