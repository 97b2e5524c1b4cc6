"""Chapter 8: few-shot vs zero-shot prompting of SmolLM2-135M-Instruct on the topic task,
over five draws of the shots. Stores ``labkit/study_results/ch08_fewshot.json``
(:func:`labkit.studies.save_study`), which the notebook loads; the notebook re-runs draw 0
live and asserts it equals the stored row.

The data are built exactly as in the notebook: topic sentences from
``generate_labelled("en", 1500, seed=1, task="topic")`` (the shot pool is the first 200) and
the test sentences from ``generate_labelled("en", 300, seed=11, task="topic")`` that are not
in the pool (the first 20). Each sentence is classified by the log-likelihood of the four
label words after the prompt (``labkit.chapters.applications.classify_by_likelihood``).

Run from the repository root: ``python course/scripts/ch08_fewshot.py`` (about a minute on a
2-core CPU; needs ``python -m labkit models install``).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

from labkit.chapters import applications as T
from labkit.data import generate_labelled, label_names
from labkit.real_models import load_real
from labkit.studies import save_study

SHOTS = (0, 1, 3)
SEEDS = (0, 1, 2, 3, 4)
N_TEST = 20
STUDY = "ch08_fewshot"


def fewshot_data() -> tuple[list[tuple[str, str]], list[dict], list[str], str]:
    """The shot pool, the held-out test sentences, the labels and the instruction, as in the
    notebook. Taught in chapter 8."""
    train = generate_labelled("en", 1500, seed=1, task="topic")
    test = generate_labelled("en", 300, seed=11, task="topic")
    pool = [(e["text"], e["label_name"]) for e in train[:200]]
    held_out = [e for e in test if e["text"] not in dict(pool)][:N_TEST]
    labels = label_names("topic")
    instruction = f"Give the topic of each sentence: {', '.join(labels[:-1])} or {labels[-1]}."
    return pool, held_out, labels, instruction


def main() -> None:
    """Run every (k, seed) and write the table. Taught in chapter 8."""
    model, tok = load_real("smollm2")
    pool, test, labels, instruction = fewshot_data()
    texts, truth = [e["text"] for e in test], [e["label"] for e in test]
    rows = []
    t0 = time.perf_counter()
    for k in SHOTS:
        for seed in SEEDS if k else SEEDS[:1]:
            shots = T.pick_shots(pool, k, seed=seed)
            guesses = T.classify_by_likelihood(
                model, tok, texts, labels, shots, instruction=instruction
            )
            accuracy = sum(g == t for g, t in zip(guesses, truth)) / len(truth)
            counts = Counter(labels[g] for g in guesses)
            rows.append({"k": k, "seed": seed, "accuracy": accuracy, "guesses": dict(counts)})
            print(f"k={k} seed={seed}: {accuracy:.0%} {dict(counts)}", flush=True)
    table = {
        "model": "SmolLM2-135M-Instruct",
        "n_test": len(texts),
        "truth": dict(Counter(labels[t] for t in truth)),
        "rows": rows,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(f"wrote {save_study(STUDY, table)}")


if __name__ == "__main__":
    main()
