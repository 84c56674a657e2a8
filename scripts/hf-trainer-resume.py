"""Development check (not in CI: it needs torch, transformers and accelerate from the local wheel index):
transformers' Trainer continues fine-tuning from a `qa-ft export` directory with the loss qa-ft had.

    python3.11 scripts/hf-trainer-resume.py [--steps 4]

1. `qa-ft train` fine-tunes the tiny PyTorch fixture (../shared/fixtures/tiny-distilbert-qa, dropout 0) for a few
   AdamW steps on the fixture's batches, and `qa-ft export` writes the result in Hugging Face layout.
2. qa-ft's loss of the exported weights on each fixture batch (its own forward, src/model).
3. `AutoModelForQuestionAnswering.from_pretrained(export)` in a `Trainer`: `evaluate()` over the same batches
   gives the same eval loss, and `train()` from there logs as its first loss qa-ft's loss of the batch it starts on
   (the loss before the first update), then keeps lowering it: the run continues where qa-ft stopped.

4. The same run continued, not restarted: a qa-ft checkpoint (`checkpoint-STEP`, as `qa-ft train` saves it) taken
   after `--steps` of `2 × --steps` AdamW steps (linear schedule with warm-up) goes to
   `Trainer.train(resume_from_checkpoint=...)`. When training begins the Trainer is at qa-ft's global step, its
   AdamW state equals qa-ft's (`exp_avg`, `exp_avg_sq`, `step` of every parameter within 1e-7), its learning rate
   is qa-ft's schedule's at that step, and it then trains to the end with finite losses. Then the same
   under `torchrun --nproc_per_node 2` (DDP, gloo on the CPU, half the batch per process).

Prints the numbers and exits 1 when a loss differs by more than 1e-4 (relative) or a resume check fails.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file
from transformers import AutoModelForQuestionAnswering, Trainer, TrainerCallback, TrainingArguments

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(ROOT, "..", "shared", "fixtures", "tiny-distilbert-qa")
TOKENIZER = os.path.join(ROOT, "..", "shared", "models", "distilbert-base-uncased")
TOL = 1e-4


def qa_ft(*args: str) -> str:
    out = subprocess.run(["node", "--import", "tsx", os.path.join(ROOT, "src", "cli.ts"), *args], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"qa-ft {args[0]} failed: {out.stderr.strip()}")
    return out.stdout


def qa_ft_losses(model_dir: str, batches: list) -> list:
    """qa-ft's own forward (src/model) on each labelled batch."""
    script = f"""
import {{ loadQaModel }} from {json.dumps(os.path.join(ROOT, 'src', 'model', 'qa-model.ts'))};
const batches = {json.dumps(batches)};
const model = await loadQaModel({json.dumps(model_dir)}, {{ backend: 'cpu' }});
const losses = [];
for (const b of batches) losses.push((await model.forward({{ inputIds: b.input_ids, attentionMask: b.attention_mask, startPositions: b.start_positions, endPositions: b.end_positions }})).loss);
console.log(JSON.stringify(losses));
"""
    path = os.path.join(tempfile.gettempdir(), f"qa-ft-losses-{os.getpid()}.mts")
    with open(path, "w") as f:
        f.write(script)
    try:
        out = subprocess.run(["node", "--import", "tsx", path], cwd=ROOT, capture_output=True, text=True)
    finally:
        os.remove(path)
    if out.returncode != 0:
        sys.exit(f"qa-ft forward failed: {out.stderr.strip()}")
    return json.loads(out.stdout.strip().splitlines()[-1])


class Rows(torch.utils.data.Dataset):
    """The fixture's batches as rows, in order (so Trainer's batches of 4 are the fixture's batches)."""

    def __init__(self, batches: list):
        self.rows = [
            {
                "input_ids": torch.tensor(b["input_ids"][i]),
                "attention_mask": torch.tensor(b["attention_mask"][i]),
                "start_positions": torch.tensor(b["start_positions"][i]),
                "end_positions": torch.tensor(b["end_positions"][i]),
            }
            for b in batches
            for i in range(len(b["input_ids"]))
        ]

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]


def close(a: float, b: float) -> bool:
    return abs(a - b) <= TOL * max(abs(a), abs(b))


RESUME = {"learning_rate": 1e-3, "weight_decay": 0.01, "warmup_steps": 2}


