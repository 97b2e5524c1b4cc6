"""What the small teaching widgets share: the ``Demo`` base class, the plot style, input checks.

Each teaching widget (softmax temperature, √d_k scaling, positional encodings, sampling, the
live loss plot, the embedding projector) is an ``ipywidgets.VBox`` of controls plus one plotly
``FigureWidget`` (plotly's widget JavaScript ships inside the plotly package: nothing is
fetched from the network). Moving a slider recomputes in Python from numbers kept in memory —
models are run only when the text changes. Each widget's settings are traits you can set or
``observe`` from Python, and each has ``static()``: the SVG picture stored in the notebook for
GitHub, nbconvert and nbval. Taught in chapter 0 (how the course's pictures work).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import traitlets

from labkit.widgets.display import FallbackMixin

__all__ = ["LAYOUT", "WIDE", "Demo", "as_labels", "as_vector", "one_of", "softmax"]

#: The plotly layout every teaching widget starts from.
LAYOUT = {"template": "plotly_white", "margin": {"l": 50, "r": 20, "t": 40, "b": 50}}
#: Slider style, so long labels are not cut off.
WIDE = {"description_width": "initial"}


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax: subtract the maximum before ``exp`` so nothing overflows.

    Taught in chapter 2.
    """
    x = np.asarray(x, dtype=np.float64)
    z = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def as_vector(values: Any, name: str, min_len: int = 2) -> np.ndarray:
    """``values`` (a list, array or tensor) as a finite 1-D float array, or a clear error.

    Used by the teaching widgets (chapters 2–4).
    """
    if hasattr(values, "detach"):
        values = values.detach().float().cpu().numpy()
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size < min_len:
        raise ValueError(
            f"{name} must be a 1-D list of at least {min_len} numbers, got shape {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf; give finite numbers")
    return arr


def as_labels(labels: Sequence[str] | None, n: int, name: str = "labels") -> list[str]:
    """One string label per value (``None``: the numbers 0 … n−1), or a clear error.

    Used by the teaching widgets (chapters 2–4).
    """
    if labels is None:
        return [str(i) for i in range(n)]
    if isinstance(labels, str):
        raise TypeError(f"{name} must be a list of strings, not one string")
    labels = [str(x) for x in labels]
    if len(labels) != n:
        raise ValueError(f"got {len(labels)} {name} for {n} values: give one label per value")
    return labels


def one_of(name: str, value: Any, choices: Sequence[Any]) -> Any:
    """``value`` if it is one of ``choices``, else a ``TraitError`` that lists them.

    The check behind the widgets' choice traits (the √d_k slider, the explorer's ``view``).
    Taught in chapter 2.
    """
    if value not in choices:
        raise traitlets.TraitError(f"{name} must be one of {choices}, got {value!r}")
    return value


class Demo(FallbackMixin, widgets.VBox):
    """A VBox of controls, a plotly FigureWidget ``self.fig`` and an HTML ``self.readout``.

    A widget is built in two steps: ``_start(figure)`` with a plain ``go.Figure`` that the
    first drawing fills in, then ``_finish(rows...)`` turns it into a ``FigureWidget``. So
    the browser receives each figure once, complete, instead of an empty figure followed by
    a burst of updates while plotly's JavaScript is still loading. Taught in chapter 0.
    """

    def _start(self, fig: go.Figure) -> None:
        self.fig = fig
        self.readout = widgets.HTML()

    def _finish(self, *rows: widgets.Widget) -> None:
        self.fig = go.FigureWidget(self.fig)
        self.children = [*rows, self.fig, self.readout]
