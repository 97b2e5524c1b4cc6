"""Chapter 1's diagrams: the BPE merge trace and the skip-gram window (static SVG)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from labkit.widgets.diagrams.bpe_trace import bpe_trace, bpe_trace_diagram
from labkit.widgets.diagrams.skipgram import skipgram_diagram, skipgram_pairs
from labkit.widgets.display import StaticFigure

MERGES = [("h", "e"), (" ", "t"), ("x", "y"), (" t", "he"), (" ", "s")]


def test_bpe_trace_replays_the_merges_that_touch_the_word() -> None:
    steps = bpe_trace(" the", MERGES)
    assert [rank for rank, _, _ in steps] == [0, 1, 3]
    assert [symbols for _, _, symbols in steps] == [[" ", "t", "he"], [" t", "he"], [" the"]]


def test_bpe_trace_of_an_untouched_word_is_empty() -> None:
    assert bpe_trace("zz", MERGES) == []
    with pytest.raises(ValueError, match="non-empty"):
        bpe_trace("", MERGES)


def test_bpe_trace_agrees_with_the_tokenizer_on_a_real_merge_list() -> None:
    from labkit.tokenizers import bpe_merges, train_bpe_tokenizer

    text = "the cat saw the hat. the bat sat on the mat. " * 20
    tok = train_bpe_tokenizer(text, vocab_size=40, byte_level=False)
    merges = bpe_merges(tok)
    for word in [" the", " cat", " mat."[:-1]]:
        steps = bpe_trace(word, merges)
        final = steps[-1][2] if steps else list(word)
        assert final == tok.tokenize(word)


def _svg_ok(fig: StaticFigure) -> ET.Element:
    assert isinstance(fig, StaticFigure)
    root = ET.fromstring(fig.svg)  # well-formed XML
    assert root.tag.endswith("svg")
    assert fig.to_html().startswith('<img src="data:image/svg+xml;base64,')
    return root


def test_bpe_trace_diagram_is_a_static_svg_with_one_row_per_step() -> None:
    fig = bpe_trace_diagram(" the", MERGES)
    _svg_ok(fig)
    assert "merge #1: h + e" in fig.svg and "merge #4: ␣t + he" in fig.svg
    assert "4 characters → 1 token after 3 of the 5 merges" in fig.svg


def test_skipgram_pairs_follow_the_shifted_slices() -> None:
    words = "a b c d".split()
    pairs = skipgram_pairs(words, window=2)
    assert pairs[:3] == [("a", "b"), ("b", "c"), ("c", "d")]  # offset +1
    assert len(pairs) == 2 * (3 + 2)
    assert sorted(pairs) == sorted(
        (words[i], words[j]) for i in range(4) for j in range(4) if 0 < abs(i - j) <= 2
    )
    with pytest.raises(ValueError, match="window"):
        skipgram_pairs(words, window=0)


def test_skipgram_diagram_is_a_static_svg_naming_the_pairs() -> None:
    words = "One day , Kai gave Adam a net".split()
    fig = skipgram_diagram(words, centre=3, window=2)
    _svg_ok(fig)
    assert "(Kai, day) (Kai, ,) (Kai, gave) (Kai, Adam)" in fig.svg
    assert "26 pairs from these 8 words" in fig.svg
    for offset in ("-2", "-1", "+1", "+2"):
        assert f">offset {offset}<" in fig.svg
    with pytest.raises(ValueError, match="centre"):
        skipgram_diagram(words, centre=8)


def test_timeline_figure_has_one_trace_per_family_and_one_row_per_event() -> None:
    from labkit.widgets.diagrams.timeline import timeline_figure

    events = [
        (1948, "statistical", "Shannon", "n-grams"),
        (2013, "neural", "word2vec", "static vectors"),
        (2017.5, "Transformer", "Transformer", "attention"),
        (2018.8, "Transformer", "BERT", "encoder"),
    ]
    fig = timeline_figure(events, title="t")
    assert [t.name for t in fig.data] == ["statistical", "neural", "Transformer"]
    assert list(fig.data[2].y) == [-2, -3] and list(fig.data[2].text) == ["Transformer", "BERT"]
    assert fig.layout.yaxis.visible is False
    with pytest.raises(ValueError, match="event"):
        timeline_figure([(1948, "statistical", "Shannon")])
