/** The PyTorch baseline (`../shared/reference/bench_torch.py`), run with the same shapes and threads. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { TORCH_BENCH, TORCH_PYTHON } from './paths.js';

/** Undefined when torch can run here, else why not (one line). */
export function torchMissing(): string | undefined {
  if (!existsSync(TORCH_PYTHON)) return `${TORCH_PYTHON} not found`;
  if (!existsSync(TORCH_BENCH)) return `${TORCH_BENCH} not found`;
  const r = spawnSync(TORCH_PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  if (r.status !== 0) return 'PyTorch is not installed (apt-get install -y python3-torch libopenblas0-pthread)';
  return undefined;
}

export interface TorchOptions {
  threads: number;
  batch: number;
  seq: number;
  steps: number;
  warmup: number;
  layers?: number;
  lengths?: string;
  infer?: boolean;
}

/** One run of the baseline; its JSON line, or an error message. */
export function runTorch(o: TorchOptions): Record<string, unknown> | { error: string } {
  const args = [TORCH_BENCH, '--threads', String(o.threads), '--batch', String(o.batch), '--seq', String(o.seq),
    '--steps', String(o.steps), '--warmup', String(o.warmup)];
  if (o.layers !== undefined) args.push('--layers', String(o.layers));
  if (o.lengths !== undefined) args.push('--lengths', o.lengths);
  if (o.infer) args.push('--infer');
  const r = spawnSync(TORCH_PYTHON, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as Record<string, unknown>;
  } catch {
    return { error: `bench_torch.py failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n').pop() ?? ''}` };
  }
}
