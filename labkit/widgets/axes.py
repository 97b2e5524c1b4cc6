"""Axes of the static pictures: tick values and labels, linear and log scales, limits.

A log axis places each value at its log10 but labels the value itself (1, 2, 5, 10, 20), as
plotly does, so a static picture reads like the live figure. Used by
:mod:`labkit.widgets.svg`; taught in chapter 0 (how the course's pictures work).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Axis"]

_Span = tuple[float, float]  # a data range (low, high)


def _fmt(value: float) -> str:
    """A tick label: 0.5, 1.5, 20, 1960 and 2000 (not 2e3), 10k, 3M, 1e-3."""
    if value == 0:
        return "0"
    size = abs(value)
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e4, "k")):
        if size >= scale:
            scale = 1e3 if suffix == "k" else scale
            return f"{value / scale:.3g}{suffix}"
    if size >= 1000:
        return f"{value:.0f}"  # years and the like: 1960, 2000
    if size < 0.01:
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


def _log_ticks(lo: float, hi: float) -> list[float]:
    """Round values (not logs) for a log axis spanning 10^lo … 10^hi: the powers of ten, with
    2× and 5× when fewer than three fit, and plain round numbers inside one decade."""
    if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
        return []
    inside = [10.0**k for k in range(math.floor(lo) - 1, math.ceil(hi) + 1)]
    ticks = [v for v in inside if lo - 1e-9 <= math.log10(v) <= hi + 1e-9]
    if len(ticks) < 3:
        more = sorted(v * m for v in inside for m in (1, 2, 5))
        ticks = [v for v in more if lo - 1e-9 <= math.log10(v) <= hi + 1e-9]
    if len(ticks) < 3:
        ticks = [v for v in _nice_ticks(10**lo, 10**hi) if v > 0]
    while len(ticks) > 8:
        ticks = ticks[::2]
    return ticks


@dataclass
class Axis:
    """How a chart draws one axis: ``log`` scale, fixed ``lim`` (data values; ``None`` = from
    the data, so ``(0, None)`` starts at zero), the ``ticks`` to label (data values; ``None`` =
    round numbers) and whether it is ``visible``. A log axis places values by their log10 and
    labels the values themselves. A static-picture building block (chapter 0)."""

    log: bool = False
    lim: tuple[float | None, float | None] = (None, None)
    ticks: Sequence[float] | None = None
    visible: bool = True

    def place(self, values: Any) -> np.ndarray:
        """Where ``values`` go along the axis: themselves, or their log10 (NaN for ≤ 0)."""
        v = np.asarray(values, dtype=float)
        if not self.log:
            return v
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log10(np.where(v > 0, v, np.nan))

    def span(self, values: Any, pad: float = 0.05) -> _Span:
        """The drawn range (in :meth:`place` units) of ``values``, with ``lim`` applied."""
        lo, hi = _range(self.place(np.ravel(np.asarray(values, dtype=float))), pad)
        low, high = (self.place([v])[0] if v is not None else None for v in self.lim)
        lo = lo if low is None or not math.isfinite(low) else float(low)
        hi = hi if high is None or not math.isfinite(high) else float(high)
        return (lo, hi) if hi > lo else (lo, lo + 1.0)

    def tick_marks(self, lo: float, hi: float) -> list[tuple[float, str]]:
        """``(position in place units, label)`` of the ticks inside ``lo … hi``."""
        if not self.visible:
            return []
        values = self.ticks if self.ticks is not None else None
        if values is None:
            values = _log_ticks(lo, hi) if self.log else _nice_ticks(lo, hi)
        marks = []
        for v in values:
            pos = self.place([v])[0]
            if math.isfinite(pos) and lo - 1e-9 <= pos <= hi + 1e-9:
                marks.append((float(pos), _fmt(float(v))))
        return marks


def _range(values: np.ndarray, pad: float = 0.05) -> _Span:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    if hi == lo:
        return lo - 0.5, hi + 0.5
    span = hi - lo
    return lo - pad * span, hi + pad * span
