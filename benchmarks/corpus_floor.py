"""How low can the validation loss of ``train_speed.py`` go? A long run and a per-position loss.

Run (about 15 minutes on one CPU core)::

    python benchmarks/corpus_floor.py                   # corpus:en, 12,000 steps of batch 24
    python benchmarks/corpus_floor.py --text input.txt --steps 4000

``train_speed.py`` scores every model by the mean next-character loss over all 64 positions of
random 64-character validation windows. The first positions of a window have almost no
context (position 0 sees one character: the best any model can do there is the entropy of a
character given the one before it), so this mean has a floor well above the text's entropy
per character. This script
trains labkit's default small GPT for many more steps than any time budget in
``train_speed.py`` allows and prints

* the mean loss on the same validation windows as ``train_speed.py``;
* the loss at each position 0..63, and what the mean would be if every position from 10 on
  were at the corpus's exact entropy (``corpus:en`` only: the grammar's entropy is known);
* the entropy of a character given the previous one in the validation text (the floor at
  position 0; measured on the validation text itself, so if anything a little too low).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import Counter

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_speed import BLOCK_SIZE, estimate_loss, machine  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    """Train long, then print the mean and per-position validation loss."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--text", default="corpus:en")
    p.add_argument("--steps", type=int, default=12000)
    p.add_argument("--batch-size", type=int, default=24)
    p.add_argument("--n-embd", type=int, default=96)
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--lr", type=float, default=6e-3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--seed", type=int, default=1337)
    args = p.parse_args(argv)
    from labkit.env import set_threads

    set_threads(args.threads)  # None: all usable cores (labkit's default would be one)

    from labkit.cli import read_text
    from labkit.data import corpus_entropy
    from labkit.models import GPTConfig, TinyGPT
    from labkit.tokenizers import train_char_tokenizer
    from labkit.train import CausalLMTask, TrainConfig, Trainer

    print(f"machine: {machine()}")
    text = read_text(args.text)
    n_val = int(len(text) * 0.1)
    tok = train_char_tokenizer(text)
    ids = torch.tensor(tok.encode(text), dtype=torch.long)
    val = ids[-n_val:]
    torch.manual_seed(args.seed)
    model = TinyGPT(
        GPTConfig(
            vocab_size=len(tok),
            block_size=BLOCK_SIZE,
            n_layer=args.n_layer,
            n_head=4,
            d_model=args.n_embd,
            activation="relu",
        )
    )
    config = TrainConfig(
        max_steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        eval_every=0,
        progress=False,
        seed=args.seed,
    )
    t = time.perf_counter()
    Trainer(model, CausalLMTask(ids[:-n_val], val, BLOCK_SIZE), config).fit()
    seconds = time.perf_counter() - t
    mean = estimate_loss(model, val, 100)

    model.eval()
    gen = torch.Generator().manual_seed(args.seed + 1)
    total, n = torch.zeros(BLOCK_SIZE), 0
    with torch.no_grad():
        for _ in range(200):
            rows = val[
                torch.randint(len(val) - BLOCK_SIZE, (24, 1), generator=gen)
                + torch.arange(BLOCK_SIZE + 1)
            ]
            logits = model(rows[:, :-1])
            total += F.cross_entropy(logits.transpose(1, 2), rows[:, 1:], reduction="none").sum(0)
            n += rows.shape[0]
    per_position = (total / n).tolist()
    vtext = text[-n_val:]
    pairs, firsts = Counter(zip(vtext, vtext[1:])), Counter(vtext[:-1])
    bigram = -sum(c / (n_val - 1) * math.log(c / firsts[a]) for (a, _), c in pairs.items())
    result = {
        "text": args.text,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "tokens_seen": args.steps * args.batch_size * BLOCK_SIZE,
        "seconds": round(seconds, 1),
        "parameters": model.num_parameters(),
        "val_loss": round(mean, 4),
        "per_position": [round(x, 3) for x in per_position],
        "mean_positions_10_to_63": round(sum(per_position[10:]) / (BLOCK_SIZE - 10), 4),
        "entropy_given_one_character": round(bigram, 4),
    }
    print(
        f"{args.steps} steps of {args.batch_size} x {BLOCK_SIZE} characters "
        f"({result['tokens_seen']:,} tokens) "
        f"in {seconds:.0f}s; {model.num_parameters():,} parameters"
    )
    print(f"validation loss (train_speed.py's windows): {mean:.4f}")
    print("loss by position:", " ".join(f"{x:.2f}" for x in per_position))
    print(
        f"positions 0-9 add {sum(per_position[:10]) / BLOCK_SIZE:.4f} to the mean; "
        f"positions 10-63 average {result['mean_positions_10_to_63']:.4f}; best possible at "
        f"position 0 (entropy of a character given the one before) {bigram:.4f}"
    )
    if args.text.startswith("corpus:"):
        entropy = corpus_entropy(args.text.split(":", 1)[1])
        bound = (sum(per_position[:10]) + (BLOCK_SIZE - 10) * entropy) / BLOCK_SIZE
        result.update(
            {
                "corpus_entropy": round(entropy, 4),
                "mean_if_positions_10_on_at_entropy": round(bound, 4),
            }
        )
        print(
            f"the corpus's exact entropy is {entropy:.4f} nats/char; with positions 10-63 at "
            f"that entropy and positions 0-9 as above, the mean would be {bound:.4f}"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
