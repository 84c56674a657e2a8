/**
 * `qa-ft export --out`: never deletes the model, the tokenizer or the user's files (--overwrite replaces only what
 * export writes), refuses an --out that is or holds what it reads, and never follows a symbolic link out of the
 * model directory into the export. The user's files are compared byte for byte before and after.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, lstat, mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeTempDir, runCli, sharedDir, type CliResult } from '../helpers/cli.js';
import { writeSmallTokenizer } from '../helpers/small-tokenizer.js';
import { treeHashes } from '../helpers/tree-hash.js';

const tinyDir = join(sharedDir, 'fixtures', 'tiny-distilbert-qa');
let tmp: { dir: string; cleanup: () => Promise<void> };
/** A tokenizer that fits the 120-row fixture model, in a directory of its own. */
let tokenizerTmp: { dir: string; cleanup: () => Promise<void> };
let baseDir: string;

before(async () => {
  tmp = await makeTempDir('qa-ft-export-out-');
  tokenizerTmp = await makeTempDir('qa-ft-export-out-tokenizer-');
  baseDir = await writeSmallTokenizer(tokenizerTmp.dir);
});
after(async () => {
  await tmp.cleanup();
  await tokenizerTmp.cleanup();
});

/** A trained-looking model directory at `dir`: config, weights, a WordPiece tokenizer and a checkpoint. */
async function modelAt(dir: string): Promise<string> {
  await mkdir(join(dir, 'checkpoint-2'), { recursive: true });
  await copyFile(join(tinyDir, 'config.json'), join(dir, 'config.json'));
  await copyFile(join(tinyDir, 'model.safetensors'), join(dir, 'model.safetensors'));
  await copyFile(join(baseDir, 'vocab.txt'), join(dir, 'vocab.txt'));
  await copyFile(join(baseDir, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
  await writeFile(join(dir, 'checkpoint-2', 'model.safetensors'), 'a checkpoint');
  return dir;
}

const exportCli = (args: string[], cwd?: string): Promise<CliResult> =>
  runCli(['export', '--quiet', ...args], cwd === undefined ? {} : { cwd });

function assertOneLineError(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, pattern);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
}

test('export --out that is or holds the model or tokenizer directory is refused, --overwrite or not, and nothing changes', async () => {
  const parent = join(tmp.dir, 'parent');
  const model = await modelAt(join(parent, 'model'));
  await writeFile(join(parent, 'important.txt'), 'x\n');
  const tok = join(tmp.dir, 'tok');
  await mkdir(tok);
  await copyFile(join(baseDir, 'vocab.txt'), join(tok, 'vocab.txt'));
  const before = { parent: await treeHashes(parent), tok: await treeHashes(tok) };

  const [holdsModel, isModel, isTokenizer, dotDot] = await Promise.all([
    exportCli(['--model', model, '--out', parent, '--overwrite']),
    exportCli(['--model', model, '--out', model, '--overwrite']),
    exportCli(['--model', model, '--tokenizer', tok, '--out', tok, '--overwrite']),
    exportCli(['--model', '.', '--out', '..', '--overwrite'], model), // was a raw EBUSY
  ]);
  assertOneLineError(holdsModel, /--out .*parent contains the model directory \(.*model\)/);
  assertOneLineError(isModel, /--out .*model is the model directory itself/);
  assertOneLineError(isTokenizer, /--out .*tok is the --tokenizer directory itself/);
  assertOneLineError(dotDot, /--out \.\. contains the model directory \(\.\)/);
  assert.deepEqual(await treeHashes(parent), before.parent);
  assert.deepEqual(await treeHashes(tok), before.tok);
});

test("export --overwrite into a directory of the user's replaces only the files export writes; the others stay byte for byte", async () => {
  const model = await modelAt(join(tmp.dir, 'm1'));
  const out = join(tmp.dir, 'release');
  await mkdir(join(out, 'notes'), { recursive: true });
  await writeFile(join(out, 'important.txt'), "the user's\n");
  await writeFile(join(out, 'notes', 'plan.md'), '# plan\n');
  await writeFile(join(out, 'merges.txt'), "an earlier export's BPE merges\n"); // a file export writes, for another tokenizer
  const before = await treeHashes(out);

  const refused = await exportCli(['--model', model, '--out', out]);
  assertOneLineError(
    refused,
    /--out .*release exists and is not empty \(it holds important\.txt, merges\.txt, notes\)/,
  );
  assert.deepEqual(await treeHashes(out), before);

  const r = await exportCli(['--model', model, '--out', out, '--overwrite']);
  assert.equal(r.code, 0, r.stderr);
  const after = await treeHashes(out);
  for (const kept of ['important.txt', 'notes', 'notes/plan.md']) assert.equal(after[kept], before[kept], kept);
  assert.equal(after['merges.txt'], undefined, "the earlier export's file this export does not write is gone");
  assert.deepEqual(await readFile(join(out, 'model.safetensors')), await readFile(join(model, 'model.safetensors')));
  assert.deepEqual(
    Object.keys(after)
      .filter((k) => !k.startsWith('notes') && k !== 'important.txt')
      .sort(),
    ['README.md', 'config.json', 'model.safetensors', 'tokenizer_config.json', 'vocab.txt'],
    'no staging directory is left behind',
  );
  const { architectures } = JSON.parse(await readFile(join(out, 'config.json'), 'utf8')) as { architectures: string[] };
  assert.deepEqual(architectures, ['DistilBertForQuestionAnswering']);
});

test("a symbolic link leading out of the model directory is refused by name; links inside it, and a hub snapshot's into blobs/, are followed", async () => {
  await copyFile(join(baseDir, 'vocab.txt'), join(tmp.dir, 'outside-vocab.txt'));
  const cases: Array<[string, string]> = [
    ['/etc/passwd', 'abs'],
    ['../outside-vocab.txt', 'rel'],
  ];
  const results = [];
  for (const [target, name] of cases) {
    const dir = await modelAt(join(tmp.dir, `leaky-${name}`));
    await rm(join(dir, 'vocab.txt'));
    await symlink(target, join(dir, 'vocab.txt'));
    results.push(exportCli(['--model', dir, '--out', join(tmp.dir, `leak-out-${name}`)]));
  }
  for (const [i, r] of (await Promise.all(results)).entries()) {
    assertOneLineError(r, /leaky-\w+\/vocab\.txt is a symbolic link to .*, outside .*; refusing to export it/);
    assert.ok(!existsSync(join(tmp.dir, `leak-out-${cases[i]![1]}`)), 'nothing is written');
  }

  // within the directory: followed, written as a regular file
  const inner = await modelAt(join(tmp.dir, 'inner'));
  await mkdir(join(inner, 'tok'));
  await rename(join(inner, 'vocab.txt'), join(inner, 'tok', 'vocab.txt'));
  await symlink(join('tok', 'vocab.txt'), join(inner, 'vocab.txt'));
  // the hub cache layout: snapshots/COMMIT/FILE -> ../../blobs/ETAG
  const repo = join(tmp.dir, 'hub', 'models--x--y');
  const snapshot = await modelAt(join(repo, 'snapshots', 'abc123'));
  await mkdir(join(repo, 'blobs'));
  await rename(join(snapshot, 'vocab.txt'), join(repo, 'blobs', 'e1'));
  await symlink(join('..', '..', 'blobs', 'e1'), join(snapshot, 'vocab.txt'));
  const [a, b] = await Promise.all([
    exportCli(['--model', inner, '--out', join(tmp.dir, 'inner-out')]),
    exportCli(['--model', snapshot, '--out', join(tmp.dir, 'hub-out')]),
  ]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  for (const out of ['inner-out', 'hub-out']) {
    const vocab = join(tmp.dir, out, 'vocab.txt');
    assert.ok((await lstat(vocab)).isFile(), `${out}/vocab.txt is a regular file`);
    assert.deepEqual(await readFile(vocab), await readFile(join(baseDir, 'vocab.txt')));
  }
});
