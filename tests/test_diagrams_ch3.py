"""Chapter 3's diagrams: the GPT stack and the encoder–decoder are valid, self-contained SVG."""

from __future__ import annotations

import xml.dom.minidom

import pytest

from labkit.widgets.diagrams.encdec import encdec_diagram
from labkit.widgets.diagrams.gpt_stack import gpt_stack_diagram
from labkit.widgets.display import StaticFigure


def _texts(figure: StaticFigure) -> str:
    dom = xml.dom.minidom.parseString(figure.svg)  # raises on invalid XML (e.g. repeated attrs)
    return " ".join(
        node.firstChild.data for node in dom.getElementsByTagName("text") if node.firstChild
    )


def test_gpt_stack_names_every_part_in_order() -> None:
    figure = gpt_stack_diagram()
    text = _texts(figure)
    for part in (
        "wte",
        "wpe",
        "LayerNorm ln1",
        "causal self-attention",
        "LayerNorm ln2",
        "FFN",
        "final LayerNorm ln_f",
        "lm_head",
        "N ×",
        "tied",
    ):
        assert part in text, part
    assert "<script" not in figure.svg and "http://" not in figure.svg.replace(
        "http://www.w3.org", ""
    )
    assert figure.to_html().startswith('<img src="data:image/svg+xml;base64,')


def test_gpt_stack_writes_a_models_numbers() -> None:
    text = _texts(gpt_stack_diagram(n_layer=2, d_model=64, vocab_size=40))
    assert "N = 2 ×" in text and "d = 64" in text and "V = 40" in text
    with pytest.raises(ValueError, match="n_layer"):
        gpt_stack_diagram(n_layer=0)


def test_encdec_has_the_cross_attention_arrow_into_the_decoder() -> None:
    figure = encdec_diagram()
    text = _texts(figure)
    for part in (
        "ENCODER",
        "DECODER",
        "memory",
        "cross-attention",
        "causal self-attention",
        "keys K and",
        "values V",
        "queries Q",
        "lm_head",
    ):
        assert part in text, part
    assert 'marker-end="url(#ed-cross)"' in figure.svg  # the red memory → cross-attention arrow
