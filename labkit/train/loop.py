"""The training loop: :class:`Trainer` (step, evaluate, fit, save, load) and its result.

What one step does (``Trainer.train_step``): sample a batch, forward, loss, backward (repeated
``grad_accum`` times, gradients add up), clip the gradient norm, set the learning rate from
the warm-up + cosine schedule (:func:`~labkit.train.lr_at`), ``AdamW.step()``, zero the
gradients. Taught in chapter 4.

* **Interrupts.** ``KeyboardInterrupt`` (the stop button, Ctrl-C, or a callback) ends training
  cleanly: the model keeps its weights, the result its history, and a checkpoint is saved
  when ``out_dir`` is set. Any other exception from a callback propagates.
* **Reproducible.** Batches come from a ``torch.Generator`` seeded with ``config.seed``, the
  evaluation uses its own fixed generator, sampling uses ``generate(..., seed=)``; so on the
  CPU the same seed gives the same loss curve, and ``resume=True`` continues a saved run bit
  for bit (:mod:`labkit.checkpoint`), with the same number of torch threads.
* **Speed on a small CPU.** Losses stay tensors and are read once per ``log_every`` steps;
  AdamW runs as one fused kernel; batches may be shared between threads
  (:mod:`labkit.train.cpu_share`); mixed precision is used on CUDA only (``precision_context``).
* **Several processes.** Under ``torchrun`` (:mod:`labkit.distributed`) the model is wrapped
  in ``DistributedDataParallel``, each rank samples from its own shard of the training data,
  and gradients are averaged across ranks.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from labkit import checkpoint as ckpt
from labkit import distributed as dist_utils
from labkit._util import IGNORE_INDEX, eval_mode
from labkit.env import get_device
from labkit.evaluate import perplexity
from labkit.generate import generate_text
from labkit.train.budget import TimeBudget
from labkit.train.callbacks import Callback, ProgressBar, dispatch
from labkit.train.config import TrainConfig, lr_at, make_optimizer, precision_context
from labkit.train.cpu_share import CpuShare
from labkit.train.objectives import (
    Batch,
    CausalLMTask,
    ClassificationTask,
    Task,
    as_task,
    move_batch,
)

__all__ = ["TrainResult", "Trainer"]

HISTORY_KEYS = (
    "step train_loss lr eval_step val_loss val_perplexity eval_train_loss val_accuracy"
    " sample_step sample"
).split()


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


class Trainer:
    """The training loop, as an object you can run, evaluate, save and resume.

    ``Trainer(model, task, config, tokenizer=None, callbacks=())``, then :meth:`fit`.
    ``task`` may also be a 1-D tensor of token ids: it is split 90/10 into a
    :class:`CausalLMTask` with the model's ``block_size``. Taught in chapter 4.
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
        task = as_task(task, model)
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
        self.autocast, self.scaler = precision_context(config.precision, self.device)
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
        self.history: dict[str, list] = {k: [] for k in HISTORY_KEYS}
        self.resumed = False
        self._pending: list[Tensor] = []
        self.budget = TimeBudget(config, self.world_size, self.device)
        self.cpu_share = CpuShare.for_trainer(self)

    def _metrics(self, **extra: Any) -> dict[str, Any]:
        return {"step": self.step, "max_steps": self.max_steps, "elapsed": self.elapsed, **extra}

    def _emit(self, event: str, metrics: dict[str, Any]) -> None:
        if self.rank == 0:
            dispatch(self.callbacks, event, metrics)

    # ---- one step ----------------------------------------------------------------------

    def forward_backward(self, batch: Batch, scale: float = 1.0) -> Tensor:
        """Forward + backward on one batch (gradients add up in ``.grad``); returns the loss.

        Under DDP the gradients are averaged across processes during ``backward``. On a CPU
        with several threads the batch may be shared out between them (``cpu_share``).
        """
        if self.cpu_share.applies(batch):
            return self.cpu_share.forward_backward(batch, scale)
        with self.autocast:
            out = self.net(**batch) if isinstance(batch, dict) else self.net(*batch)
        if not isinstance(out, tuple) or len(out) < 2:
            raise TypeError(
                "the model must return (logits, loss) when given targets (labkit's model contract)"
            )
        loss = out[1]
        scaled = loss * scale if scale != 1.0 else loss
        (self.scaler.scale(scaled) if self.scaler is not None else scaled).backward()
        return loss.detach()

    def train_step(self) -> tuple[Tensor, float]:
        """One optimizer step (``grad_accum`` micro-batches); returns ``(loss, lr)``."""
        cfg = self.config
        lr = lr_at(self.step, cfg.lr, self.max_steps, cfg.warmup_steps, cfg.min_lr)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        total = None
        for micro in range(cfg.grad_accum):
            batch = move_batch(
                self.task.get_batch("train", cfg.batch_size, self.generator), self.device
            )
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

    def evaluate(self, batches: int | None = None) -> dict[str, float]:
        """Mean loss on ``batches`` fixed batches of each split (the same batches every call).

        Returns ``{"train_loss", "val_loss", "val_perplexity"}`` (+ ``"val_accuracy"`` for
        classification); ``val_*`` are ``None`` without validation data.
        """
        batches = batches or self.config.eval_batches
        classify = isinstance(self.task, ClassificationTask)
        result: dict[str, Any] = {}
        with eval_mode(self.model):
            for split in ("train", "val"):
                if not self.task.has_split(split):
                    result[f"{split}_loss"] = None
                    continue
                seed = self.config.seed + self.EVAL_SEED_OFFSET + self.rank
                gen = torch.Generator().manual_seed(seed)
                losses, correct, counted = [], 0.0, 0.0
                for _ in range(batches):
                    batch = self.task.get_batch(split, self.config.batch_size, gen)
                    batch = move_batch(batch, self.device)
                    with self.autocast:
                        out = self.model(**batch) if isinstance(batch, dict) else self.model(*batch)
                    losses.append(out[1].float())
                    if classify:
                        target = batch["targets"]
                        keep = target != IGNORE_INDEX
                        correct += float(((out[0].argmax(-1) == target) & keep).sum())
                        counted += float(keep.sum())
                accuracy = torch.tensor(correct / max(counted, 1.0))
                stats = torch.stack([torch.stack(losses).mean(), accuracy])
                stats = dist_utils.all_reduce_mean(stats.to(self.device)).cpu()
                result[f"{split}_loss"] = float(stats[0])
                if classify:
                    result[f"{split}_accuracy"] = float(stats[1])
        val = result.get("val_loss")
        result["val_perplexity"] = None if val is None else perplexity(val)
        return result

    def _eval_and_log(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        r = self.evaluate()
        self.budget.eval_seconds = time.perf_counter() - t0
        h = self.history
        h["eval_step"].append(self.step)
        h["val_loss"].append(r["val_loss"])
        h["val_perplexity"].append(r["val_perplexity"])
        h["eval_train_loss"].append(r["train_loss"])
        h["val_accuracy"].append(r.get("val_accuracy"))
        self._emit("eval", self._metrics(**r))
        return r

    def sample(
        self, prompt: str | None = None, max_new_tokens: int | None = None, **kwargs: Any
    ) -> str | None:
        """A text sample from the model (causal LM with a tokenizer only; else ``None``).

        Uses its own seeded generator, so it never changes the training's random state.
        """
        if self.tokenizer is None or type(self.task) is not CausalLMTask or self.rank != 0:
            return None
        if prompt is None:
            prompt = self.config.sample_prompt
        if prompt is None:
            source = self.task.val if self.task.val is not None else self.task.train
            prompt = self.tokenizer.decode(source[:8].tolist())
        kwargs.setdefault("temperature", 0.8)
        kwargs.setdefault("seed", self.config.seed + self.step)
        kwargs.setdefault("stop_tokens", ())  # a sample runs its full length
        n = max_new_tokens or self.config.sample_tokens
        return generate_text(self.model, self.tokenizer, prompt, n, **kwargs)

    def _sample_and_log(self) -> None:
        text = self.sample()
        if text is not None:
            self.history["sample_step"].append(self.step)
            self.history["sample"].append(text)
            self._emit("sample", self._metrics(text=text))

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
        with self.cpu_share.during_fit():
            return self._fit(stop_at)

    def _fit(self, stop_at: int | None) -> TrainResult:
        cfg = self.config
        self.net.train()
        interrupted = False
        begin_tokens, begin_elapsed = self.tokens_seen, self.elapsed
        clock = time.perf_counter() - self.elapsed  # so that elapsed continues after a resume
        self.budget.clear()
        last_log_t, last_log_tokens = time.perf_counter(), self.tokens_seen
        self._emit("begin", self._metrics(config=asdict(cfg), resumed=self.resumed))
        try:
            while self.step < self.max_steps and (stop_at is None or self.step < stop_at):
                loss, lr = self.train_step()
                self._pending.append(loss)
                self.history["lr"].append(lr)
                self.step += 1
                now = time.perf_counter()
                self.elapsed = now - clock
                self.budget.tick(now)
                if cfg.time_budget is not None:
                    self.max_steps = self.budget.max_steps(self.step, self.elapsed, self.max_steps)
                if self.step % cfg.log_every == 0 or self.step >= self.max_steps:
                    losses = self._flush_losses()
                    tok_s = (self.tokens_seen - last_log_tokens) / max(now - last_log_t, 1e-9)
                    last_log_t, last_log_tokens = now, self.tokens_seen
                    self._emit(
                        "step",
                        self._metrics(
                            train_loss=sum(losses) / len(losses),
                            losses=losses,
                            lr=self.history["lr"][-1],
                            tokens_per_s=tok_s,
                            tokens=self.tokens_seen,
                        ),
                    )
                if self._between_steps():  # keep evaluation/saving out of the step time
                    self.budget.clear()
                    last_log_t = time.perf_counter()
        except KeyboardInterrupt:
            interrupted = True
            self.optimizer.zero_grad(set_to_none=True)
            if self.rank == 0:
                print(
                    f"\ntraining interrupted at step {self.step}; "
                    "the model and its history are kept",
                    flush=True,
                )
        self.elapsed = time.perf_counter() - clock
        self._flush_losses()
        finished = self.step >= self.max_steps
        done = finished and not interrupted
        ev = {}
        if done and self.history["eval_step"][-1:] != [self.step]:
            ev = self._eval_and_log()
            self.elapsed = time.perf_counter() - clock
        if cfg.sample_every and done and self.history["sample_step"][-1:] != [self.step]:
            self._sample_and_log()
        if cfg.out_dir and (finished or interrupted or stop_at is not None):
            self.save()
        result = self.result(interrupted, begin_tokens, begin_elapsed, bool(ev))
        self._emit("end", self._metrics(**result.summary()))
        return result

    def _between_steps(self) -> bool:
        """The periodic evaluation, sample and checkpoint; whether any of them ran."""
        cfg, step, busy = self.config, self.step, False
        if cfg.eval_every and step % cfg.eval_every == 0 and step < self.max_steps:
            self._eval_and_log()
            busy = True
        if cfg.sample_every and step % cfg.sample_every == 0:
            self._sample_and_log()
            busy = True
        if cfg.save_every and cfg.out_dir and step % cfg.save_every == 0 and step < self.max_steps:
            self.save()
            busy = True
        return busy

    def result(
        self,
        interrupted: bool = False,
        begin_tokens: int = 0,
        begin_elapsed: float = 0.0,
        evaluated: bool = False,
    ) -> TrainResult:
        """The run so far as a :class:`TrainResult` (tokens/s counted from ``begin_*``)."""
        h = self.history
        val = h["val_loss"][-1] if h["val_loss"] else None
        train_loss = h["eval_train_loss"][-1] if h["eval_train_loss"] and evaluated else None
        if train_loss is None and h["train_loss"]:
            recent = h["train_loss"][-10:]
            train_loss = sum(recent) / len(recent)
        seconds = self.elapsed - begin_elapsed
        tokens = self.tokens_seen - begin_tokens
        return TrainResult(
            model=self.model,
            history=h,
            steps=self.step,
            seconds=self.elapsed,
            tokens=self.tokens_seen,
            tokens_per_s=tokens / seconds if seconds > 0 else 0.0,
            train_loss=train_loss,
            val_loss=val,
            interrupted=interrupted,
            out_dir=self.config.out_dir,
        )

    # ---- checkpoints -------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        cfg = self.config
        return {
            "step": self.step,
            "max_steps": self.max_steps,
            "elapsed": self.elapsed,
            "tokens_seen": self.tokens_seen,
            "history": self.history,
            "config": asdict(cfg),
            "scheduler": {
                "name": "warmup_cosine",
                "lr": cfg.lr,
                "min_lr": cfg.min_lr,
                "warmup_steps": cfg.warmup_steps,
                "max_steps": self.max_steps,
            },
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
            rngs = {"batches": self.generator}
            path = ckpt.save_checkpoint(
                directory, self.model, self.optimizer, self._state(), self.tokenizer, rngs
            )
        dist_utils.barrier()
        return path

    def load(self, directory: str | os.PathLike | None = None) -> bool:
        """Resume from a checkpoint written by :meth:`save`; ``False`` if there is none.

        On the CPU the continued run is bit-for-bit the run that was never stopped.
        """
        directory = directory or self.config.out_dir
        if directory is None or ckpt.find_checkpoint(directory) is None:
            return False
        state = ckpt.load_checkpoint(
            directory, self.model, self.optimizer, {"batches": self.generator}
        )
        if "step" not in state:
            raise ValueError(
                f"{directory} holds a model but no training state; it cannot be resumed"
            )
        self.step, self.max_steps = state["step"], state["max_steps"]
        self.elapsed, self.tokens_seen = state["elapsed"], state["tokens_seen"]
        self.history = {**{k: [] for k in HISTORY_KEYS}, **state["history"]}
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        if self.world_size > 1:  # each rank samples its own batches: re-seed them per rank
            self.generator.manual_seed(self.config.seed + self.rank + 7919 * self.step)
        self.resumed = True
        return True
