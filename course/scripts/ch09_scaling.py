"""Chapter 9's scaling experiment with several seeds: the table the notebook loads.

The notebook (``course/09_challenges.ipynb``, section "2. Scaling") trains five tiny GPTs
once, with seed 0, because that fits its time budget. One seed per size is not enough to read
an exponent from: another seed moves the loss of a small model by about as much as the gap
between two neighbouring sizes. This script repeats the experiment with several seeds and
stores its table as ``labkit/study_results/ch09_scaling.json`` (:func:`labkit.studies.save_study`):

* for every size: the parameter counts and the final validation loss of every seed;
* for every seed: the exponent ``alpha`` of the fit ``L - L_inf = a · N^(-alpha)``;
* the mean, standard deviation, minimum and maximum of ``alpha`` over the seeds.

Everything matches the notebook: the same generated stories with the same planted canaries,
the same character tokenizer, 300 steps at lr 1e-2 with batches of 16 × 64 characters for
every size (a fixed-compute-per-step curve, not the loss at convergence), and the loss
measured with ``labkit.evaluate.evaluate_loss`` on the same 20 fixed validation batches. The
seed sets the initial weights and the order of the training batches; the text stays the same.

Run it from the repository root (about 40 s per seed on a quiet laptop core)::

    python course/scripts/ch09_scaling.py --seeds 0 1 2 3 4
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from labkit.chapters import challenges as E
from labkit.data import generate_corpus
from labkit.env import set_threads
from labkit.evaluate import evaluate_loss
from labkit.studies import save_study
from labkit.tokenizers import train_char_tokenizer
from labkit.train import CausalLMTask

SIZES = [(1, 16), (1, 32), (2, 32), (2, 48), (2, 64)]  # (layers, width), as in the notebook
STEPS, BATCH_SIZE, LR = 300, 16, 1e-2
STUDY = "ch09_scaling"


def build_task() -> tuple[CausalLMTask, int, float]:
    """The notebook's section-2 data: stories with five canaries in the training part."""
    corpus = generate_corpus("en", n_chars=100_000, seed=0)
    split = int(0.9 * len(corpus.documents))
    train_docs, val_docs = corpus.documents[:split], corpus.documents[split:]
    prefixes = ["Ada's PIN is ", "Cy's PIN is ", "Di's PIN is ", "Ed's PIN is ", "Flo's PIN is "]
    canaries = E.make_canaries(prefixes, copies=[0, 1, 4, 16, 64], seed=0)
    train_docs = E.insert_canaries(train_docs, canaries, seed=0)
    train_text, val_text = "".join(train_docs), "".join(val_docs)
    tok = train_char_tokenizer(train_text + val_text)
    train_ids = torch.tensor(tok(train_text)["input_ids"])
    val_ids = torch.tensor(tok(val_text)["input_ids"])
    return CausalLMTask(train_ids, val_ids, block_size=64), len(tok), corpus.entropy_per_char


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--study", default=STUDY, help="name of the stored table")
    args = parser.parse_args()
    set_threads(1)
    task, vocab_size, floor = build_task()
    losses = {size: [] for size in SIZES}
    params: dict[tuple[int, int], tuple[int, int]] = {}
    start = time.perf_counter()
    for seed in args.seeds:
        runs = E.scaling_runs(
            SIZES,
            task,
            steps=STEPS,
            vocab_size=vocab_size,
            batch_size=BATCH_SIZE,
            lr=LR,
            seed=seed,
            eval_batches=1,
        )
        for r in runs:
            size = (r.n_layer, r.d_model)
            losses[size].append(evaluate_loss(r.model, task))
            params[size] = (r.params, r.non_embedding_params)
        print(
            f"seed {seed}: "
            + " ".join(f"{losses[s][-1]:.3f}" for s in SIZES)
            + f"  ({time.perf_counter() - start:.0f} s)",
            flush=True,
        )
    n = np.array([params[s][1] for s in SIZES], dtype=float)
    table = np.array([losses[s] for s in SIZES])  # sizes x seeds
    alphas = [E.fit_power_law(n, table[:, i], floor=floor).alpha for i in range(len(args.seeds))]
    mean_fit = E.fit_power_law(n, table.mean(axis=1), floor=floor)
    result = {
        "description": "chapter 9 scaling experiment: final validation loss per size and seed",
        "script": "course/scripts/ch09_scaling.py",
        "steps": STEPS,
        "batch_size": BATCH_SIZE,
        "block_size": 64,
        "lr": LR,
        "eval": "labkit.evaluate.evaluate_loss(model, task): 20 fixed batches of 32 x 64",
        "entropy_floor": floor,
        "seeds": list(args.seeds),
        "sizes": [
            {
                "n_layer": s[0],
                "d_model": s[1],
                "params": params[s][0],
                "non_embedding_params": params[s][1],
                "val_loss": [round(x, 5) for x in losses[s]],
            }
            for s in SIZES
        ],
        "alpha_per_seed": [round(a, 4) for a in alphas],
        "alpha": {
            "mean": round(float(np.mean(alphas)), 4),
            "std": round(float(np.std(alphas, ddof=1)), 4),
            "min": round(min(alphas), 4),
            "max": round(max(alphas), 4),
        },
        "alpha_of_mean_losses": round(mean_fit.alpha, 4),
        "seconds": round(time.perf_counter() - start, 1),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    path = save_study(args.study, result)
    print(
        f"alpha over {len(alphas)} seeds: {np.mean(alphas):.2f} ± {np.std(alphas, ddof=1):.2f} "
        f"(min {min(alphas):.2f}, max {max(alphas):.2f}); wrote {path}"
    )


if __name__ == "__main__":
    main()
