/**
 * Cold start of `qa-ft ask` for a distilbert-base-sized model: process start → answer printed, several runs,
 * median, with peak RSS, beside the PyTorch anchor of /work/shared/reference/ask_ref.py (2.2 s, 1013 MiB here).
 *
 * Builds a random model directory first (distilbert-base-uncased config and tokenizer files, HF init), in a
 * temporary directory that is removed afterwards. Then the default backend (`auto`) beside `--backend native` on a
 * tiny model (dim 32, 1 layer), where start-up is all of the time: `auto` must cost what native costs. Runs the installed entry (bin/qa-ft.js over dist/) when
 * `npm run build` has been run, else the dev entry (tsx compiling src/ on the fly, slower to start).
 *
 *   node --import tsx bench/ask-cold-start.ts [--runs 5] [--backend auto] [--tokens 200]
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/model/config.js';
import { createRandomQaModel } from '../src/model/qa-model.js';
import { MODEL_DIR, REPO_ROOT, SHARED_DIR } from './paths.js';
import { writeTinyModelDir } from '../test/helpers/tiny-model-dir.js';

const ANCHOR = { seconds: 2.2, mib: 1013 }; // recorded on this machine kind, idle

interface RunResult {
  /** Spawn → first byte of the answer on stdout. */
  readonly seconds: number;
  /** Peak resident set of the process (GNU time), MiB; NaN when unavailable. */
  readonly mib: number;
  /** User + system CPU seconds (GNU time): less sensitive than wall time to other load on the machine. */
  readonly cpu: number;
  readonly answer: string;
  readonly notice: string;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** A context of about `tokens` word-piece tokens (plain English words are mostly one token each). */
function makeContext(tokens: number): string {
  const sentence = 'The museum on the hill was built in 1887 by a local architect and restored after the war. ';
  return sentence.repeat(Math.max(1, Math.round(tokens / 19)));
}

function entryArgs(): { args: string[]; mode: string } {
  if (existsSync(join(REPO_ROOT, 'dist', 'cli.js')))
    return { args: [join(REPO_ROOT, 'bin', 'qa-ft.js')], mode: 'installed entry (bin/qa-ft.js → dist/)' };
  return {
    args: ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli.ts')],
    mode: 'dev entry (tsx, src/ compiled on the fly; `npm run build` for the installed figure)',
  };
}

function runOnce(cmd: string[], cwd: string): Promise<RunResult> {
  const haveTime = existsSync('/usr/bin/time');
  const [file, ...args] = haveTime
    ? ['/usr/bin/time', '-f', '__RSS_KB__ %M %U %S', process.execPath, ...cmd]
    : [process.execPath, ...cmd];
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let firstOut: bigint | undefined;
    let stdout = '';
    let stderr = '';
    const child = spawn(file!, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => {
      firstOut ??= process.hrtime.bigint();
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0 || firstOut === undefined) {
        reject(new Error(`qa-ft ask exited with ${code}: ${stderr.trim()}`));
        return;
      }
      const rss = /__RSS_KB__ (\d+) ([\d.]+) ([\d.]+)/.exec(stderr);
      resolve({
        seconds: Number(firstOut - t0) / 1e9,
        mib: rss ? Number(rss[1]) / 1024 : NaN,
        cpu: rss ? Number(rss[2]) + Number(rss[3]) : NaN,
        answer: stdout.trim(),
        notice: stderr.replace(/__RSS_KB__ .*\s*/, '').trim(),
      });
    });
  });
}

