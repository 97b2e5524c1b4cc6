"""Training: one small loop for causal LM, masked LM, classification and seq2seq models.

Taught in chapter 4 (pretraining) and chapter 5 (fine-tuning). Quick start::

    from labkit.train import TrainConfig, CausalLMTask, train
    task = CausalLMTask(train_ids, val_ids, block_size=model.config.block_size)
    result = train(model, task, TrainConfig(max_steps=2000, out_dir="runs/gpt"), tokenizer=tok)
    result.history["train_loss"]        # one loss per optimizer step
    result.val_loss, result.tokens_per_s

The parts: :mod:`~labkit.train.config` (settings, schedule, optimizer),
:mod:`~labkit.train.objectives` (what a batch is), :mod:`~labkit.train.loop` (the
:class:`Trainer`), :mod:`~labkit.train.callbacks` (progress bars, events),
:mod:`~labkit.train.budget` (``time_budget``), :mod:`~labkit.train.cpu_share` (threads).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import asdict, fields
from typing import Any

from torch import Tensor, nn

from labkit.evaluate import perplexity
from labkit.train.callbacks import Callback, ProgressBar, TextProgressBar
from labkit.train.config import TrainConfig, lr_at, make_optimizer
from labkit.train.loop import Trainer, TrainResult
from labkit.train.objectives import (
    Batch,
    CausalLMTask,
    ClassificationTask,
    MaskedLMTask,
    MultiTaskTask,
    Seq2SeqTask,
    SequenceMLMTask,
    Task,
    mask_tokens,
)

__all__ = [
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "train",
    "Task",
    "Batch",
    "CausalLMTask",
    "MaskedLMTask",
    "ClassificationTask",
    "Seq2SeqTask",
    "SequenceMLMTask",
    "MultiTaskTask",
    "mask_tokens",
    "lr_at",
    "perplexity",
    "make_optimizer",
    "ProgressBar",
    "TextProgressBar",
    "Callback",
]


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
    A ``tqdm`` progress bar is shown unless ``progress=False``; ``KeyboardInterrupt`` (the stop
    button) ends training cleanly and keeps the model, its history and a checkpoint.
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
            raise ValueError(
                "resume=True needs TrainConfig(out_dir=...) (or pass resume='path/to/checkpoint')"
            )
        trainer.load(source)
    return trainer.fit()
