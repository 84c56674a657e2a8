"""transformers + PyTorch training-step timing for any family: ../shared/reference/hf_bench.py's loop (forward,
backward, clip_grad_norm_(1.0), AdamW with weight decay except biases and LayerNorm, zero_grad: what Trainer does per
step) around AutoModelForQuestionAnswering built from a config directory (BertForQuestionAnswering for
bert-base). hf_bench.py builds DistilBERT only; the bench uses it for DistilBERT and this script for the rest.

Usage: python3.11 hf_bench_auto.py --config-dir DIR [--threads 2] [--batch 16] [--seq 384] [--steps 2]
       [--warmup 1] [--lengths FILE] [--infer] [--bf16]
Prints one JSON line: {"impl", "s_per_step", "peak_rss_mb", "torch", "transformers", "attn"}.
"""
import argparse
import contextlib
import json
import resource
import time

import torch
import transformers
from transformers import AutoConfig, AutoModelForQuestionAnswering


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config-dir", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=384)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--lengths")
    ap.add_argument("--attn", default="sdpa")
    ap.add_argument("--infer", action="store_true")
    ap.add_argument("--bf16", action="store_true", help="torch.autocast(cpu, bfloat16): what Trainer(bf16=True) does")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = AutoConfig.from_pretrained(a.config_dir)
    cfg._attn_implementation = a.attn
    m = AutoModelForQuestionAnswering.from_config(cfg)
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight")
    groups = [
        {"params": [p for n, p in m.named_parameters() if not any(x in n for x in no_decay)], "weight_decay": 0.01},
        {"params": [p for n, p in m.named_parameters() if any(x in n for x in no_decay)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=2e-5, eps=1e-8)
    lengths = [int(x) for x in open(a.lengths).read().split()] if a.lengths else None
    g = torch.Generator().manual_seed(1)

    def batch(i):
        t = a.seq
        if lengths:
            chunk = lengths[(i * a.batch) % len(lengths):][: a.batch] or lengths[: a.batch]
            t = max(chunk)
        ids = torch.randint(1000, cfg.vocab_size, (a.batch, t), generator=g)
        mask = torch.ones(a.batch, t, dtype=torch.int64)
        sp = torch.randint(0, t - 4, (a.batch,), generator=g)
        return ids, mask, sp, sp + 3

    def autocast():
        return torch.autocast("cpu", dtype=torch.bfloat16) if a.bf16 else contextlib.nullcontext()

    m.eval() if a.infer else m.train()
    times = []
    for i in range(a.warmup + a.steps):
        ids, mask, sp, ep = batch(i)
        t0 = time.perf_counter()
        if a.infer:
            with torch.inference_mode(), autocast():
                m(input_ids=ids, attention_mask=mask)
        else:
            with autocast():
                out = m(input_ids=ids, attention_mask=mask, start_positions=sp, end_positions=ep)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    print(json.dumps({
        "impl": f"transformers {transformers.__version__} + torch {torch.__version__} ({type(m).__name__}, {a.attn}{', bf16 autocast' if a.bf16 else ''})",
        "s_per_step": sum(times) / len(times),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "torch": torch.__version__, "transformers": transformers.__version__, "attn": a.attn,
    }))


if __name__ == "__main__":
    main()
