"""The softmax-temperature widget: logits → probabilities as the temperature moves.

Taught in chapter 2 (softmax) and chapter 8 (sampling).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import traitlets

from labkit.widgets.base import LAYOUT, WIDE, Demo, as_labels, as_vector, softmax
from labkit.widgets.display import StaticFigure
from labkit.widgets.svg import PALETTE, bar_chart, compose

__all__ = ["SoftmaxTemperature"]


class SoftmaxTemperature(Demo):
    """Bar chart of ``softmax(logits / T)`` with a temperature slider.

    Low T sharpens towards the largest logit (greedy); high T flattens towards uniform.
    ``temperature`` is a trait: set it from Python or ``observe`` it. ``probabilities(T)``
    returns the numbers. Taught in chapter 2 (softmax) and chapter 8 (sampling).
    """

    temperature = traitlets.Float(1.0)

    def __init__(
        self,
        logits: Sequence[float] | None = None,
        labels: Sequence[str] | None = None,
        temperature: float = 1.0,
    ) -> None:
        super().__init__()
        if logits is None:  # next word after "The cat sat on the"
            logits = [3.2, 2.5, 2.1, 1.0, -0.5, -1.5]
            labels = labels or ["mat", "sofa", "floor", "roof", "dog", "moon"]
        self.logits = as_vector(logits, "logits")
        self.labels = as_labels(labels, len(self.logits))
        self.slider = widgets.FloatLogSlider(
            value=temperature,
            base=10,
            min=-1.3,
            max=1.3,
            step=0.01,
            description="temperature",
            continuous_update=True,
            readout_format=".2f",
            style=WIDE,
        )
        fig = go.Figure(
            layout={**LAYOUT, "height": 320, "yaxis": {"range": [0, 1], "title": "probability"}}
        )
        fig.add_bar(x=self.labels, y=self.probabilities(temperature), marker_color=PALETTE[0])
        self._start(fig)
        widgets.link((self.slider, "value"), (self, "temperature"))
        self.temperature = temperature
        self._redraw()
        self._finish(widgets.HBox([self.slider]))

    @traitlets.validate("temperature")
    def _valid_t(self, proposal: dict) -> float:
        t = proposal["value"]
        if not t > 0:
            raise traitlets.TraitError(
                f"temperature must be > 0, got {t} (near 0 = greedy: try 0.05)"
            )
        return t

    @traitlets.observe("temperature")
    def _on_t(self, change: dict) -> None:
        self._redraw()

    def probabilities(self, temperature: float | None = None) -> np.ndarray:
        """``softmax(logits / temperature)`` (default: the current temperature)."""
        t = self.temperature if temperature is None else temperature
        if not t > 0:
            raise ValueError(f"temperature must be > 0, got {t}")
        return softmax(self.logits / t)

    def _redraw(self) -> None:
        if not hasattr(self, "fig"):
            return
        p = self.probabilities()
        entropy = float(-(p * np.log(np.maximum(p, 1e-300))).sum())
        with self.fig.batch_update():
            self.fig.data[0].y = p
            self.fig.layout.title = f"softmax(logits / {self.temperature:.2f})"
        self.readout.value = (
            f"T = {self.temperature:.2f}: top token <b>{self.labels[int(p.argmax())]}</b> "
            f"gets {p.max():.1%}; entropy {entropy:.2f} nats (uniform would be "
            f"{math.log(len(p)):.2f})"
        )

    def static(self) -> StaticFigure:
        """Bar charts at T = 0.5, 1, 2 and the current temperature."""
        temps = sorted({0.5, 1.0, 2.0, round(self.temperature, 2)})
        w = 250
        parts = [
            bar_chart(
                self.labels,
                self.probabilities(t),
                x=i * w,
                y=20,
                w=w,
                h=230,
                title=f"T = {t:g}",
                ylabel="probability" if i == 0 else "",
                ymax=1.0,
                annotate=len(self.labels) <= 8,
            )
            for i, t in enumerate(temps)
        ]
        return compose(
            w * len(temps),
            260,
            *parts,
            caption="softmax(logits / T)",
            alt="softmax at several temperatures",
        )
