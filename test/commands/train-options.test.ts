import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { isQaFtError } from '../../src/errors.js';
import { parseTrainOptions, trainCommand } from '../../src/commands/train.js';
import { makeTempDir, runCli } from '../helpers/cli.js';
import { BASE_TOKENIZER_DIR } from '../helpers/tiny-model-dir.js';
import { prepareSynthetic } from '../train/synthetic-squad.js';

/** Parses `args` with the real command's options and defaults, without running it. */
async function parse(args: string[]) {
  const command = trainCommand()
    .exitOverride()
    .action(() => {});
  await command.parseAsync(args, { from: 'user' });
  return parseTrainOptions(command.opts());
}

test('defaults are the HF Trainer / tutorial ones: 3 epochs, lr 2e-5, batch 16, wd 0.01, no warm-up, clip 1.0', async () => {
  const o = await parse([]);
  assert.equal(o.epochs, 3);
  assert.equal(o.learningRate, 2e-5);
  assert.equal(o.batchSize, 16);
  assert.equal(o.evalBatchSize, 16);
  assert.equal(o.weightDecay, 0.01);
  assert.equal(o.warmupRatio, 0);
  assert.equal(o.maxGradNorm, 1);
  assert.equal(o.gradientAccumulationSteps, 1);
  assert.equal(o.seed, 42);
  assert.equal(o.evalEvery, 'epoch');
  assert.equal(o.padToMaxLength, false);
  assert.equal(o.init, 'pretrained');
  assert.equal(o.model, 'distilbert-base-uncased');
  assert.equal(o.resume, false);
});

test('the Trainer controls parse to their HF meanings; unset ones stay unset (epochs decide, all checkpoints kept)', async () => {
  const unset = await parse([]);
  assert.deepEqual(
    [
      unset.maxSteps,
      unset.warmupSteps,
      unset.saveTotalLimit,
      unset.earlyStopping,
      unset.lrSchedulerType,
      unset.reportTo,
    ],
    [undefined, undefined, undefined, undefined, 'linear', []],
  );
  const o = await parse([
    '--max-steps',
    '12',
    '--warmup-steps',
    '2',
    '--lr-scheduler-type',
    'cosine',
    '--save-total-limit',
    '1',
    '--load-best-model-at-end',
    '--metric-for-best-model',
    'eval_loss',
    '--early-stopping-patience',
    '3',
    '--early-stopping-threshold',
    '0.01',
    '--report-to',
    'tensorboard',
  ]);
  assert.deepEqual(
    [
      o.maxSteps,
      o.warmupSteps,
      o.lrSchedulerType,
      o.saveTotalLimit,
      o.loadBestModelAtEnd,
      o.metricForBestModel,
      o.earlyStopping,
      o.reportTo,
    ],
    [12, 2, 'cosine', 1, true, 'eval_loss', { patience: 3, threshold: 0.01 }, ['tensorboard']],
  );
});

test('--eval-every 200 → every 200 steps; --pad-to-max-length and --resume are flags', async () => {
  const o = await parse(['--eval-every', '200', '--pad-to-max-length', '--resume', '--init', 'random']);
  assert.equal(o.evalEvery, 200);
  assert.equal(o.padToMaxLength, true);
  assert.equal(o.resume, true);
  assert.equal(o.init, 'random');
});

