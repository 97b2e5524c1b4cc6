"""Shared setup of chapter 5's multi-seed scripts (course/scripts/ch05_*.py).

The same pretraining text, tokenizer and cached TinyBERT as course/05_finetuning.ipynb, so the
seeds measured here and the seed the notebook runs live come from the same base model.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("LABKIT_DEVICE", "cpu")  # as in the notebook: reproducible CPU runs

from labkit.chapters import finetuning as ft  # noqa: E402
from labkit.tokenizers import train_bert_tokenizer  # noqa: E402

SEEDS = (0, 1, 2, 3, 4)


def base_model():  # type: ignore[no-untyped-def]
    """(tokenizer, pretrained TinyBERT), exactly as the notebook builds them."""
    docs = ft.pretraining_corpus()
    tok = train_bert_tokenizer(docs)
    bert, _ = ft.pretrain("bert", tok, docs, steps=400, cache=True)
    return tok, bert


def run(name: str, measure, **meta) -> None:  # type: ignore[no-untyped-def]
    """Call ``measure(tok, bert, seed)`` (a dict of test accuracies) for every seed and store
    the study ``name`` (labkit/study_results/), one row per seed and setting; it is rewritten
    after each seed, so an interrupted run keeps the seeds it finished (listed in ``seeds``)."""
    start = time.perf_counter()
    tok, bert = base_model()
    rows, done = [], []
    for seed in SEEDS:
        for setting, value in measure(tok, bert, seed).items():
            rows.append({"seed": seed, "setting": setting, "accuracy": value})
            print(f"seed {seed}  {setting:40s} {value:.3f}", flush=True)
        done.append(seed)
        seconds = round(time.perf_counter() - start)
        path = ft.save_results(name, rows, seeds=done, seconds=seconds, **meta)
    print(f"wrote {path} ({seconds} s)")
