"""Held-out check, step 1 (development only): a small DistilBERT with the real distilbert-base-uncased tokenizer
(random weights, question-answering head scaled so answers are clear-cut) and transformers 4.57's pipeline answers
to SQuAD train pairs 4000..4000+N (the contract fixture uses no SQuAD text), with a mix of parameters.
    ~/.cache/tf4/bin/python dev/heldout.py OUT_DIR [N]     then: node --import tsx dev/heldout.ts OUT_DIR"""
import json, os, shutil, sys
import pyarrow.parquet as pq
import torch
from transformers import DistilBertConfig, DistilBertForQuestionAnswering, pipeline

out, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 200
shared = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared")
shared = "/work/shared" if not os.path.isdir(shared) else shared
model_dir = os.path.join(out, "model")
os.makedirs(model_dir, exist_ok=True)
for f in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
    shutil.copy(os.path.join(shared, "models", "distilbert-base-uncased", f), model_dir)
torch.manual_seed(1)
config = DistilBertConfig(dim=64, n_layers=2, n_heads=4, hidden_dim=128, dropout=0.0, attention_dropout=0.0, qa_dropout=0.0)
model = DistilBertForQuestionAnswering(config)
with torch.no_grad():
    model.qa_outputs.weight.normal_(0.0, 0.5)
model.save_pretrained(model_dir, safe_serialization=True)
qa = pipeline("question-answering", model=model_dir, tokenizer=model_dir, device="cpu")
rows = pq.read_table(os.path.join(shared, "data", "squad-v1.1", "train-first5000.parquet")).to_pylist()[4000:4000 + n]
PARAMS = [{}, {"top_k": 3}, {"max_seq_len": 128, "doc_stride": 32, "top_k": 2}, {"handle_impossible_answer": True, "top_k": 2},
          {"align_to_words": False}, {"max_answer_len": 5, "top_k": 4}]
cases = []
for i, r in enumerate(rows):
    params = PARAMS[i % len(PARAMS)]
    cases.append({"id": r["id"], "body": {"inputs": {"question": r["question"], "context": r["context"]}, "parameters": params},
                  "expected": qa(question=r["question"], context=r["context"], **params)})
json.dump({"cases": cases}, open(os.path.join(out, "expected.json"), "w"), ensure_ascii=False)
print(f"{len(cases)} cases -> {out}/expected.json")
