"""Training: one small loop for causal LM, masked LM, classification and seq2seq models.

Taught in chapter 4 (pretraining) and chapter 5 (fine-tuning).

Quick start (a character-level GPT)::

    from labkit.train import TrainConfig, CausalLMTask, train
    task = CausalLMTask(train_ids, val_ids, block_size=model.config.block_size)
    result = train(model, task, TrainConfig(max_steps=2000, out_dir="runs/gpt"), tokenizer=tok)
    result.history["train_loss"]        # one loss per optimizer step
    result.val_loss, result.tokens_per_s

What one step does (``Trainer._train_step``): sample a batch, forward, loss, backward (repeated
``grad_accum`` times, gradients add up), clip the gradient norm, set the learning rate from
the warm-up + cosine schedule (:func:`lr_at`), ``AdamW.step()``, zero the gradients.

**Tasks** say what a batch is; every model follows labkit's contract
``logits, loss = model(*batch)`` (or ``model(**batch)`` for a dict batch):

* :class:`CausalLMTask` — next-token prediction on one long id sequence (TinyGPT);
* :class:`MaskedLMTask` — BERT's masked LM, 80/10/10 masking (:func:`mask_tokens`), loss only
  over the masked positions (labels are -100 elsewhere) (TinyBERT);
* :class:`ClassificationTask` — one label per sequence or per token (TinyBERT heads);
* :class:`Seq2SeqTask` — source → target with teacher forcing (TinyEncoderDecoder).

**Callbacks.** ``train(..., callbacks=[...])`` accepts two kinds of object:

1. an object with any of the methods ``on_begin(m)``, ``on_step(m)``, ``on_eval(m)``,
   ``on_sample(m)``, ``on_end(m)`` (missing ones are skipped), or
2. a plain callable ``f(m)``, called for every event.

``m`` is a plain ``dict`` of numbers (and strings) with an ``"event"`` key:

=========  ==================================================================================
event      keys (all events also have ``"step"``, ``"max_steps"``, ``"elapsed"`` seconds)
=========  ==================================================================================
begin      ``"config"`` (the TrainConfig as a dict), ``"resumed"``
step       every ``log_every`` steps: ``"train_loss"`` (mean since the last step event),
           ``"losses"`` (each step's loss since then), ``"lr"``, ``"tokens_per_s"``, ``"tokens"``
eval       ``"val_loss"``, ``"val_perplexity"``, ``"train_loss"`` (+ ``"val_accuracy"`` for
           classification), measured on the same fixed batches each time
sample     ``"text"``: a sample from the model (causal LM with a tokenizer)
end        ``"interrupted"``, ``"train_loss"``, ``"val_loss"``, ``"val_perplexity"``,
           ``"tokens_per_s"``, ``"seconds"``
=========  ==================================================================================

A ``tqdm`` progress bar (loss, tokens/s, ETA) is added unless ``TrainConfig(progress=False)``.
Raising ``KeyboardInterrupt`` — the notebook's stop button, Ctrl-C, or a callback — ends
training cleanly: the model keeps its weights, the result keeps its history, and a checkpoint
is saved when ``out_dir`` is set. Any other exception from a callback propagates.

**Reproducible.** Batches come from a ``torch.Generator`` seeded with ``config.seed``, the
evaluation uses its own fixed generator, and sampling uses ``generate(..., seed=)``; so on the
CPU the same seed and model give the same loss curve, and ``resume=True`` continues a saved run
bit for bit (see :mod:`labkit.checkpoint`) — with the same number of torch threads: how a
parallel sum is split between threads changes its last bits.

**Speed on a small CPU.** Losses stay tensors and are read once per ``log_every`` steps (no
``.item()`` sync every step); batches are gathered with one index tensor; AdamW runs as one
fused kernel; the models use PyTorch's fused attention. With several CPU threads, each batch
of a GPT is shared out between threads that run forward and backward side by side (see
:class:`Trainer`): a tiny model's operations are too small to split well inside PyTorch.
Mixed precision (bf16, or fp16 with a gradient scaler) is used on CUDA only: bf16 matrix
multiplies are ~100x slower than fp32 on CPUs without AMX. ``time_budget=seconds`` measures the step time during the first steps and
fits ``max_steps`` (and so the cosine schedule) to the budget.

**Several processes.** Under ``torchrun`` (see :mod:`labkit.distributed`) the same code wraps
the model in ``DistributedDataParallel``, each rank samples batches from its own shard of the
training data, and gradients are averaged across ranks.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from labkit import checkpoint as ckpt
from labkit import distributed as dist_utils
from labkit.env import get_device

__all__ = [
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "train",
    "Task",
    "CausalLMTask",
    "MaskedLMTask",
    "ClassificationTask",
    "Seq2SeqTask",
    "mask_tokens",
    "lr_at",
    "perplexity",
    "make_optimizer",
    "ProgressBar",
    "Callback",
]

IGNORE_INDEX = -100
N_SPECIAL_TOKENS = 7  # labkit tokenizers: [PAD]=0 [UNK]=1 [BOS]=2 [EOS]=3 [MASK]=4 [CLS]=5 [SEP]=6


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


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
    seed: int = 1337  # seeds the batch sampler and, when the Trainer is built, torch's RNG (dropout)
    device: str | None = None  # None = CUDA → MPS → CPU (or $LABKIT_DEVICE)
    precision: str = "auto"  # "auto" (bf16/fp16 on CUDA, fp32 elsewhere), "fp32", "bf16", "fp16"
    time_budget: float | None = None  # seconds for the whole run (training + evaluation)
    out_dir: str | None = None  # checkpoint directory; None = keep nothing on disk
    save_every: int = 0  # steps between checkpoints (also saved at the end and on interrupt)
    progress: bool = True  # show a tqdm progress bar
    num_threads: int | None = None  # torch CPU threads; None = leave as is
    compile: bool = False  # torch.compile the model (pays off only for long runs)
    fused_optimizer: bool | None = None  # None = use the fused AdamW kernel where torch has one
    cpu_workers: int | None = None  # CPU threads that each take a share of every batch (see Trainer)

    def __post_init__(self) -> None:
        positive = ("max_steps", "batch_size", "grad_accum", "eval_batches", "log_every", "sample_tokens")
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"TrainConfig.{name} must be a positive int, got {value!r}")
        for name in ("warmup_steps", "eval_every", "sample_every", "save_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"TrainConfig.{name} must be an int >= 0, got {value!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"TrainConfig.lr must be a positive number (e.g. 1e-3), got {self.lr!r}")
        if self.min_lr is not None and not 0 <= self.min_lr <= self.lr:
            raise ValueError(f"TrainConfig.min_lr must be between 0 and lr={self.lr}, got {self.min_lr}")
        if self.grad_clip < 0 or self.weight_decay < 0:
            raise ValueError("grad_clip and weight_decay must be >= 0")
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise ValueError(f"precision must be 'auto', 'fp32', 'bf16' or 'fp16', got {self.precision!r}")
        if self.cpu_workers is not None and (
            isinstance(self.cpu_workers, bool) or not isinstance(self.cpu_workers, int) or self.cpu_workers < 1
        ):
            raise ValueError(f"TrainConfig.cpu_workers must be None (automatic) or an int >= 1, got {self.cpu_workers!r}")
        if self.time_budget is not None and not self.time_budget > 0:
            raise ValueError(f"time_budget must be a positive number of seconds, got {self.time_budget!r}")
        self.betas = (float(self.betas[0]), float(self.betas[1]))

    @classmethod
    def quiet(cls, max_steps: int, **overrides: Any) -> TrainConfig:
        """A config for a short helper run inside a chapter: no progress bar, one evaluation at
        the end, warm-up over the first tenth of the steps. ``overrides`` set any other field.

        ``train(model, task, TrainConfig.quiet(300, lr=3e-3))``. Used from chapter 5 on.
        """
        base = {"max_steps": max_steps, "progress": False, "eval_every": 0,
                "warmup_steps": max(1, max_steps // 10) if isinstance(max_steps, int) else 1}
        return cls(**{**base, **overrides})


# --------------------------------------------------------------------------------------------
# Learning-rate schedule, perplexity, optimizer
# --------------------------------------------------------------------------------------------


def lr_at(step: int, lr: float, max_steps: int, warmup_steps: int = 100, min_lr: float | None = None) -> float:
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


def perplexity(loss: float) -> float:
    """``exp(loss)``: the effective number of equally likely choices per token.

    A loss in nats of ``log(65)`` (uniform over 65 characters) is a perplexity of 65.
    Taught in chapter 4.
    """
    return math.exp(loss) if loss < 700 else math.inf


def make_optimizer(model: nn.Module, config: TrainConfig, device: torch.device | None = None) -> torch.optim.AdamW:
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


# --------------------------------------------------------------------------------------------
# Tasks: what a batch is
# --------------------------------------------------------------------------------------------


Batch = tuple[Tensor, ...] | dict[str, Tensor]


def _ids(data: Any, name: str) -> Tensor:
    tensor = torch.as_tensor(data)
    if tensor.dtype.is_floating_point or tensor.dtype == torch.bool or tensor.dim() != 1:
        raise ValueError(
            f"{name} must be a 1-D tensor of integer token ids (e.g. torch.tensor(tok.encode(text))), "
            f"got dtype {tensor.dtype} and shape {tuple(tensor.shape)}"
        )
    return tensor.long()


def _check_length(ids: Tensor, need: int, block_size: int, split: str) -> None:
    if len(ids) < need:
        raise ValueError(
            f"the {split} data has {len(ids)} tokens, but one block of block_size={block_size} "
            f"needs {need}; use more text or a smaller block_size"
        )


def _move(batch: Batch, device: torch.device) -> Batch:
    if device.type == "cpu":
        return batch
    if isinstance(batch, dict):
        return {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    return tuple(t.to(device, non_blocking=True) for t in batch)


class Task:
    """What the model learns: how to sample a batch from the training or validation data.

    Subclasses implement :meth:`get_batch` (returning a tuple for ``model(*batch)`` or a dict
    for ``model(**batch)``) and :meth:`shard`. Taught in chapter 4.
    """

    kind = "task"

    def get_batch(self, split: str, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        """A random batch from ``split`` (``"train"`` or ``"val"``)."""
        raise NotImplementedError

    def has_split(self, split: str) -> bool:
        """Whether there is data for ``split``."""
        return split == "train" or getattr(self, "val", None) is not None

    def shard(self, rank: int, world_size: int) -> Task:
        """This process's part of the training data under ``torchrun`` (validation is shared)."""
        raise NotImplementedError

    def tokens(self, batch: Batch) -> int:
        """How many tokens a batch holds (for tokens per second)."""
        first = next(iter(batch.values())) if isinstance(batch, dict) else batch[0]
        return first.numel()