def qa_ft_checkpoint(work: str, start: str, batches: list, steps: int) -> str:
    """A qa-ft run of 2 × steps AdamW steps on the fixture's batches, saved (as `qa-ft train` saves) after `steps`."""
    out = os.path.join(work, "qa-ft-run")
    script = f"""
import {{ loadQaModel }} from {json.dumps(os.path.join(ROOT, 'src', 'model', 'qa-model.ts'))};
import {{ createTrainer }} from {json.dumps(os.path.join(ROOT, 'src', 'train', 'trainer.ts'))};
import {{ saveCheckpoint, checkpointDirName }} from {json.dumps(os.path.join(ROOT, 'src', 'train', 'checkpoint.ts'))};
const batches = {json.dumps(batches)};
const model = await loadQaModel({json.dumps(start)}, {{ backend: 'cpu' }});
const trainer = createTrainer(model, {{ learningRate: {RESUME['learning_rate']}, weightDecay: {RESUME['weight_decay']}, maxGradNorm: 1, totalSteps: {2 * steps}, warmupSteps: {RESUME['warmup_steps']} }});
const history = [];
for (let s = 0; s < {steps}; s++) {{
  const b = batches[s % batches.length];
  const r = await trainer.step({{ inputIds: b.input_ids, attentionMask: b.attention_mask, startPositions: b.start_positions, endPositions: b.end_positions }});
  history.push({{ step: s + 1, epoch: (s + 1) / batches.length, loss: r.loss, learning_rate: r.learningRate, grad_norm: r.gradNorm }});
}}
const run = {{ data: 'fixture', seed: 42, batchSize: 4, gradientAccumulationSteps: 1, totalSteps: {2 * steps}, learningRate: {RESUME['learning_rate']},
  lrSchedulerType: 'linear', weightDecay: {RESUME['weight_decay']}, warmupSteps: {RESUME['warmup_steps']}, maxGradNorm: 1, padToMaxLength: true, precision: 'fp32' }};
await saveCheckpoint({json.dumps(out)} + '/' + checkpointDirName({steps}), {{
  model, trainer, tokenizerFiles: ['tokenizer.json', 'tokenizer_config.json', 'vocab.txt'].map((f) => {json.dumps(start)} + '/' + f),
  state: {{ epoch: {steps} / batches.length, rng: {{ seed: 42 }}, best_metric: null, best_model_checkpoint: null, early_stopping_patience_counter: 0,
    loss_sums: {{ epochSum: 0, epochCount: 0, windowSum: 0, windowCount: 0 }}, run, log_history: history }},
  hf: {{ maxSteps: {2 * steps}, numTrainEpochs: Math.ceil({2 * steps} / batches.length), loggingSteps: 1, evalSteps: batches.length, saveSteps: batches.length, trainBatchSize: 4 }},
}});
"""
    path = os.path.join(work, "checkpoint.mts")
    with open(path, "w") as f:
        f.write(script)
    r = subprocess.run(["node", "--import", "tsx", path], cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"qa-ft training failed: {r.stderr.strip()}")
    return os.path.join(out, f"checkpoint-{steps}")


def linear_lr(step: int, total: int) -> float:
    """qa-ft's schedule (the Trainer's linear one) at 0-based optimizer step `step`."""
    w = RESUME["warmup_steps"]
    factor = step / max(1, w) if step < w else max(0.0, (total - step) / max(1, total - w))
    return RESUME["learning_rate"] * factor


class CheckResume(TrainerCallback):
    """At the start of training (after the checkpoint's optimizer and scheduler were loaded): the resume checks."""

    def __init__(self, checkpoint: str, steps: int, total: int):
        self.checkpoint, self.steps, self.total, self.problems, self.report = checkpoint, steps, total, [], ""

    def on_train_begin(self, args, state, control, model=None, optimizer=None, **kw):
        ours = load_file(os.path.join(self.checkpoint, "optimizer.safetensors"))
        module = model.module if hasattr(model, "module") else model
        by_param = {p: n for n, p in module.named_parameters()}
        worst, count = 0.0, 0
        for group in optimizer.param_groups:
            for p in group["params"]:
                st = optimizer.state[p]
                name = by_param[p]
                for k in ("exp_avg", "exp_avg_sq"):
                    worst = max(worst, (st[k].float() - ours[f"{name}.{k}"]).abs().max().item())
                    count += 1
                if float(st["step"]) != self.steps:
                    self.problems.append(f"{name}: step {float(st['step'])}, expected {self.steps}")
        lr = optimizer.param_groups[0]["lr"]
        expected_lr = linear_lr(self.steps, self.total)
        self.report = (f"global_step {state.global_step} (qa-ft {self.steps}); {count} moment tensors, max |difference| {worst:.3g}; "
                       f"lr {lr:.9g} (qa-ft's schedule at step {self.steps}: {expected_lr:.9g})")
        if state.global_step != self.steps:
            self.problems.append(f"global_step {state.global_step}, expected {self.steps}")
        if worst > 1e-7 or count == 0:
            self.problems.append(f"optimizer moments differ by {worst} ({count} tensors)")
        if abs(lr - expected_lr) > 1e-12 * max(1.0, expected_lr):
            self.problems.append(f"lr {lr}, expected {expected_lr}")


