"""Training settings: :class:`TrainConfig`, the learning-rate schedule and the optimizer.

Taught in chapter 4 (warm-up + cosine, AdamW with decoupled weight decay).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from labkit._util import check_non_negative_int, check_positive_int

__all__ = ["TrainConfig", "lr_at", "make_optimizer", "precision_context"]


@dataclass
class TrainConfig:
    """Everything the training loop needs besides the model and the data. Taught in chapter 4.

    The defaults are a good recipe for tiny models on a laptop CPU (see benchmarks/README.md).
    """

    max_steps: int = 2000  # optimizer steps (an upper bound when time_budget is set)
    batch_size: int = 12  # sequences per micro-batch (per process under torchrun)
    grad_accum: int = 1  # micro-batches per optimizer step (effective batch = batch_size × this)
    lr: float = 4e-3  # peak learning rate (tiny models; fine-tune pretrained ones with ~1e-4)
    min_lr: float | None = None  # end of the cosine; None = lr / 10
    warmup_steps: int = 100  # linear warm-up (capped at max_steps // 10)
    weight_decay: float = 0.1  # AdamW decay on matrices only (not biases, LayerNorm, ...)
    betas: tuple[float, float] = (0.9, 0.95)  # Adam's averaging rates for m and v
    grad_clip: float = 1.0  # max gradient norm; 0 = no clipping
    eval_every: int = 250  # steps between evaluations; 0 = only at the end
    eval_batches: int = 20  # batches per split in each evaluation
    log_every: int = 10  # steps between progress updates / "step" callbacks
    sample_every: int = 0  # steps between text samples; 0 = none
    sample_tokens: int = 200
    sample_prompt: str | None = None  # None = the first 8 tokens of the validation data
    seed: int = 1337  # seeds the batch sampler and, when the Trainer is built, torch's RNG
    device: str | None = None  # None = CUDA → MPS → CPU (or $LABKIT_DEVICE)
    precision: str = "auto"  # "auto" (bf16/fp16 on CUDA, fp32 elsewhere), "fp32", "bf16", "fp16"
    time_budget: float | None = None  # seconds for the whole run (training + evaluation)
    out_dir: str | None = None  # checkpoint directory; None = keep nothing on disk
    save_every: int = 0  # steps between checkpoints (also saved at the end and on interrupt)
    progress: bool = True  # show a tqdm progress bar
    num_threads: int | None = None  # torch CPU threads; None = leave as is
    compile: bool = False  # torch.compile the model (pays off only for long runs)
    fused_optimizer: bool | None = None  # None = the fused AdamW kernel where torch has one
    cpu_workers: int | None = None  # CPU threads that share each batch (see train/cpu_share.py)

    def __post_init__(self) -> None:
        for name in (
            "max_steps",
            "batch_size",
            "grad_accum",
            "eval_batches",
            "log_every",
            "sample_tokens",
        ):
            check_positive_int(getattr(self, name), f"TrainConfig.{name}")
        for name in ("warmup_steps", "eval_every", "sample_every", "save_every"):
            check_non_negative_int(getattr(self, name), f"TrainConfig.{name}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(
                f"TrainConfig.lr must be a positive number (e.g. 1e-3), got {self.lr!r}"
            )
        if self.min_lr is not None and not 0 <= self.min_lr <= self.lr:
            raise ValueError(
                f"TrainConfig.min_lr must be between 0 and lr={self.lr}, got {self.min_lr}"
            )
        if self.grad_clip < 0 or self.weight_decay < 0:
            raise ValueError("grad_clip and weight_decay must be >= 0")
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise ValueError(
                f"precision must be 'auto', 'fp32', 'bf16' or 'fp16', got {self.precision!r}"
            )
        workers = self.cpu_workers
        if workers is not None and (
            isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
        ):
            raise ValueError(
                f"TrainConfig.cpu_workers must be None (automatic) or an int >= 1, got {workers!r}"
            )
        if self.time_budget is not None and not self.time_budget > 0:
            raise ValueError(
                f"time_budget must be a positive number of seconds, got {self.time_budget!r}"
            )
        self.betas = (float(self.betas[0]), float(self.betas[1]))

    @classmethod
    def quiet(cls, max_steps: int, **overrides: Any) -> TrainConfig:
        """A config for a short helper run inside a chapter: no progress bar, one evaluation at
        the end, warm-up over the first tenth of the steps. ``overrides`` set any other field.

        ``train(model, task, TrainConfig.quiet(300, lr=3e-3))``. Used from chapter 5 on.
        """
        warmup = max(1, max_steps // 10) if isinstance(max_steps, int) else 1
        base = {"max_steps": max_steps, "progress": False, "eval_every": 0, "warmup_steps": warmup}
        return cls(**{**base, **overrides})


def lr_at(
    step: int, lr: float, max_steps: int, warmup_steps: int = 100, min_lr: float | None = None
) -> float:
    """The learning rate for optimizer step ``step`` (0-based): linear warm-up, then cosine.

    * steps ``0 .. warmup-1``: ``lr · (step + 1) / warmup`` — small steps while Adam's
      running averages are still noisy;
    * then a half cosine from ``lr`` down to ``min_lr`` (default ``lr / 10``) at ``max_steps``;
    * after ``max_steps``: ``min_lr``.

    The warm-up is capped at ``max_steps // 10`` so short runs are not all warm-up.
    Taught in chapter 4.
    """
    min_lr = lr / 10 if min_lr is None else min_lr
    warmup = min(warmup_steps, max_steps // 10)
    if step < warmup:
        return lr * (step + 1) / warmup
    if step >= max_steps:
        return min_lr
    progress = (step - warmup) / max(1, max_steps - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)


def make_optimizer(
    model: nn.Module, config: TrainConfig, device: torch.device | None = None
) -> torch.optim.AdamW:
    """AdamW with weight decay on weight matrices and embeddings only (not on biases and
    LayerNorm gains), as GPT-2 and nanoGPT do. Uses the fused kernel when available
    (one kernel for all parameters instead of a Python loop). Taught in chapter 4.
    """
    params = [p for p in model.parameters() if p.requires_grad]  # tied weights appear once
    if not params:
        raise ValueError("the model has no trainable parameters (all requires_grad=False?)")
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    device = device or params[0].device
    fused = config.fused_optimizer
    if fused is None:
        fused = device.type in ("cpu", "cuda") and all(p.dtype == torch.float32 for p in params)
    return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas, fused=bool(fused) or None)


def precision_context(precision: str, device: torch.device) -> tuple[Any, Any]:
    """``(autocast context, gradient scaler or None)`` for ``TrainConfig.precision``.

    ``"auto"`` is bf16 (fp16 + a gradient scaler where bf16 is missing) on CUDA and fp32
    elsewhere: bf16 matrix multiplies are ~100x slower than fp32 on CPUs without AMX.
    Taught in chapter 4.
    """
    if precision == "auto":
        if device.type != "cuda":
            return contextlib.nullcontext(), None
        precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if precision == "fp32":
        return contextlib.nullcontext(), None
    if device.type == "cpu":
        if precision == "fp16":
            raise ValueError(
                "fp16 training needs a GPU; use precision='fp32' (or 'bf16') on the CPU"
            )
        warnings.warn(
            "bf16 on this CPU may be much slower than fp32 (no bf16 matrix units); "
            "precision='fp32' is the fast choice here",
            stacklevel=3,
        )
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    scaler = torch.amp.GradScaler(device.type) if dtype == torch.float16 else None
    return torch.autocast(device_type=device.type, dtype=dtype), scaler
