/**
 * What a user reads when the disk is full or read-only under `--out`: exit 1 (as every I/O error), one line
 * naming the path, the failure and (disk full) a size, no stack trace and nothing half-written. Method: "tmpfs"
 * (a real small or read-only tmpfs, so the kernel's own ENOSPC/EROFS); each test skips itself where mounting
 * is not permitted (the injected-failure tests in test/util/atomic-failures.test.ts run everywhere).
 */
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeTempDir, runCli, sharedDir, type CliResult } from '../helpers/cli.js';
import { writeTinyModelDir } from '../helpers/tiny-model-dir.js';
import { mountTmpfs } from '../helpers/tmpfs.js';
import { TINY_CONFIG, writeSyntheticSquad } from '../train/synthetic-squad.js';

const TOKENIZER = join(sharedDir, 'models', 'distilbert-base-uncased');
let work: { dir: string; cleanup: () => Promise<void> };

before(async () => {
  work = await makeTempDir('qa-ft-disk-');
  await writeSyntheticSquad(join(work.dir, 'facts.json'), 40, 7);
  await writeSyntheticSquad(join(work.dir, 'many-facts.json'), 400, 7); // prepared: about 240 KiB
  await writeFile(join(work.dir, 'config.json'), JSON.stringify(TINY_CONFIG));
});
after(() => work.cleanup());

const prepareArgs = (out: string, input = 'facts.json'): string[] => [
  'prepare',
  '--input',
  join(work.dir, input),
  '--split',
  'train',
  '--tokenizer',
  TOKENIZER,
  '--max-length',
  '48',
  '--out',
  out,
];

/** Exit 1, exactly one `qa-ft: error:` line matching `message`, no internal error, no stack trace. */
function assertOneLineDiskError(r: CliResult, message: RegExp): void {
  const why = `exit ${r.code}, stderr:\n${r.stderr}`;
  assert.equal(r.code, 1, why);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('qa-ft: error:'));
  assert.equal(errors.length, 1, why);
  assert.match(errors[0] ?? '', message, why);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, why);
}

/** Every name under `dir`, recursively (temporary siblings are `.NAME.tmp-PID-STAMP`). */
async function allNames(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    out.push(e.name);
    if (e.isDirectory()) out.push(...(await allNames(join(dir, e.name))).map((n) => `${e.name}/${n}`));
  }
  return out;
}

test('tmpfs: prepare --out on a 64 KiB tmpfs → one line naming the output, "no space left on device" and the size needed; nothing left', {
  timeout: 120_000,
}, async (t) => {
  const fs = await mountTmpfs('64k');
  if ('skip' in fs) return t.skip(fs.skip);
  try {
    const out = join(fs.dir, 'data');
    const r = await runCli(prepareArgs(out, 'many-facts.json'));
    assertOneLineDiskError(
      r,
      new RegExp(
        `^qa-ft: error: cannot write ${out}(/[\\w.]+)?: no space left on device \\(the write needed about \\d+ KiB\\) \\(free some space`,
      ),
    );
    assert.deepEqual(await allNames(fs.dir), []); // no data dir, no temporary sibling
  } finally {
    await fs.cleanup();
  }
});

test('tmpfs: prepare --out on a read-only tmpfs → one line "read-only file system (EROFS)" naming what it tried to create', {
  timeout: 120_000,
}, async (t) => {
  const fs = await mountTmpfs('64k');
  if ('skip' in fs) return t.skip(fs.skip);
  try {
    await fs.readOnly();
    const out = join(fs.dir, 'data');
    const r = await runCli(prepareArgs(out));
    // the first write refused is the output directory or its lock file beside it
    assertOneLineDiskError(
      r,
      new RegExp(
        `^qa-ft: error: cannot (create directory|write) ${fs.dir}/\\.?data[\\w.-]*: read-only file system \\(EROFS\\) \\(write to a directory on a writable file system\\)$`,
      ),
    );
  } finally {
    await fs.cleanup();
  }
});

test('tmpfs: train --out on a 1 MiB tmpfs → one line naming the checkpoint file, "no space left on device" and at least its size; no temp dir left', {
  timeout: 180_000,
}, async (t) => {
  const fs = await mountTmpfs('1m');
  if ('skip' in fs) return t.skip(fs.skip);
  try {
    const data = join(work.dir, 'data-train');
    const prep = await runCli(prepareArgs(data));
    assert.equal(prep.code, 0, prep.stderr);
    const out = join(fs.dir, 'out');
    const r = await runCli([
      'train',
      '--data',
      data,
      '--model',
      TOKENIZER,
      '--init',
      'random',
      '--config',
      join(work.dir, 'config.json'),
      '--out',
      out,
      '--epochs',
      '1',
      '--batch-size',
      '8',
      '--backend',
      'cpu',
      '--quiet',
    ]);
    // the tiny model's weights (30522 × 64 embeddings, F32) are about 8 MiB: the first checkpoint cannot fit
    assertOneLineDiskError(
      r,
      new RegExp(
        `^qa-ft: error: cannot write ${out}/checkpoint-\\d+/model\\.safetensors: no space left on device \\(the write needed at least [789]\\.\\d MiB\\)`,
      ),
    );
    const left = await allNames(fs.dir);
    assert.ok(!left.some((n) => n.includes('.tmp-') || n.startsWith('checkpoint-')), `left behind: ${left.join(', ')}`);
  } finally {
    await fs.cleanup();
  }
});

test("tmpfs: export --out on a 256 KiB tmpfs → one line naming the exported weights and about the export's size; nothing left", {
  timeout: 120_000,
}, async (t) => {
  const fs = await mountTmpfs('256k');
  if ('skip' in fs) return t.skip(fs.skip);
  try {
    const model = join(work.dir, 'tiny-model');
    await writeTinyModelDir(model);
    const out = join(fs.dir, 'exported');
    const r = await runCli(['export', '--model', model, '--out', out]);
    assertOneLineDiskError(
      r,
      new RegExp(
        `^qa-ft: error: cannot write ${out}/model\\.safetensors: no space left on device \\(the write needed about \\d+(\\.\\d)? MiB\\)`,
      ),
    );
    assert.deepEqual(await allNames(fs.dir), []);
  } finally {
    await fs.cleanup();
  }
});