def resume_with_trainer(checkpoint: str, batches: list, steps: int, per_device: int, output_dir: str) -> dict:
    """`Trainer.train(resume_from_checkpoint=checkpoint)` to 2 × steps; returns the checks and the losses logged after."""
    total = 2 * steps
    model = AutoModelForQuestionAnswering.from_pretrained(checkpoint)
    args = TrainingArguments(output_dir=output_dir, per_device_train_batch_size=per_device, learning_rate=RESUME["learning_rate"],
                             weight_decay=RESUME["weight_decay"], warmup_steps=RESUME["warmup_steps"], max_steps=total, max_grad_norm=1.0,
                             lr_scheduler_type="linear", logging_steps=1, report_to=[], use_cpu=True, save_strategy="no", seed=0,
                             ddp_backend="gloo" if int(os.environ.get("WORLD_SIZE", "1")) > 1 else None)
    check = CheckResume(checkpoint, steps, total)
    trainer = Trainer(model=model, args=args, train_dataset=Rows(batches), callbacks=[check])
    trainer.train(resume_from_checkpoint=checkpoint)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h and h["step"] > steps]
    return {"report": check.report, "problems": check.problems, "losses": losses, "final_step": trainer.state.global_step}


def judge(label: str, r: dict, steps: int) -> bool:
    ok = not r["problems"] and r["final_step"] == 2 * steps and len(r["losses"]) > 0 and all(l == l and abs(l) < 1e6 for l in r["losses"])
    print(f"{label}: {r['report']}; then steps {steps + 1}..{r['final_step']}, losses {['%.4f' % l for l in r['losses']]}: {'OK' if ok else 'FAILED ' + '; '.join(r['problems'])}")
    return ok


