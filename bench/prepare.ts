/**
 * `qa-ft prepare` on the 5000-row SQuAD slice (the tutorial job's data step): read Parquet, split 80/20, tokenize and
 * label at max length 384, write the four Arrow files. Target ≤ 3 s on this machine kind.
 * Reports the median of several in-process runs (wall and CPU seconds, per phase), and one run of the real CLI
 * from process start (which adds Node + tsx start-up).
 *
 *   node --import tsx bench/prepare.ts [--runs 3]
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { prepareDataset, type PreparePhase } from '../src/tokenize/pipeline.js';
import { MODEL_DIR, REPO_ROOT, SHARED_DIR } from './paths.js';

const PARQUET = path.join(SHARED_DIR, 'data', 'squad-v1.1', 'train-first5000.parquet');
const TARGET_S = 3;

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' } } });
const runs = Math.max(1, Number(values.runs));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const work = await mkdtemp(path.join(tmpdir(), 'qa-ft-bench-prepare-'));
try {
  console.log(
    `load average ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} on ${os.availableParallelism()} cores`,
  );
  for (const docStride of [undefined, 128]) {
    const walls: number[] = [];
    const cpus: number[] = [];
    const phases: Record<string, number[]> = {};
    let summary = '';
    for (let i = 0; i < runs; i++) {
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      let phase: PreparePhase | undefined;
      let phaseStart = t0;
      const { manifest } = await prepareDataset(
        {
          inputs: [PARQUET],
          split: 'train[:5000]',
          testSize: 0.2,
          seed: 42,
          maxLength: 384,
          docStride,
          tokenizerDir: MODEL_DIR,
          outDir: path.join(work, `out-${i}`),
        },
        (p) => {
          if (p.phase === phase) return;
          const now = performance.now();
          if (phase) (phases[phase] ??= []).push((now - phaseStart) / 1000);
          phase = p.phase;
          phaseStart = now;
        },
      );
      const end = performance.now();
      if (phase) (phases[phase] ??= []).push((end - phaseStart) / 1000);
      walls.push((end - t0) / 1000);
      const cpu = process.cpuUsage(cpu0);
      cpus.push((cpu.user + cpu.system) / 1e6);
      summary = `${manifest.sizes.train.features} + ${manifest.sizes.test.features} features, ${manifest.counts.truncated} truncated`;
    }
    const label =
      docStride === undefined
        ? 'prepare 5000 rows, max length 384'
        : 'prepare 5000 rows, max length 384, doc stride 128';
    const byPhase = Object.entries(phases)
      .map(([k, v]) => `${k} ${median(v).toFixed(2)}`)
      .join(', ');
    console.log(
      `${label}: ${median(walls).toFixed(2)} s wall (median of ${runs}; target ≤ ${TARGET_S} s), ${median(cpus).toFixed(2)} s CPU; ${summary}; phases: ${byPhase}`,
    );
  }
  // The real command from process start, as a user runs it.
  const t0 = performance.now();
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(REPO_ROOT, 'src', 'cli.ts'),
      'prepare',
      '--input',
      PARQUET,
      '--tokenizer',
      MODEL_DIR,
      '--out',
      path.join(work, 'cli'),
      '--json',
    ],
    { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, CI: '1' } },
  );
  const cliSeconds = (performance.now() - t0) / 1000;
  console.log(
    r.status === 0
      ? `qa-ft prepare (CLI, process start to exit): ${cliSeconds.toFixed(2)} s`
      : `qa-ft prepare CLI failed: ${r.stderr.trim().split('\n').pop()}`,
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
