/**
 * The ONNX export of every family run with onnxruntime-node: fp32 logits against PyTorch's (the tiny fixtures'
 * batch 0) and against qa-ft's own forward at other batch and sequence sizes (the dynamic axes); q8 logits
 * against fp32's; the graph's inputs, outputs and operators; the int8 weight quantization by hand-worked numbers.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseModelConfig, type ModelConfig } from '../../src/model/config.js';
import { loadQaModel } from '../../src/model/qa-model.js';
import { readSafetensors } from '../../src/model/safetensors.js';
import type { QaModel } from '../../src/model/types.js';
import { onnxModels } from '../../src/onnx/model.js';
import { decodeModel, OPSET } from '../../src/onnx/proto.js';
import { quantizeWeight } from '../../src/onnx/quantize.js';
import { openOnnxModel, type OnnxQaModel } from '../../src/onnx/session.js';
import type { QaBatch } from '../../src/records.js';
import { loadFixture, relMaxDiff, type Fixture } from '../model/tiny-fixture.js';
import { readFileSync } from 'node:fs';

/** The families with an ONNX graph (src/onnx/model.ts), each with its PyTorch fixture. */
const FAMILIES = ['distilbert', 'bert', 'roberta', 'electra', 'albert', 'deberta-v2'] as const;
const FP32_TOL = 1e-4; // of the largest logit
const Q8_MIN_COSINE = 0.99;

function cosine(a: readonly number[], b: readonly number[]): number {
  let ab = 0,
    aa = 0,
    bb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number,
      y = b[i] as number;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return ab / Math.sqrt(aa * bb);
}

/** Rows `rows` of a batch, cut to its first `t` tokens (the last one of a cut row stays a real token). */
function sub(batch: QaBatch, rows: number, t: number): QaBatch {
  const cut = (m: readonly (readonly number[])[]): number[][] => m.slice(0, rows).map((r) => r.slice(0, t));
  return {
    inputIds: cut(batch.inputIds),
    attentionMask: cut(batch.attentionMask),
    ...(batch.tokenTypeIds === undefined ? {} : { tokenTypeIds: cut(batch.tokenTypeIds) }),
  };
}

interface Exported {
  fx: Fixture;
  config: ModelConfig;
  fp32: OnnxQaModel;
  q8: OnnxQaModel;
  bytes: { fp32: Uint8Array; q8: Uint8Array };
  own: QaModel;
}

const dir = await mkdtemp(join(tmpdir(), 'qa-ft-onnx-'));
after(() => rm(dir, { recursive: true, force: true }));

async function exportFixture(family: string): Promise<Exported> {
  const fx = loadFixture(family);
  const config = parseModelConfig(JSON.parse(readFileSync(join(fx.dir, 'config.json'), 'utf8')), fx.dir);
  const bytes = onnxModels(config, await readSafetensors(join(fx.dir, 'model.safetensors')));
  await writeFile(join(dir, `${family}.onnx`), bytes.fp32);
  await writeFile(join(dir, `${family}_quantized.onnx`), bytes.q8);
  return {
    fx,
    config,
    bytes,
    fp32: await openOnnxModel(join(dir, `${family}.onnx`), config, { threads: 1 }),
    q8: await openOnnxModel(join(dir, `${family}_quantized.onnx`), config, { threads: 1 }),
    own: await loadQaModel(fx.dir, { backend: 'cpu' }),
  };
}

