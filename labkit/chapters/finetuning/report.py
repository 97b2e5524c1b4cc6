"""Chapter 5's multi-seed results, summarised: tables, the check of a live seed, the figure.

Taught in chapter 5: ``course/scripts/ch05_*.py`` store one row per seed and setting as a
study in ``labkit/study_results/``
(:func:`~labkit.chapters.finetuning.experiments.save_results`); the notebook shows
:func:`spread_table` and :func:`seed_table`, asserts with :func:`outside_spread` that the seed
it re-runs live falls inside the stored spread, and plots the transfer curve with
:func:`transfer_figure`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from labkit import studies

from .experiments import spread

__all__ = ["summarise", "spread_table", "seed_table", "outside_spread", "transfer_figure"]


def summarise(results: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """``setting -> spread`` (n, mean, sd, min, max) over the seeds of a results file, in the
    order the settings first appear. Taught in chapter 5."""
    by_setting: dict[str, list[float]] = {}
    for row in results["rows"]:
        by_setting.setdefault(row["setting"], []).append(float(row["accuracy"]))
    return {name: spread(values) for name, values in by_setting.items()}


def spread_table(results: Mapping[str, Any], live: Mapping[str, float] | None = None) -> str:
    """A text table: each setting's mean, standard deviation and range over the stored seeds,
    and the live value where ``live`` has one. Taught in chapter 5."""
    stats = summarise(results)
    width = max(len(name) for name in stats)
    n = max(int(s["n"]) for s in stats.values())
    head = f"{'':{width}s}  mean ± sd over {n} seeds   (min – max)"
    lines = [head + ("   live" if live else "")]
    for name, s in stats.items():
        line = f"{name:{width}s}  {s['mean']:.3f} ± {s['sd']:.3f}"
        line += f"           ({s['min']:.3f} – {s['max']:.3f})"
        if live and name in live:
            line += f"   {live[name]:.3f}"
        lines.append(line)
    return "\n".join(lines)


def seed_table(results: Mapping[str, Any]) -> str:
    """A text table with one column per stored seed: every setting's value for each seed, so
    a comparison can be read seed by seed. Taught in chapter 5."""
    values: dict[str, dict[int, float]] = {}
    for row in results["rows"]:
        values.setdefault(row["setting"], {})[int(row["seed"])] = float(row["accuracy"])
    seeds = sorted({seed for by_seed in values.values() for seed in by_seed})
    width = max(len(name) for name in values)
    lines = [f"{'seed':{width}s}" + "".join(f"{seed:>7d}" for seed in seeds)]
    for name, by_seed in values.items():
        cells = "".join(
            f"{by_seed[seed]:7.3f}" if seed in by_seed else f"{'':7s}" for seed in seeds
        )
        lines.append(f"{name:{width}s}{cells}")
    return "\n".join(lines)


def outside_spread(
    results: Mapping[str, Any], live: Mapping[str, float], margin: float = 0.03
) -> dict[str, float]:
    """The ``live`` values that fall outside ``[min - margin, max + margin]`` of the stored
    seeds of the same setting (a setting the file lacks is an error). ``margin=0.03`` is about
    two standard errors of an accuracy on 1,000 test sentences. Taught in chapter 5."""
    stats = summarise(results)
    missing = sorted(set(live) - set(stats))
    if missing:
        raise KeyError(f"no stored seeds for {missing}: run the script that writes the results")
    values: dict[str, list[float]] = {}
    for row in results["rows"]:
        values.setdefault(row["setting"], []).append(float(row["accuracy"]))
    return {
        name: value
        for name, value in live.items()
        if not studies.within_spread(value, values[name], margin)
    }


def transfer_figure(
    results: Mapping[str, Any], live: Mapping[str, float] | None = None
) -> go.Figure:
    """Test accuracy against labelled examples (log axis), pretrained and from scratch: the
    mean over the stored seeds with a bar from the lowest to the highest seed, each seed as a
    faint dot, and ``live`` values (settings ``"<start>, <n> labels"``) as open circles.
    Taught in chapter 5."""
    stats = summarise(results)
    pattern = re.compile(r"(\w+), (\d+) labels")
    sizes = sorted({int(pattern.fullmatch(k).group(2)) for k in stats if pattern.fullmatch(k)})
    n_seeds = max(int(s["n"]) for s in stats.values())
    fig = go.Figure(
        layout={
            "template": "plotly_white",
            "width": 640,
            "height": 390,
            "title": "Topic classification: test accuracy vs labelled examples",
            "xaxis": {"type": "log", "title": "labelled training examples", "tickvals": sizes},
            "yaxis": {"title": "test accuracy (1,000 held-out sentences)", "range": [0, 1.02]},
        }
    )
    for start, color in [("pretrained", "#1f77b4"), ("scratch", "#d62728")]:
        rows = [stats[f"{start}, {n} labels"] for n in sizes]
        means = [r["mean"] for r in rows]
        fig.add_scatter(
            x=sizes,
            y=means,
            name=f"{start}: mean, min–max of {n_seeds} seeds",
            mode="lines+markers",
            line={"color": color},
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [r["max"] - m for r, m in zip(rows, means)],
                "arrayminus": [m - r["min"] for r, m in zip(rows, means)],
            },
        )
        each = [r for r in results["rows"] if r["setting"].startswith(start + ",")]
        fig.add_scatter(
            x=[int(pattern.fullmatch(r["setting"]).group(2)) for r in each],
            y=[r["accuracy"] for r in each],
            mode="markers",
            marker={"color": color, "size": 4, "opacity": 0.35},
            name=f"{start}, each seed",
        )
        mine = {
            int(pattern.fullmatch(k).group(2)): v
            for k, v in (live or {}).items()
            if k.startswith(start + ",")
        }
        if mine:
            fig.add_scatter(
                x=list(mine),
                y=list(mine.values()),
                mode="markers",
                name=f"{start}, this run",
                marker={"color": color, "size": 11, "symbol": "circle-open"},
            )
    fig.add_hline(y=0.25, line_dash="dot", annotation_text="chance (4 classes)")
    return fig
