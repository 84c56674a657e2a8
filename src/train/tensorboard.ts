/**
 * `--report-to tensorboard`: the run's scalars as a TensorBoard event file under `outDir/runs/DATE_HOST/`, with the
 * tags the Hugging Face Trainer's TensorBoardCallback writes (`train/loss`, `train/learning_rate`,
 * `train/grad_norm`, `train/epoch`, `eval/loss`, `eval/exact_match`, `eval/f1`, …).
 *
 * The file is TFRecord framing (length, masked CRC-32C of the length, data, masked CRC-32C of the data) around
 * `tensorflow.Event` protobufs. No maintained npm package writes event files without TensorFlow itself
 * (tfjs-node's writer needs libtensorflow), so the two pieces are taken from well-kept libraries: protobufjs
 * encodes the messages (the few fields used are declared below, from TensorFlow's event.proto and summary.proto)
 * and @aws-crypto/crc32c computes the checksums; only the framing, four fixed-width fields, is done here.
 */
import { crc32c } from '@aws-crypto/crc32c';
import { appendFile, mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { withFileSystemErrors } from '../util/fs-errors.js';
import type { MetricsRecord } from './metrics-log.js';

/** The fields of TensorFlow's `Event` and `Summary` messages that scalar logging uses (same names and numbers). */
const SCHEMA = protobuf.Root.fromJSON({
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
        // `simple_value` is a member of summary.proto's `oneof value`: declared so here, protobufjs writes it even
        // when it is 0 (a plain proto3 float equal to 0 is omitted, and readers then see no value at all)
        Value: {
          oneofs: { value: { oneof: ['simple_value'] } },
          fields: { tag: { type: 'string', id: 1 }, simple_value: { type: 'float', id: 2 } },
        },
      },
    },
  },
});
export const EVENT = SCHEMA.lookupType('Event');

/** TFRecord's masked CRC-32C (a rotation plus a constant, so a CRC of data holding CRCs stays informative). */
export function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(bytes) >>> 0;
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord: the framing around `data`. */
export function tfRecord(data: Uint8Array): Uint8Array {
  const header = new Uint8Array(12);
  const view = new DataView(header.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(header.subarray(0, 8)), true);
  const footer = new Uint8Array(4);
  new DataView(footer.buffer).setUint32(0, maskedCrc32c(data), true);
  return Buffer.concat([header, data, footer]);
}

/** HF's TensorBoard tags: `eval_f1` → `eval/f1`, `loss` → `train/loss`. */
function scalarsOf(record: MetricsRecord): { tag: string; value: number }[] {
  const isEval = 'eval_f1' in record;
  const out: { tag: string; value: number }[] = [];
  for (const [key, value] of Object.entries(record)) {
    if (key === 'step' || typeof value !== 'number' || (isEval && key === 'epoch')) continue;
    out.push({ tag: key.startsWith('eval_') ? `eval/${key.slice('eval_'.length)}` : `train/${key}`, value });
  }
  return out;
}

export class TensorBoardWriter {
  private constructor(readonly path: string) {}

  /** A new event file in a new `runsDir/DATE_HOST` directory (as HF's default `logging_dir`). */
  static async open(runsDir: string): Promise<TensorBoardWriter> {
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
    const dir = join(runsDir, `${stamp}_${hostname()}`);
    await withFileSystemErrors({ path: dir, operation: 'create directory' }, () => mkdir(dir, { recursive: true }));
    const writer = new TensorBoardWriter(
      join(dir, `events.out.tfevents.${Math.floor(Date.now() / 1000)}.${hostname()}.${process.pid}.0`),
    );
    await writer.write({ wall_time: Date.now() / 1000, step: 0, file_version: 'brain.Event:2' });
    return writer;
  }

  /** Appends the record's scalars at its step. */
  async add(record: MetricsRecord): Promise<void> {
    const value = scalarsOf(record).map(({ tag, value: v }) => ({ tag, simple_value: v }));
    await this.write({ wall_time: Date.now() / 1000, step: record.step, summary: { value } });
  }

  private async write(event: Record<string, unknown>): Promise<void> {
    const bytes = tfRecord(EVENT.encode(EVENT.fromObject(event)).finish());
    await withFileSystemErrors({ path: this.path, operation: 'append to', bytes: bytes.length }, () =>
      appendFile(this.path, bytes),
    );
  }
}
