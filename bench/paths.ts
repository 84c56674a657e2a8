/** Where the bench finds the shared model config, the SQuAD lengths and the PyTorch reference. */
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SHARED_DIR = path.resolve(REPO_ROOT, '..', 'shared');
export const MODEL_DIR = path.join(SHARED_DIR, 'models', 'distilbert-base-uncased');
export const LENGTHS_FILE = path.join(SHARED_DIR, 'data', 'squad-v1.1', 'train-first5000.lengths.txt');
export const TORCH_BENCH = path.join(SHARED_DIR, 'reference', 'bench_torch.py');
export const TORCH_PYTHON = '/usr/bin/python3';
/** The anchor a user would pick: transformers + current PyTorch (pip, python3.11), fp32 and bf16 autocast. */
export const HF_BENCH = path.join(SHARED_DIR, 'reference', 'hf_bench.py');
export const HF_PYTHON = 'python3.11';
