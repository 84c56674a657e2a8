"""Development check (not in CI: it needs torch, transformers and accelerate from the local wheel index):
transformers' Trainer continues fine-tuning from a `qa-ft export` directory with the loss qa-ft had.

    python3.11 scripts/hf-trainer-resume.py [--steps 4]

1. `qa-ft train` fine-tunes the tiny PyTorch fixture (../shared/fixtures/tiny-distilbert-qa, dropout 0) for a few
   AdamW steps on the fixture's batches, and `qa-ft export` writes the result in Hugging Face layout.
2. qa-ft's loss of the exported weights on each fixture batch (its own forward, src/model).
3. `AutoModelForQuestionAnswering.from_pretrained(export)` in a `Trainer`: `evaluate()` over the same batches
   gives the same eval loss, and `train()` from there logs as its first loss qa-ft's loss of the batch it starts on
   (the loss before the first update), then keeps lowering it: the run continues where qa-ft stopped.

Prints the numbers and exits 1 when a loss differs by more than 1e-4 (relative).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import torch
from transformers import AutoModelForQuestionAnswering, Trainer, TrainingArguments

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=4, help="AdamW steps of qa-ft, then of the Trainer")
    args = parser.parse_args()
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
        sys.exit(0 if ok else 1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
