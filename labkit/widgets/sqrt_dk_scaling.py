"""The √d_k widget: why attention divides its scores by √d_k before the softmax.

Taught in chapter 2.
"""

from __future__ import annotations

import math
from typing import Any

import ipywidgets as widgets
import numpy as np
import traitlets
from plotly.subplots import make_subplots

from labkit.widgets.base import LAYOUT, WIDE, Demo, one_of, softmax
from labkit.widgets.display import StaticFigure
from labkit.widgets.svg import PALETTE, compose, line_chart

__all__ = ["D_K_CHOICES", "SqrtDkScaling"]


D_K_CHOICES = tuple(2**i for i in range(11))  # 1 … 1024


class SqrtDkScaling(Demo):
    """Why attention computes ``softmax(q·k / √d_k)``.

    For random q, k with unit-variance entries, q·k has standard deviation √d_k: the wider the
    head, the larger the scores, and softmax saturates (one key gets almost all the weight,
    gradients vanish). Dividing by √d_k keeps the spread at 1. Left: spread of the scores vs
    d_k, measured. Right: the weights one query gives 16 keys at the chosen d_k, with and
    without scaling. ``d_k`` is a trait; ``stats(d_k)`` returns the numbers.
    Taught in chapter 2.
    """

    d_k = traitlets.Int(64)

    def __init__(self, d_k: int = 64, n_keys: int = 16, seed: int = 0) -> None:
        super().__init__()
        if n_keys < 2:
            raise ValueError(f"n_keys must be ≥ 2, got {n_keys}")
        self.n_keys, self.seed = n_keys, seed
        self._cache: dict[int, dict[str, Any]] = {}
        self.slider = widgets.SelectionSlider(
            options=D_K_CHOICES, value=_snap(d_k), description="d_k", style=WIDE
        )
        fig = make_subplots(
            rows=1,
            cols=2,
            column_widths=[0.45, 0.55],
            subplot_titles=("spread (std) of q·k", "softmax weights of one query"),
        )
        fig.update_layout(**LAYOUT, height=340, barmode="group")
        ds = np.array(D_K_CHOICES)
        unscaled, scaled = PALETTE[3], PALETTE[0]
        for name, key, color in (
            ("q·k", "std_unscaled", unscaled),
            ("q·k / √d_k", "std_scaled", scaled),
        ):
            ys = [self.stats(d)[key] for d in ds]
            fig.add_scatter(x=ds, y=ys, name=name, row=1, col=1, line_color=color)
        keys = [f"k{i}" for i in range(n_keys)]
        for name, color in (("softmax(q·k)", unscaled), ("softmax(q·k / √d_k)", scaled)):
            fig.add_bar(x=keys, y=np.zeros(n_keys), name=name, row=1, col=2, marker_color=color)
        fig.update_xaxes(type="log", title_text="d_k", row=1, col=1)
        fig.update_yaxes(range=[0, 1], title_text="weight", row=1, col=2)
        self._start(fig)
        widgets.link((self.slider, "value"), (self, "d_k"))
        self.d_k = _snap(d_k)
        self._redraw()
        self._finish(widgets.HBox([self.slider]))

    @traitlets.validate("d_k")
    def _valid_dk(self, proposal: dict) -> int:
        return one_of("d_k", proposal["value"], D_K_CHOICES)

    @traitlets.observe("d_k")
    def _on_dk(self, change: dict) -> None:
        self._redraw()

    def stats(self, d_k: int | None = None) -> dict[str, Any]:
        """Measured on random unit-variance q, k: score spread and softmax saturation.

        Keys: ``std_unscaled`` (≈ √d_k), ``std_scaled`` (≈ 1), ``max_weight_unscaled`` and
        ``max_weight_scaled`` (average largest weight over 256 queries), ``example_unscaled``
        and ``example_scaled`` (one query's weights over the keys).
        """
        d = self.d_k if d_k is None else int(d_k)
        if d < 1:
            raise ValueError(f"d_k must be ≥ 1, got {d}")
        if d not in self._cache:
            rng = np.random.default_rng(self.seed + d)
            q = rng.standard_normal((256, d))
            k = rng.standard_normal((self.n_keys, d))
            scores = q @ k.T  # (256 queries, n_keys)
            w_raw, w_scaled = softmax(scores), softmax(scores / math.sqrt(d))
            self._cache[d] = {
                "std_unscaled": float(scores.std()),
                "std_scaled": float((scores / math.sqrt(d)).std()),
                "max_weight_unscaled": float(w_raw.max(axis=1).mean()),
                "max_weight_scaled": float(w_scaled.max(axis=1).mean()),
                "example_unscaled": w_raw[0],
                "example_scaled": w_scaled[0],
            }
        return self._cache[d]

    def _redraw(self) -> None:
        if not hasattr(self, "fig"):
            return
        s = self.stats()
        with self.fig.batch_update():
            self.fig.data[2].y = s["example_unscaled"]
            self.fig.data[3].y = s["example_scaled"]
            self.fig.layout.shapes = [
                {
                    "type": "line",
                    "xref": "x",
                    "yref": "paper",
                    "x0": self.d_k,
                    "x1": self.d_k,
                    "y0": 0,
                    "y1": 1,
                    "line": {"dash": "dot"},
                }
            ]
        self.readout.value = (
            f"d_k = {self.d_k}: scores spread {s['std_unscaled']:.1f} unscaled vs "
            f"{s['std_scaled']:.2f} scaled; on average the top key gets "
            f"<b>{s['max_weight_unscaled']:.0%}</b> of the weight unscaled vs "
            f"<b>{s['max_weight_scaled']:.0%}</b> scaled (uniform: {1 / self.n_keys:.0%})"
        )

    def static(self) -> StaticFigure:
        """Spread vs d_k, and saturation (average top weight) vs d_k, with and without scaling."""
        ds = list(D_K_CHOICES)
        st = [self.stats(d) for d in ds]
        panels = (  # (title, (line name, stats key) per line)
            ("spread (std) of scores", ("q·k", "std_unscaled"), ("q·k / √d_k", "std_scaled")),
            (
                "average largest softmax weight",
                ("unscaled", "max_weight_unscaled"),
                ("scaled", "max_weight_scaled"),
            ),
        )
        charts = [
            line_chart(
                [(name, ds, [s[key] for s in st]) for name, key in lines],
                x=400 * i,
                y=20,
                w=400,
                h=260,
                title=title,
                xlabel="d_k",
                logx=True,
            )
            for i, (title, *lines) in enumerate(panels)
        ]
        return compose(
            800,
            290,
            *charts,
            caption=f"Why divide by √d_k ({self.n_keys} keys)",
            alt="score spread and softmax saturation versus d_k",
        )


def _snap(d_k: int) -> int:
    """The allowed d_k (a power of two) closest to ``d_k``."""
    if not isinstance(d_k, int) or d_k < 1:
        raise ValueError(f"d_k must be a positive int, got {d_k!r}")
    return min(D_K_CHOICES, key=lambda d: abs(math.log2(d) - math.log2(d_k)))
