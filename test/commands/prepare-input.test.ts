// Damaged and mis-encoded inputs through the real `qa-ft prepare`: one error line naming the file, nothing written.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeTempDir, runCli, sharedDir } from '../helpers/cli.js';

const parquet = join(sharedDir, 'data', 'squad-v1.1', 'train-first5000.parquet');
const tokenizer = join(sharedDir, 'models', 'distilbert-base-uncased');
let tmp: { dir: string; cleanup: () => Promise<void> };

before(async () => {
  tmp = await makeTempDir('qa-ft-read-cli-');
});
after(() => tmp.cleanup());

/** `prepare --input input` into a fresh directory: exit 1, a single one-line error matching `message`, nothing written. */
async function assertPrepareRefuses(input: string, message: RegExp): Promise<void> {
  const base = join(tmp.dir, `run-${Math.random().toString(36).slice(2)}`);
  await mkdir(base);
  const out = join(base, 'out');
  const r = await runCli(['prepare', '--tokenizer', tokenizer, '--out', out, '--input', input]);
  const why = `exit ${r.code}, stderr:\n${r.stderr}`;
  assert.equal(r.code, 1, why);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, why);
  assert.match(lines[0]!, /^qa-ft: error: /, why);
  assert.match(lines[0]!, message, why);
  assert.equal(existsSync(out), false, 'no output directory');
  assert.deepEqual(await readdir(base), [], 'no temporary directory left');
}

describe('prepare refuses damaged or mis-encoded input', { concurrency: 3 }, () => {
  test('a Latin-1 SQuAD JSON → invalid UTF-8 at the byte offset of the é, with a hint to convert', async () => {
    const json = JSON.stringify({
      version: '1.1',
      data: [
        {
          title: 'T',
          paragraphs: [
            {
              context: 'Le Café ouvre en 1999.',
              qas: [{ id: 'a', question: 'Quand ?', answers: [{ text: '1999', answer_start: 17 }] }],
            },
          ],
        },
      ],
    });
    const bytes = Buffer.from(json, 'latin1');
    const path = join(tmp.dir, 'latin1.json');
    await writeFile(path, bytes);
    const offset = bytes.indexOf(0xe9);
    await assertPrepareRefuses(
      path,
      new RegExp(
        `latin1\\.json: invalid UTF-8 at byte ${offset} \\(line 1, 0xe9: invalid continuation byte\\) \\(text data must be UTF-8; convert it, e\\.g\\. iconv -f latin1 -t utf-8`,
      ),
    );
  });

  test('a truncated Parquet file → damaged Parquet file, not "not Parquet, Arrow IPC or SQuAD JSON"', async () => {
    const path = join(tmp.dir, 'cut.parquet');
    await writeFile(path, (await readFile(parquet)).subarray(0, 50_000));
    await assertPrepareRefuses(
      path,
      /cut\.parquet: damaged Parquet file \(50000 bytes, no closing 'PAR1' magic: truncated\?\) \(copy or download the file again\)$/,
    );
  });

  test('a directory as --input → "is a directory"', async () => {
    const dir = join(tmp.dir, 'a-dir');
    await mkdir(dir);
    await assertPrepareRefuses(
      dir,
      /input file .*a-dir is a directory, expected a data file \(JSON Lines, .*Parquet or Arrow\)/,
    );
  });
});
