"""CPU batch sharing: several threads each run forward + backward on a share of a batch.

A tiny model's operations are too small for PyTorch to spread each one over several cores
efficiently. So on the CPU, with torch using ``n >= 2`` threads, a causal-LM batch is cut into
``n`` shares of sequences that ``n`` threads run at the same time (one core each); their
gradients, weighted by share, are added in a fixed order. That is the gradient of the whole
batch (the same sum, rounded a little differently) and the run stays reproducible.

It is automatic for a model whose class says ``batch_rows_independent = True`` (labkit's GPT:
no batch norm, each sequence's loss depends on that sequence only) and that has no dropout,
on a :class:`~labkit.train.CausalLMTask`, fp32 on the CPU, one process, no ``compile``.
``TrainConfig(cpu_workers=1)`` turns it off; ``cpu_workers=k`` asks for ``k`` shares, also for
other models (with dropout the run is then not reproducible: random numbers are drawn from
several threads in no fixed order). The trainer only calls :class:`CpuShare`.
Taught in chapter 4; used whenever a GPT trains on several threads (chapter 3 on).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import torch
from torch import Tensor, nn

from labkit.train.config import TrainConfig
from labkit.train.objectives import Batch, CausalLMTask, Task

__all__ = ["CpuShare", "rows_independent"]


def rows_independent(model: nn.Module) -> bool:
    """Whether threads may share this model's batches automatically: its class says
    ``batch_rows_independent = True`` and it has no dropout (dropout would draw random numbers
    from several threads in no fixed order). Taught in chapter 4."""
    if not getattr(model, "batch_rows_independent", False):
        return False
    for m in model.modules():
        if isinstance(m, nn.Dropout) and m.p > 0:
            return False
        if isinstance(getattr(m, "dropout", None), float) and m.dropout > 0:
            return False
    return True


class CpuShare:
    """Shares each batch of a :class:`~labkit.train.Trainer` between CPU threads (see the
    module notes). Taught in chapter 4.

    ``eligible`` is what the trainer's set-up allows (CPU, one process, plain fp32 model, a
    causal-LM task); :meth:`workers` adds the config and the thread count.
    """

    def __init__(
        self,
        model: nn.Module,
        net: nn.Module,
        task: Task,
        config: TrainConfig,
        device: torch.device,
        world_size: int,
        autocast: Any,
        scaler: Any,
    ) -> None:
        self.model, self.config = model, config
        self.safe = rows_independent(model)
        self.eligible = (
            device.type == "cpu"
            and world_size == 1
            and net is model
            and scaler is None
            and isinstance(autocast, contextlib.nullcontext)
            and type(task) is CausalLMTask
        )
        self.active: int | None = None  # the shares during fit()
        self.pool: ThreadPoolExecutor | None = None
        self.pool_size = 0

    @classmethod
    def for_trainer(cls, trainer: Any) -> CpuShare:
        """The sharing for a :class:`~labkit.train.Trainer` (after its set-up)."""
        t = trainer
        return cls(t.model, t.net, t.task, t.config, t.device, t.world_size, t.autocast, t.scaler)

    def workers(self) -> int:
        """How many threads share each batch: 1 unless sharing gives the same gradient."""
        asked = self.config.cpu_workers
        if asked == 1 or (asked is None and not self.safe) or not self.eligible:
            return 1
        n = asked if asked is not None else torch.get_num_threads()
        return max(1, min(n, self.config.batch_size))

    def applies(self, batch: Batch) -> bool:
        """Whether :meth:`forward_backward` should take this batch."""
        shares = self.active if self.active is not None else self.workers()
        return shares > 1 and isinstance(batch, tuple) and len(batch) == 2

    @contextlib.contextmanager
    def during_fit(self) -> Iterator[None]:
        """Around ``fit()``: the threads sharing a batch use one core each (``outer //
        workers``), and the rest of the step runs on as many; PyTorch's own worker threads
        would only wait for busy cores. Restores the thread count and stops the threads."""
        workers, outer = self.workers(), torch.get_num_threads()
        inner = max(1, outer // workers)
        if workers > 1:
            self.active = workers
            if inner != outer:
                torch.set_num_threads(inner)
        try:
            yield
        finally:
            self.active = None
            self.close()
            if torch.get_num_threads() != outer:
                torch.set_num_threads(outer)

    def close(self) -> None:
        """Stop the sharing threads (a later batch starts new ones)."""
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool, self.pool_size = None, 0

    def forward_backward(self, batch: tuple[Tensor, ...], scale: float = 1.0) -> Tensor:
        """Forward + backward with the batch's sequences shared out between threads that run
        at the same time; gradients are added to ``.grad`` in a fixed order. Returns the loss
        of the whole batch."""
        in_fit = self.active is not None
        x, y = batch
        rows = x.shape[0]
        workers = min(self.active if in_fit else self.workers(), rows)
        sizes = [rows // workers + (1 if i < rows % workers else 0) for i in range(workers)]
        parts = list(zip(x.split(sizes), y.split(sizes)))
        params = [p for p in self.model.parameters() if p.requires_grad]
        outer = torch.get_num_threads()
        threads = outer if in_fit else max(1, outer // workers)

        def work(part: tuple[Tensor, Tensor], share: float) -> tuple[Tensor, tuple]:
            torch.set_num_threads(threads)  # a per-thread setting: this share's cores
            loss = self.model(*part)[1]
            return loss.detach(), torch.autograd.grad(loss * share, params, allow_unused=True)

        if self.pool is None or self.pool_size < workers - 1:
            self.close()
            self.pool_size = workers - 1
            self.pool = ThreadPoolExecutor(self.pool_size, thread_name_prefix="labkit-share")
        shares = [size / rows * scale for size in sizes]
        futures = [self.pool.submit(work, p, s) for p, s in zip(parts[1:], shares[1:])]
        try:
            first = work(parts[0], shares[0])
        finally:
            torch.set_num_threads(outer)
            wait(futures)  # every thread has finished, even after an error or an interrupt
            if not in_fit:
                self.close()
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
