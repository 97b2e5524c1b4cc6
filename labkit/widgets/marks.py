"""Marks of the static pictures: plotly's marker symbols, error bars and legend swatches.

:func:`marker` draws one plotly marker (circle, square, diamond, x, cross, line-ew, line-ns,
filled or ``-open``); :func:`error_bars` draws vertical error bars placed like the data on a
linear or log :class:`~labkit.widgets.axes.Axis`; :func:`swatch` draws a legend entry's little
picture the way its series is drawn. Used by :mod:`labkit.widgets.svg`; taught in chapter 0
(how the course's pictures work), and chapter 9 reads its seed spreads from the error bars.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from labkit.widgets.axes import Axis

__all__ = ["error_bars", "marker", "swatch"]

DIAMOND = ((0, -1), (1, 0), (0, 1), (-1, 0))  # corners of the diamond symbol, in radii


def marker(cx: float, cy: float, color: str, symbol: Any = "circle", r: float = 3.5) -> str:
    """A plotly marker ``symbol`` of radius ``r`` at ``(cx, cy)``: circle (the default, and any
    symbol not listed), square, diamond, x, cross, line-ew, line-ns; ``-open`` variants are
    outlined. A static-picture building block (chapter 0)."""
    name = symbol if isinstance(symbol, str) else "circle"
    shape = name.replace("-open", "").replace("-dot", "")
    paint = f'fill="{color}"'
    if name.endswith("-open"):
        paint = f'fill="none" stroke="{color}" stroke-width="1.5"'
    strokes = {
        "line-ew": [(-1, 0, 1, 0)],
        "line-ns": [(0, -1, 0, 1)],
        "x": [(-0.8, -0.8, 0.8, 0.8), (-0.8, 0.8, 0.8, -0.8)],
        "cross": [(-1, 0, 1, 0), (0, -1, 0, 1)],
    }
    if shape in strokes:
        return "".join(
            f'<line x1="{cx + a * r:.1f}" y1="{cy + b * r:.1f}" x2="{cx + c * r:.1f}" '
            f'y2="{cy + d * r:.1f}" stroke="{color}" stroke-width="2"/>'
            for a, b, c, d in strokes[shape]
        )
    if shape == "square":
        return (
            f'<rect x="{cx - r:.1f}" y="{cy - r:.1f}" width="{2 * r:.1f}" height="{2 * r:.1f}" '
            f"{paint}/>"
        )
    if shape == "diamond":
        pts = " ".join(f"{cx + a * r:.1f},{cy + b * r:.1f}" for a, b in DIAMOND)
        return f'<polygon points="{pts}" {paint}/>'
    return f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r:g}" {paint}/>'


def _bar(x: float, top: float, bottom: float, color: str, caps: tuple[bool, bool]) -> str:
    """One vertical error bar from pixel ``top`` to ``bottom``, with 6-px caps where asked."""
    ends = [y for y, cap in zip((top, bottom), caps) if cap]
    return "".join(
        f'<line x1="{a:.1f}" y1="{b:.1f}" x2="{c:.1f}" y2="{d:.1f}" stroke="{color}" '
        f'stroke-width="1.3"/>'
        for a, b, c, d in [(x, top, x, bottom)] + [(x - 3, y, x + 3, y) for y in ends]
    )


def error_bars(
    px: Any,
    low: Any,
    high: Any,
    color: str,
    axis: Axis,
    to_pixels: Callable[[float], float],
    height: float,
) -> list[str]:
    """Vertical error bars at x pixels ``px`` from ``low`` to ``high`` (data values, placed on
    ``axis`` like the data, then by ``to_pixels``; pixel 0 is the top of a plot area
    ``height`` high). An end outside the area, or a low end ≤ 0 on a log axis, is clipped to
    the area's edge and drawn without a cap; a bar with a missing (NaN) end is left out.
    A static-picture building block (chapter 0)."""
    low, high = np.asarray(low, float), np.asarray(high, float)
    out = []
    for a, lo, plo, phi in zip(px, low, axis.place(low), axis.place(high)):
        if not (math.isfinite(a) and math.isfinite(lo) and math.isfinite(phi)):
            continue
        bottom = to_pixels(plo) if math.isfinite(plo) else math.inf  # ≤ 0 on a log axis
        top = to_pixels(phi)
        caps = (top >= 0, bottom <= height)
        top, bottom = max(top, 0.0), min(bottom, height)
        if bottom - top >= 0.5:
            out.append(_bar(a, top, bottom, color, caps))
    return out


def swatch(
    color: str, *, line: bool = True, dashed: bool = False, symbol: Any = None, error: bool = False
) -> str:
    """A legend swatch (12×15 px) drawn like its series: a line (``dashed``), or a ``symbol``
    marker with a small error bar behind it when ``error``. A static-picture building block
    (chapter 0)."""
    if line:
        gap = ' stroke-dasharray="4,2"' if dashed else ""
        return f'<line x1="0" y1="7.5" x2="12" y2="7.5" stroke="{color}" stroke-width="2"{gap}/>'
    bar = _bar(6, 1.5, 13.5, color, (True, True)) if error else ""
    return bar + marker(6, 7.5, color, symbol)
