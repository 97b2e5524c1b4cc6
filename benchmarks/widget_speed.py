"""How long the widgets take on the Python side when the learner moves something.

Run: ``python benchmarks/widget_speed.py [--layers 12 --heads 12 --tokens 128 --repeats 50]``

The target (issue "Widgets"): changing layer/head/temperature must update the view in
≤ 50 ms on the Python side for 12 layers × 12 heads × 128 tokens, without re-running the
model. Each number is the median (and 90th percentile) of ``--repeats`` changes, measured
from setting the trait to the update message being serialised for the browser: a
stand-in comm JSON-encodes every message and copies its binary buffers, as the kernel does
before it writes to the socket. The browser's drawing time is not included (the canvas
draws a 128 × 128 head in about a millisecond).

Also measured: building the explorer (checking and packing the weights), the static SVG
picture stored in the notebook, a long input (window move), and the teaching widgets'
sliders. Prints one line per measurement and a final JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

import labkit.widgets as lw
from labkit.models import TinyGPT
from labkit.tokenizers import train_bpe_tokenizer


class SerialisingComm:
    """Does the work a real comm does before sending: JSON for the state, bytes for buffers."""

    kernel = object()
    comm_id = "benchmark"

    def __init__(self) -> None:
        self.bytes_sent = 0

    def send(self, data: dict | None = None, buffers: list | None = None, **_: object) -> None:
        self.bytes_sent += len(json.dumps(data)) + sum(len(bytes(b)) for b in buffers or [])

    def on_msg(self, handler: object) -> None:
        pass

    def close(self, *_: object, **__: object) -> None:
        pass


def timed(fn: Callable[[int], object], repeats: int, warmup: int = 3) -> dict[str, float]:
    """Median and 90th percentile milliseconds of ``fn(i)`` over ``repeats`` calls."""
    for i in range(warmup):
        fn(i)
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {"median_ms": statistics.median(times), "p90_ms": times[int(0.9 * (len(times) - 1))]}


def attention(layers: int, heads: int, tokens: int, seed: int = 0) -> np.ndarray:
    """Random causal softmax weights (layers, heads, T, T), float32."""
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((layers, heads, tokens, tokens), dtype=np.float32)
    scores[..., np.triu_indices(tokens, 1)[0], np.triu_indices(tokens, 1)[1]] = -np.inf
    scores -= scores.max(-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(-1, keepdims=True)
    return scores


def main(argv: list[str] | None = None) -> int:
    """Run every measurement and print the results."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--tokens", type=int, default=128)
    p.add_argument("--long", type=int, default=512, help="tokens of the long-input case")
    p.add_argument("--repeats", type=int, default=50)
    args = p.parse_args(argv)
    L, H, T = args.layers, args.heads, args.tokens
    results: dict[str, dict[str, float]] = {}

    def report(name: str, r: dict[str, float]) -> None:
        results[name] = r
        print(f"{name:<48} median {r['median_ms']:8.2f} ms   p90 {r['p90_ms']:8.2f} ms")

    a = attention(L, H, T)
    tokens = [f"tok{i}" for i in range(T)]
    print(f"attention explorer, {L} layers × {H} heads × {T} tokens")
    report(
        "build AttentionExplorer",
        timed(lambda i: lw.AttentionExplorer(a, tokens), max(args.repeats // 5, 3)),
    )
    ex = lw.AttentionExplorer(a, tokens)
    ex.comm = comm = SerialisingComm()
    report(
        "change layer (slice + send one layer)",
        timed(lambda i: setattr(ex, "layer", i % L), args.repeats),
    )
    report(
        "change head (browser has the data)",
        timed(lambda i: setattr(ex, "head", i % H), args.repeats),
    )
    views = ("head", "layer", "model")
    report("change view", timed(lambda i: setattr(ex, "view", views[i % 3]), args.repeats))
    report(
        "static picture (notebook fallback)",
        timed(lambda i: ex._repr_mimebundle_(), max(args.repeats // 5, 3)),
    )
    print(
        f"  one layer change sends {len(ex._layer_bytes) / 1024:.0f} KiB; "
        f"thumbnails {len(ex._thumb_bytes) / 1024:.0f} KiB once; "
        f"total sent {comm.bytes_sent / 1e6:.1f} MB"
    )

    long = attention(L, H, args.long)
    big = lw.AttentionExplorer(long, [str(i) for i in range(args.long)])
    big.comm = SerialisingComm()
    starts = (0, args.long // 4, args.long // 2)
    report(
        f"move the window ({args.long} tokens, window 256)",
        timed(lambda i: setattr(big, "window_start", starts[i % 3]), max(args.repeats // 5, 3)),
    )

    print("teaching widgets")
    soft = lw.SoftmaxTemperature(np.linspace(3, -3, 50), [f"w{i}" for i in range(50)])
    report(
        "softmax temperature slider",
        timed(lambda i: setattr(soft, "temperature", 0.2 + i % 20 / 5), args.repeats),
    )
    pe = lw.PositionalEncodingExplorer(max_len=128, d_model=128)
    report(
        "positional encoding: move position",
        timed(lambda i: setattr(pe, "position", i % 128), args.repeats),
    )
    tok = train_bpe_tokenizer("the cat sat on the mat. " * 50, vocab_size=300)
    torch.manual_seed(0)
    model = TinyGPT(vocab_size=len(tok), n_layer=4, n_head=4, d_model=128, block_size=128)
    sampler = lw.SamplingExplorer(model, tok, "the cat sat on the")
    report(
        "sampling: temperature slider (no model run)",
        timed(lambda i: setattr(sampler, "temperature", 0.3 + i % 10 / 5), args.repeats),
    )
    report(
        "sampling: top-p slider (no model run)",
        timed(lambda i: setattr(sampler, "top_p", 0.5 + i % 10 / 20), args.repeats),
    )
    report(
        "sampling: sample + re-run model",
        timed(lambda i: sampler.sample(), max(args.repeats // 5, 3)),
    )

    worst = max(
        results["change layer (slice + send one layer)"]["p90_ms"],
        results["change head (browser has the data)"]["p90_ms"],
        results["softmax temperature slider"]["p90_ms"],
    )
    print(f"target ≤ 50 ms per layer/head/temperature change: worst p90 {worst:.2f} ms")
    print(
        json.dumps(
            {
                "layers": L,
                "heads": H,
                "tokens": T,
                **{k: round(v["median_ms"], 3) for k, v in results.items()},
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
