"""Stored multi-seed results: load the table a course script wrote, and plot it with error bars.

A notebook can afford one training run per setting; a conclusion that moves with the seed
needs several. ``course/scripts/ch09_scaling.py`` runs the scaling experiment of chapter 9
with several seeds and writes ``course/scripts/results/ch09_scaling.json``;
:func:`load_results` finds that file, :func:`seed_spread` summarises it, and
:func:`scaling_figure` draws it. Taught in chapter 9 (section 2).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["load_results", "scaling_figure", "seed_spread"]


def _candidates(name: str) -> list[Path]:
    here = Path.cwd()
    repo = Path(__file__).resolve().parents[3]  # an editable install: the repository root
    return [
        here / "scripts" / "results" / name,  # the notebook runs in course/
        here / "course" / "scripts" / "results" / name,  # the repository root
        repo / "course" / "scripts" / "results" / name,
    ]


def load_results(name: str) -> dict[str, Any]:
    """Read ``course/scripts/results/<name>`` (a JSON table written by a course script).

    Looks next to the notebook (``scripts/results``), below the current directory
    (``course/scripts/results``) and in the repository labkit was installed from. Taught in
    chapter 9.
    """
    for path in _candidates(name):
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    script = "course/scripts/" + name.rsplit(".", 1)[0] + ".py"
    raise FileNotFoundError(
        f"no stored results {name!r}: run the notebook from the course repository (git clone), "
        f"or make the table with `python {script}`"
    )


def seed_spread(values: Sequence[float]) -> dict[str, float]:
    """Mean, standard deviation (n - 1), minimum and maximum of one quantity over seeds.

    Taught in chapter 9.
    """
    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or len(x) < 2:
        raise ValueError(f"give at least two values (one per seed), got {values!r}")
    return {
        "mean": float(x.mean()),
        "std": float(x.std(ddof=1)),
        "min": float(x.min()),
        "max": float(x.max()),
    }


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
