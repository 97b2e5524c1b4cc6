"""Callbacks: how a training run reports to you while it runs. Taught in chapter 4.

``train(..., callbacks=[...])`` accepts two kinds of object:

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

Raising ``KeyboardInterrupt`` in a callback ends training cleanly, like the stop button.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["Callback", "ProgressBar", "TextProgressBar", "dispatch"]

Callback = Callable[[dict[str, Any]], Any] | Any
EVENTS = ("begin", "step", "eval", "sample", "end")


def dispatch(callbacks: Iterable[Any], event: str, metrics: dict[str, Any]) -> None:
    """Send ``event`` to every callback: its ``on_<event>`` method, or the callable itself when
    it has no ``on_*`` method at all. Taught in chapter 4."""
    metrics = {"event": event, **metrics}
    for cb in callbacks:
        method = getattr(cb, f"on_{event}", None)
        if method is not None:
            method(metrics)
        elif callable(cb) and not any(hasattr(cb, f"on_{e}") for e in EVENTS):
            cb(metrics)


class ProgressBar:
    """The ``tqdm.auto`` progress bar: steps done, loss, tokens/s and the ETA.

    Added automatically when ``TrainConfig.progress`` is true. Taught in chapter 4.
    """

    def __init__(self, **tqdm_kwargs: Any) -> None:
        self.kwargs, self.bar = tqdm_kwargs, None

    def on_begin(self, m: dict[str, Any]) -> None:
        """Open the bar."""
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=m["max_steps"], initial=m["step"], unit="step", dynamic_ncols=True, **self.kwargs
        )

    def on_step(self, m: dict[str, Any]) -> None:
        """Move the bar and show the latest loss and speed."""
        if self.bar is None:
            return
        if self.bar.total != m["max_steps"]:
            self.bar.total = m["max_steps"]
        self.bar.set_postfix(
            loss=f"{m['train_loss']:.4f}", tok_s=f"{m['tokens_per_s']:,.0f}", refresh=False
        )
        self.bar.update(m["step"] - self.bar.n)

    def on_eval(self, m: dict[str, Any]) -> None:
        """Print the evaluation above the bar."""
        if self.bar is not None:
            self.bar.write(
                f"step {m['step']}: train {m['train_loss']:.4f}, val {m['val_loss']:.4f}, "
                f"perplexity {m['val_perplexity']:.2f}"
            )

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


class TextProgressBar(ProgressBar):
    """:class:`ProgressBar` drawn as plain text (``tqdm``'s console bar) on stdout.

    In a notebook, ``tqdm.auto`` draws a widget, and a saved notebook keeps only the widget's
    first frame ("0/1000"); this bar is text, so the saved output shows where training ended.
    Use it with ``TrainConfig(progress=False)``: ``train(..., callbacks=[TextProgressBar()])``.
    ``mininterval`` is the least number of seconds between redraws. Taught in chapter 4.
    """

    def __init__(self, mininterval: float = 1.0, **tqdm_kwargs: Any) -> None:
        super().__init__(**tqdm_kwargs)
        self.mininterval = mininterval

    def on_begin(self, m: dict[str, Any]) -> None:
        """Open the bar."""
        from tqdm.std import tqdm

        self.kwargs.setdefault("ncols", 100)
        self.bar = tqdm(
            total=m["max_steps"],
            initial=m["step"],
            unit="step",
            file=sys.stdout,
            mininterval=self.mininterval,
            **self.kwargs,
        )
