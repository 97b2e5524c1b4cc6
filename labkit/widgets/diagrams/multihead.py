"""The data flow of multi-head attention, as a static SVG diagram.

Taught in chapter 2 (section 5, multi-head attention shape by shape).

``multihead_diagram()`` draws, left to right: the input ``x`` (B, T, D); the three
projections W^Q, W^K, W^V; Q, K and V cut into h blocks of D/h columns (``split_heads``, giving
(B, h, T, D/h)); one scaled dot-product attention per head; the heads' outputs put side by
side again (``merge_heads``, Concat, (B, T, D)); and the output projection W^O. Each head has
its own colour, so the reader can follow head *i*'s block of columns through the picture::

    from labkit.widgets.diagrams.multihead import multihead_diagram

    multihead_diagram(n_heads=4)              # symbolic shapes (B, T, D)
    multihead_diagram(n_heads=2, B=2, T=5, D=8)  # also the numbers of a worked example
"""

from __future__ import annotations

from labkit.widgets.display import StaticFigure
from labkit.widgets.svg import INK, PALETTE, compose, escape, text_element

__all__ = ["multihead_diagram"]

_HEAD_COLOURS = (*PALETTE, "#e377c2", "#17becf")
_DEFS = (
    '<defs><marker id="mh-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
    f'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
    f'fill="{INK}"/></marker></defs>'
)


def _rect(x: float, y: float, w: float, h: float, fill: str = "white", **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="3" '
        f'fill="{fill}" stroke="{INK}" stroke-width="1"{extra}/>'
    )


def _arrow(x1: float, y1: float, x2: float, y2: float) -> str:
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{INK}" '
        'stroke-width="1.2" marker-end="url(#mh-arrow)"/>'
    )


def _banded(x: float, y: float, w: float, h: float, n: int, opacity: float = 0.55) -> str:
    """A (T × D) block drawn as n vertical bands, one per head, in the heads' colours."""
    band = w / n
    parts = [
        f'<rect x="{x + i * band:.1f}" y="{y:.1f}" width="{band:.1f}" height="{h:.1f}" '
        f'fill="{_HEAD_COLOURS[i % len(_HEAD_COLOURS)]}" fill-opacity="{opacity}"/>'
        for i in range(n)
    ]
    parts.append(_rect(x, y, w, h, fill="none"))
    return "".join(parts)


def _shape(x: float, y: float, names: str, numbers: tuple[int, ...] | None) -> str:
    """A shape in two short lines, symbolic on top, numbers (when given) below."""
    text = text_element(x, y, f"({names})", 10)
    if numbers is not None:
        text += text_element(x, y + 13, "(" + ", ".join(str(v) for v in numbers) + ")", 10)
    return text


def _formula(i: int) -> str:
    sub = str(i).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))
    return f"softmax(Q{sub}K{sub}ᵀ/√(D/h)) V{sub}"