def ddp_child(checkpoint: str, steps: int, out: str) -> None:
    """One torchrun process: resume, and rank 0 writes the result."""
    fixture = json.load(open(os.path.join(FIXTURE, "fixture.json")))
    rows = len(fixture["batches"][0]["input_ids"])
    r = resume_with_trainer(checkpoint, fixture["batches"], steps, rows // 2, os.path.join(os.path.dirname(out), "hf-ddp"))
    if int(os.environ.get("RANK", "0")) == 0:
        with open(out, "w") as f:
            json.dump(r, f)


def resume_checks(work: str, start: str, batches: list, steps: int) -> bool:
    checkpoint = qa_ft_checkpoint(work, start, batches, steps)
    print(f"qa-ft checkpoint after {steps} of {2 * steps} steps: {sorted(os.listdir(checkpoint))}")
    rows = len(batches[0]["input_ids"])
    ok = judge("Trainer.train(resume_from_checkpoint) alone", resume_with_trainer(checkpoint, batches, steps, rows, os.path.join(work, "hf-one")), steps)
    out = os.path.join(work, "ddp.json")
    r = subprocess.run(["torchrun", "--nproc_per_node", "2", os.path.abspath(__file__), "--ddp-child", checkpoint, "--steps", str(steps), "--ddp-out", out],
                       cwd=ROOT, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if r.returncode != 0 or not os.path.exists(out):
        print(f"torchrun --nproc_per_node 2: FAILED (exit {r.returncode}): {r.stderr.strip()[-2000:]}")
        return False
    return judge("the same under torchrun --nproc_per_node 2 (DDP, gloo)", json.load(open(out)), steps) and ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=4, help="AdamW steps of qa-ft, then of the Trainer")
    parser.add_argument("--ddp-child", help=argparse.SUPPRESS)
    parser.add_argument("--ddp-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ddp_child:
        return ddp_child(args.ddp_child, args.steps, args.ddp_out)
    fixture = json.load(open(os.path.join(FIXTURE, "fixture.json")))
    batches = fixture["batches"]
    work = tempfile.mkdtemp(prefix="qa-ft-hf-resume-")
    try:
        # 1. a qa-ft model: the fixture's weights with the uncased tokenizer files, trained, then exported
        start = os.path.join(work, "start")
        os.makedirs(start)
        for f in ("config.json", "model.safetensors"):
            shutil.copy(os.path.join(FIXTURE, f), start)
        for f in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
            shutil.copy(os.path.join(TOKENIZER, f), start)
        before = qa_ft_losses(start, batches)
        # a few AdamW steps with qa-ft's library trainer on the fixture's batches (no tokenization: the fixture's ids)
        trained = os.path.join(work, "trained")
        script = f"""
import {{ loadQaModel }} from {json.dumps(os.path.join(ROOT, 'src', 'model', 'qa-model.ts'))};
import {{ createTrainer }} from {json.dumps(os.path.join(ROOT, 'src', 'train', 'trainer.ts'))};
import {{ copyFile }} from 'node:fs/promises';
const batches = {json.dumps(batches)};
const model = await loadQaModel({json.dumps(start)}, {{ backend: 'cpu' }});
const trainer = createTrainer(model, {{ learningRate: 1e-3, weightDecay: 0.01, maxGradNorm: 1, totalSteps: {args.steps}, warmupSteps: 0 }});
for (let s = 0; s < {args.steps}; s++) {{
  const b = batches[s % batches.length];
  await trainer.step({{ inputIds: b.input_ids, attentionMask: b.attention_mask, startPositions: b.start_positions, endPositions: b.end_positions }});
}}
await model.save({json.dumps(trained)});
for (const f of ['tokenizer.json', 'tokenizer_config.json', 'vocab.txt']) await copyFile({json.dumps(start)} + '/' + f, {json.dumps(trained)} + '/' + f);
"""
        path = os.path.join(work, "train.mts")
        with open(path, "w") as f:
            f.write(script)
        out = subprocess.run(["node", "--import", "tsx", path], cwd=ROOT, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"qa-ft training failed: {out.stderr.strip()}")
        export = os.path.join(work, "export")
        qa_ft("export", "--model", trained, "--out", export)
        ours = qa_ft_losses(export, batches)
        print(f"qa-ft: batch losses {['%.6f' % l for l in before]} at the start, {['%.6f' % l for l in ours]} after {args.steps} steps")

        # 2./3. transformers' Trainer from the export
        model = AutoModelForQuestionAnswering.from_pretrained(export)
        rows = len(batches[0]["input_ids"])

        def training_args(**kw) -> TrainingArguments:
            return TrainingArguments(output_dir=os.path.join(work, "hf"), per_device_train_batch_size=rows, per_device_eval_batch_size=rows,
                                     learning_rate=1e-3, logging_steps=1, report_to=[], use_cpu=True, save_strategy="no", seed=0, **kw)

        eval_loss = Trainer(model=model, args=training_args(), eval_dataset=Rows(batches)).evaluate()["eval_loss"]
        mean = sum(ours) / len(ours)
        print(f"Trainer.evaluate() on the export: eval_loss {eval_loss:.6f}; qa-ft's mean batch loss {mean:.6f}")
        # batch 0 once per epoch: the first logged loss is the loss before any update, then it keeps falling
        trainer = Trainer(model=model, args=training_args(num_train_epochs=args.steps), train_dataset=Rows(batches[:1]))
        trainer.train()
        losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
        print(f"Trainer.train() from the export on batch 0: logged losses {losses}; qa-ft's loss of batch 0 {ours[0]:.6f}")
        ok = close(eval_loss, mean) and close(losses[0], ours[0]) and losses[-1] < losses[0]
        print("same loss, and training continues: yes" if ok else "same loss: NO")
        # 4. the run itself continued by the Trainer, alone and under torchrun
        resumed = resume_checks(work, start, batches, args.steps)
        print("the Trainer resumes qa-ft's checkpoint: yes" if resumed else "the Trainer resumes qa-ft's checkpoint: NO")
        sys.exit(0 if ok and resumed else 1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
