"""A small SVG chart kit: the static pictures of labkit's widgets and figures.

Line charts, bar charts, heatmaps (embedded as small PNG images) and scatter plots, each
returned as an SVG group placed at ``(x, y)`` with size ``(w, h)``; :func:`compose` puts the
groups on one canvas and returns a :class:`~labkit.widgets.display.StaticFigure`::

    from labkit.widgets.svg import compose, line_chart

    chart = line_chart([("loss", [1, 2, 3], [2.0, 1.2, 0.9])], title="training")
    compose(360, 220, chart, caption="loss per step")

An :class:`~labkit.widgets.axes.Axis` sets an axis's scale, limits and ticks: a log axis
places values at their log10 but labels the values themselves, as plotly does
(``line_chart(series, yaxis=Axis(log=True))``; ``Axis(lim=(0, None))`` starts at zero). The
colours and the PNG encoder of the heatmaps live in :mod:`labkit.widgets.png`, the marker
symbols, error bars and legend swatches in :mod:`labkit.widgets.marks`.

The charts are drawn by hand because the usual static exporters (kaleido, matplotlib) are
heavy extra installs. Taught in chapter 0 (how the course's pictures work); chapters 2 and 3
draw their own small charts with it.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from labkit.widgets.axes import Axis
from labkit.widgets.display import StaticFigure
from labkit.widgets.marks import error_bars, marker, swatch
from labkit.widgets.png import png_bytes, viridis

__all__ = [
    "Axis",
    "FONT",
    "GREY",
    "INK",
    "PALETTE",
    "bar_chart",
    "compose",
    "escape",
    "heatmap",
    "legend",
    "line_chart",
    "marker",
    "png_bytes",
    "scatter_chart",
    "swatch",
    "text_element",
    "viridis",
]

#: Colours of the charts (a colour-blind-safe palette) and of the text.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
GREY = "#b0b0b0"
INK = "#333333"
FONT = "font-family:system-ui,-apple-system,'Segoe UI','Noto Sans','Noto Sans CJK SC',sans-serif"

_Span = tuple[float, float]  # a data range (low, high)
_Ticks = list[tuple[float, str]]  # tick marks: (position in pixels, label)


# --------------------------------------------------------------------------------------------
# SVG building blocks. Every chart returns an SVG group placed at (x, y) with size (w, h).
# --------------------------------------------------------------------------------------------


def escape(text: object) -> str:
    """``text`` made safe inside SVG/HTML text and attribute values (chapter 0)."""
    return html.escape(str(text), quote=True)


def text_element(
    x: float, y: float, text: object, size: int = 11, anchor: str = "middle", **attrs: Any
) -> str:
    """An SVG ``<text>`` at ``(x, y)``; ``font_weight="bold"`` → ``font-weight=...`` (chapter 0)."""
    extra = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{INK}"{extra}>{escape(text)}</text>'
    )


def _group(x: float, y: float, body: str) -> str:
    return f'<g transform="translate({x:.1f},{y:.1f})">{body}</g>'


class _PlotArea:
    """The plot area of an axes chart (lines, bars, points) of size ``(w, h)``: its size inside
    the margins (left 52 for the y ticks and label, right 10, top 26 for the title, ``bottom``
    for the x ticks and label), its ranges (in :meth:`Axis.place` units) and axes, and the maps
    from placed values to pixels."""

    LEFT, RIGHT, TOP = 52, 10, 26

    def __init__(
        self,
        w: float,
        h: float,
        xrange: _Span,
        yrange: _Span,
        bottom: int = 38,
        xaxis: Axis | None = None,
        yaxis: Axis | None = None,
    ) -> None:
        self.pw, self.ph = w - self.LEFT - self.RIGHT, h - self.TOP - bottom
        (self.x0, self.x1), (self.y0, self.y1) = xrange, yrange
        self.xaxis, self.yaxis = xaxis or Axis(), yaxis or Axis()

    def sx(self, v: Any) -> Any:
        return (v - self.x0) / (self.x1 - self.x0) * self.pw

    def sy(self, v: Any) -> Any:  # y grows upwards
        return self.ph - (v - self.y0) / (self.y1 - self.y0) * self.ph

    def xticks(self) -> _Ticks:
        """The x axis's ticks at their pixels."""
        return [(self.sx(p), label) for p, label in self.xaxis.tick_marks(self.x0, self.x1)]

    def draw(
        self, x: float, y: float, body: str, xticks: _Ticks, title: str, xlabel: str, ylabel: str
    ) -> str:
        """The chart placed at ``(x, y)``: frame, ticks (y ticks inside the range) and titles in
        local coordinates (0, 0)–(pw, ph), then ``body``."""
        w, h = self.pw, self.ph
        parts = [f'<rect x="0" y="0" width="{w:.1f}" height="{h:.1f}" fill="none" stroke="#ccc"/>']
        for px, label in xticks:
            parts.append(
                f'<line x1="{px:.1f}" y1="{h:.1f}" x2="{px:.1f}" y2="{h + 4:.1f}" stroke="#999"/>'
            )
            parts.append(text_element(px, h + 16, label, 10))
        for pos, label in self.yaxis.tick_marks(self.y0, self.y1):
            py = self.sy(pos)
            parts.append(f'<line x1="-4" y1="{py:.1f}" x2="0" y2="{py:.1f}" stroke="#999"/>')
            parts.append(f'<line x1="0" y1="{py:.1f}" x2="{w:.1f}" y2="{py:.1f}" stroke="#eee"/>')
            parts.append(text_element(-7, py + 3.5, label, 10, anchor="end"))
        if title:
            parts.append(text_element(w / 2, -10, title, 12, font_weight="bold"))
        if xlabel:
            parts.append(text_element(w / 2, h + 32, xlabel, 11))
        if ylabel:
            parts.append(
                text_element(-42, h / 2, ylabel, 11, transform=f"rotate(-90 -42 {h / 2:.1f})")
            )
        return _group(x + self.LEFT, y + self.TOP, "".join(parts) + body)


