"""Stored multi-seed results: load the table a course script wrote, and plot it with error bars.

A notebook can afford one training run per setting; a conclusion that moves with the seed
needs several. ``course/scripts/ch09_scaling.py`` runs the scaling experiment of chapter 9
with several seeds and stores its table with :func:`labkit.studies.save_study`;
:func:`labkit.studies.load_study` reads it, :func:`labkit.studies.seed_spread` summarises it,
and :func:`scaling_figure` draws it. Taught in chapter 9 (section 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["scaling_figure"]


def scaling_figure(
    n_params: Sequence[float],
    losses_per_seed: Sequence[Sequence[float]],
    floor: float,
    live: Sequence[float] | None = None,
    alpha: float | None = None,
    a: float | None = None,
) -> Any:
    """Log-log plot of the reducible loss ``L - floor`` against model size, one point per size
    with error bars from the stored seeds (mean ± one standard deviation, and the whole
    range), the live run on top, and the fitted line ``a · N^(-alpha)`` when given.

    ``losses_per_seed[i]`` lists the losses of size ``n_params[i]`` over the seeds. Returns a
    plotly figure for :func:`labkit.widgets.show`. Taught in chapter 9.
    """
    import plotly.graph_objects as go

    n = np.asarray(n_params, dtype=float)
    table = np.asarray(losses_per_seed, dtype=float) - floor
    if table.ndim != 2 or table.shape[0] != len(n):
        raise ValueError("losses_per_seed needs one row of seed losses per model size")
    mean = table.mean(axis=1)
    std = table.std(axis=1, ddof=1) if table.shape[1] > 1 else np.zeros_like(mean)
    fig = go.Figure(
        layout={
            "template": "plotly_white",
            "width": 640,
            "height": 400,
            "title": f"Reducible loss against model size, {table.shape[1]} seeds (log-log)",
            "xaxis": {"type": "log", "title": "non-embedding parameters N"},
            "yaxis": {"type": "log", "title": "validation loss − entropy floor (nats)"},
        }
    )
    fig.add_scatter(
        x=n,
        y=table.min(axis=1),
        mode="markers",
        marker={"symbol": "line-ew-open", "size": 12, "color": "#999"},
        name="lowest and highest seed",
    )
    fig.add_scatter(
        x=n,
        y=table.max(axis=1),
        mode="markers",
        marker={"symbol": "line-ew-open", "size": 12, "color": "#999"},
        showlegend=False,
    )
    fig.add_scatter(
        x=n,
        y=mean,
        mode="markers",
        marker={"size": 9},
        error_y={"type": "data", "array": std},
        name="stored seeds: mean ± 1 s.d.",
    )
    if live is not None:
        fig.add_scatter(
            x=n,
            y=np.asarray(live, dtype=float) - floor,
            mode="markers",
            marker={"symbol": "x", "size": 9},
            name="this notebook's run",
        )
    if alpha is not None and a is not None:
        grid = np.geomspace(n.min() / 1.5, n.max() * 1.5, 50)
        fig.add_scatter(
            x=grid,
            y=a * grid ** (-alpha),
            mode="lines",
            line={"dash": "dash"},
            name=f"fit to the means: {a:.3g} · N^(−{alpha:.2f})",
        )
    return fig
