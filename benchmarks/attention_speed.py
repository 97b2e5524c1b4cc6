"""Forward + backward time of labkit's from-scratch vs fused multi-head attention.

Run: ``python benchmarks/attention_speed.py [--batch 12 --time 64 --d-model 128 --heads 4]``

Both paths share the same weights (``labkit.nn.MultiHeadAttention`` with ``fused`` toggled)
and give the same numbers; the fused one uses one Q/K/V matrix multiply and PyTorch's
``F.scaled_dot_product_attention`` kernel. Causal self-attention, like a GPT layer. Prints
the median time per call over ``--repeats`` runs after a warm-up (the two paths alternate, so
a change in machine load hits both), and the ratio. On a CPU shared with other jobs, also try
``--threads 1``: PyTorch's worker threads wait for busy cores and times balloon.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from labkit.env import set_threads
from labkit.nn import MultiHeadAttention


def time_fwd_bwd(mha: MultiHeadAttention, x: torch.Tensor, repeats: int, warmup: int) -> dict:
    """Median seconds of one forward + backward pass of causal self-attention, per path.

    The two paths alternate call by call, so a machine that gets busier or quieter during
    the run affects both alike.
    """
    times: dict[bool, list[float]] = {False: [], True: []}
    for i in range(warmup + repeats):
        for fused in (False, True):
            mha.fused = fused
            start = time.perf_counter()
            out = mha(x, is_causal=True)
            out.sum().backward()
            elapsed = time.perf_counter() - start
            mha.zero_grad(set_to_none=True)
            x.grad = None
            if i >= warmup:
                times[fused].append(elapsed)
    return {fused: statistics.median(t) for fused, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one line per path plus the speed-up."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=12)
    p.add_argument("--time", type=int, default=64)
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--repeats", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="default: all usable cores")
    args = p.parse_args(argv)
    set_threads(args.threads)  # None: all usable cores (labkit's default would be one)

    torch.manual_seed(0)
    device = torch.device(args.device)
    mha = MultiHeadAttention(args.d_model, args.heads).to(device)
    x = torch.randn(args.batch, args.time, args.d_model, device=device, requires_grad=True)

    with torch.no_grad():  # the two paths compute the same thing
        mha.fused = False
        ref = mha(x, is_causal=True)
        mha.fused = True
        diff = (mha(x, is_causal=True) - ref).abs().max().item()

    results = time_fwd_bwd(mha, x, args.repeats, args.warmup)

    print(
        f"multi-head attention, forward+backward, B={args.batch} T={args.time} "
        f"d={args.d_model} heads={args.heads}, device={device.type}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"median of {args.repeats} after {args.warmup} warm-up"
    )
    print(f"  from scratch : {results[False] * 1e3:8.3f} ms/call")
    print(f"  fused        : {results[True] * 1e3:8.3f} ms/call")
    print(f"  speed-up     : {results[False] / results[True]:8.2f}x  (max |diff| {diff:.1e})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
