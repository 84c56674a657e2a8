/** The serve tests' model (a tiny char-level DistilBERT, fixtures/tiny-qa-model) and an in-process server on it. */
import { join } from 'node:path';
import { BatchingAnswerer, type BatchingOptions } from '../../src/infer/batching.js';
import { createQaServer, type QaServer, type QaServerOptions } from '../../src/serve/server.js';
import { repoRoot } from '../helpers/cli.js';

export const FIXTURE_MODEL = join(repoRoot, 'test', 'serve', 'fixtures', 'tiny-qa-model');

export interface PipelineCase {
  name: string;
  body: { inputs: unknown; parameters: Record<string, unknown> };
  expected: unknown;
}

/** An answerer on the fixture model (cpu backend: the reference, and fast at this size). */
export function openFixture(options: BatchingOptions = {}): Promise<BatchingAnswerer> {
  return BatchingAnswerer.open(FIXTURE_MODEL, { backend: 'cpu', ...options });
}

export async function fixtureServer(
  options: QaServerOptions = {},
  batching: BatchingOptions = {},
): Promise<{ server: QaServer; answerer: BatchingAnswerer }> {
  const answerer = await openFixture(batching);
  return { server: await createQaServer(answerer, options), answerer };
}

interface Answer {
  answer: string;
  start: number;
  end: number;
  score: number;
}

/** Pipeline outputs compared as the contract says: answer, start and end exactly, score within 1e-4; shapes equal. */
export function assertSameAnswers(got: unknown, expected: unknown, where: string): void {
  const fail = (why: string): never => {
    throw new Error(`${where}: ${why}\n  got      ${JSON.stringify(got)}\n  expected ${JSON.stringify(expected)}`);
  };
  if (Array.isArray(expected)) {
    if (!Array.isArray(got) || got.length !== expected.length) fail('a list of another length');
    (expected as unknown[]).forEach((e, i) => assertSameAnswers((got as unknown[])[i], e, `${where}[${i}]`));
    return;
  }
  const g = got as Answer;
  const e = expected as Answer;
  if (g === null || typeof g !== 'object' || Array.isArray(g)) fail('not an answer object');
  if (g.answer !== e.answer || g.start !== e.start || g.end !== e.end) fail('answer/start/end differ');
  if (!(Math.abs(g.score - e.score) <= 1e-4)) fail(`score off by ${Math.abs(g.score - e.score)}`);
  if (Object.keys(g).sort().join() !== 'answer,end,score,start') fail('other keys than answer, score, start, end');
}
