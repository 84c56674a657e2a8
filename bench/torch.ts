/**
 * The anchor a user would pick instead of qa-ft: transformers + current PyTorch (python3.11), run with the same
 * model, shapes and threads, in fp32 or under bf16 autocast. DistilBERT runs through ../shared/reference/hf_bench.py
 * (the script the issues name), every other family through bench/hf_bench_auto.py (the same loop).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { benchConfig, writeBenchConfig, type BenchModel } from './models.js';
import { HF_BENCH, HF_BENCH_AUTO, HF_PYTHON } from './paths.js';

/** Undefined when transformers + torch run under python3.11 here, else why not (one line). */
export function hfMissing(): string | undefined {
  if (!existsSync(HF_BENCH)) return `${HF_BENCH} not found`;
  const r = spawnSync(HF_PYTHON, ['-c', 'import torch, transformers'], { encoding: 'utf8' });
  if (r.status !== 0) return `transformers + torch are not installed for ${HF_PYTHON}`;
  return undefined;
}

export interface HfOptions {
  threads: number;
  batch: number;
  seq: number;
  steps: number;
  warmup: number;
  model?: BenchModel; // distilbert-base unless said
  layers?: number; // the model's own number unless said
  lengths?: string;
  infer?: boolean;
  bf16?: boolean; // torch.autocast(cpu, bfloat16), as Trainer(bf16=True)
}

/** One run of transformers' `…ForQuestionAnswering` for the model; its JSON line plus examples/s, or an error. */
export function runHf(o: HfOptions): Record<string, unknown> | { error: string } {
  const model = o.model ?? 'distilbert-base';
  const script = benchConfig(model)['model_type'] === 'distilbert' ? HF_BENCH : HF_BENCH_AUTO;
  const configDir = writeBenchConfig(model, o.layers);
  const args = [
    script,
    '--config-dir',
    configDir,
    '--threads',
    String(o.threads),
    '--batch',
    String(o.batch),
    '--seq',
    String(o.seq),
    '--steps',
    String(o.steps),
    '--warmup',
    String(o.warmup),
  ];
  if (o.lengths !== undefined) args.push('--lengths', o.lengths);
  if (o.infer) args.push('--infer');
  if (o.bf16) args.push('--bf16');
  const r = spawnSync(HF_PYTHON, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  rmSync(configDir, { recursive: true, force: true });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    const out = JSON.parse(last) as Record<string, unknown>;
    const s = out['s_per_step'] as number;
    return { ...out, examples_per_s: o.batch / s };
  } catch {
    return { error: `${script} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n').pop() ?? ''}` };
  }
}
