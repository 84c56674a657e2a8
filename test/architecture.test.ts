/**
 * The architecture of src/: `MAY_IMPORT` is the source of truth for its layers and which may import which (add a
 * folder or an import direction here first). Over the import graph, read with TypeScript's own pre-processor:
 * imports run one way (a layer imports only the layers it names below it), the leaves import no layer, and no
 * group of files imports itself round a cycle.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { repoRoot } from './helpers/cli.js';

const SRC = join(repoRoot, 'src');

/** What each layer may import (below it); only these, so that e.g. the optimizer reaches the engine through ops. */
const MAY_IMPORT: Record<string, readonly string[]> = {
  commands: ['index', 'serve', 'export', 'hub', 'onnx', 'train', 'infer', 'model', 'tokenize', 'data', 'engine', 'ops'],
  index: ['serve', 'export', 'hub', 'onnx', 'train', 'infer', 'model', 'tokenize', 'data', 'engine', 'ops'],
  // the HTTP server (fastify) around the batching answerer: speaks the API, runs no model code of its own
  serve: ['infer'],
  // packaging a trained model (export, model card, ONNX files): checks weights with the model's parsers and the
  // tokenizer against the model; never downloads
  export: ['model', 'onnx', 'tokenize'],
  // hub I/O: downloads, the cache, resolving ids; knows no model
  hub: [],
  // ONNX graphs of the model families (export) and onnxruntime sessions over them: reads configs and weights only
  onnx: ['model'],
  train: ['model', 'tokenize', 'ops'],
  infer: ['model', 'tokenize'],
  model: ['engine', 'ops'],
  // the engine's op surface (fused AdamW, sum of squares, dropout): kernels on every backend, called like tf ops
  ops: ['engine'],
  tokenize: ['data'],
  data: [],
  engine: [],
};
/** Files any layer may import; they import no layer. */
const LEAVES = new Set(['errors', 'defaults', 'records', 'hf-files', 'util']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** `src/train/loop.ts` → `train`; `src/cli.ts` → `commands` (the CLI's entry); `src/errors.ts` → `errors`. */
function layerOf(file: string): string {
  if (relative(SRC, file) === 'engine/ops.ts') return 'ops';
  const first = relative(SRC, file).split('/')[0] as string;
  const name = first.replace(/\.ts$/, '');
  return name === 'cli' ? 'commands' : name;
}

/** Relative imports of `file` (static, `import type`, re-exports and `import()`), as absolute .ts paths. */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => resolve(dirname(file), name).replace(/\.js$/, '.ts'));
}

function allowedFrom(layer: string): Set<string> {
  return new Set(MAY_IMPORT[layer] ?? []);
}

const files = sourceFiles(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f)]));

test('every src/ file belongs to a known layer or leaf', () => {
  const unknown = files.filter((f) => !(layerOf(f) in MAY_IMPORT) && !LEAVES.has(layerOf(f)));
  assert.deepEqual(
    unknown.map((f) => relative(repoRoot, f)),
    [],
  );
});

test('no import runs from a lower layer to a higher one, and leaves import no layer', () => {
  const wrong: string[] = [];
  for (const [file, imports] of graph) {
    const from = layerOf(file);
    const allowed = LEAVES.has(from) ? new Set<string>() : allowedFrom(from);
    for (const target of imports) {
      const to = layerOf(target);
      if (to === from || LEAVES.has(to) || allowed.has(to)) continue;
      wrong.push(`${relative(repoRoot, file)} → ${relative(repoRoot, target)}`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('no src/ files import each other, directly or round a cycle', () => {
  // Tarjan's strongly connected components: any component of more than one file is a cycle
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(relative(repoRoot, w));
      } while (w !== v);
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const f of files) if (!index.has(f)) visit(f);
  assert.deepEqual(cycles, []);
});

test('the checks see a violation: a model file importing train would be reported', () => {
  assert.equal(allowedFrom('model').has('train'), false);
  assert.equal(allowedFrom('train').has('engine'), false, 'not through model');
  assert.ok(
    [...graph.values()].some((imports) => imports.length > 0),
    'imports were read',
  );
});
