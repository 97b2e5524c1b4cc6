"""What training costs, and what more of it buys: FLOPs, GPU-years, scaling laws.

* :func:`gpu_years` turns a FLOP count into GPU-years at a stated sustained throughput;
* :func:`count_training_flops` counts the FLOPs of one real training step with
  ``torch.utils.flop_counter.FlopCounterMode``; :func:`transformer_training_flops` is the exact
  formula for a GPT (``6·N·D`` plus the attention term);
* :func:`scaling_runs` trains several model sizes on the same batches; :func:`fit_power_law`
  fits ``L(N) = a·N^(-alpha) (+ floor)`` by least squares in log-log.

Taught in chapter 9 (sections 1 and 2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from labkit._util import check_positive
from labkit.env import seed_everything
from labkit.models import TinyGPT
from labkit.nn import MultiHeadAttention
from labkit.train import TrainConfig, train

__all__ = [
    "SECONDS_PER_YEAR",
    "FlopCount",
    "PowerLaw",
    "ScalingRun",
    "count_training_flops",
    "fit_power_law",
    "gpu_years",
    "scaling_runs",
    "transformer_training_flops",
]

SECONDS_PER_YEAR = 365.25 * 24 * 3600
"""Seconds in a (Julian) year."""


def gpu_years(flops: float, flops_per_second: float) -> float:
    """How many years one GPU needs for ``flops`` at a *sustained* ``flops_per_second``.

    ``gpu_years(3.15e23, 28e12)`` ≈ 356.5: GPT-3's training compute on one V100 running at
    28 TFLOP/s on average (about 22% of its 125 TFLOP/s tensor-core peak). Taught in chapter 9.
    """
    flops = check_positive(flops, "flops")
    return flops / check_positive(flops_per_second, "flops_per_second") / SECONDS_PER_YEAR


@dataclass
class FlopCount:
    """FLOPs of one training step, as counted by PyTorch. Taught in chapter 9.

    ``by_operator`` maps an operator name (``"aten.addmm"``, ``"aten.bmm"``, ...) to the FLOPs
    it did in the forward and backward passes together.
    """

    forward: int
    backward: int
    by_operator: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Forward + backward."""
        return self.forward + self.backward


