"""Data-parallel training of a tiny GPT on several processes (chapter 4, "Scaling out").

Run it with torchrun, which starts N copies of this script and tells each one its rank::

    torchrun --nproc_per_node=2 course/scripts/train_ddp.py --max-steps 200

(or ``python -m torch.distributed.run ...``; alone, ``python course/scripts/train_ddp.py``
runs the same code on one process). On CPUs the processes talk through ``gloo``; on a machine
with NVIDIA GPUs each rank takes one GPU and they talk through ``nccl``.

What happens:

1. every rank builds the same text, tokenizer and model (same seed → same initial weights);
2. labkit's Trainer wraps the model in ``DistributedDataParallel`` and gives each rank its own
   contiguous shard of the training tokens;
3. each rank computes gradients on its own batches; DDP averages them during ``backward()``,
   so every rank takes the same optimizer step and the weights stay identical (the checksums
   printed at the end match).

With 2 ranks and ``--batch-size 8`` each step sees 16 sequences, like one process with
``--batch-size 16``. Expect about 5 s for 100 steps of the default tiny model on 2 CPU cores
(plus a few seconds for each process to start). ``--device cpu`` keeps the processes on the
CPU (with gloo) even on a machine with a GPU: NCCL wants one GPU per process, so two ranks on
a one-GPU machine must use the CPU. ``--threads N`` sets the torch threads per process
(default: the cores shared out between the ranks).
"""

from __future__ import annotations

import argparse
import json
import os

import torch

from labkit.data import generate_corpus
from labkit.distributed import barrier, cleanup, init_distributed, shard
from labkit.models import TinyGPT
from labkit.tokenizers import train_char_tokenizer
from labkit.train import CausalLMTask, TrainConfig, Trainer


def print_in_rank_order(message: str, rank: int, world_size: int) -> None:
    """Print one line per rank, rank 0 first (without the barriers, lines from several
    processes writing at the same moment can come out mixed up)."""
    for r in range(world_size):
        if r == rank:
            print(message, flush=True)
        barrier()


def main() -> None:
    p = argparse.ArgumentParser(description="Train a tiny GPT with DDP (run under torchrun).")
    p.add_argument("--max-steps", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=8, help="sequences per step on each rank")
    p.add_argument("--block-size", type=int, default=32)
    p.add_argument(
        "--chars", type=int, default=100_000, help="size of the generated English corpus"
    )
    p.add_argument(
        "--backend", default=None, help="gloo (CPU) or nccl (GPUs); default: chosen for you"
    )
    p.add_argument(
        "--device",
        default=None,
        choices=["cpu", "cuda"],
        help="default: one GPU per rank when CUDA is available, else the CPU",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads per process (default: cores / ranks)",
    )
    args = p.parse_args()

    # reads RANK, WORLD_SIZE, ... set by torchrun
    info = init_distributed(args.backend, args.device)
    # share the cores between the ranks
    torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 1) // info.world_size))
    tag = f"[rank {info.rank}/{info.world_size}]"

    text = generate_corpus("en", args.chars, seed=0).text
    tok = train_char_tokenizer(text)
    ids = torch.tensor(tok.encode(text))
    n_val = len(ids) // 10
    task = CausalLMTask(ids[:-n_val], ids[-n_val:], args.block_size)
    torch.manual_seed(0)  # the same initial weights on every rank (DDP also copies rank 0's)
    model = TinyGPT(
        vocab_size=len(tok), block_size=args.block_size, n_layer=2, n_head=2, d_model=64
    )

    config = TrainConfig(
        max_steps=args.max_steps,
        batch_size=args.batch_size,
        eval_every=0,
        device=str(info.device),
        progress=False,
        log_every=max(1, args.max_steps // 5),
    )
    trainer = Trainer(model, task, config)  # wraps DDP and takes this rank's shard
    part = len(shard(task.train, info.rank, info.world_size))
    print_in_rank_order(
        f"{tag} device={info.device} backend={info.backend} threads={torch.get_num_threads()} "
        f"shard: tokens {info.rank * part:,}..{(info.rank + 1) * part:,} of {len(task.train):,}",
        info.rank,
        info.world_size,
    )

    result = trainer.fit()
    checksum = sum(float(p.detach().double().sum()) for p in model.parameters())
    print_in_rank_order(
        f"{tag} done: {result.steps} steps, {result.tokens_per_s:,.0f} tokens/s (all ranks), "
        f"weight checksum {checksum:.6f}",
        info.rank,
        info.world_size,
    )
    if info.is_main:
        print(json.dumps(result.summary()), flush=True)
    cleanup()


if __name__ == "__main__":
    main()