for (const [args, pattern] of [
  [['--eval-every', '0'], /--eval-every must be 'epoch' or a number of steps >= 1, got '0'/],
  [['--eval-every', 'never'], /--eval-every must be 'epoch' or a number of steps >= 1, got 'never'/],
  [['--lr', 'fast'], /--lr must be a number > 0, got 'fast'/],
  [['--epochs', '1.5'], /--epochs must be an integer ≥ 1/],
  [['--warmup-ratio', '2'], /--warmup-ratio must be a number ≥ 0 and ≤ 1, got '2'/],
  [['--init', 'zeros'], /--init must be 'pretrained' or 'random', got 'zeros'/],
  [['--config', 'c.json'], /--config only applies with --init random/],
  [['--max-steps', '0'], /--max-steps must be an integer ≥ 1, got '0'/],
  [['--warmup-steps', '-1'], /--warmup-steps must be an integer ≥ 0/],
  [
    ['--lr-scheduler-type', 'poly'],
    /--lr-scheduler-type must be one of linear, cosine, constant, constant_with_warmup, got 'poly'/,
  ],
  [['--save-total-limit', '0'], /--save-total-limit must be an integer ≥ 1/],
  [['--early-stopping-patience', '2'], /--early-stopping-patience needs --metric-for-best-model/],
  [['--report-to', 'wandb'], /--report-to must be 'tensorboard' or 'none', got 'wandb'/],
] as const) {
  test(`${args.join(' ')} → BAD_ARGUMENT naming the option`, async () => {
    await assert.rejects(
      parse([...args]),
      (e) => isQaFtError(e) && e.code === 'BAD_ARGUMENT' && pattern.test(e.message),
    );
  });
}

test('a --data directory that was never prepared → exit 1 with a one-line hint, no stack trace', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    const r = await runCli(['train', '--data', dir, '--out', `${dir}/out`]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^qa-ft: error: .* is not a prepared-data directory \(no manifest\.json\) \(run `qa-ft prepare --out DIR` first\)\n$/,
    );
  } finally {
    await cleanup();
  }
});

test('options that need evaluations are checked against the data before the first step: nothing is written for a refused run', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    const { data, config } = await prepareSynthetic(dir, { rows: 20, seed: 7, prepareArgs: ['--test-size', '0.2'] }); // SQuAD 1.1
    await mkdir(join(dir, 'no-test'));
    const { data: noTest } = await prepareSynthetic(join(dir, 'no-test'), {
      rows: 10,
      seed: 7,
      prepareArgs: ['--test-size', '0'],
    });
    const train = (d: string, out: string, ...extra: string[]) =>
      runCli([
        'train',
        '--data',
        d,
        '--model',
        BASE_TOKENIZER_DIR,
        '--init',
        'random',
        '--config',
        config,
        '--out',
        out,
        '--backend',
        'cpu',
        '--quiet',
        ...extra,
      ]);
    const cases: [string, string[], RegExp][] = [
      [
        data,
        ['--metric-for-best-model', 'HasAns_f1'],
        /^qa-ft: error: --metric-for-best-model eval_HasAns_f1 is not among this evaluation's metrics \(eval_loss, eval_exact_match, eval_f1\) \(the SQuAD 2\.0 figures/m,
      ],
      [
        data,
        ['--load-best-model-at-end', '--metric-for-best-model', 'NoAns_f1', '--version-2-with-negative'],
        /--metric-for-best-model eval_NoAns_f1 is not among this evaluation's metrics \(eval_loss, eval_exact_match, eval_f1, eval_HasAns_exact, eval_HasAns_f1, eval_HasAns_total, eval_best_exact/,
      ],
      [
        noTest,
        ['--load-best-model-at-end'],
        /^qa-ft: error: --load-best-model-at-end needs evaluations, but the prepared data has no test split \(prepare with --test-size above 0\)$/m,
      ],
      [
        noTest,
        ['--metric-for-best-model', 'f1', '--early-stopping-patience', '2'],
        /--metric-for-best-model and --early-stopping-patience need evaluations, but the prepared data has no test split/,
      ],
    ];
    for (const [[d, extra, pattern], i] of cases.map((c, k) => [c, k] as const)) {
      const out = join(dir, `out-${i}`);
      const r = await train(d, out, ...extra);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, pattern);
      assert.doesNotMatch(r.stderr, /Building the model/, 'refused before the model is built');
      assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('qa-ft:')).length, 1, r.stderr);
      assert.deepEqual(existsSync(out) ? await readdir(out) : [], [], `nothing written for ${extra.join(' ')}`);
    }
    // the same options where the data has what they need: the run goes on (one step)
    const ok = await train(
      data,
      join(dir, 'ok'),
      '--metric-for-best-model',
      'f1',
      '--load-best-model-at-end',
      '--max-steps',
      '1',
    );
    assert.equal(ok.code, 0, ok.stderr);
  } finally {
    await cleanup();
  }
});
