"""The encoder–decoder Transformer with its cross-attention, as a static SVG diagram.

Taught in chapter 3 (section 2, encoder, decoder, encoder–decoder).

``encdec_diagram()`` draws two columns. The encoder (left) reads the source tokens:
embeddings + positions, then ``N ×`` a block of *bidirectional* self-attention and an FFN;
its output is the ``memory`` (B, S, d). The decoder (right) reads the target so far:
embeddings + positions, then ``N ×`` a block of *causal* self-attention, **cross-attention**
and an FFN, then a final LayerNorm and the output head. The cross-attention arrow carries
the memory into every decoder block as keys and values; the queries come from the decoder
itself. (Residual connections and LayerNorms are left out to keep the picture readable; the
GPT-stack diagram, :mod:`labkit.widgets.diagrams.gpt_stack`, draws them.)::

    from labkit.widgets.diagrams.encdec import encdec_diagram

    encdec_diagram()
"""

from __future__ import annotations

from labkit.widgets.display import StaticFigure
from labkit.widgets.svg import GREY, INK, PALETTE, compose, escape, text_element

__all__ = ["encdec_diagram"]

_MARKER = "ed-arrow"
_CROSS_MARKER = "ed-cross"
_DEFS = (
    "<defs>"
    f'<marker id="{_MARKER}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
    f'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
    f'fill="{INK}"/></marker>'
    f'<marker id="{_CROSS_MARKER}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
    f'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
    f'fill="{PALETTE[3]}"/></marker>'
    "</defs>"
)
_EMBED, _ATTN, _CROSS, _FFN, _NORM, _HEAD = (
    "#dbe9f6",
    "#fde3c8",
    "#f6d2d2",
    "#d5efd5",
    "#eeeeee",
    "#e8dcf0",
)


def _box(cx: float, y: float, w: float, h: float, label: str, fill: str, size: int = 11) -> str:
    """A labelled box centred horizontally on ``cx``, top at ``y``."""
    return (
        f'<rect x="{cx - w / 2:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="4" '
        f'fill="{fill}" stroke="{INK}" stroke-width="1"/>'
        + text_element(cx, y + h / 2 + size * 0.35, label, size)
    )


def _arrow(x1: float, y1: float, x2: float, y2: float) -> str:
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{INK}" '
        f'stroke-width="1.2" marker-end="url(#{_MARKER})"/>'
    )


def _frame(cx: float, top: float, bottom: float, label: str, right: bool) -> str:
    x = cx + 95 if right else cx - 95
    return (
        f'<rect x="{cx - 90:.1f}" y="{top:.1f}" width="180" height="{bottom - top:.1f}" rx="8" '
        f'fill="none" stroke="{GREY}" stroke-width="1.5" stroke-dasharray="6 4"/>'
        + text_element(
            x, top + 18, label, 13, anchor="start" if right else "end", font_weight="bold"
        )
    )


def _coloured(x: float, y: float, text: str, colour: str, anchor: str = "middle") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="10" text-anchor="{anchor}" '
        f'fill="{colour}">{escape(text)}</text>'
    )


def encdec_diagram() -> StaticFigure:
    """The encoder–decoder (encoder stack, decoder stack, the cross-attention arrow) as SVG.

    Taught in chapter 3.
    """
    width, height = 630, 560
    enc, dec = 150, 470
    p: list[str] = [_DEFS]
    p.append(text_element(enc, 22, "ENCODER (bidirectional)", 12, font_weight="bold"))
    p.append(text_element(dec, 22, "DECODER (causal)", 12, font_weight="bold"))
    # encoder column, bottom to top
    p.append(text_element(enc, 546, "source ids  (B, S)", 11))
    p.append(_arrow(enc, 532, enc, 512))
    p.append(_box(enc, 478, 170, 32, "embeddings + positions", _EMBED, 10))
    p.append(_arrow(enc, 478, enc, 446))
    p.append(_frame(enc, 300, 444, "N ×", right=False))
    p.append(_box(enc, 394, 150, 34, "self-attention", _ATTN))
    p.append(text_element(enc, 440, "every token sees every token", 9))
    p.append(_arrow(enc, 394, enc, 366))
    p.append(_box(enc, 330, 150, 34, "FFN", _FFN))
    p.append(_arrow(enc, 330, enc, 262))
    p.append(_box(enc, 226, 150, 34, "memory  (B, S, d)", _NORM))
    # decoder column, bottom to top
    p.append(text_element(dec, 546, "target so far  (B, T)", 11))
    p.append(_arrow(dec, 532, dec, 512))
    p.append(_box(dec, 478, 170, 32, "embeddings + positions", _EMBED, 10))
    p.append(_arrow(dec, 478, dec, 452))
    p.append(_frame(dec, 194, 450, "× N", right=True))
    p.append(_box(dec, 400, 150, 34, "causal self-attention", _ATTN, 10))
    p.append(text_element(dec, 446, "each token sees the past", 9))
    p.append(_arrow(dec, 400, dec, 348))
    p.append(_coloured(dec + 6, 378, "queries Q", INK, anchor="start"))
    p.append(_box(dec, 312, 150, 34, "cross-attention", _CROSS))
    p.append(_arrow(dec, 312, dec, 272))
    p.append(_box(dec, 236, 150, 34, "FFN", _FFN))
    p.append(_arrow(dec, 236, dec, 180))
    p.append(_box(dec, 146, 150, 32, "final LayerNorm", _NORM, 10))
    p.append(_arrow(dec, 146, dec, 114))
    p.append(_box(dec, 80, 150, 32, "lm_head  d → V", _HEAD, 10))
    p.append(_arrow(dec, 80, dec, 50))
    p.append(text_element(dec, 44, "logits  (B, T, V)", 11))
    # the cross-attention arrow: memory -> every decoder block's cross-attention, as K and V
    p.append(
        f'<path d="M {enc + 75:.1f} 243 H {enc + 145:.1f} V 329 H {dec - 77:.1f}" fill="none" '
        f'stroke="{PALETTE[3]}" stroke-width="2" marker-end="url(#{_CROSS_MARKER})"/>'
    )
    p.append(_coloured(enc + 152, 300, "keys K and", PALETTE[3], anchor="start"))
    p.append(_coloured(enc + 152, 313, "values V", PALETTE[3], anchor="start"))
    p.append(_coloured(enc + 152, 346, "(every block)", PALETTE[3], anchor="start"))
    alt = "Encoder-decoder Transformer: the encoder's memory feeds the decoder's cross-attention"
    return compose(width, height, *p, alt=alt)
