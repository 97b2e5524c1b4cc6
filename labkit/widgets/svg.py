"""A small SVG chart kit: the static pictures of labkit's widgets and figures.

Line charts, bar charts, heatmaps (embedded as small PNG images) and scatter plots, each
returned as an SVG group placed at ``(x, y)`` with size ``(w, h)``; :func:`compose` puts the
groups on one canvas and returns a :class:`~labkit.widgets.display.StaticFigure`::

    from labkit.widgets.svg import compose, line_chart

    chart = line_chart([("loss", [1, 2, 3], [2.0, 1.2, 0.9])], title="training")
    compose(360, 220, chart, caption="loss per step")

The charts are drawn by hand because the usual static exporters (kaleido, matplotlib) are
heavy extra installs. Taught in chapter 0 (how the course's pictures work); chapters 2 and 3
draw their own small charts with it.
"""

from __future__ import annotations

import base64
import html
import math
import struct
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from labkit.widgets.display import StaticFigure

__all__ = [
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
    "png_bytes",
    "scatter_chart",
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
# Colours and PNG (heatmaps are embedded in the SVG as small PNG images)
# --------------------------------------------------------------------------------------------

# Nine samples of matplotlib's viridis colour map; the JavaScript side uses the same ones.
_VIRIDIS_ANCHORS = np.array(
    [
        [68, 1, 84],
        [71, 45, 123],
        [59, 82, 139],
        [44, 114, 142],
        [33, 145, 140],
        [40, 174, 128],
        [94, 201, 98],
        [173, 220, 48],
        [253, 231, 37],
    ],
    dtype=np.float64,
)


def viridis(values: np.ndarray) -> np.ndarray:
    """Map numbers in [0, 1] to RGB colours ``uint8 (..., 3)`` (dark purple → yellow).

    Used by the static pictures (chapter 0) and, with the same colours, the explorer."""
    v = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64)), 0.0, 1.0)
    pos = v * (len(_VIRIDIS_ANCHORS) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(_VIRIDIS_ANCHORS) - 2)
    frac = (pos - lo)[..., None]
    rgb = _VIRIDIS_ANCHORS[lo] * (1 - frac) + _VIRIDIS_ANCHORS[lo + 1] * frac
    return np.round(rgb).astype(np.uint8)


def png_bytes(rgb: np.ndarray) -> bytes:
    """Encode an RGB image ``uint8 (height, width, 3)`` as PNG (zlib + the PNG chunk format).

    Used by the static pictures (chapter 0) to embed heatmaps."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or 0 in rgb.shape:
        raise ValueError(f"png_bytes needs a non-empty (height, width, 3) array, got {rgb.shape}")
    height, width, _ = rgb.shape
    rows = np.concatenate([np.zeros((height, 1), np.uint8), rgb.reshape(height, -1)], axis=1)

    def chunk(tag: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(tag + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


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


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if value == int(value) and 1000 <= abs(value) < 10_000 and value % 1000:
        return str(int(value))  # years and the like: 1960, not 2e3
    if abs(value) >= 1000 or abs(value) < 0.01:
        return f"{value:.0e}".replace("e+0", "e").replace("e-0", "e-")
    return f"{value:.3g}"


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round numbers (steps of 1, 2 or 5 × 10^k) between lo and hi."""
    if not math.isfinite(lo) or not math.isfinite(hi):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [round(first + i * step, 12) for i in range(int((hi - first) / step + 1e-9) + 1)]


def _range(values: np.ndarray, pad: float = 0.05) -> _Span:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    if hi == lo:
        return lo - 0.5, hi + 0.5
    span = hi - lo
    return lo - pad * span, hi + pad * span


def _group(x: float, y: float, body: str) -> str:
    return f'<g transform="translate({x:.1f},{y:.1f})">{body}</g>'


class _PlotArea:
    """The plot area of an axes chart (lines, bars, points) of size ``(w, h)``: its size inside
    the margins (left 52 for the y ticks and label, right 10, top 26 for the title, ``bottom``
    for the x ticks and label), its data ranges, and the maps from data to pixels."""

    LEFT, RIGHT, TOP = 52, 10, 26

    def __init__(self, w: float, h: float, xrange: _Span, yrange: _Span, bottom: int = 38) -> None:
        self.pw, self.ph = w - self.LEFT - self.RIGHT, h - self.TOP - bottom
        (self.x0, self.x1), (self.y0, self.y1) = xrange, yrange

    def sx(self, v: Any) -> Any:
        return (v - self.x0) / (self.x1 - self.x0) * self.pw

    def sy(self, v: Any) -> Any:  # y grows upwards
        return self.ph - (v - self.y0) / (self.y1 - self.y0) * self.ph

    def xticks(self, clip: bool = True) -> _Ticks:
        """Round numbers along x (``clip``: only those inside the range) at their pixels."""
        ticks = _nice_ticks(self.x0, self.x1)
        return [(self.sx(v), _fmt(v)) for v in ticks if not clip or self.x0 <= v <= self.x1]

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
        for v in [v for v in _nice_ticks(self.y0, self.y1) if self.y0 <= v <= self.y1]:
            py = self.sy(v)
            parts.append(f'<line x1="-4" y1="{py:.1f}" x2="0" y2="{py:.1f}" stroke="#999"/>')
            parts.append(f'<line x1="0" y1="{py:.1f}" x2="{w:.1f}" y2="{py:.1f}" stroke="#eee"/>')
            parts.append(text_element(-7, py + 3.5, _fmt(v), 10, anchor="end"))
        if title:
            parts.append(text_element(w / 2, -10, title, 12, font_weight="bold"))
        if xlabel:
            parts.append(text_element(w / 2, h + 32, xlabel, 11))
        if ylabel:
            parts.append(
                text_element(-42, h / 2, ylabel, 11, transform=f"rotate(-90 -42 {h / 2:.1f})")
            )
        return _group(x + self.LEFT, y + self.TOP, "".join(parts) + body)


