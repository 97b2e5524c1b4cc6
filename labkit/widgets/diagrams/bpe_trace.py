"""A BPE merge trace: one word, merged step by step by a tokeniser's learned merges.

Taught in chapter 1 (section 6, byte-pair encoding).

``bpe_trace(word, merges)`` replays the merges, in the order they were learned, on one word
and keeps every step at which something changed; ``bpe_trace_diagram(word, merges)`` draws
those steps as rows of boxes, one box per symbol, each row labelled with the merge that made
it (its rank in the list and the two symbols joined)::

    from labkit.widgets.diagrams.bpe_trace import bpe_trace_diagram

    bpe_trace_diagram(" the", [("h", "e"), (" ", "t"), (" t", "he")])

A leading space is drawn as "␣", as BPE tokenisers keep it inside the word (" the").
"""

from __future__ import annotations

from collections.abc import Sequence

from labkit.tokenizers.bpe import merge_pair
from labkit.widgets.display import StaticFigure
from labkit.widgets.svg import INK, PALETTE, compose, text_element

__all__ = ["bpe_trace", "bpe_trace_diagram"]

#: One step of a trace: (rank of the merge in the list, the merged pair, the symbols after it).
TraceStep = tuple[int, tuple[str, str], list[str]]


def bpe_trace(word: str, merges: Sequence[tuple[str, str]]) -> list[TraceStep]:
    """Replay ``merges`` (in order) on ``word``: the steps that changed it.

    Returns ``[(rank, (a, b), symbols), ...]`` where ``rank`` is the merge's 0-based position
    in ``merges`` and ``symbols`` the word's pieces after that merge. The word starts as its
    characters; merges that do not occur in it are skipped. The last step's ``symbols`` are
    the word's tokens.

    Taught in chapter 1.
    """
    if not isinstance(word, str) or not word:
        raise ValueError(f"word must be a non-empty string, got {word!r}")
    symbols = list(word)
    steps: list[TraceStep] = []
    for rank, pair in enumerate(merges):
        if len(pair) != 2:
            raise ValueError(f"merge {rank} is {pair!r}: each merge is a pair (a, b) of strings")
        merged = merge_pair(symbols, (pair[0], pair[1]))
        if merged != symbols:
            steps.append((rank, (pair[0], pair[1]), merged))
            symbols = merged
        if len(symbols) == 1:
            break
    return steps


def _shown(symbol: str) -> str:
    return symbol.replace(" ", "␣").replace("\n", "⏎")


def _row(y: float, symbols: list[str], new: int | None, x0: float) -> tuple[str, float]:
    """One row of boxes; the box at index ``new`` (the merge's result) is highlighted."""
    parts, x = [], x0
    for i, symbol in enumerate(symbols):
        label = _shown(symbol)
        w = 16 + 9 * len(label)
        fill = PALETTE[1] if i == new else "#eef3f9"
        opacity = "0.35" if i == new else "1"
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="24" rx="3" fill="{fill}" '
            f'fill-opacity="{opacity}" stroke="{INK}" stroke-width="1"/>'
        )
        parts.append(text_element(x + w / 2, y + 16, label, 13, font_family="monospace"))
        x += w + 6
    return "".join(parts), x


def bpe_trace_diagram(word: str, merges: Sequence[tuple[str, str]]) -> StaticFigure:
    """The merges of ``merges`` applied to ``word``, one row per step, as a static SVG picture.

    The top row is the word as characters; each following row shows the pieces after one
    merge, with the new piece highlighted and the merge named on the left (``#rank: a + b``).
    The bottom row is how the tokeniser cuts the word.

    Taught in chapter 1.
    """
    steps = bpe_trace(word, merges)
    rows: list[tuple[str, list[str], int | None]] = [("characters", list(word), None)]
    previous = list(word)
    for rank, (a, b), symbols in steps:
        # the first position where the new piece a + b appears and was not there before
        new = next(
            (
                i
                for i, s in enumerate(symbols)
                if s == a + b and (i >= len(previous) or previous[i] != s)
            ),
            None,
        )
        rows.append((f"merge #{rank + 1}: {_shown(a)} + {_shown(b)}", symbols, new))
        previous = symbols
    label_w = 14 + 7 * max(len(label) for label, _, _ in rows)
    parts, right = [], 0.0
    for r, (label, symbols, new) in enumerate(rows):
        y = 32 + r * 34
        parts.append(text_element(10, y + 16, label, 11, anchor="start"))
        row, end = _row(y, symbols, new, label_w)
        parts.append(row)
        right = max(right, end)
    n_tokens = len(rows[-1][1])
    foot_y = 32 + len(rows) * 34 + 8
    parts.append(
        text_element(
            10,
            foot_y,
            f"{len(word)} characters → {n_tokens} token{'s' if n_tokens != 1 else ''} "
            f"after {len(steps)} of the {len(merges)} merges touched this word",
            10,
            anchor="start",
        )
    )
    width = int(max(right + 10, 360))
    return compose(
        width,
        int(foot_y + 12),
        *parts,
        caption=f"BPE merge trace of {_shown(word)!r}: the learned merges, in order",
        alt=f"BPE merge trace of {word!r}: {len(steps)} merges, {n_tokens} token(s) at the end",
    )