def count_training_flops(
    model: nn.Module, idx: Tensor, targets: Tensor, count_attention: bool = True
) -> FlopCount:
    """Count the FLOPs of one forward + backward pass with ``torch.utils.flop_counter``.

    ``FlopCounterMode`` knows the FLOPs of matrix multiplies (``mm``, ``addmm``, ``bmm``) and of
    some fused attention kernels, but not of the CPU's fused attention kernel: it would count
    attention as zero. With ``count_attention=True`` (the default) labkit's attention layers
    run their from-scratch path (two ``bmm`` per head) while counting, so the attention term is
    included; the weights and the result are the same. Gradients are left in ``.grad``
    (call ``model.zero_grad()`` afterwards if it matters). Taught in chapter 9.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch nn.Module, got {type(model).__name__}")
    attention = (
        [m for m in model.modules() if isinstance(m, MultiHeadAttention)] if count_attention else []
    )
    saved = [m.fused for m in attention]
    for m in attention:
        m.fused = False
    try:
        with FlopCounterMode(display=False) as forward_counter:
            out = model(idx, targets)
        if not isinstance(out, tuple) or len(out) < 2:
            raise TypeError(
                "the model must return (logits, loss) when given targets (labkit's model contract)"
            )
        with FlopCounterMode(display=False) as backward_counter:
            out[1].backward()
    finally:
        for m, fused in zip(attention, saved):
            m.fused = fused
    by_operator: dict[str, int] = {}
    for counter in (forward_counter, backward_counter):
        for op, n in counter.get_flop_counts().get("Global", {}).items():
            by_operator[str(op)] = by_operator.get(str(op), 0) + int(n)
    return FlopCount(
        int(forward_counter.get_total_flops()), int(backward_counter.get_total_flops()), by_operator
    )


def transformer_training_flops(config: Any, n_tokens: float) -> float:
    """Training FLOPs of a labkit GPT (full attention matrices, as PyTorch computes them).

    ``6 · (12·L·d² + V·d) · D``: the weight matrices of the blocks and the output head (each
    used once per token: 2 FLOPs forward, 4 backward), plus ``12 · L · T · d · D`` for attention
    (per token and layer, ``Q·Kᵀ`` and ``weights·V`` each cost ``2·T·d`` forward, twice that
    backward). ``L`` layers, width ``d``, feed-forward width ``d_ff`` (``config.d_ff``, default
    ``4d``, which gives the ``12·L·d²``), vocabulary ``V``, and ``T = block_size``: the attention
    term assumes every sequence fills the whole context. Embedding lookups, biases, LayerNorms
    and softmax are left out (a few percent at most). ``6 · N · D`` with ``N`` = all parameters
    is the usual shortcut for this. Taught in chapter 9.
    """
    for name in ("n_layer", "d_model", "vocab_size", "block_size"):
        if not hasattr(config, name):
            raise TypeError(
                f"config needs a {name!r} attribute (pass a GPTConfig, e.g. model.config)"
            )
    L, d, V, T = config.n_layer, config.d_model, config.vocab_size, config.block_size
    d_ff = getattr(config, "d_ff", None) or 4 * d
    matrices = L * (4 * d * d + 2 * d * d_ff) + V * d
    return 6.0 * matrices * n_tokens + 12.0 * L * T * d * n_tokens


@dataclass
class ScalingRun:
    """One model of a scaling experiment. Taught in chapter 9.

    ``params`` counts everything; ``non_embedding_params`` leaves out the embedding tables
    (Kaplan et al. 2020 fit their scaling laws to this number). ``flops`` is ``6 · params ·
    tokens``.
    """

    n_layer: int
    d_model: int
    params: int
    non_embedding_params: int
    tokens: int
    val_loss: float
    seconds: float
    model: nn.Module = field(repr=False)

    @property
    def flops(self) -> float:
        """Approximate training compute, ``6 · params · tokens``."""
        return 6.0 * self.params * self.tokens


def scaling_runs(
    sizes: Sequence[tuple[int, int]],
    task: Any,
    steps: int,
    *,
    vocab_size: int,
    n_head: int = 2,
    batch_size: int = 16,
    lr: float = 1e-2,
    seed: int = 0,
    pos: str = "rope",
    eval_batches: int = 20,
    **train_options: Any,
) -> list[ScalingRun]:
    """Train one TinyGPT per ``(n_layer, d_model)`` in ``sizes`` for the same number of steps
    on the same batches (``task``: a :class:`labkit.train.CausalLMTask`), and return one
    :class:`ScalingRun` per size, with its trained model.

    Every model sees exactly the same training tokens and is evaluated on the same validation
    batches, so the sizes differ only in their parameters. Rotary positions (``pos="rope"``)
    make tiny models learn to use their context within a few hundred steps. Training runs
    with :meth:`labkit.train.TrainConfig.quiet`; other keyword arguments go to
    :func:`labkit.train.train`. Taught in chapter 9.
    """
    if not sizes:
        raise ValueError(
            "sizes must list at least one (n_layer, d_model) pair, e.g. [(2, 16), (2, 32)]"
        )
    block_size = getattr(task, "block_size", None)
    if block_size is None:
        raise TypeError("task must be a labkit.train.CausalLMTask (it says the block_size)")
    runs = []
    for size in sizes:
        if len(size) != 2:
            raise ValueError(f"each size must be a pair (n_layer, d_model), got {size!r}")
        n_layer, d_model = int(size[0]), int(size[1])
        seed_everything(seed)
        model = TinyGPT(
            vocab_size=vocab_size,
            block_size=block_size,
            n_layer=n_layer,
            n_head=n_head,
            d_model=d_model,
            pos=pos,
        )
        config = TrainConfig.quiet(
            steps, batch_size=batch_size, lr=lr, seed=seed, eval_batches=eval_batches
        )
        result = train(model, task, config, **train_options)
        model.eval()
        runs.append(
            ScalingRun(
                n_layer=n_layer,
                d_model=d_model,
                params=model.num_parameters(),
                non_embedding_params=model.num_parameters(exclude_embeddings=True),
                tokens=result.tokens,
                val_loss=float(result.val_loss),
                seconds=result.seconds,
                model=model,
            )
        )
    return runs


@dataclass
class PowerLaw:
    """``L(N) = floor + a · N^(-alpha)``. Taught in chapter 9."""

    a: float
    alpha: float
    floor: float = 0.0

    def __call__(self, n: Any) -> Any:
        """The fitted loss at ``n`` (a number or an array)."""
        return self.floor + self.a * np.power(np.asarray(n, dtype=float), -self.alpha)

    def __repr__(self) -> str:
        floor = f"{self.floor:.3g} + " if self.floor else ""
        return f"PowerLaw(L(N) = {floor}{self.a:.3g} · N^(-{self.alpha:.3f}))"


def fit_power_law(n: Sequence[float], loss: Sequence[float], floor: float = 0.0) -> PowerLaw:
    """Fit ``loss = floor + a · n^(-alpha)`` by least squares on ``log(loss - floor)`` vs ``log n``.

    A power law is a straight line in log-log: ``log(L - floor) = log a - alpha · log N``, so
    the fit is ordinary linear regression (the same line as ``numpy.polyfit(log n,
    log(loss - floor), 1)``). ``floor`` is a loss no model can beat (for a generated corpus:
    its entropy per character); it must be below every loss. Taught in chapter 9.
    """
    x = np.asarray(n, dtype=float)
    y = np.asarray(loss, dtype=float)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(
            f"n and loss must be two lists of the same length, got shapes {x.shape} and {y.shape}"
        )
    if len(x) < 2:
        raise ValueError("a power-law fit needs at least 2 points (better 4 or more)")
    if np.any(x <= 0) or not np.all(np.isfinite(x)):
        raise ValueError(
            "every n must be a positive, finite number (parameter counts, tokens, FLOPs)"
        )
    if not np.all(np.isfinite(y)) or np.any(y <= floor):
        raise ValueError(
            f"every loss must be finite and above floor={floor}; lower the floor or drop that point"
        )
    if np.ptp(x) == 0:
        raise ValueError("the n values are all equal: a fit needs at least two different sizes")
    log_x, log_y = np.log(x), np.log(y - floor)
    x_mean, y_mean = log_x.mean(), log_y.mean()
    slope = float(((log_x - x_mean) * (log_y - y_mean)).sum() / ((log_x - x_mean) ** 2).sum())
    intercept = float(y_mean - slope * x_mean)
    return PowerLaw(a=math.exp(intercept), alpha=-slope, floor=float(floor))