def legend(
    names: Sequence[str],
    colors: Sequence[str],
    w: float,
    swatches: Sequence[str | None] | None = None,
) -> str:
    """A legend ending at ``w``: a swatch (default a coloured dash; or ``swatches[i]``, drawn in
    a 12×15 box, e.g. from :func:`swatch`) and a name per series, on one line when it fits in
    ``w``, else one entry per row on a white backing (chapter 0)."""
    marks = list(swatches) if swatches is not None else [None] * len(names)
    widths = [30 + 6.5 * len(name) for name in names]

    def entry(x: float, y: float, name: str, color: str, mark: str | None) -> list[str]:
        box = _group(x, y, mark) if mark else ""
        dash = f'<rect x="{x:.1f}" y="{y + 6:g}" width="12" height="3" fill="{color}"/>'
        return [box or dash, text_element(x + 16, y + 11, name, 10, anchor="start")]

    parts: list[str] = []
    if sum(widths) <= w:
        x = w
        for name, color, mark, width in reversed(list(zip(names, colors, marks, widths))):
            x -= width
            parts += entry(x, 0, name, color, mark)
        return "".join(parts)
    left = w - max(widths)
    parts.append(
        f'<rect x="{left - 4:.1f}" y="1" width="{max(widths) - 4:.1f}" '
        f'height="{14 * len(names) + 4}" fill="white" fill-opacity="0.85"/>'
    )
    for k, (name, color, mark) in enumerate(zip(names, colors, marks)):
        parts += entry(left, 14 * k, name, color, mark)
    return "".join(parts)


def _polylines(px: np.ndarray, py: np.ndarray, color: str, style: str) -> list[str]:
    """A line through the points, broken at NaNs (a lone point becomes a dot)."""
    runs, run, out = [], [], []
    for a, b in zip(px, py):
        if math.isfinite(a) and math.isfinite(b):
            run.append(f"{a:.1f},{b:.1f}")
        elif run:
            runs.append(run)
            run = []
    runs.append(run)
    for r in runs:
        if len(r) == 1:
            cx, cy = r[0].split(",")
            out.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{color}"/>')
        elif r:
            out.append(
                f'<polyline points="{" ".join(r)}" fill="none" stroke="{color}" '
                f'stroke-width="1.8"{style}/>'
            )
    return out


