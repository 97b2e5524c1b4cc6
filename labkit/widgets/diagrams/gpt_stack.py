"""The whole GPT stack, bottom to top, as a static SVG diagram.

Taught in chapter 3 (section 3, building a GPT from parts).

``gpt_stack_diagram()`` draws token ids entering at the bottom; the token embedding ``wte``
and the position embedding ``wpe`` added together; ``N ×`` the pre-LN block (LayerNorm →
causal self-attention → add, LayerNorm → FFN → add, with the two residual paths drawn
around the sub-layers); the final LayerNorm ``ln_f``; and the output head ``lm_head``, whose
matrix is tied to ``wte`` (a dashed line). Shapes are written beside the arrows::

    from labkit.widgets.diagrams.gpt_stack import gpt_stack_diagram

    gpt_stack_diagram()                               # symbolic: (B, T), (B, T, d), N
    gpt_stack_diagram(n_layer=2, d_model=64, vocab_size=40)  # a model's own numbers
"""

from __future__ import annotations

from labkit.widgets.display import StaticFigure
from labkit.widgets.svg import GREY, INK, PALETTE, compose, escape, text_element

__all__ = ["gpt_stack_diagram"]

_MARKER = "gs-arrow"
_DEFS = (
    f'<defs><marker id="{_MARKER}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
    f'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
    f'fill="{INK}"/></marker></defs>'
)
_EMBED, _ATTN, _FFN, _NORM, _HEAD = "#dbe9f6", "#fde3c8", "#d5efd5", "#eeeeee", "#e8dcf0"


def _box(cx: float, y: float, w: float, h: float, label: str, fill: str, size: int = 11) -> str:
    """A labelled box centred horizontally on ``cx``, top at ``y``."""
    return (
        f'<rect x="{cx - w / 2:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="4" '
        f'fill="{fill}" stroke="{INK}" stroke-width="1"/>'
        + text_element(cx, y + h / 2 + size * 0.35, label, size)
    )


def _arrow(x1: float, y1: float, x2: float, y2: float, dashed: bool = False) -> str:
    dash = ' stroke-dasharray="4 3"' if dashed else ""
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{INK}" '
        f'stroke-width="1.2"{dash} marker-end="url(#{_MARKER})"/>'
    )


def _note(x: float, y: float, text: str, colour: str, rotate: bool = False) -> str:
    """A small coloured label (``text_element`` always draws in INK)."""
    turn = f' transform="rotate(-90 {x:.1f} {y:.1f})"' if rotate else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="10" text-anchor="middle" fill="{colour}"'
        f"{turn}>{escape(text)}</text>"
    )


def _plus(cx: float, cy: float) -> str:
    return (
        f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="8" fill="white" stroke="{INK}"/>'
        + text_element(cx, cy + 4.5, "+", 14)
    )


def _residual(cx: float, y_from: float, y_to: float, offset: float) -> str:
    """A residual path: out to the left of the column at ``y_from``, back in at ``y_to``."""
    x = cx - offset
    return (
        f'<path d="M {cx:.1f} {y_from:.1f} H {x:.1f} V {y_to:.1f} H {cx - 8:.1f}" fill="none" '
        f'stroke="{PALETTE[0]}" stroke-width="1.4" marker-end="url(#{_MARKER})"/>'
    )


