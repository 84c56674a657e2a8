/**
 * The PyTorch baselines, run with the same shapes and threads: Debian's torch (`../shared/reference/bench_torch.py`)
 * and transformers + current PyTorch (`hf_bench.py`, python3.11), in fp32 or under bf16 autocast.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HF_BENCH, HF_PYTHON, MODEL_DIR, TORCH_BENCH, TORCH_PYTHON } from './paths.js';

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

/** Undefined when transformers + torch run under python3.11 here, else why not (one line). */
export function hfMissing(): string | undefined {
  if (!existsSync(HF_BENCH)) return `${HF_BENCH} not found`;
  const r = spawnSync(HF_PYTHON, ['-c', 'import torch, transformers'], { encoding: 'utf8' });
  if (r.status !== 0) return `transformers + torch are not installed for ${HF_PYTHON}`;
  return undefined;
}

/**
 * One run of transformers' DistilBertForQuestionAnswering (`hf_bench.py`); `bf16`: under
 * torch.autocast(cpu, bfloat16), as Trainer(bf16=True). `layers` runs distilbert-base with that many layers.
 */
export function runHf(o: TorchOptions & { bf16?: boolean }): Record<string, unknown> | { error: string } {
  const args = [HF_BENCH, '--threads', String(o.threads), '--batch', String(o.batch), '--seq', String(o.seq),
    '--steps', String(o.steps), '--warmup', String(o.warmup)];
  if (o.layers !== undefined) {
    // hf_bench.py takes a config directory: distilbert-base's config with n_layers replaced
    const dir = mkdtempSync(path.join(os.tmpdir(), 'qa-ft-bench-'));
    const config = JSON.parse(readFileSync(path.join(MODEL_DIR, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, n_layers: o.layers }));
    args.push('--config-dir', dir);
  }
  if (o.lengths !== undefined) args.push('--lengths', o.lengths);
  if (o.infer) args.push('--infer');
  if (o.bf16) args.push('--bf16');
  const r = spawnSync(HF_PYTHON, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    const out = JSON.parse(last) as Record<string, unknown>;
    const s = out['s_per_step'] as number;
    return { ...out, examples_per_s: o.batch / s };
  } catch {
    return { error: `hf_bench.py failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n').pop() ?? ''}` };
  }
}