def line_chart(
    series: Sequence[tuple[str, Sequence[float], Sequence[float]]],
    *,
    x: float = 0,
    y: float = 0,
    w: float = 360,
    h: float = 220,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    logx: bool = False,
    dashed: Sequence[bool] | None = None,
    markers: Sequence[bool] | None = None,
    xaxis: Axis | None = None,
    yaxis: Axis | None = None,
    colors: Sequence[str] | None = None,
    symbols: Sequence[Any] | None = None,
    sizes: Sequence[float | None] | None = None,
    errors: Sequence[tuple[Sequence[float], Sequence[float]] | None] | None = None,
    in_legend: Sequence[bool] | None = None,
) -> str:
    """Lines ``(name, xs, ys)`` with axes and a legend. NaNs leave gaps; ``logx`` for a log x
    axis (or pass :class:`Axis` objects); ``markers[i]``: draw series i as markers (plotly
    symbol ``symbols[i]``, diameter ``sizes[i]``), not a line; ``colors[i]``: its colour
    (default: the palette); ``errors[i]``: the ``(low, high)`` ends of vertical error bars at
    its points; ``in_legend[i]`` False leaves it out of the legend.

    A static-picture building block (chapter 0)."""
    xaxis = xaxis or Axis(log=logx)
    yaxis = yaxis or Axis()
    errors = errors or [None] * len(series)
    all_x = np.concatenate([np.asarray(s[1], float) for s in series] or [np.zeros(1)])
    ends = [np.ravel(np.asarray(e, float)) for e in errors if e is not None]
    all_y = np.concatenate([np.asarray(s[2], float) for s in series] + ends or [np.zeros(1)])
    pad = 0.05 if series and markers and all(markers) else 0.0  # room for the edge markers
    area = _PlotArea(w, h, xaxis.span(all_x, pad), yaxis.span(all_y), xaxis=xaxis, yaxis=yaxis)
    body, names, keys, swatches = [], [], [], []
    for i, (name, xs, ys) in enumerate(series):
        color = colors[i] if colors else PALETTE[i % len(PALETTE)]
        px, py = area.sx(xaxis.place(xs)), area.sy(yaxis.place(ys))
        dots, dash = bool(markers and markers[i]), bool(dashed and dashed[i])
        symbol = symbols[i] if symbols else None
        if errors[i] is not None:
            body += error_bars(px, *errors[i], color, yaxis, area.sy, area.ph)  # type: ignore[misc]
        if in_legend is None or in_legend[i]:
            names.append(name)
            keys.append(color)
            plain = not dots and not dash and errors[i] is None
            swatches.append(
                None
                if plain
                else swatch(color, line=not dots, dashed=dash, symbol=symbol, error=bool(errors[i]))
            )
        if dots:
            size = sizes[i] if sizes and sizes[i] else 7.0
            r = min(max(size / 2, 2.0), 6.0)
            body += [
                marker(a, b, color, symbol, r)
                for a, b in zip(px, py)
                if math.isfinite(a) and math.isfinite(b)
            ]
            continue
        style = ' stroke-dasharray="5,3"' if dash else ""
        body += _polylines(px, py, color, style)
    key = legend(names, keys, area.pw, swatches) if len(series) > 1 and names else ""
    return area.draw(x, y, "".join(body) + key, area.xticks(), title, xlabel, ylabel)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    x: float = 0,
    y: float = 0,
    w: float = 360,
    h: float = 220,
    title: str = "",
    ylabel: str = "",
    colors: Sequence[str] | None = None,
    ymax: float | None = None,
    annotate: bool = False,
    value_labels: Sequence[str] | None = None,
    lines: Sequence[tuple[str, Sequence[float], bool]] = (),
    yaxis: Axis | None = None,
) -> str:
    """Vertical bars, one per label, optionally each with its own colour and its value on top
    (``value_labels``: the texts to write instead of the values). ``lines``: reference lines
    ``(name, one value per bar, dashed)`` across the bars. With a log :class:`Axis` the bars
    rise from the bottom of the axis, and values, lines and ticks sit at their log10 heights.

    A static-picture building block (chapter 0)."""
    yaxis = yaxis or Axis(lim=(0, ymax))
    vals = np.asarray(values, float)
    if not yaxis.log:
        vals = np.nan_to_num(vals)
        if yaxis.lim[0] is None:
            yaxis = Axis(yaxis.log, (0, yaxis.lim[1]), yaxis.ticks, yaxis.visible)
    heights = [vals] + [np.asarray(v, float) for _, v, _ in lines]
    lo, hi = yaxis.span(np.concatenate(heights), pad=0.0)
    if yaxis.lim[1] is None:  # room for the value labels above the highest bar
        hi += 0.1 * (hi - lo)
    if yaxis.log and yaxis.lim[0] is None:  # the shortest bar still shows
        lo -= 0.1 * (hi - lo)
    area = _PlotArea(w, h, (0, 1), (lo, hi), bottom=46, yaxis=yaxis)  # 46: category labels
    pw, ph = area.pw, area.ph
    n = max(len(labels), 1)
    slot = pw / n

    def height(v: Any) -> np.ndarray:  # 0 … ph, clipped to the plot area
        placed = np.nan_to_num(yaxis.place(v), nan=lo, neginf=lo)
        return np.clip((placed - lo) / (hi - lo), 0.0, 1.0) * ph

    body = []
    for i, (label, v, bh) in enumerate(zip(labels, vals, height(vals))):
        color = colors[i] if colors else PALETTE[0]
        body.append(
            f'<rect x="{i * slot + slot * 0.12:.1f}" y="{ph - bh:.1f}" width="{slot * 0.76:.1f}" '
            f'height="{bh:.1f}" fill="{color}"/>'
        )
        if annotate:
            text = value_labels[i] if value_labels is not None else f"{v:.2f}"
            body.append(text_element(i * slot + slot / 2, ph - bh - 3, text, 9))
        if n <= 40:
            short = label if len(label) <= 8 else label[:7] + "…"
            cx = i * slot + slot / 2
            body.append(
                text_element(
                    cx,
                    ph + 12,
                    short,
                    10,
                    anchor="end",
                    transform=f"rotate(-35 {cx:.1f} {ph + 12:.1f})",
                )
            )
    for i, (name, ys, dashed) in enumerate(lines):
        color = PALETTE[(i + 1) % len(PALETTE)]
        ys = np.asarray(ys, float)[: len(labels)]
        py = np.where(np.isfinite(yaxis.place(ys)), ph - height(ys), np.nan)
        px = np.arange(len(py)) * slot + slot / 2
        body += _polylines(px, py, color, ' stroke-dasharray="5,3"' if dashed else "")
        if name:  # a legend line: a short stroke in the line's colour, then the name
            ly = 12 + 14 * i
            body.append(
                f'<rect x="{pw - 18:.1f}" y="{ly - 4}" width="12" height="3" fill="{color}"/>'
            )
            body.append(text_element(pw - 22, ly, name[:60], 10, anchor="end"))
    return area.draw(x, y, "".join(body), [], title, "", ylabel)