class CausalLMTask(Task):
    """Next-token prediction on one long sequence of ids: ``x = ids[i:i+T]``, ``y = ids[i+1:i+T+1]``.

    Batches start at random positions (one index tensor, no Python loop). Taught in chapter 4.
    """

    kind = "causal_lm"

    def __init__(self, train: Any, val: Any = None, block_size: int = 64) -> None:
        if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
            raise ValueError(f"block_size must be a positive int, got {block_size!r}")
        self.block_size = block_size
        self.train = _ids(train, "train")
        self.val = None if val is None else _ids(val, "val")
        _check_length(self.train, block_size + 1, block_size, "training")
        if self.val is not None:
            _check_length(self.val, block_size + 1, block_size, "validation")
        self._offsets = torch.arange(block_size + 1)

    def _rows(self, split: str, batch_size: int, generator: torch.Generator | None) -> Tensor:
        data = self.train if split == "train" else self.val
        if data is None:
            raise ValueError("this task has no validation data")
        starts = torch.randint(len(data) - self.block_size, (batch_size, 1), generator=generator)
        return data[starts + self._offsets]

    def get_batch(self, split: str, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        """``(x, y)``, each ``(batch_size, block_size)``; ``y`` is ``x`` shifted by one."""
        rows = self._rows(split, batch_size, generator)
        return rows[:, :-1], rows[:, 1:]

    def shard(self, rank: int, world_size: int) -> CausalLMTask:
        """Rank ``r`` of ``n`` trains on the ``r``-th contiguous ``1/n`` of the token stream."""
        part = dist_utils.shard(self.train, rank, world_size)
        return CausalLMTask(part, self.val, self.block_size)


def mask_tokens(
    ids: Tensor,
    mask_token_id: int,
    vocab_size: int,
    generator: torch.Generator | None = None,
    mlm_probability: float = 0.15,
    special_ids: Sequence[int] = tuple(range(N_SPECIAL_TOKENS)),
) -> tuple[Tensor, Tensor]:
    """BERT's masking: pick 15% of the (non-special) positions; of those, 80% become
    ``[MASK]``, 10% a random token, 10% stay unchanged. Returns ``(inputs, labels)`` where
    ``labels`` holds the original id at picked positions and -100 (ignored by the loss)
    everywhere else — so the loss is computed over the masked positions only.

    Every row gets at least one picked position (a row with none would contribute no loss).
    Taught in chapter 4.
    """
    if not 0 < mlm_probability < 1:
        raise ValueError(f"mlm_probability must be between 0 and 1 (BERT uses 0.15), got {mlm_probability}")
    ids = torch.as_tensor(ids).long()
    device = ids.device
    special = torch.isin(ids, torch.as_tensor(list(special_ids), dtype=torch.long, device=device))
    u = torch.rand(ids.shape, generator=generator).to(device)
    picked = (u < mlm_probability) & ~special
    # rows where nothing was picked: pick their (random) non-special position with the smallest u
    empty = ~picked.any(dim=-1, keepdim=True)
    first = u.masked_fill(special, 2.0).argmin(dim=-1, keepdim=True)
    forced = torch.zeros_like(picked).scatter_(-1, first, True) & empty & ~special
    picked |= forced
    labels = ids.masked_fill(~picked, IGNORE_INDEX)
    r = torch.rand(ids.shape, generator=generator).to(device)
    random_ids = torch.randint(vocab_size, ids.shape, generator=generator).to(device)
    inputs = torch.where(picked & (r < 0.8), torch.full_like(ids, mask_token_id), ids)
    inputs = torch.where(picked & (r >= 0.8) & (r < 0.9), random_ids, inputs)
    return inputs, labels


class MaskedLMTask(CausalLMTask):
    """Masked language modelling (BERT): blocks of ``block_size`` ids, masked by
    :func:`mask_tokens`; the model predicts the original ids at the masked positions.

    Taught in chapter 4 (the masked-LM demo on Chinese).
    """

    kind = "masked_lm"

    def __init__(
        self,
        train: Any,
        val: Any = None,
        block_size: int = 64,
        vocab_size: int | None = None,
        mask_token_id: int = 4,
        mlm_probability: float = 0.15,
        special_ids: Sequence[int] = tuple(range(N_SPECIAL_TOKENS)),
    ) -> None:
        super().__init__(train, val, block_size)
        if vocab_size is None:
            vocab_size = int(max(self.train.max(), -1 if self.val is None else self.val.max())) + 1
        self.vocab_size, self.mask_token_id = vocab_size, mask_token_id
        self.mlm_probability, self.special_ids = mlm_probability, tuple(special_ids)

    def get_batch(self, split: str, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        """``(masked inputs, labels)``, each ``(batch_size, block_size)``."""
        rows = self._rows(split, batch_size, generator)[:, :-1]
        return mask_tokens(rows, self.mask_token_id, self.vocab_size, generator, self.mlm_probability,
                           self.special_ids)

    def shard(self, rank: int, world_size: int) -> MaskedLMTask:
        """Rank ``r`` of ``n`` trains on the ``r``-th contiguous ``1/n`` of the token stream."""
        part = dist_utils.shard(self.train, rank, world_size)
        return MaskedLMTask(part, self.val, self.block_size, self.vocab_size, self.mask_token_id,
                            self.mlm_probability, self.special_ids)


def _rows_pair(inputs: Any, labels: Any, name: str) -> tuple[Tensor, Tensor]:
    x, y = torch.as_tensor(inputs).long(), torch.as_tensor(labels).long()
    if x.dim() != 2 or len(x) != len(y) or len(x) == 0:
        raise ValueError(
            f"{name}: inputs must be (N, T) padded token ids and labels have N rows, "
            f"got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    return x, y


class ClassificationTask(Task):
    """Fine-tuning on labelled sequences: ``inputs`` ``(N, T)`` padded ids and ``labels`` ``(N,)``
    (one class per sequence) or ``(N, T)`` (one per token, -100 = ignore).

    Batches are dicts ``{"idx", "targets", "attention_mask"}`` (padding = ``pad_token_id``);
    evaluation also reports ``val_accuracy``. Taught in chapter 5.
    """

    kind = "classification"

    def __init__(self, train_inputs: Any, train_labels: Any, val_inputs: Any = None, val_labels: Any = None,
                 pad_token_id: int | None = 0) -> None:
        self.train = _rows_pair(train_inputs, train_labels, "training data")
        self.val = None if val_inputs is None else _rows_pair(val_inputs, val_labels, "validation data")
        self.pad_token_id = pad_token_id

    def get_batch(self, split: str, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        """A dict batch of ``batch_size`` random rows."""
        x, y = self.train if split == "train" else self.val
        rows = torch.randint(len(x), (batch_size,), generator=generator)
        batch = {"idx": x[rows], "targets": y[rows]}
        if self.pad_token_id is not None:
            batch["attention_mask"] = (batch["idx"] != self.pad_token_id).long()
        return batch

    def shard(self, rank: int, world_size: int) -> ClassificationTask:
        """Rank ``r`` of ``n`` trains on rows ``r, r+n, r+2n, ...``."""
        x, y = self.train
        task = ClassificationTask(x[rank::world_size], y[rank::world_size], pad_token_id=self.pad_token_id)
        task.val = self.val
        return task

    def tokens(self, batch: Batch) -> int:
        """Non-padding tokens in the batch."""
        mask = batch.get("attention_mask") if isinstance(batch, dict) else None
        return int(mask.sum()) if mask is not None else super().tokens(batch)


class Seq2SeqTask(Task):
    """Sequence-to-sequence fine-tuning (translation, summarisation) with teacher forcing.

    ``src`` ``(N, S)`` and ``tgt`` ``(N, T+1)`` padded ids, each ``tgt`` row being
    ``[BOS] y1 .. yn [EOS] [PAD]..``. A batch is ``(src, tgt[:, :-1], targets)`` where
    ``targets = tgt[:, 1:]`` with padding set to -100. Taught in chapter 8.
    """

    kind = "seq2seq"

    def __init__(self, train_src: Any, train_tgt: Any, val_src: Any = None, val_tgt: Any = None,
                 pad_token_id: int | None = 0) -> None:
        self.train = _rows_pair(train_src, train_tgt, "training data")
        self.val = None if val_src is None else _rows_pair(val_src, val_tgt, "validation data")
        for pair in filter(None, (self.train, self.val)):
            if pair[1].dim() != 2 or pair[1].shape[1] < 2:
                raise ValueError("tgt must be (N, T+1) ids: [BOS] y1 .. yn [EOS] (+ padding)")
        self.pad_token_id = pad_token_id

    def get_batch(self, split: str, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        """``(src, tgt_in, targets)`` for ``model(src, tgt_in, targets)``."""
        src, tgt = self.train if split == "train" else self.val
        rows = torch.randint(len(src), (batch_size,), generator=generator)
        src, tgt = src[rows], tgt[rows]
        targets = tgt[:, 1:]
        if self.pad_token_id is not None:
            targets = targets.masked_fill(targets == self.pad_token_id, IGNORE_INDEX)
        return src, tgt[:, :-1], targets

    def shard(self, rank: int, world_size: int) -> Seq2SeqTask:
        """Rank ``r`` of ``n`` trains on rows ``r, r+n, r+2n, ...``."""
        src, tgt = self.train
        task = Seq2SeqTask(src[rank::world_size], tgt[rank::world_size], pad_token_id=self.pad_token_id)
        task.val = self.val
        return task


# --------------------------------------------------------------------------------------------
# Callbacks
# --------------------------------------------------------------------------------------------


Callback = Callable[[dict[str, Any]], Any] | Any


class ProgressBar:
    """The ``tqdm.auto`` progress bar: steps done, loss, tokens/s and the ETA.

    Added automatically when ``TrainConfig.progress`` is true. Taught in chapter 4.
    """

    def __init__(self, **tqdm_kwargs: Any) -> None:
        self.kwargs, self.bar = tqdm_kwargs, None

    def on_begin(self, m: dict[str, Any]) -> None:
        """Open the bar."""
        from tqdm.auto import tqdm

        self.bar = tqdm(total=m["max_steps"], initial=m["step"], unit="step", dynamic_ncols=True, **self.kwargs)

    def on_step(self, m: dict[str, Any]) -> None:
        """Move the bar and show the latest loss and speed."""
        if self.bar is None:
            return
        if self.bar.total != m["max_steps"]:
            self.bar.total = m["max_steps"]
        self.bar.set_postfix(loss=f"{m['train_loss']:.4f}", tok_s=f"{m['tokens_per_s']:,.0f}", refresh=False)
        self.bar.update(m["step"] - self.bar.n)

    def on_eval(self, m: dict[str, Any]) -> None:
        """Print the evaluation above the bar."""
        if self.bar is not None:
            self.bar.write(f"step {m['step']}: train {m['train_loss']:.4f}, val {m['val_loss']:.4f}, "
                           f"perplexity {m['val_perplexity']:.2f}")

    def on_sample(self, m: dict[str, Any]) -> None:
        """Print a text sample above the bar."""
        if self.bar is not None:
            self.bar.write(f"--- sample at step {m['step']} ---\n{m['text']}\n---")

    def on_end(self, m: dict[str, Any]) -> None:
        """Close the bar."""
        if self.bar is not None:
            self.bar.update(m["step"] - self.bar.n)
            self.bar.close()
            self.bar = None


def _call(callbacks: Iterable[Any], event: str, metrics: dict[str, Any]) -> None:
    metrics = {"event": event, **metrics}
    for cb in callbacks:
        method = getattr(cb, f"on_{event}", None)
        if method is not None:
            method(metrics)
        elif callable(cb) and not any(hasattr(cb, f"on_{e}") for e in ("begin", "step", "eval", "sample", "end")):
            cb(metrics)


# --------------------------------------------------------------------------------------------
# The trainer
# --------------------------------------------------------------------------------------------


@dataclass
class TrainResult:
    """What a run leaves behind. Taught in chapter 4.

    ``history`` holds lists: ``"step"``, ``"train_loss"``, ``"lr"`` (one entry per optimizer
    step) and ``"eval_step"``, ``"val_loss"``, ``"val_perplexity"``, ``"eval_train_loss"`` (one
    per evaluation) and ``"sample_step"``, ``"sample"``.
    """

    model: nn.Module
    history: dict[str, list]
    steps: int
    seconds: float
    tokens: int
    tokens_per_s: float
    train_loss: float | None
    val_loss: float | None
    interrupted: bool = False
    out_dir: str | None = None

    @property
    def val_perplexity(self) -> float | None:
        """``exp(val_loss)``."""
        return None if self.val_loss is None else perplexity(self.val_loss)

    def summary(self) -> dict[str, Any]:
        """The numbers for ``--json``: steps, seconds, tokens_per_s, train_loss, val_loss, ..."""
        return {
            "steps": self.steps,
            "seconds": round(self.seconds, 3),
            "tokens": self.tokens,
            "tokens_per_s": round(self.tokens_per_s, 1),
            "train_loss": self.train_loss,
            "val_loss": self.val_loss,
            "val_perplexity": self.val_perplexity,
            "interrupted": self.interrupted,
        }


def _new_history() -> dict[str, list]:
    keys = ("step", "train_loss", "lr", "eval_step", "val_loss", "val_perplexity", "eval_train_loss",
            "val_accuracy", "sample_step", "sample")
    return {k: [] for k in keys}


class Trainer:
    """The training loop, as an object you can run, evaluate, save and resume.

    ``Trainer(model, task, config, tokenizer=None, callbacks=())``, then :meth:`fit`.
    ``task`` may also be a 1-D tensor of token ids: it is split 90/10 into a
    :class:`CausalLMTask` with the model's ``block_size``. Taught in chapter 4.

    **Several CPU cores.** A tiny model's operations are too small for PyTorch to spread each
    one over several cores efficiently. So on the CPU, with torch using ``n >= 2`` threads, a
    causal-LM batch is cut into ``n`` equal shares of sequences that ``n`` threads run at the
    same time (forward and backward, one core each); their gradients, weighted by share, are
    added in a fixed order. That is the gradient of the whole batch (the same sum, rounded a
    little differently) and the run stays reproducible. It is automatic for labkit's GPT
    without dropout on a :class:`CausalLMTask`, fp32 on the CPU, one process, no ``compile``.
    ``TrainConfig(cpu_workers=1)`` turns it off; ``cpu_workers=k`` asks for ``k`` shares, also
    for other models (with dropout the run is then not reproducible: random numbers are drawn
    from several threads in no fixed order).
    """

    EVAL_SEED_OFFSET = 1_000_003

    def __init__(
        self,
        model: nn.Module,
        task: Task | Tensor,
        config: TrainConfig | None = None,
        tokenizer: Any = None,
        callbacks: Iterable[Callback] = (),
    ) -> None:
        self.config = config = config or TrainConfig()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch nn.Module, got {type(model).__name__}")
        if isinstance(task, Tensor):
            block = getattr(getattr(model, "config", None), "block_size", None)
            if block is None:
                raise ValueError("pass a Task (e.g. CausalLMTask(train_ids, val_ids, block_size)) for this model")
            n_val = max(block + 1, len(task) // 10)
            task = CausalLMTask(task[:-n_val], task[-n_val:], block)
        if not isinstance(task, Task):
            raise TypeError(f"task must be a labkit.train.Task or a 1-D tensor of ids, got {type(task).__name__}")
        if config.num_threads:
            torch.set_num_threads(config.num_threads)
        self.device = get_device(config.device)
        self.rank, self.world_size = dist_utils.rank(), dist_utils.world_size()
        self.model = model.to(self.device)
        self.task = task.shard(self.rank, self.world_size) if self.world_size > 1 else task
        self.tokenizer = tokenizer
        self.callbacks: list[Any] = list(callbacks)
        if config.progress and self.rank == 0:
            self.callbacks.insert(0, ProgressBar())
        self.autocast, self.scaler = self._precision()
        self.optimizer = make_optimizer(self.model, config, self.device)
        self.net = self.model  # what forward runs: maybe compiled, maybe wrapped in DDP
        if config.compile:
            self.net = torch.compile(self.net)
        if self.world_size > 1:
            ids = [self.device.index or 0] if self.device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(self.net, device_ids=ids)
        self.generator = torch.Generator().manual_seed(config.seed + self.rank)
        torch.manual_seed(config.seed + self.rank)  # dropout draws from torch's global generator
        self.step = 0
        self.max_steps = config.max_steps
        self.elapsed = 0.0  # seconds of training so far (across resumes)
        self.tokens_seen = 0
        self.history = _new_history()
        self.resumed = False
        self._pending: list[Tensor] = []
        self._times: deque[float] = deque(maxlen=101)
        self._eval_seconds: float | None = None
        self._last_fit = 0.0
        self._pool: ThreadPoolExecutor | None = None  # threads that share batches (see the class notes)
        self._pool_size = 0
        self._split_safe = _split_safe(self.model)
        self._workers: int | None = None  # threads sharing each batch during fit()

    # ---- set-up helpers ----------------------------------------------------------------

    def _precision(self) -> tuple[Any, Any]:
        precision, device = self.config.precision, self.device
        if precision == "auto":
            if device.type != "cuda":
                return contextlib.nullcontext(), None
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        if precision == "fp32":
            return contextlib.nullcontext(), None
        if device.type == "cpu":
            if precision == "fp16":
                raise ValueError("fp16 training needs a GPU; use precision='fp32' (or 'bf16') on the CPU")
            warnings.warn("bf16 on this CPU may be much slower than fp32 (no bf16 matrix units); "
                          "precision='fp32' is the fast choice here", stacklevel=3)
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
        scaler = torch.amp.GradScaler(device.type) if dtype == torch.float16 else None
        return torch.autocast(device_type=device.type, dtype=dtype), scaler

    def _metrics(self, **extra: Any) -> dict[str, Any]:
        return {"step": self.step, "max_steps": self.max_steps, "elapsed": self.elapsed, **extra}

    def _emit(self, event: str, metrics: dict[str, Any]) -> None:
        if self.rank == 0:
            _call(self.callbacks, event, metrics)

    # ---- one step ----------------------------------------------------------------------

    def forward_backward(self, batch: Batch, scale: float = 1.0) -> Tensor:
        """Forward + backward on one batch (gradients add up in ``.grad``); returns the loss.

        Under DDP the gradients are averaged across processes during ``backward``. On a CPU
        with several threads the batch may be shared out between them (see the class notes).
        """
        workers = self._workers if self._workers is not None else self._cpu_workers()
        if workers > 1 and isinstance(batch, tuple) and len(batch) == 2:
            return self._shared_forward_backward(batch, workers, scale)
        with self.autocast:
            out = self.net(**batch) if isinstance(batch, dict) else self.net(*batch)
        if not isinstance(out, tuple) or len(out) < 2:
            raise TypeError("the model must return (logits, loss) when given targets (labkit's model contract)")
        loss = out[1]
        scaled = loss * scale if scale != 1.0 else loss
        (self.scaler.scale(scaled) if self.scaler is not None else scaled).backward()
        return loss.detach()

    def _cpu_workers(self) -> int:
        """How many threads share each batch: 1 unless sharing gives the same gradient."""
        asked = self.config.cpu_workers
        if asked == 1 or (asked is None and not self._split_safe):
            return 1
        if (self.device.type != "cpu" or self.world_size > 1 or self.net is not self.model
                or self.scaler is not None or not isinstance(self.autocast, contextlib.nullcontext)
                or type(self.task) is not CausalLMTask):
            return 1
        n = asked if asked is not None else torch.get_num_threads()
        return max(1, min(n, self.config.batch_size))

    def _shared_forward_backward(self, batch: tuple[Tensor, ...], workers: int, scale: float) -> Tensor:
        """``forward_backward`` with the batch's sequences shared out between ``workers``
        threads that run at the same time; gradients are combined in a fixed order."""
        x, y = batch
        rows = x.shape[0]
        workers = min(workers, rows)
        sizes = [rows // workers + (1 if i < rows % workers else 0) for i in range(workers)]
        parts = list(zip(x.split(sizes), y.split(sizes)))
        params = [p for p in self.model.parameters() if p.requires_grad]
        outer = torch.get_num_threads()
        threads = outer if self._workers is not None else max(1, outer // workers)

        def work(part: tuple[Tensor, Tensor], share: float) -> tuple[Tensor, tuple[Tensor | None, ...]]:
            torch.set_num_threads(threads)  # a per-thread setting: this share runs on `threads` cores
            loss = self.net(*part)[1]
            return loss.detach(), torch.autograd.grad(loss * share, params, allow_unused=True)

        if self._pool is None or self._pool_size < workers - 1:
            self._pool_size = workers - 1
            self._pool = ThreadPoolExecutor(self._pool_size, thread_name_prefix="labkit-share")
        shares = [size / rows * scale for size in sizes]
        futures = [self._pool.submit(work, part, share) for part, share in zip(parts[1:], shares[1:])]
        try:
            first = work(parts[0], shares[0])
        finally:
            torch.set_num_threads(outer)
            wait(futures)  # every thread has finished, even after an error or an interrupt
        results = [first] + [f.result() for f in futures]
        loss = results[0][0] * (sizes[0] / rows)
        for (part_loss, _), size in zip(results[1:], sizes[1:]):
            loss = loss + part_loss * (size / rows)
        for i, p in enumerate(params):
            for _, grads in results:  # always in the same order: reproducible sums
                g = grads[i]
                if g is None:
                    continue
                if p.grad is None:
                    p.grad = g
                else:
                    p.grad.add_(g)
        return loss

    def _train_step(self) -> tuple[Tensor, float]:
        cfg = self.config
        lr = lr_at(self.step, cfg.lr, self.max_steps, cfg.warmup_steps, cfg.min_lr)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        total = None
        for micro in range(cfg.grad_accum):
            batch = _move(self.task.get_batch("train", cfg.batch_size, self.generator), self.device)
            self.tokens_seen += self.task.tokens(batch) * self.world_size
            last = micro == cfg.grad_accum - 1
            sync = contextlib.nullcontext() if last or self.world_size == 1 else self.net.no_sync()
            with sync:
                loss = self.forward_backward(batch, 1.0 / cfg.grad_accum)
            total = loss if total is None else total + loss
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        if cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip, foreach=True)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return total / cfg.grad_accum if cfg.grad_accum > 1 else total, lr

    # ---- evaluation and samples ----------------------------------------------------------

    @torch.no_grad()
    def evaluate(self, batches: int | None = None) -> dict[str, float]:
        """Mean loss on ``batches`` fixed batches of each split (the same batches every call).

        Returns ``{"train_loss", "val_loss", "val_perplexity"}`` (+ ``"val_accuracy"`` for
        classification); ``val_*`` are ``None`` without validation data.
        """
        batches = batches or self.config.eval_batches
        was_training = self.model.training
        self.model.eval()
        result: dict[str, Any] = {}
        try:
            for split in ("train", "val"):
                if not self.task.has_split(split):
                    result[f"{split}_loss"] = None
                    continue
                gen = torch.Generator().manual_seed(self.config.seed + self.EVAL_SEED_OFFSET + self.rank)
                losses, correct, counted = [], 0.0, 0.0
                for _ in range(batches):
                    batch = _move(self.task.get_batch(split, self.config.batch_size, gen), self.device)
                    with self.autocast:
                        out = self.model(**batch) if isinstance(batch, dict) else self.model(*batch)
                    losses.append(out[1].float())
                    if isinstance(self.task, ClassificationTask):
                        target = batch["targets"]
                        keep = target != IGNORE_INDEX
                        correct += float(((out[0].argmax(-1) == target) & keep).sum())
                        counted += float(keep.sum())
                stats = torch.stack([torch.stack(losses).mean(), torch.tensor(correct / max(counted, 1.0))])
                stats = dist_utils.all_reduce_mean(stats.to(self.device)).cpu()
                result[f"{split}_loss"] = float(stats[0])
                if isinstance(self.task, ClassificationTask):
                    result[f"{split}_accuracy"] = float(stats[1])
        finally:
            self.model.train(was_training)
        val = result.get("val_loss")
        result["val_perplexity"] = None if val is None else perplexity(val)
        return result

    def _eval_and_log(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        r = self.evaluate()
        self._eval_seconds = time.perf_counter() - t0
        h = self.history
        h["eval_step"].append(self.step)
        h["val_loss"].append(r["val_loss"])
        h["val_perplexity"].append(r["val_perplexity"])
        h["eval_train_loss"].append(r["train_loss"])
        h["val_accuracy"].append(r.get("val_accuracy"))
        self._emit("eval", self._metrics(**r))
        return r

    def sample(self, prompt: str | None = None, max_new_tokens: int | None = None, **kwargs: Any) -> str | None:
        """A text sample from the model (causal LM with a tokenizer only; else ``None``).

        Uses its own seeded generator, so it never changes the training's random state.
        """
        if self.tokenizer is None or type(self.task) is not CausalLMTask or self.rank != 0:
            return None
        from labkit.generate import generate_text

        if prompt is None:
            prompt = self.config.sample_prompt
        if prompt is None:
            source = self.task.val if self.task.val is not None else self.task.train
            prompt = self.tokenizer.decode(source[:8].tolist())
        kwargs.setdefault("temperature", 0.8)
        kwargs.setdefault("seed", self.config.seed + self.step)
        kwargs.setdefault("stop_tokens", ())  # a sample runs its full length
        return generate_text(self.model, self.tokenizer, prompt, max_new_tokens or self.config.sample_tokens, **kwargs)

    def _sample_and_log(self) -> None:
        text = self.sample()
        if text is not None:
            self.history["sample_step"].append(self.step)
            self.history["sample"].append(text)
            self._emit("sample", self._metrics(text=text))

    # ---- time budget -------------------------------------------------------------------

    def _step_time(self) -> float | None:
        """Mean seconds per step over the last (up to 100) steps; the first step of a ``fit``
        (memory allocation, thread start-up) is left out."""
        times = self._times
        return (times[-1] - times[0]) / (len(times) - 1) if len(times) >= 3 else None

    def _eval_time(self, step_time: float) -> float:
        """Seconds one evaluation takes: measured, or estimated (a forward ≈ 1/3 of a step)."""
        if self._eval_seconds is not None:
            return self._eval_seconds
        return 2 * self.config.eval_batches * step_time / (3 * self.config.grad_accum)

    def _fit_to_budget(self) -> None:
        """Set ``max_steps`` so that training and the evaluations end within the budget.

        Called after the first 10 steps and then each time another 5% of the budget has
        passed, so the schedule follows the machine's actual speed. On a single process it also
        stops at once when the remaining time only fits the final evaluation.
        """
        cfg = self.config
        step_time = self._step_time()
        if step_time is None:
            return
        per_eval = self._eval_time(step_time)
        left = cfg.time_budget - self.elapsed - per_eval  # keep time for the final evaluation
        if self.world_size > 1:  # every rank must take part in the all-reduce below: decide by step
            refit = self.step == 10 or self.step % 50 == 0
        else:
            first = self._last_fit == 0.0 and self.step >= 10
            refit = first or self.elapsed - self._last_fit >= cfg.time_budget / 20
        if self.world_size == 1 and left < step_time:
            self.max_steps = self.step  # out of time
            return
        if not refit:
            return
        self._last_fit = self.elapsed
        steps_left = max(0, int(left / step_time))
        if cfg.eval_every:
            evals = steps_left // cfg.eval_every
            steps_left = max(0, int((left - evals * per_eval) / step_time))
        target = torch.tensor(float(min(cfg.max_steps, self.step + steps_left)), device=self.device)
        self.max_steps = int(dist_utils.all_reduce_min(target))

    # ---- the loop ----------------------------------------------------------------------

    def _flush_losses(self) -> list[float]:
        if not self._pending:
            return []
        losses = torch.stack(self._pending).float()
        losses = dist_utils.all_reduce_mean(losses).tolist()
        first = self.step - len(losses) + 1
        self.history["step"].extend(range(first, self.step + 1))
        self.history["train_loss"].extend(losses)
        self._pending = []
        return losses

    def fit(self, stop_at: int | None = None) -> TrainResult:
        """Train until ``max_steps`` (or ``stop_at``, or the time budget); return the result.

        ``stop_at`` pauses the run at that step with the schedule unchanged (``fit()`` again
        continues it). ``KeyboardInterrupt`` ends the run cleanly (see the module docstring).
        """
        workers, outer = self._cpu_workers(), torch.get_num_threads()
        inner = max(1, outer // workers)
        if workers > 1:
            # The threads sharing a batch use one core each (outer // workers); the rest of the
            # step runs on as many. PyTorch's own worker threads would only wait for busy cores.
            self._workers = workers
            if inner != outer:
                torch.set_num_threads(inner)
        try:
            return self._fit(stop_at)
        finally:
            self._workers = None
            if torch.get_num_threads() != outer:
                torch.set_num_threads(outer)

    def _fit(self, stop_at: int | None) -> TrainResult:
        cfg = self.config
        self.net.train()
        interrupted = False
        begin_tokens, begin_elapsed = self.tokens_seen, self.elapsed
        clock = time.perf_counter() - self.elapsed  # so that elapsed continues after a resume
        self._times.clear()
        last_log_t, last_log_tokens = time.perf_counter(), self.tokens_seen
        self._emit("begin", self._metrics(config=asdict(cfg), resumed=self.resumed))
        try:
            while self.step < self.max_steps and (stop_at is None or self.step < stop_at):
                loss, lr = self._train_step()
                self._pending.append(loss)
                self.history["lr"].append(lr)
                self.step += 1
                now = time.perf_counter()
                self.elapsed = now - clock
                self._times.append(now)
                if cfg.time_budget is not None:
                    self._fit_to_budget()
                if self.step % cfg.log_every == 0 or self.step >= self.max_steps:
                    losses = self._flush_losses()
                    tok_s = (self.tokens_seen - last_log_tokens) / max(now - last_log_t, 1e-9)
                    last_log_t, last_log_tokens = now, self.tokens_seen
                    self._emit("step", self._metrics(
                        train_loss=sum(losses) / len(losses), losses=losses, lr=self.history["lr"][-1],
                        tokens_per_s=tok_s, tokens=self.tokens_seen))
                busy = False
                if cfg.eval_every and self.step % cfg.eval_every == 0 and self.step < self.max_steps:
                    self._eval_and_log()
                    busy = True
                if cfg.sample_every and self.step % cfg.sample_every == 0:
                    self._sample_and_log()
                    busy = True
                if cfg.save_every and cfg.out_dir and self.step % cfg.save_every == 0 and self.step < self.max_steps:
                    self.save()
                    busy = True
                if busy:  # keep evaluation/saving out of the step-time estimate
                    self._times.clear()
                    last_log_t = time.perf_counter()
        except KeyboardInterrupt:
            interrupted = True
            self.optimizer.zero_grad(set_to_none=True)
            if self.rank == 0:
                print(f"\ntraining interrupted at step {self.step}; the model and its history are kept",
                      flush=True)
        self.elapsed = time.perf_counter() - clock
        self._flush_losses()
        finished = self.step >= self.max_steps
        ev = {}
        if not interrupted and finished and self.history["eval_step"][-1:] != [self.step]:
            ev = self._eval_and_log()
            self.elapsed = time.perf_counter() - clock
        if cfg.sample_every and finished and not interrupted and self.history["sample_step"][-1:] != [self.step]:
            self._sample_and_log()
        if cfg.out_dir and (finished or interrupted or stop_at is not None):
            self.save()
        result = self._result(interrupted, begin_tokens, begin_elapsed, ev)
        self._emit("end", self._metrics(**result.summary()))
        return result

    def _result(self, interrupted: bool, begin_tokens: int, begin_elapsed: float, ev: dict) -> TrainResult:
        h = self.history
        val = h["val_loss"][-1] if h["val_loss"] else None
        train_loss = h["eval_train_loss"][-1] if h["eval_train_loss"] and ev else None
        if train_loss is None and h["train_loss"]:
            recent = h["train_loss"][-10:]
            train_loss = sum(recent) / len(recent)
        seconds = self.elapsed - begin_elapsed
        tokens = self.tokens_seen - begin_tokens
        return TrainResult(
            model=self.model, history=h, steps=self.step, seconds=self.elapsed, tokens=self.tokens_seen,
            tokens_per_s=tokens / seconds if seconds > 0 else 0.0, train_loss=train_loss, val_loss=val,
            interrupted=interrupted, out_dir=self.config.out_dir,
        )

    # ---- checkpoints -------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "max_steps": self.max_steps,
            "elapsed": self.elapsed,
            "tokens_seen": self.tokens_seen,
            "history": self.history,
            "config": asdict(self.config),
            "scheduler": {"name": "warmup_cosine", "lr": self.config.lr, "min_lr": self.config.min_lr,
                          "warmup_steps": self.config.warmup_steps, "max_steps": self.max_steps},
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "world_size": self.world_size,
        }

    def save(self, directory: str | os.PathLike | None = None) -> Path | None:
        """Write a checkpoint (model, optimizer, schedule, step, RNG, history, tokenizer) to
        ``directory`` (default ``config.out_dir``) atomically. Only rank 0 writes."""
        directory = directory or self.config.out_dir
        if directory is None:
            raise ValueError("give a directory, or set TrainConfig(out_dir=...)")
        self._flush_losses()
        path = None
        if self.rank == 0:
            path = ckpt.save_checkpoint(directory, self.model, self.optimizer, self._state(), self.tokenizer,
                                        {"batches": self.generator})
        dist_utils.barrier()
        return path

    def load(self, directory: str | os.PathLike | None = None) -> bool:
        """Resume from a checkpoint written by :meth:`save`; ``False`` if there is none.

        On the CPU the continued run is bit-for-bit the run that was never stopped.
        """
        directory = directory or self.config.out_dir
        if directory is None or ckpt.find_checkpoint(directory) is None:
            return False
        state = ckpt.load_checkpoint(directory, self.model, self.optimizer, {"batches": self.generator})
        if "step" not in state:
            raise ValueError(f"{directory} holds a model but no training state; it cannot be resumed")
        self.step, self.max_steps = state["step"], state["max_steps"]
        self.elapsed, self.tokens_seen = state["elapsed"], state["tokens_seen"]
        self.history = {**_new_history(), **state["history"]}
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        if self.world_size > 1:  # each rank samples its own batches: re-seed them per rank
            self.generator.manual_seed(self.config.seed + self.rank + 7919 * self.step)
        self.resumed = True
        return True


def _split_safe(model: nn.Module) -> bool:
    """Whether threads may share a batch automatically: labkit's GPT with no dropout (dropout
    would draw random numbers from several threads in no fixed order)."""
    if getattr(model, "model_type", None) != "tiny_gpt":
        return False
    for m in model.modules():
        if isinstance(m, nn.Dropout) and m.p > 0:
            return False
        if isinstance(getattr(m, "dropout", None), float) and m.dropout > 0:
            return False
    return True


def train(
    model: nn.Module,
    task: Task | Tensor,
    config: TrainConfig | None = None,
    *,
    tokenizer: Any = None,
    callbacks: Iterable[Callback] = (),
    resume: bool | str | os.PathLike = False,
    **overrides: Any,
) -> TrainResult:
    """Train ``model`` on ``task`` and return a :class:`TrainResult`. Taught in chapter 4.

    ``config`` fields can also be given as keywords: ``train(model, task, max_steps=500)``.
    ``resume=True`` continues from the checkpoint in ``config.out_dir`` when there is one
    (``resume="path"`` from another directory); the model must have the same architecture.
    """
    config = config or TrainConfig()
    if overrides:
        unknown = sorted(set(overrides) - {f.name for f in fields(TrainConfig)})
        if unknown:
            raise TypeError(f"unknown training option(s) {unknown}; see labkit.train.TrainConfig")
        config = TrainConfig(**{**asdict(config), **overrides})
    trainer = Trainer(model, task, config, tokenizer=tokenizer, callbacks=callbacks)
    if resume:
        source = config.out_dir if resume is True else resume
        if source is None:
            raise ValueError("resume=True needs TrainConfig(out_dir=...) (or pass resume='path/to/checkpoint')")
        trainer.load(source)
    return trainer.fit()

