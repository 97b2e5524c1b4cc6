"""The live loss plot: train and validation curves that grow while a model trains.

Usable as the training loop's callback. Taught in chapter 4.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import plotly.graph_objects as go

from labkit.widgets.base import LAYOUT, Demo
from labkit.widgets.display import StaticFigure
from labkit.widgets.svg import PALETTE, compose, line_chart

__all__ = ["LossPlot"]


class LossPlot(Demo):
    """Train and validation loss curves that grow while a model trains.

    Call ``plot.update(step, train_loss=..., val_loss=...)`` (either may be omitted), or pass
    the plot to the training loop: ``train(model, task, callbacks=[plot])`` (it implements
    ``on_begin``/``on_step``/``on_eval``/``on_end`` of :mod:`labkit.train`). Redraws at most
    every ``min_interval`` seconds so a fast loop is not slowed down; ``flush()`` draws the
    rest. ``history`` keeps every number. Taught in chapter 4.
    """

    def __init__(self, title: str = "loss", logy: bool = False, min_interval: float = 0.25) -> None:
        super().__init__()
        self.title, self.min_interval = title, min_interval
        self.history: dict[str, list[float]] = {"step": [], "train": [], "val_step": [], "val": []}
        self._last_draw = 0.0
        fig = go.Figure(
            layout={
                **LAYOUT,
                "height": 320,
                "title": title,
                "xaxis": {"title": "step"},
                "yaxis": {"title": "loss", "type": "log" if logy else "linear"},
            }
        )
        fig.add_scatter(x=[], y=[], name="train", mode="lines", line_color=PALETTE[0])
        fig.add_scatter(x=[], y=[], name="validation", mode="lines+markers", line_color=PALETTE[1])
        self._start(fig)
        self.readout.value = "waiting for the first loss…"
        self._finish()

    def update(
        self, step: int, train_loss: float | None = None, val_loss: float | None = None
    ) -> None:
        """Record the losses of ``step`` and redraw if enough time has passed."""
        for name, value in (("train_loss", train_loss), ("val_loss", val_loss)):
            if value is not None and not math.isfinite(float(value)):
                raise ValueError(
                    f"{name} at step {step} is {value}: training diverged (lower the learning rate)"
                )
        if train_loss is not None:
            self.history["step"].append(int(step))
            self.history["train"].append(float(train_loss))
        if val_loss is not None:
            self.history["val_step"].append(int(step))
            self.history["val"].append(float(val_loss))
        if val_loss is not None or time.monotonic() - self._last_draw >= self.min_interval:
            self.flush()

    # The training loop's callback protocol (labkit.train): train(..., callbacks=[plot]).

    def on_begin(self, m: dict[str, Any]) -> None:
        """Training starts: a fresh run clears the curves; the x axis spans ``max_steps``."""
        if not m.get("resumed") and m.get("step", 0) == 0:
            for values in self.history.values():
                values.clear()
        self.fig.layout.xaxis.range = [0, m.get("max_steps", 1)]
        self.flush()

    def on_step(self, m: dict[str, Any]) -> None:
        """Every ``log_every`` steps: the mean training loss since the last point."""
        self.update(m["step"], train_loss=m["train_loss"])

    def on_eval(self, m: dict[str, Any]) -> None:
        """After an evaluation: the validation loss."""
        self.update(m["step"], val_loss=m["val_loss"])

    def on_end(self, m: dict[str, Any]) -> None:
        """Training ended (or was interrupted): draw everything, and update the stored picture."""
        self.flush()
        self.refresh_static()

    def flush(self) -> None:
        """Draw everything recorded so far."""
        h = self.history
        with self.fig.batch_update():
            self.fig.data[0].x, self.fig.data[0].y = h["step"], h["train"]
            self.fig.data[1].x, self.fig.data[1].y = h["val_step"], h["val"]
        self._last_draw = time.monotonic()
        parts = []
        if h["train"]:
            parts.append(f"step {h['step'][-1]}: train {h['train'][-1]:.3f}")
        if h["val"]:
            best = int(np.argmin(h["val"]))
            parts.append(
                f"val {h['val'][-1]:.3f} (best {h['val'][best]:.3f} at step {h['val_step'][best]})"
            )
        self.readout.value = ", ".join(parts) or "waiting for the first loss…"

    def static(self) -> StaticFigure:
        """The curves recorded so far."""
        h = self.history
        series = [("train", h["step"], h["train"])]
        if h["val"]:
            series.append(("validation", h["val_step"], h["val"]))
        chart = line_chart(
            series, x=0, y=20, w=640, h=300, title=self.title, xlabel="step", ylabel="loss"
        )
        return compose(640, 330, chart, caption=self.readout.value, alt="training loss curves")