def heatmap(
    values: np.ndarray,
    *,
    x: float = 0,
    y: float = 0,
    w: float = 300,
    h: float = 300,
    title: str = "",
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    xlabel: str = "",
    ylabel: str = "",
    margin: int | None = None,
) -> str:
    """A matrix as a colour grid (viridis), embedded as a PNG; labels when there are ≤ 48 rows.

    A static-picture building block (chapter 0)."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or 0 in v.shape:
        raise ValueError(f"heatmap needs a non-empty 2-D array, got shape {v.shape}")
    lo = float(np.nanmin(v)) if vmin is None else vmin
    hi = float(np.nanmax(v)) if vmax is None else vmax
    scaled = (v - lo) / (hi - lo) if hi > lo else np.zeros_like(v)
    uri = "data:image/png;base64," + base64.b64encode(png_bytes(viridis(scaled))).decode("ascii")
    show_rows = row_labels is not None and len(row_labels) <= 48
    show_cols = col_labels is not None and len(col_labels) <= 48
    left = margin if margin is not None else (60 if show_rows or ylabel else 8)
    bottom = 52 if show_cols else (30 if xlabel else 6)
    pw, ph = w - left - 6, h - 24 - bottom
    body = [
        f'<image x="0" y="0" width="{pw:.1f}" height="{ph:.1f}" preserveAspectRatio="none" '
        f'style="image-rendering:pixelated;image-rendering:crisp-edges" href="{uri}" '
        f'xlink:href="{uri}"/>'
    ]
    if show_rows:
        step = ph / len(row_labels)  # type: ignore[arg-type]
        size = int(max(6, min(10, step - 1)))  # small rows, small letters
        for i, label in enumerate(row_labels):  # type: ignore[arg-type]
            body.append(
                text_element(-4, (i + 0.5) * step + size / 3, _short(label), size, anchor="end")
            )
    if show_cols:
        step = pw / len(col_labels)  # type: ignore[arg-type]
        size = int(max(6, min(10, step - 1)))
        for j, label in enumerate(col_labels):  # type: ignore[arg-type]
            cx = (j + 0.5) * step
            body.append(
                text_element(
                    cx,
                    ph + 8,
                    _short(label),
                    size,
                    anchor="end",
                    transform=f"rotate(-60 {cx:.1f} {ph + 8:.1f})",
                )
            )
    if title:
        body.append(text_element(pw / 2, -8, title, 12, font_weight="bold"))
    if xlabel:
        body.append(text_element(pw / 2, ph + bottom - 8, xlabel, 11))
    if ylabel and not show_rows:
        body.append(
            text_element(
                -left + 14, ph / 2, ylabel, 11, transform=f"rotate(-90 {-left + 14} {ph / 2:.1f})"
            )
        )
    return _group(x + left, y + 24, "".join(body))


def _short(label: str, n: int = 9) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


def scatter_chart(
    points: np.ndarray,
    labels: Sequence[str] | None = None,
    *,
    x: float = 0,
    y: float = 0,
    w: float = 420,
    h: float = 360,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    colors: Sequence[str] | None = None,
    max_labels: int = 80,
    xaxis: Axis | None = None,
    yaxis: Axis | None = None,
) -> str:
    """Points ``(N, 2)``; the first ``max_labels`` labels are written next to their point.

    :class:`Axis` objects set log scales, limits, ticks and hidden axes. A static-picture
    building block (chapter 0)."""
    pts = np.asarray(points, float)
    xaxis, yaxis = xaxis or Axis(), yaxis or Axis()
    area = _PlotArea(w, h, xaxis.span(pts[:, 0]), yaxis.span(pts[:, 1]), xaxis=xaxis, yaxis=yaxis)
    px, py = area.sx(xaxis.place(pts[:, 0])), area.sy(yaxis.place(pts[:, 1]))
    body = []
    for i, (a, b) in enumerate(zip(px, py)):
        if not (math.isfinite(a) and math.isfinite(b)):
            continue
        color = colors[i] if colors else PALETTE[0]
        body.append(
            f'<circle cx="{a:.1f}" cy="{b:.1f}" r="2.6" fill="{color}" fill-opacity="0.75"/>'
        )
        if labels is not None and i < max_labels and labels[i]:
            right = a > 0.6 * area.pw  # labels near the right edge go to the left of the point
            lx = a - 4 if right else a + 4
            body.append(
                text_element(
                    lx, b - 3, _short(labels[i], 20), 9, anchor="end" if right else "start"
                )
            )
    return area.draw(x, y, "".join(body), area.xticks(), title, xlabel, ylabel)


def compose(width: int, height: int, *parts: str, caption: str = "", alt: str = "") -> StaticFigure:
    """Put chart groups on one SVG canvas (white background, optional caption line at the top).

    A static-picture building block (chapter 0)."""
    head = text_element(8, 16, caption, 12, anchor="start") if caption else ""
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" style="{FONT}">'
        f'<rect width="100%" height="100%" fill="white"/>{head}{"".join(parts)}</svg>'
    )
    return StaticFigure(svg=svg, alt=alt or caption or "labkit figure", width=width)
