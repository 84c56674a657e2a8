/**
 * TensorBoard event files read back as TensorBoard reads them: TensorFlow's summary.proto puts `simple_value` in
 * `oneof value`, so a reader sees a scalar only when the oneof's case is set — a 0 must be written, not omitted.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import protobuf from 'protobufjs';
import { TensorBoardWriter } from '../../src/train/tensorboard.js';
import { makeTempDir } from '../helpers/cli.js';

let dir = '';
let cleanup: () => Promise<void> = async () => {};
before(async () => ({ dir, cleanup } = await makeTempDir('qa-ft-tensorboard-')));
after(() => cleanup());

/**
 * The reader's side, declared here from TensorFlow's event.proto / summary.proto (not the writer's schema): the
 * oneof with `simple_value` and two of its other members, as a proto3 reader knows it.
 */
const READER = protobuf.Root.fromJSON({
  nested: {
    Event: {
      fields: {
        wall_time: { type: 'double', id: 1 },
        step: { type: 'int64', id: 2 },
        file_version: { type: 'string', id: 3 },
        summary: { type: 'Summary', id: 5 },
      },
    },
    Summary: {
      fields: { value: { rule: 'repeated', type: 'Value', id: 1 } },
      nested: {
        Value: {
          oneofs: { value: { oneof: ['simple_value', 'obsolete_old_style_histogram', 'tensor_placeholder'] } },
          fields: {
            tag: { type: 'string', id: 1 },
            simple_value: { type: 'float', id: 2 },
            obsolete_old_style_histogram: { type: 'bytes', id: 3 },
            tensor_placeholder: { type: 'bytes', id: 8 },
          },
        },
      },
    },
  },
}).lookupType('Event');

interface ReadScalar {
  readonly tag: string;
  /** The oneof's case, as `HasField`/`WhichOneof('value')` report it. */
  readonly which: string | undefined;
  readonly value: number | undefined;
}

/** Every event's scalars, TFRecord framing unwrapped (CRCs are checked by the CLI test). */
function readEvents(bytes: Buffer): { step: number; scalars: ReadScalar[] }[] {
  const events: { step: number; scalars: ReadScalar[] }[] = [];
  for (let at = 0; at < bytes.length; ) {
    const length = Number(bytes.readBigUInt64LE(at));
    const e = READER.toObject(READER.decode(bytes.subarray(at + 12, at + 12 + length)), {
      longs: Number,
      oneofs: true,
    }) as {
      step?: number;
      summary?: { value?: { tag: string; value?: string; simple_value?: number }[] };
    };
    events.push({
      step: e.step ?? 0,
      scalars: (e.summary?.value ?? []).map((v) => ({ tag: v.tag, which: v.value, value: v.simple_value })),
    });
    at += 12 + length + 4;
  }
  return events;
}

test('scalars equal to 0 (warm-up learning rate, exact match 0, epoch 0) are written and read back with the oneof set', async () => {
  const writer = await TensorBoardWriter.open(join(dir, 'runs'));
  await writer.add({ step: 1, epoch: 0, loss: 5.5, learning_rate: 0, grad_norm: 1.25 });
  await writer.add({ step: 2, epoch: 1, eval_loss: 4.5, eval_exact_match: 0, eval_f1: 0, eval_count: 12 });
  await writer.add({ step: 3, epoch: 1.5, loss: -0, learning_rate: 2e-5, grad_norm: 0 });
  const [runDir] = await readdir(join(dir, 'runs'));
  const [file] = await readdir(join(dir, 'runs', runDir as string));
  const events = readEvents(await readFile(join(dir, 'runs', runDir as string, file as string)));
  assert.equal(events.length, 4); // the file_version event, then one per record
  const byStep = (step: number) =>
    Object.fromEntries((events.find((e) => e.step === step)?.scalars ?? []).map((s) => [s.tag, s]));
  const expected: [number, string, number][] = [
    [1, 'train/epoch', 0],
    [1, 'train/loss', 5.5],
    [1, 'train/learning_rate', 0],
    [1, 'train/grad_norm', 1.25],
    [2, 'eval/loss', 4.5],
    [2, 'eval/exact_match', 0],
    [2, 'eval/f1', 0],
    [2, 'eval/count', 12],
    [3, 'train/loss', 0],
    [3, 'train/grad_norm', 0],
    [3, 'train/learning_rate', 2e-5],
    [3, 'train/epoch', 1.5],
  ];
  for (const [step, tag, value] of expected) {
    const s = byStep(step)[tag];
    assert.ok(s, `${tag} at step ${step} is in the event`);
    assert.equal(s.which, 'simple_value', `${tag} at step ${step}: the oneof's case is set`);
    assert.ok(
      Math.abs((s.value as number) - value) <= 1e-7 * Math.max(1, Math.abs(value)),
      `${tag} at step ${step}: ${s.value} vs ${value}`,
    );
  }
  assert.equal(Object.keys(byStep(2)).length, 4, 'no eval epoch scalar (HF logs it under train/)');
});