def legend(names: Sequence[str], colors: Sequence[str], w: float) -> str:
    """A one-line legend (a coloured dash and a name per series) ending at ``w`` (chapter 0)."""
    parts, x = [], w
    for name, color in reversed(list(zip(names, colors))):
        x -= 8 + 6.5 * len(name) + 22
        parts.append(f'<rect x="{x:.1f}" y="6" width="12" height="3" fill="{color}"/>')
        parts.append(text_element(x + 16, 11, name, 10, anchor="start"))
    return "".join(parts)


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
) -> str:
    """Lines ``(name, xs, ys)`` with axes and a legend. NaNs leave gaps; ``logx`` for log x.

    A static-picture building block (chapter 0)."""
    tx = (lambda v: np.log10(np.maximum(v, 1e-300))) if logx else (lambda v: v)
    all_x = np.concatenate([tx(np.asarray(s[1], float)) for s in series] or [np.zeros(1)])
    all_y = np.concatenate([np.asarray(s[2], float) for s in series] or [np.zeros(1)])
    area = _PlotArea(w, h, _range(all_x, 0.0), _range(all_y))
    body = []
    for i, (_, xs, ys) in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        dash = ' stroke-dasharray="5,3"' if dashed and dashed[i] else ""
        px, py = area.sx(tx(np.asarray(xs, float))), area.sy(np.asarray(ys, float))
        runs, run = [], []
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
                body.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{color}"/>')
            elif r:
                body.append(
                    f'<polyline points="{" ".join(r)}" fill="none" stroke="{color}" '
                    f'stroke-width="1.8"{dash}/>'
                )
    if logx:
        decades = range(math.ceil(area.x0), math.floor(area.x1) + 1)
        xt = [(area.sx(v), _fmt(10**v)) for v in decades]
    else:
        xt = area.xticks(clip=False)
    key = legend([s[0] for s in series], PALETTE, area.pw) if len(series) > 1 else ""
    return area.draw(x, y, "".join(body) + key, xt, title, xlabel, ylabel)


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
) -> str:
    """Vertical bars, one per label, optionally each with its own colour and its value on top.

    A static-picture building block (chapter 0)."""
    vals = np.nan_to_num(np.asarray(values, float))
    top = ymax if ymax is not None else max(float(vals.max(initial=0)), 1e-12) * 1.1
    area = _PlotArea(w, h, (0, 1), (0, top), bottom=46)  # x: categories, no x axis; 46: labels
    pw, ph = area.pw, area.ph
    n = max(len(labels), 1)
    slot = pw / n
    body = []
    for i, (label, v) in enumerate(zip(labels, vals)):
        bh = max(min(v / top, 1.0), 0.0) * ph
        color = colors[i] if colors else PALETTE[0]
        body.append(
            f'<rect x="{i * slot + slot * 0.12:.1f}" y="{ph - bh:.1f}" width="{slot * 0.76:.1f}" '
            f'height="{bh:.1f}" fill="{color}"/>'
        )
        if annotate:
            body.append(text_element(i * slot + slot / 2, ph - bh - 3, f"{v:.2f}", 9))
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
) -> str:
    """Points ``(N, 2)``; the first ``max_labels`` labels are written next to their point.

    A static-picture building block (chapter 0)."""
    pts = np.asarray(points, float)
    area = _PlotArea(w, h, _range(pts[:, 0]), _range(pts[:, 1]))
    sx, sy = area.sx, area.sy
    body = []
    for i, (a, b) in enumerate(pts):
        color = colors[i] if colors else PALETTE[0]
        body.append(
            f'<circle cx="{sx(a):.1f}" cy="{sy(b):.1f}" r="2.6" fill="{color}" '
            'fill-opacity="0.75"/>'
        )
        if labels is not None and i < max_labels and labels[i]:
            right = sx(a) > 0.6 * area.pw  # labels near the right edge go to the left of the point
            lx = sx(a) - 4 if right else sx(a) + 4
            body.append(
                text_element(
                    lx, sy(b) - 3, _short(labels[i], 14), 9, anchor="end" if right else "start"
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
