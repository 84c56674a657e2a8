/** Where the bench finds the shared model config, the SQuAD lengths and the PyTorch reference. */
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SHARED_DIR = path.resolve(REPO_ROOT, '..', 'shared');
export const MODEL_DIR = path.join(SHARED_DIR, 'models', 'distilbert-base-uncased');
export const LENGTHS_FILE = path.join(SHARED_DIR, 'data', 'squad-v1.1', 'train-first5000.lengths.txt');
/** The anchor a user would pick: transformers + current PyTorch (pip, python3.11), fp32 and bf16 autocast. */
export const HF_BENCH = path.join(SHARED_DIR, 'reference', 'hf_bench.py');
/** The same loop for any family (AutoModelForQuestionAnswering from a config directory). */
export const HF_BENCH_AUTO = path.join(REPO_ROOT, 'bench', 'hf_bench_auto.py');
export const HF_PYTHON = 'python3.11';
