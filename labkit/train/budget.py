"""The time budget: fit the number of steps (and so the cosine schedule) to a wall time.

``TrainConfig(time_budget=seconds)`` measures the step time during the first steps and sets
``max_steps`` so that training and its evaluations end within the budget. Taught in chapter 4.
"""

from __future__ import annotations

from collections import deque

import torch

from labkit import distributed as dist_utils
from labkit.train.config import TrainConfig

__all__ = ["TimeBudget"]


class TimeBudget:
    """Step times, evaluation time and the refitting rule of ``time_budget``. Taught in chapter 4.

    The trainer calls :meth:`tick` after every step, :meth:`clear` after anything that is not a
    step (evaluation, saving), sets ``eval_seconds`` after an evaluation, and asks
    :meth:`max_steps` for the new end of the schedule.
    """

    def __init__(self, config: TrainConfig, world_size: int, device: torch.device) -> None:
        self.seconds = config.time_budget or 0.0
        self.cap, self.eval_every = config.max_steps, config.eval_every
        self.eval_batches, self.grad_accum = config.eval_batches, config.grad_accum
        self.world_size, self.device = world_size, device
        self.times: deque[float] = deque(maxlen=101)
        self.eval_seconds: float | None = None  # the last evaluation's wall time
        self.last_fit = 0.0

    def tick(self, now: float) -> None:
        """Record the end of a step at clock time ``now``."""
        self.times.append(now)

    def clear(self) -> None:
        """Forget the step times (the next gap is not a step)."""
        self.times.clear()

    def step_time(self) -> float | None:
        """Mean seconds per step over the last (up to 100) steps; the first step of a ``fit``
        (memory allocation, thread start-up) is left out."""
        times = self.times
        return (times[-1] - times[0]) / (len(times) - 1) if len(times) >= 3 else None

    def eval_time(self, step_time: float) -> float:
        """Seconds one evaluation takes: measured, or estimated (a forward ≈ 1/3 of a step)."""
        if self.eval_seconds is not None:
            return self.eval_seconds
        return 2 * self.eval_batches * step_time / (3 * self.grad_accum)

    def max_steps(self, step: int, elapsed: float, max_steps: int) -> int:
        """The new end of the schedule after ``step`` steps and ``elapsed`` seconds.

        Refits after the first 10 steps and then each time another 5% of the budget has
        passed, so the schedule follows the machine's actual speed. On a single process it also
        stops at once when the remaining time only fits the final evaluation.
        """
        step_time = self.step_time()
        if step_time is None:
            return max_steps
        per_eval = self.eval_time(step_time)
        left = self.seconds - elapsed - per_eval  # keep time for the final evaluation
        if self.world_size > 1:  # every rank must take part in the all-reduce below: decide by step
            refit = step == 10 or step % 50 == 0
        else:
            first = self.last_fit == 0.0 and step >= 10
            refit = first or elapsed - self.last_fit >= self.seconds / 20
        if self.world_size == 1 and left < step_time:
            return step  # out of time
        if not refit:
            return max_steps
        self.last_fit = elapsed
        steps_left = max(0, int(left / step_time))
        if self.eval_every:
            evals = steps_left // self.eval_every
            steps_left = max(0, int((left - evals * per_eval) / step_time))
        target = torch.tensor(float(min(self.cap, step + steps_left)), device=self.device)
        return int(dist_utils.all_reduce_min(target))