def multihead_diagram(
    n_heads: int = 4, *, B: int | None = None, T: int | None = None, D: int | None = None
) -> StaticFigure:
    """The data flow of multi-head attention (projections, split, attention per head, concat,
    W^O) as a static SVG picture, one colour per head.

    ``n_heads`` heads are drawn (2 to 8). When ``B``, ``T`` and ``D`` are all given, the
    shapes also show their numbers (``D`` must be divisible by ``n_heads``).

    Taught in chapter 2.
    """
    if not isinstance(n_heads, int) or not 2 <= n_heads <= 8:
        raise ValueError(f"n_heads must be an int from 2 to 8 (drawn one by one), got {n_heads!r}")
    given = [v for v in (B, T, D) if v is not None]
    if given and len(given) != 3:
        raise ValueError("give all three of B, T and D (or none, for symbolic shapes)")
    if D is not None and D % n_heads:
        raise ValueError(f"D = {D} is not divisible by n_heads = {n_heads}: D/h must be whole")
    h = n_heads
    full = (B, T, D) if B is not None and T is not None and D is not None else None
    split = (B, h, T, D // h) if B is not None and T is not None and D is not None else None

    parts = [_DEFS]
    title, sub, mid, bottom = 40, 54, 210, 356  # title rows, the middle line, shape rows
    # 1. the input
    parts += [
        _rect(14, mid - 40, 56, 80, fill="#f4f4f4"),
        text_element(42, mid + 5, "x", 16, font_style="italic"),
        _shape(42, mid + 56, "B, T, D", full),
    ]
    # 2. the three projections and their outputs, cut into h blocks of columns
    for name, y in (("Q", mid - 100), ("K", mid), ("V", mid + 100)):
        parts += [
            _arrow(70, mid, 112, y),
            _rect(114, y - 18, 54, 36, fill="#fff8e6"),
            text_element(139, y + 5, "W", 13),
            text_element(151, y - 2, name, 9),
            _arrow(168, y, 196, y),
            _banded(198, y - 30, 96, 60, h),
            text_element(246, y + 5, name, 14, font_weight="bold"),
            _arrow(294, y, 334, mid + (y - mid) * 0.3),
        ]
    parts += [
        text_element(141, title, "projections", 11, font_weight="bold"),
        text_element(141, sub, "(each D × D)", 10),
        text_element(246, title, "Q, K, V", 11, font_weight="bold"),
        text_element(246, sub, "h blocks of D/h", 10),
        _shape(246, bottom, "B, T, D", full),
    ]
    # 3. split_heads and one attention per head
    gap = 6
    head_h = min(42.0, (250 - (h - 1) * gap) / h)
    stack = h * head_h + (h - 1) * gap
    y0 = mid - stack / 2
    for i in range(h):
        y = y0 + i * (head_h + gap)
        colour = _HEAD_COLOURS[i % len(_HEAD_COLOURS)]
        parts += [
            f'<rect x="338" y="{y:.1f}" width="196" height="{head_h:.1f}" rx="4" '
            f'fill="{colour}" fill-opacity="0.22" stroke="{colour}" stroke-width="1.5"/>',
            text_element(436, y + head_h / 2 - 3, f"head {i + 1}", 10, font_weight="bold"),
            text_element(436, y + head_h / 2 + 10, _formula(i + 1), 10),
            _arrow(534, y + head_h / 2, 578, mid + (y + head_h / 2 - mid) * 0.25),
        ]
    parts += [
        text_element(436, title, "split_heads, then attention per head", 11, font_weight="bold"),
        text_element(436, sub, "weights (B, h, T, T); the same mask in every head", 10),
        _shape(436, bottom, "B, h, T, D/h", split),
    ]
    # 4. concat, W^O, output
    parts += [
        text_element(628, title, "Concat (merge_heads)", 11, font_weight="bold"),
        text_element(628, sub, "heads side by side", 10),
        _banded(580, mid - 30, 96, 60, h, opacity=0.75),
        _shape(628, bottom, "B, T, D", full),
        _arrow(676, mid, 704, mid),
        _rect(706, mid - 18, 54, 36, fill="#fff8e6"),
        text_element(731, mid + 5, "W", 13),
        text_element(743, mid - 2, "O", 9),
        text_element(733, title, "mix heads", 11, font_weight="bold"),
        text_element(733, sub, "(D × D)", 10),
        _arrow(760, mid, 790, mid),
        _rect(792, mid - 40, 56, 80, fill="#f4f4f4"),
        text_element(820, mid + 5, "out", 14),
        _shape(820, mid + 56, "B, T, D", full),
    ]
    legend = (
        "Block i of the columns of W^Q, W^K, W^V (D/h columns each) feeds head i only; "
        f"h = {h} heads of D/h features cost about as much as one head of D."
    )
    parts.append(text_element(14, 394, legend, 10, anchor="start"))
    return compose(
        866,
        404,
        f'<g transform="translate(4,0)">{"".join(parts)}</g>',
        caption="Multi-head attention: the data flow, one colour per head",
        alt=f"diagram of multi-head attention with {h} heads: project, split, attend, concat, W^O",
    )