for (const family of FAMILIES) {
  describe(`ONNX export of ${family}`, () => {
    let e: Exported;
    before(async () => {
      e = await exportFixture(family);
    });
    after(() => {
      e.fp32.dispose();
      e.q8.dispose();
      e.own.dispose();
    });

    test('fp32 start/end logits and QA loss of batch 0 equal PyTorch within 1e-4 of the largest logit (loss: relative)', async (t) => {
      const out = await e.fp32.forward(e.fx.batch(0));
      const ref = e.fx.json.forward;
      const s = relMaxDiff(out.startLogits.flat(), ref.start_logits.flat());
      const d = relMaxDiff(out.endLogits.flat(), ref.end_logits.flat());
      t.diagnostic(
        `${family} fp32 vs PyTorch: start max|diff| ${s.maxDiff.toExponential(2)} (largest ${s.maxRef.toFixed(3)}), end ${d.maxDiff.toExponential(2)}`,
      );
      assert.ok(s.maxDiff <= FP32_TOL * s.maxRef, `start ${s.maxDiff}`);
      assert.ok(d.maxDiff <= FP32_TOL * d.maxRef, `end ${d.maxDiff}`);
      assert.ok(Math.abs((out.loss as number) - ref.loss) <= FP32_TOL * ref.loss, `loss ${out.loss} vs ${ref.loss}`);
    });

    test("fp32 equals qa-ft's forward at two other batch and sequence sizes (dynamic axes, padded rows)", async (t) => {
      for (const [rows, len, from] of [
        [1, 9, 1],
        [3, 17, 2],
      ] as const) {
        const batch = sub(e.fx.batch(from, false), rows, len);
        const [onnx, own] = [await e.fp32.forward(batch), await e.own.forward(batch)];
        assert.equal(onnx.startLogits.length, rows);
        assert.equal(onnx.startLogits[0]?.length, len);
        const s = relMaxDiff(onnx.startLogits.flat(), own.startLogits.flat());
        const d = relMaxDiff(onnx.endLogits.flat(), own.endLogits.flat());
        t.diagnostic(
          `${family} [${rows}, ${len}]: start max|diff| ${s.maxDiff.toExponential(2)}, end ${d.maxDiff.toExponential(2)}`,
        );
        assert.ok(
          s.maxDiff <= FP32_TOL * s.maxRef && d.maxDiff <= FP32_TOL * d.maxRef,
          `[${rows}, ${len}]: ${s.maxDiff}, ${d.maxDiff}`,
        );
      }
    });

    test('q8 logits have cosine ≥ 0.99 with fp32 on every batch', async (t) => {
      for (let i = 0; i < e.fx.json.batches.length; i++) {
        const batch = e.fx.batch(i, false);
        const [a, b] = [await e.fp32.forward(batch), await e.q8.forward(batch)];
        const [x, y] = [
          [...a.startLogits.flat(), ...a.endLogits.flat()],
          [...b.startLogits.flat(), ...b.endLogits.flat()],
        ];
        const c = cosine(x, y);
        const r = relMaxDiff(y, x);
        t.diagnostic(
          `${family} batch ${i} q8 vs fp32: cosine ${c.toFixed(5)}, max|diff| ${r.maxDiff.toExponential(2)} (largest ${r.maxRef.toFixed(3)})`,
        );
        assert.ok(c >= Q8_MIN_COSINE, `cosine ${c}`);
      }
    });

    test('the graphs: int64 inputs and float32 outputs on the dynamic axes, opset 17, q8 MatMuls by int8 weights', () => {
      type Io = {
        name: string;
        type: { tensor_type: { elem_type: number; shape: { dim: { dim_param?: string }[] } } };
      };
      type Graph = {
        input: Io[];
        output: Io[];
        node: { op_type: string }[];
        initializer: { name: string; data_type: number }[];
      };
      const fp32 = decodeModel(e.bytes.fp32) as { opset_import: { version: number }[]; graph: Graph };
      const q8 = (decodeModel(e.bytes.q8) as { graph: Graph }).graph;
      assert.equal(fp32.opset_import[0]?.version, OPSET);
      const types =
        family === 'distilbert' || family === 'roberta' || family === 'deberta-v2' ? [] : ['token_type_ids'];
      assert.deepEqual(
        fp32.graph.input.map((i) => i.name),
        ['input_ids', 'attention_mask', ...types],
      );
      assert.deepEqual(
        fp32.graph.output.map((i) => i.name),
        ['start_logits', 'end_logits'],
      );
      for (const io of [...fp32.graph.input, ...fp32.graph.output]) {
        assert.equal(io.type.tensor_type.elem_type, io.name.endsWith('logits') ? 1 : 7);
        assert.deepEqual(
          io.type.tensor_type.shape.dim.map((d) => d.dim_param),
          ['batch_size', 'sequence_length'],
        );
      }
      const count = (g: Graph, op: string): number => g.node.filter((n) => n.op_type === op).length;
      const c = e.config;
      const layers = c.nLayers * (c.modelType === 'albert' ? c.innerGroupNum : 1);
      const projected = c.modelType !== 'distilbert' && c.embeddingSize !== c.dim ? 1 : 0; // E → D
      const relative = c.modelType === 'deberta-v2' ? Number(c.c2p) + Number(c.p2c) : 0; // DeBERTa's Kr, Qr per layer
      const projections = layers * (6 + relative) + 1 + projected; // q, k, v, out, up, down (+ Kr, Qr); qa_outputs; E → D
      assert.equal(
        count(fp32.graph, 'MatMul'),
        projections + layers * (2 + relative),
        'plus scores (content, c2p, p2c) and context per layer',
      );
      assert.equal(count(q8, 'MatMulInteger'), projections);
      assert.equal(count(q8, 'MatMul'), layers * (2 + relative), 'activation × activation MatMuls stay float');
      // q, k and v share one; DeBERTa's relative table is one activation for every layer
      assert.equal(count(q8, 'DynamicQuantizeLinear'), layers * 4 + 1 + projected + (relative > 0 ? 1 : 0));
      assert.ok(e.bytes.q8.length < e.bytes.fp32.length, 'q8 is smaller');
      assert.ok(
        q8.initializer.some((i) => i.data_type === 3),
        'int8 weights',
      );
    });
  });
}

test('int8 weights: symmetric scale max|W| / 127, halves rounded to even, zero point 0', () => {
  const { q, scale } = quantizeWeight(Float32Array.of(0.5, 1.5, -2.5, 127, 3.7, -126.6));
  assert.equal(scale, 1);
  assert.deepEqual([...q], [0, 2, -2, 127, 4, -127]);
  const half = quantizeWeight(Float32Array.of(-2.54, 0.01, 1));
  assert.equal(half.scale, Math.fround(0.02));
  assert.deepEqual([...half.q], [-127, 0, 50]);
  assert.equal(quantizeWeight(new Float32Array(3)).scale, 1, 'an all-zero weight keeps scale 1');
});
