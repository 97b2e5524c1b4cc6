"""The skip-gram window: which (centre, context) training pairs one sentence gives.

Taught in chapter 1 (section 7, word2vec's skip-gram).

``skipgram_pairs(words, window)`` lists the pairs in the order chapter 1's shifted slices
build them (offset +1, ..., +c, then -1, ..., -c); ``skipgram_diagram(words, centre, window)``
draws the sentence as a row of boxes with one centre word, its context words within
``window`` positions (arrows labelled with the offset) and, underneath, the shifted-slices
view of one offset: ``words[:-1]`` above ``words[1:]``, so each column is one pair::

    from labkit.widgets.diagrams.skipgram import skipgram_diagram

    skipgram_diagram("One day , Kai gave Adam a net".split(), centre=3, window=2)
"""

from __future__ import annotations

from collections.abc import Sequence

from labkit.widgets.display import StaticFigure
from labkit.widgets.svg import GREY, INK, PALETTE, compose, text_element

__all__ = ["skipgram_diagram", "skipgram_pairs"]

_DEFS = (
    '<defs><marker id="sg-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
    f'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
    f'fill="{INK}"/></marker></defs>'
)


def _check(words: Sequence[str], window: int) -> None:
    if not isinstance(words, Sequence) or isinstance(words, str) or len(words) < 2:
        raise ValueError("words must be a list of at least 2 words, e.g. 'a dog ran'.split()")
    if not isinstance(window, int) or isinstance(window, bool) or window < 1:
        raise ValueError(f"window must be an int >= 1, got {window!r}")


def skipgram_pairs(words: Sequence[str], window: int = 2) -> list[tuple[str, str]]:
    """Every (centre, context) pair of ``words`` with the two at most ``window`` apart.

    Ordered as the shifted slices make them: for offset j = 1 .. window, the pairs
    ``zip(words[:-j], words[j:])`` (context j to the right), then for the same offsets
    ``zip(words[j:], words[:-j])`` (context j to the left). Each word pair at distance
    ``d <= window`` therefore appears twice, once in each direction.

    Taught in chapter 1.
    """
    _check(words, window)
    right = [p for j in range(1, window + 1) for p in zip(words[:-j], words[j:])]
    left = [p for j in range(1, window + 1) for p in zip(words[j:], words[:-j])]
    return right + left


def _box(x: float, y: float, w: float, word: str, fill: str, opacity: str = "1") -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="24" rx="3" fill="{fill}" '
        f'fill-opacity="{opacity}" stroke="{INK}" stroke-width="1"/>'
        + text_element(x + w / 2, y + 16, word, 12)
    )


def skipgram_diagram(
    words: Sequence[str], centre: int | None = None, window: int = 2
) -> StaticFigure:
    """The skip-gram window around one centre word, and the shifted slices of offset +1.

    Top: the sentence, the centre word (``words[centre]``, the middle word by default)
    highlighted, its context words (at most ``window`` positions away) shaded, and one
    arrow per training pair, each context word labelled with its offset (-2, -1, +1, +2 ...).
    Bottom: the shifted-slices view, ``words[:-1]`` over ``words[1:]``: each column is one
    (centre, context) pair of offset +1, for every centre at once.

    Taught in chapter 1.
    """
    _check(words, window)
    n = len(words)
    centre = n // 2 if centre is None else centre
    if not isinstance(centre, int) or not 0 <= centre < n:
        raise ValueError(f"centre must be a position 0..{n - 1}, got {centre!r}")
    cell = max(54.0, 12 + 8 * max(len(w) for w in words))
    step = cell + 6
    x0 = 14.0
    parts = [_DEFS]
    # --- top: the window around one centre word
    y = 96.0
    for i, word in enumerate(words):
        x = x0 + i * step
        distance = abs(i - centre)
        if i == centre:
            parts.append(_box(x, y, cell, word, PALETTE[1], "0.45"))
            parts.append(text_element(x + cell / 2, y + 42, "centre", 10, font_weight="bold"))
        elif distance <= window:
            parts.append(_box(x, y, cell, word, PALETTE[0], "0.25"))
        else:
            parts.append(_box(x, y, cell, word, "#f4f4f4"))
    cx = x0 + centre * step + cell / 2
    pairs_here = []
    for i in range(max(0, centre - window), min(n, centre + window + 1)):
        if i == centre:
            continue
        tx = x0 + i * step + cell / 2
        lift = 16 + 14 * abs(i - centre)
        parts.append(
            f'<path d="M {cx:.1f} {y:.1f} Q {(cx + tx) / 2:.1f} {y - 2 * lift:.1f} '
            f'{tx:.1f} {y - 2:.1f}" fill="none" stroke="{INK}" stroke-width="1.1" '
            'marker-end="url(#sg-arrow)"/>'
        )
        parts.append(text_element(tx, y + 42, f"offset {i - centre:+d}", 10))
        pairs_here.append(f"({words[centre]}, {words[i]})")
    parts.append(
        text_element(
            x0,
            y + 62,
            f"window c = {window}: centre {words[centre]!r} gives the pairs "
            + " ".join(pairs_here),
            11,
            anchor="start",
        )
    )
    # --- bottom: shifted slices for offset +1
    yb = y + 100
    parts.append(
        text_element(
            x0,
            yb - 10,
            "offset +1 for every centre at once: centre = words[:-1] over context = words[1:]",
            11,
            anchor="start",
            font_weight="bold",
        )
    )
    for i in range(n - 1):
        x = x0 + i * step
        parts.append(_box(x, yb, cell, words[i], PALETTE[1], "0.3"))
        parts.append(_box(x, yb + 34, cell, words[i + 1], PALETTE[0], "0.2"))
        parts.append(
            f'<line x1="{x + cell / 2:.1f}" y1="{yb + 24:.1f}" x2="{x + cell / 2:.1f}" '
            f'y2="{yb + 34:.1f}" stroke="{GREY}" stroke-width="2"/>'
        )
    parts.append(text_element(x0 + (n - 1) * step + 4, yb + 16, "centre", 10, anchor="start"))
    parts.append(text_element(x0 + (n - 1) * step + 4, yb + 50, "context", 10, anchor="start"))
    total = len(skipgram_pairs(words, window))
    parts.append(
        text_element(
            x0,
            yb + 80,
            f"offsets +1..+{window} and -1..-{window}, stacked with torch.cat: "
            f"{total} pairs from these {n} words",
            11,
            anchor="start",
        )
    )
    width = int(max(x0 + n * step + 50, 560))
    return compose(
        width,
        int(yb + 92),
        *parts,
        caption="Skip-gram: each word predicts its neighbours within the window",
        alt=f"skip-gram window diagram: centre {words[centre]!r}, window {window}, {total} pairs",
    )