def gpt_stack_diagram(
    n_layer: int | None = None, d_model: int | None = None, vocab_size: int | None = None
) -> StaticFigure:
    """The GPT stack (embeddings → N × pre-LN block → final LayerNorm → tied head) as SVG.

    Taught in chapter 3. With ``n_layer``, ``d_model`` and ``vocab_size`` the picture writes
    the model's own numbers beside the symbols ``N``, ``d`` and ``V``.
    """
    for name, value in (("n_layer", n_layer), ("d_model", d_model), ("vocab_size", vocab_size)):
        if value is not None and int(value) < 1:
            raise ValueError(f"{name} must be a positive integer, got {value}")
    n = "N" if n_layer is None else f"N = {n_layer}"
    d = "d" if d_model is None else f"d = {d_model}"
    v = "V" if vocab_size is None else f"V = {vocab_size}"
    width, height, cx = 570, 640, 250
    p: list[str] = [_DEFS]
    # bottom: token ids -> embeddings
    p.append(text_element(cx, 626, "token ids idx  (B, T)", 11))
    p.append(_arrow(cx, 612, cx, 590))
    p.append(_box(cx - 70, 556, 120, 32, "wte: token emb.", _EMBED))
    p.append(_box(cx + 70, 556, 120, 32, "wpe: position emb.", _EMBED))
    p.append(text_element(cx + 70, 602, "positions 0..T−1", 9))
    p.append(_arrow(cx - 70, 556, cx - 8, 536) + _arrow(cx + 70, 556, cx + 8, 536))
    p.append(_plus(cx, 528))
    p.append(text_element(cx + 80, 524, f"(B, T, {d})", 10, anchor="start"))
    p.append(_arrow(cx, 520, cx, 482))
    # the block, drawn once inside a frame labelled N ×
    top, bottom = 120, 478
    p.append(
        f'<rect x="{cx - 150:.1f}" y="{top:.1f}" width="300" height="{bottom - top:.1f}" rx="8" '
        f'fill="none" stroke="{GREY}" stroke-width="1.5" stroke-dasharray="6 4"/>'
    )
    p.append(text_element(cx + 160, top + 20, f"{n} ×", 14, anchor="start", font_weight="bold"))
    p.append(text_element(cx + 160, top + 38, "identical blocks", 10, anchor="start"))
    p.append(text_element(cx + 160, top + 52, "(each its own weights)", 10, anchor="start"))
    p.append(_box(cx, 440, 130, 26, "LayerNorm ln1", _NORM, 10))
    p.append(_arrow(cx, 440, cx, 420))
    p.append(_box(cx, 384, 170, 34, "causal self-attention", _ATTN))
    p.append(_arrow(cx, 384, cx, 362))
    p.append(_plus(cx, 354))
    p.append(_residual(cx, 474, 354, 110))
    p.append(_arrow(cx, 346, cx, 322))
    p.append(_box(cx, 296, 130, 26, "LayerNorm ln2", _NORM, 10))
    p.append(_arrow(cx, 296, cx, 276))
    p.append(_box(cx, 240, 170, 34, "FFN  d → 4d → d", _FFN))
    p.append(_arrow(cx, 240, cx, 218))
    p.append(_plus(cx, 210))
    p.append(_residual(cx, 334, 210, 110))
    p.append(_note(cx - 118, 300, "residual", PALETTE[0]))
    p.append(_arrow(cx, 202, cx, 104))
    p.append(text_element(cx + 8, 160, f"(B, T, {d})", 10, anchor="start"))
    # top: final LayerNorm and the tied head
    p.append(_box(cx, 72, 150, 30, "final LayerNorm ln_f", _NORM))
    p.append(_arrow(cx, 72, cx, 62))
    p.append(_box(cx, 30, 150, 30, "lm_head  d → V", _HEAD))
    p.append(_arrow(cx, 30, cx, 12))
    p.append(text_element(cx + 12, 14, f"logits (B, T, {v})", 10, anchor="start"))
    # weight tying: a dashed line from wte to lm_head
    p.append(
        f'<path d="M {cx - 130:.1f} 572 H {cx - 200:.1f} V 45 H {cx - 77:.1f}" fill="none" '
        f'stroke="{PALETTE[4]}" stroke-width="1.3" stroke-dasharray="5 4"/>'
    )
    p.append(_note(cx - 206, 310, "same matrix (tied to wte)", PALETTE[4], rotate=True))
    alt = f"GPT stack: embeddings, {n} pre-LN blocks, final LayerNorm, tied output head"
    return compose(width, height, *p, alt=alt)
