"""Chapter 3's pre-LN vs post-LN training run with several seeds: the table the notebook loads.

The notebook (``course/03_transformer.ipynb``, section "Why pre-LN is easier to train deep")
claims that a deep post-LN Transformer trained without a learning-rate warm-up starts badly.
This script measures it: 12-layer TinyGPTs (d = 64, 4 heads) on chapter 3's generated
stories, 100 AdamW steps at lr 3e-3 with batches of 16 × 64 characters, in three settings:

* ``pre_ln``: pre-LN, no warm-up;
* ``post_ln``: post-LN, no warm-up (the learning rate is full from step 1);
* ``post_ln_warmup``: post-LN, the learning rate warmed up linearly over 30 steps.

For every setting and seed it records the training loss (mean of each block of 10 steps) and
the final validation loss, plus the loss of a model that knows only how often each character
occurs (the unigram entropy of the training text), and writes
``labkit/study_results/ch03_post_ln.json`` (:func:`labkit.studies.save_study`). The seed
sets the initial weights and the order of the batches; the text stays the same.

Run it from the repository root (about 10 minutes on a busy 2-core machine)::

    python course/scripts/ch03_post_ln.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from labkit.data import generate_corpus
from labkit.env import seed_everything
from labkit.models import TinyGPT
from labkit.studies import save_study
from labkit.tokenizers import train_char_tokenizer
from labkit.train import CausalLMTask, train

STUDY = "ch03_post_ln"
SETTINGS = {"pre_ln": (True, 0), "post_ln": (False, 0), "post_ln_warmup": (False, 30)}
STEPS, LR, LAYERS, WIDTH = 100, 3e-3, 12, 64


def run(task: CausalLMTask, vocab: int, seed: int, pre_ln: bool, warmup: int) -> dict:
    """Train one 12-layer TinyGPT; return its loss curve (per 10 steps) and final losses."""
    seed_everything(seed)
    model = TinyGPT(
        vocab_size=vocab, block_size=64, n_layer=LAYERS, n_head=4, d_model=WIDTH, pre_ln=pre_ln
    )
    result = train(
        model,
        task,
        max_steps=STEPS,
        batch_size=16,
        lr=LR,
        warmup_steps=warmup,
        eval_every=0,
        eval_batches=10,
        progress=False,
        seed=seed,
    )
    losses = result.history["train_loss"]
    curve = [sum(losses[i : i + 10]) / len(losses[i : i + 10]) for i in range(0, len(losses), 10)]
    return {"curve": curve, "train_loss": result.train_loss, "val_loss": result.val_loss}


def main() -> None:
    """Run every setting for every seed and write the JSON table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    corpus = generate_corpus("en", n_chars=60_000, seed=0)
    tok = train_char_tokenizer(corpus.text)
    ids = torch.tensor(tok(corpus.text)["input_ids"])
    n_train = int(0.9 * len(ids))
    task = CausalLMTask(ids[:n_train], ids[n_train:], block_size=64)
    table: dict = {
        "steps": STEPS,
        "lr": LR,
        "n_layer": LAYERS,
        "d_model": WIDTH,
        "curve_every": 10,
        "settings": {},
    }
    start = time.perf_counter()
    for name, (pre_ln, warmup) in SETTINGS.items():
        runs = {str(s): run(task, len(tok), s, pre_ln, warmup) for s in args.seeds}
        table["settings"][name] = {"pre_ln": pre_ln, "warmup_steps": warmup, "seeds": runs}
        finals = [r["val_loss"] for r in runs.values()]
        print(f"{name:15s} validation loss per seed: " + ", ".join(f"{v:.3f}" for v in finals))
    table["seconds"] = round(time.perf_counter() - start, 1)
    table["machine"] = platform.processor() or platform.machine()
    print(f"wrote {save_study(STUDY, table)}")


if __name__ == "__main__":
    main()
