"""Show a plotly figure together with a static picture of it.

A plotly figure needs JavaScript: GitHub, nbviewer and exported HTML without plotly.js show
nothing where it was. :func:`show` displays the live plotly figure *and* stores a small SVG
picture drawn from the same data (lines, markers, error bars, bars, heatmaps; a legend; log
axes; subplots side by side), so the stored notebook reads well everywhere::

    import plotly.graph_objects as go
    from labkit.widgets import show

    fig = go.Figure(go.Scatter(x=[1, 2, 3], y=[3, 1, 2], name="loss"))
    show(fig)                       # live figure + static picture
    picture = static_picture(fig)   # just the picture (a StaticFigure: .svg, .save("f.svg"))

Taught in chapter 0 (how the course's pictures work); used by every chapter's plots.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from labkit.widgets.axes import Axis
from labkit.widgets.display import StaticFigure
from labkit.widgets.svg import (
    PALETTE,
    bar_chart,
    compose,
    heatmap,
    legend,
    line_chart,
    scatter_chart,
    text_element,
)

__all__ = ["show", "static_picture"]


def _axis_title(axis: Any) -> str:
    title = getattr(axis, "title", None)
    text = getattr(title, "text", None) if title is not None else None
    return str(text) if text else ""


def _values(values: Any) -> np.ndarray:
    if values is None:
        return np.zeros(0)
    return np.asarray(list(values), dtype=float)


def _axis(axis: Any) -> Axis:
    """The picture's version of a plotly axis: log or linear, its fixed range (plotly gives a
    log axis's range in log10 units) or ``rangemode="tozero"``, its tick values (``tickvals``,
    or ``dtick`` steps across a fixed range) and whether it is visible."""
    log = axis.type == "log"
    lim: tuple[float | None, float | None] = (None, None)
    rng = axis.range
    if rng is not None and len(rng) == 2 and all(isinstance(v, (int, float)) for v in rng):
        lim = (10 ** rng[0], 10 ** rng[1]) if log else (float(rng[0]), float(rng[1]))
    elif axis.rangemode == "tozero" and not log:
        lim = (0.0, None)
    ticks = [float(v) for v in axis.tickvals] if axis.tickvals is not None else None
    step = axis.dtick
    if (
        ticks is None
        and not log
        and isinstance(step, (int, float))
        and step > 0
        and None not in lim
    ):
        start = float(axis.tick0 or 0)
        first = start + np.ceil((lim[0] - start) / step - 1e-9) * step  # type: ignore[operator]
        ticks = list(np.arange(first, lim[1] + 1e-9 * step, step))  # type: ignore[operator]
    return Axis(log=log, lim=lim, ticks=ticks, visible=axis.visible is not False)


def _panel(fig: Any, traces: list[Any], xref: str, yref: str, w: float, h: float, x: float) -> str:
    """One subplot (the traces on axes ``xref``/``yref``) drawn with the chart functions."""
    layout = fig.layout
    xaxis = layout[xref.replace("x", "xaxis", 1)] if xref != "x" else layout.xaxis
    yaxis = layout[yref.replace("y", "yaxis", 1)] if yref != "y" else layout.yaxis
    xlabel, ylabel = _axis_title(xaxis), _axis_title(yaxis)
    xspec, yspec = _axis(xaxis), _axis(yaxis)
    kinds = {t.type for t in traces}
    # Where every chart of this panel goes. No title: the figure's title and the subplot
    # titles are drawn by static_picture.
    frame: dict[str, Any] = {"x": x, "w": w, "h": h, "ylabel": ylabel}
    if xaxis.visible is False and yaxis.visible is False and kinds <= {"scatter", "scattergl"}:
        return _diagram(fig, traces, xref, yref, w, h, x)
    if "heatmap" in kinds:
        t = next(t for t in traces if t.type == "heatmap")
        z = np.asarray(t.z, dtype=float)
        rows = [str(v) for v in t.y] if t.y is not None else None
        cols = [str(v) for v in t.x] if t.x is not None else None
        return heatmap(z, row_labels=rows, col_labels=cols, xlabel=xlabel, **frame)
    if "bar" in kinds:
        return _bars(traces, yspec, frame)
    series, styles = [], []
    for i, t in enumerate(traces):
        if t.type not in ("scatter", "scattergl", "bar"):
            continue
        ys = _values(t.y)
        xs = _values(t.x) if t.x is not None and _numeric(t.x) else np.arange(len(ys), dtype=float)
        series.append((t.name or f"trace {i}", xs, ys))
        styles.append(_style(t, i, ys, layout.showlegend is not False))
    if not series:
        return ""
    style = {k: [s[k] for s in styles] for k in styles[0]}
    if all(style["markers"]) and not any(e is not None for e in style["errors"]):
        pts = np.concatenate([np.stack([s[1], s[2]], axis=1) for s in series])
        colors, labels = [], []
        for t, (_, xs, _), color in zip(traces, series, style["colors"]):
            colors += [color] * len(xs)
            text = t.text if t.text is not None and not isinstance(t.text, str) else [""] * len(xs)
            labels += [str(v) for v in text]
        svg = scatter_chart(
            pts,
            labels if any(labels) else None,
            xlabel=xlabel,
            colors=colors,
            xaxis=xspec,
            yaxis=yspec,
            **frame,
        )
        keys = [(s[0], c) for s, c, k in zip(series, style["colors"], style["in_legend"]) if k]
        if len(series) > 1 and keys:  # a legend, in scatter_chart's coordinates (left 52, top 26)
            names = [n for n, _ in keys]
            dots = [
                f'<circle cx="6" cy="7.5" r="2.6" fill="{c}" fill-opacity="0.75"/>' for _, c in keys
            ]
            place = layout.legend  # plotly's legend x/y: 0 = left/bottom, 1 = right/top
            left = place.x is not None and place.x < 0.5
            width = sum(30 + 6.5 * len(n) for n in names) + 8 if left else w - 62
            rows = 1 if sum(30 + 6.5 * len(n) for n in names) <= width else len(names)
            low = place.y is not None and place.y < 0.5
            top = 26 + (h - 26 - 38 - 18 - 14 * (rows - 1) if low else 0)
            key = legend(names, [c for _, c in keys], width, dots)
            svg += f'<g transform="translate({x + 52} {top})">{key}</g>'
        return svg
    return line_chart(series, xlabel=xlabel, xaxis=xspec, yaxis=yspec, **style, **frame)


def _style(t: Any, i: int, ys: np.ndarray, legend_shown: bool) -> dict[str, Any]:
    """How trace ``t`` (the ``i``-th of its panel) is drawn: as a (dashed) line or as markers
    (symbol, size), its colour (its own, else the palette's), its error bars and whether it
    has a legend entry."""
    line, mark = getattr(t, "line", None), getattr(t, "marker", None)
    dash = getattr(line, "dash", None)
    mode = getattr(t, "mode", None) or ("lines" if len(ys) > 20 else "lines+markers")
    dots = "lines" not in mode
    own = getattr(mark if dots else line, "color", None)
    size = getattr(mark, "size", None)
    return {
        "dashed": bool(dash and dash != "solid"),
        "markers": dots,
        "colors": own if isinstance(own, str) else PALETTE[i % len(PALETTE)],
        "symbols": getattr(mark, "symbol", None),
        "sizes": float(size) if isinstance(size, (int, float)) else None,
        "errors": _error_ends(getattr(t, "error_y", None), ys),
        "in_legend": legend_shown and t.showlegend is not False,
    }


def _error_ends(err: Any, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The low and high ends of a trace's vertical error bars, as plotly draws ``error_y``:
    type ``data`` (``array``, ``arrayminus``), ``constant`` or ``percent`` (``value``,
    ``valueminus``, default 10) or ``sqrt``; symmetric unless a minus is given. ``None``
    where there are none; NaN where a point has none."""
    if err is None:
        return None
    kind = err.type or ("data" if err.array is not None else "percent")
    if err.visible is False or (
        err.visible is None and err.array is None and err.value is None and kind != "sqrt"
    ):
        return None

    def size(array: Any, value: Any) -> np.ndarray:
        if kind == "data":
            given = _values(array)[: len(ys)]
            return np.concatenate([given, np.full(len(ys) - len(given), np.nan)])
        if kind == "sqrt":
            return np.sqrt(np.abs(ys))
        amount = 10.0 if value is None else float(value)
        return np.abs(ys) * amount / 100 if kind == "percent" else np.full(len(ys), amount)

    minus_given = (err.arrayminus if kind == "data" else err.valueminus) is not None
    symmetric = kind == "sqrt" or (err.symmetric if err.symmetric is not None else not minus_given)
    plus = size(err.array, err.value)
    minus = plus if symmetric else size(err.arrayminus, err.valueminus)
    return ys - minus, ys + plus


def _diagram(
    fig: Any, traces: list[Any], xref: str, yref: str, w: float, h: float, x: float
) -> str:
    """A picture without axes (a network, a layout): lines, sized and coloured markers with
    their text, and the panel's text annotations, at their data positions."""
    notes = [
        a
        for a in (fig.layout.annotations or [])
        if a.text and (a.xref or "x", a.yref or "y") == (xref, yref)
    ]
    xs = np.concatenate([_values(t.x) for t in traces] + [_values([a.x for a in notes])])
    ys = np.concatenate([_values(t.y) for t in traces] + [_values([a.y for a in notes])])
    x0, x1 = float(np.nanmin(xs)), float(np.nanmax(xs))
    y0, y1 = float(np.nanmin(ys)), float(np.nanmax(ys))
    m = 40  # room for the labels around the outermost points

    def sx(v: float) -> float:
        return x + m + (v - x0) / ((x1 - x0) or 1) * (w - 2 * m)

    def sy(v: float) -> float:
        return m / 2 + (y1 - v) / ((y1 - y0) or 1) * (h - 1.5 * m)

    lines, marks = [], []
    for i, t in enumerate(traces):
        mode = getattr(t, "mode", None) or "lines+markers"
        px, py = _values(t.x), _values(t.y)
        if "lines" in mode:
            color = getattr(getattr(t, "line", None), "color", None) or PALETTE[i % len(PALETTE)]
            pts = " ".join(f"{sx(a):.1f},{sy(b):.1f}" for a, b in zip(px, py) if np.isfinite(a + b))
            lines.append(f'<polyline points="{pts}" fill="none" stroke="{color}"/>')
        if "markers" in mode or "text" in mode:
            marker = getattr(t, "marker", None)
            colors, sizes = getattr(marker, "color", None), getattr(marker, "size", None)
            text = t.text if "text" in mode and t.text is not None else None
            for j, (a, b) in enumerate(zip(px, py)):
                c = colors[j] if isinstance(colors, (list, tuple)) else colors or PALETTE[i % 6]
                r = (sizes[j] if isinstance(sizes, (list, tuple)) else sizes or 6) / 2
                if "markers" in mode:
                    marks.append(
                        f'<circle cx="{sx(a):.1f}" cy="{sy(b):.1f}" r="{r:.1f}" fill="{c}"/>'
                    )
                if text is not None:
                    label = text if isinstance(text, str) else text[j]
                    marks.append(text_element(sx(a), sy(b) - r - 3, label, 11))
    for a in notes:
        lines.append(text_element(sx(a.x), sy(a.y) - 3, _plain(a.text), 9, fill_opacity="0.8"))
    return "".join(lines + marks)


def _bars(traces: list[Any], yaxis: Axis, frame: dict[str, Any]) -> str:
    """The first bar trace as bars (labelled with its ``text`` or its values); other (scatter)
    traces on the same categories as reference lines.

    ``frame``: where the chart goes (``x``, ``w``, ``h``) and its ``ylabel``."""
    bar = next(t for t in traces if t.type == "bar")
    labels = [str(v) for v in (bar.x if bar.x is not None else range(len(bar.y)))]
    values = _values(bar.y)
    text = bar.text
    if text is None or isinstance(text, str) or len(text) != len(values):
        text = [f"{v:.3g}" for v in values]
    lines = [
        (t.name or "", _values(t.y), bool(t.line.dash and t.line.dash != "solid"))
        for t in traces
        if t is not bar and t.type in ("scatter", "scattergl")
    ]
    colors = None
    marker_color = getattr(bar.marker, "color", None)
    if isinstance(marker_color, (list, tuple)) and all(isinstance(c, str) for c in marker_color):
        colors = list(marker_color)
    return bar_chart(
        labels,
        values,
        colors=colors,
        annotate=len(labels) <= 12,
        value_labels=[str(v) for v in text],
        lines=lines,
        yaxis=yaxis,
        **frame,
    )


def _numeric(values: Any) -> bool:
    try:
        arr = np.asarray(list(values), dtype=float)
    except (TypeError, ValueError):
        return False
    return bool(np.isfinite(arr).any()) if arr.size else True


def static_picture(
    fig: Any, *, width: int | None = None, height: int | None = None
) -> StaticFigure:
    """Draw a plotly figure as a small static SVG (:class:`StaticFigure`).

    Handles scatter (lines and/or markers, in their colours and symbols, with ``error_y`` error
    bars and a legend entry per trace not hidden by ``showlegend=False``), bar and heatmap
    traces, subplots (placed side by side) and the axes' log scales (ticks labelled with the
    values, as plotly does), fixed ranges, ``rangemode="tozero"``, ``tickvals``/``dtick`` and
    hidden axes. Other trace types are left out of the picture. Taught in chapter 0.
    """
    if not hasattr(fig, "data") or not hasattr(fig, "layout"):
        raise TypeError(f"static_picture needs a plotly Figure, got {type(fig).__name__}")
    groups: dict[tuple[str, str], list[Any]] = {}
    for t in fig.data:
        key = (getattr(t, "xaxis", None) or "x", getattr(t, "yaxis", None) or "y")
        groups.setdefault(key, []).append(t)
    if not groups:
        raise ValueError("the figure has no traces to draw")
    n = len(groups)
    total_w = width or int(fig.layout.width or min(max(560, 320 * n), 960))
    total_h = height or int(fig.layout.height or 320)
    title = fig.layout.title.text if fig.layout.title and fig.layout.title.text else ""
    # make_subplots writes each panel's title as an annotation, in panel order.
    subtitles = (
        [_plain(a.text) for a in (fig.layout.annotations or []) if a.text][:n] if n > 1 else []
    )
    top = (24 if title else 0) + (16 if subtitles else 0)
    panel_w = total_w / n
    parts = []
    for i, ((xref, yref), traces) in enumerate(groups.items()):
        part = _panel(fig, traces, xref, yref, panel_w - 8, total_h - top - 8, i * panel_w)
        parts.append(f'<g transform="translate(0 {top})">{part}</g>')
        if i < len(subtitles):
            parts.append(text_element(i * panel_w + panel_w / 2, top - 2, subtitles[i], 11))
    return compose(total_w, total_h, *parts, caption=_plain(title), alt=_plain(title) or "figure")


def _plain(text: str) -> str:
    """Drop the little HTML plotly allows in titles (``<b>``, ``<br>``)."""
    return re.sub(r"<[^>]+>", " ", text or "").strip()


def show(fig: Any, picture: StaticFigure | None = None) -> None:
    """Display a plotly figure live, with a static picture stored beside it.

    Front ends that run plotly (JupyterLab, Notebook 7, VS Code, Colab) show the interactive
    figure; GitHub, nbviewer and plain HTML exports show the picture. Pass ``picture`` to use
    a hand-drawn one instead of the automatic :func:`static_picture`. Taught in chapter 0.
    """
    from IPython.display import display

    if picture is None:
        picture = static_picture(fig)
    bundle = {
        "application/vnd.plotly.v1+json": json.loads(fig.to_json()),
        "text/html": picture.to_html(),
        "text/plain": f"<plotly figure: {picture.alt}>",
    }
    display(bundle, raw=True)