/** The PyTorch anchor on this machine, when torch is installed (it usually is not: then the recorded figure). */
function runTorchAnchor(modelDir: string): { seconds: number; mib: number; cpu: number } | null {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' });
  if (probe.status !== 0) return null;
  const r = spawnSync(
    '/usr/bin/time',
    ['-f', '__RSS_KB__ %M %U %S', '/usr/bin/python3', join(SHARED_DIR, 'reference', 'ask_ref.py'), modelDir, '200'],
    {
      cwd: join(SHARED_DIR, 'reference'),
      encoding: 'utf8',
    },
  );
  const out = /"seconds": ([\d.]+)/.exec(r.stdout ?? '');
  const rss = /__RSS_KB__ (\d+) ([\d.]+) ([\d.]+)/.exec(r.stderr ?? '');
  return out && rss
    ? { seconds: Number(out[1]), mib: Number(rss[1]) / 1024, cpu: Number(rss[2]) + Number(rss[3]) }
    : null;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '5' },
      backend: { type: 'string', default: 'auto' },
      tokens: { type: 'string', default: '200' },
    },
  });
  const runs = Number(values.runs);
  const dir = await mkdtemp(join(tmpdir(), 'qa-ft-ask-bench-'));
  try {
    const modelDir = join(dir, 'model');
    const t0 = Date.now();
    const config = await loadConfig(MODEL_DIR);
    const model = await createRandomQaModel(config, { backend: 'cpu', seed: 0 });
    const params = [...model.params.values()].reduce((n, v) => n + v.size, 0);
    await model.save(modelDir);
    model.dispose();
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'vocab.txt'])
      await copyFile(join(MODEL_DIR, f), join(modelDir, f));
    console.log(
      `random distilbert-base QA model: ${(params / 1e6).toFixed(1)}M parameters, built in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );

    const { args, mode } = entryArgs();
    const context = makeContext(Number(values.tokens));
    const cmd = [
      ...args,
      'ask',
      '--model',
      modelDir,
      '--backend',
      values.backend!,
      '--question',
      'When was the museum built?',
      '--context',
      context,
    ];
    console.log(`qa-ft ask, ${mode}, backend ${values.backend}, ~${values.tokens}-token context, ${runs} runs`);
    const results: RunResult[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await runOnce(cmd, REPO_ROOT);
      results.push(r);
      console.log(
        `  run ${i + 1}: ${r.seconds.toFixed(2)} s (CPU ${r.cpu.toFixed(2)} s), peak RSS ${r.mib.toFixed(0)} MiB${i === 0 && r.notice ? ` (${r.notice.split('\n')[0]})` : ''}`,
      );
    }
    const s = median(results.map((r) => r.seconds));
    const m = median(results.map((r) => r.mib));
    const c = median(results.map((r) => r.cpu));
    console.log(`qa-ft ask cold start: median ${s.toFixed(2)} s (CPU ${c.toFixed(2)} s), peak RSS ${m.toFixed(0)} MiB`);
    const torch = runTorchAnchor(modelDir);
    const anchor = torch ?? ANCHOR;
    console.log(
      `PyTorch anchor (ask_ref.py, ${torch ? `measured now, CPU ${torch.cpu.toFixed(2)} s` : 'recorded in /work/shared'}): ${anchor.seconds.toFixed(2)} s, ${anchor.mib.toFixed(0)} MiB` +
        ` → qa-ft/PyTorch: time ×${(s / anchor.seconds).toFixed(2)}, memory ×${(m / anchor.mib).toFixed(2)}`,
    );

    const tinyDir = join(dir, 'tiny');
    await writeTinyModelDir(tinyDir);
    const tinyCmd = (backend: string): string[] => [
      ...args,
      'ask',
      '--model',
      tinyDir,
      '--backend',
      backend,
      '--question',
      'When was the museum built?',
      '--context',
      context,
    ];
    const tiny: Record<'auto' | 'native', RunResult[]> = { auto: [], native: [] };
    for (let i = 0; i < runs; i++) {
      for (const backend of ['auto', 'native'] as const) tiny[backend].push(await runOnce(tinyCmd(backend), REPO_ROOT));
    }
    const [autoS, nativeS] = [median(tiny.auto.map((r) => r.seconds)), median(tiny.native.map((r) => r.seconds))];
    const [autoM, nativeM] = [median(tiny.auto.map((r) => r.mib)), median(tiny.native.map((r) => r.mib))];
    console.log(
      `tiny model (dim 32, 1 layer), ${runs} runs each, interleaved: --backend auto ${autoS.toFixed(2)} s, ${autoM.toFixed(0)} MiB; ` +
        `--backend native ${nativeS.toFixed(2)} s, ${nativeM.toFixed(0)} MiB → auto/native: time ×${(autoS / nativeS).toFixed(2)}, memory ×${(autoM / nativeM).toFixed(2)}` +
        ` (${tiny.auto[0]?.notice.split('\n')[0] ?? ''})`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
