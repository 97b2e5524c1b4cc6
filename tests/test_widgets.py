"""labkit.widgets on the Python side: inputs, synced traits, what the browser receives, fallbacks.

A recording comm stands in for the browser: it keeps every message the widget sends, and
lets a test send the messages a click in the browser would send.
"""

from __future__ import annotations

import base64
import math
import sys
import types
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch
import traitlets

import labkit.widgets as lw
from labkit.generate import next_token_distribution
from labkit.models import TinyGPT
from labkit.nn import sinusoidal_encoding
from labkit.tokenizers import train_bpe_tokenizer, train_char_tokenizer
from labkit.widgets.attention import THUMB, to_attention_array
from labkit.widgets.base import softmax
from labkit.widgets.svg import png_bytes

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
TEXT = "the cat sat on the mat. the dog sat on the log."


class RecordingComm:
    """A stand-in for the kernel's comm to the browser."""

    kernel = object()  # ipywidgets only sends when the comm has a kernel
    comm_id = "recording"

    def __init__(self) -> None:
        self.sent: list[tuple[dict, list]] = []
        self.handler = None

    def send(self, data: dict | None = None, buffers: list | None = None, **_: object) -> None:
        self.sent.append((data or {}, list(buffers or [])))

    def on_msg(self, handler: object) -> None:
        self.handler = handler

    def close(self, *_: object, **__: object) -> None:
        pass

    def updates(self) -> dict:
        """Everything sent so far, merged into one state dict (buffers put back in place)."""
        state: dict = {}
        for data, buffers in self.sent:
            if data.get("method") != "update":
                continue
            update = dict(data["state"])
            for path, buf in zip(data.get("buffer_paths", []), buffers):
                update[path[0]] = bytes(buf)
            state.update(update)
        return state

    def click(self, **state: object) -> None:
        """What the browser sends when the learner clicks (model.set + save_changes)."""
        self.handler(
            {
                "content": {"data": {"method": "update", "state": state, "buffer_paths": []}},
                "buffers": [],
            }
        )


def _listen(widget: traitlets.HasTraits) -> RecordingComm:
    comm = RecordingComm()
    widget.comm = comm
    return comm


def _attention(L: int = 2, H: int = 3, T: int = 5, seed: int = 0) -> np.ndarray:
    scores = np.random.default_rng(seed).normal(size=(L, H, T, T))
    e = np.exp(scores - scores.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def char_model() -> tuple[TinyGPT, object]:
    tok = train_char_tokenizer(TEXT)
    torch.manual_seed(0)
    return TinyGPT(vocab_size=len(tok), n_layer=2, n_head=2, d_model=32, block_size=16), tok


# --------------------------------------------------------------------------------------------
# Attention input checking
# --------------------------------------------------------------------------------------------


def test_attention_shapes_are_normalised() -> None:
    a = _attention()
    assert to_attention_array(a).shape == (2, 3, 5, 5)
    assert to_attention_array(torch.from_numpy(a)[:, None]).shape == (2, 3, 5, 5)  # labkit 5-D
    hf = tuple(torch.from_numpy(layer)[None] for layer in a)  # HF: per layer (1, H, T, T)
    np.testing.assert_array_equal(to_attention_array(hf), a)
    assert to_attention_array(a[0]).shape == (1, 3, 5, 5)
    assert to_attention_array(a[0, 0]).shape == (1, 1, 5, 5)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.ones((2, 3, 5, 4)) / 4, "square"),
        (np.stack([_attention()] * 2, axis=1), "batch of 2"),
        (tuple(torch.ones(2, 3, 5, 5) / 5 for _ in range(2)), "batch of 2"),
        ((), "attn_implementation='eager'"),
        (np.zeros((2, 3, 0, 0)), "empty"),
        (np.ones(5), r"\(layers, heads, T, T\)"),
        (np.full((1, 1, 3, 3), 2.0), "softmax output"),
    ],
)
def test_bad_attention_raises_with_the_fix(bad: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        to_attention_array(bad)


def test_nan_attention_names_the_place() -> None:
    a = _attention()
    a[1, 2, 3, 0] = np.nan
    with pytest.raises(ValueError, match="layer 1, head 2, query 3"):
        lw.AttentionExplorer(a)


def test_tokens_must_match_the_matrix() -> None:
    with pytest.raises(ValueError, match="got 4 tokens for 5 × 5.*convert_ids_to_tokens"):
        lw.AttentionExplorer(_attention(), ["a", "b", "c", "d"])
    with pytest.raises(TypeError, match="not one string"):
        lw.AttentionExplorer(_attention(), "abcde")
    with pytest.raises(TypeError, match="torch tensor or numpy array"):
        lw.AttentionExplorer([[0.5, 0.5], [0.5, 0.5]])


def test_readable_tokens() -> None:
    # GPT-2's byte-level alphabet: printable bytes stand for themselves, the others are
    # shifted to U+0100 and up in order (space → "Ġ", newline → "Ċ").
    printable = {*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)}
    shifted = iter(range(0x100, 0x200))
    alphabet = {b: chr(b) if b in printable else chr(next(shifted)) for b in range(256)}

    def byte_level(text: str) -> str:  # how GPT-2 style BPE writes a piece
        return "".join(alphabet[b] for b in text.encode("utf-8"))

    pieces = [byte_level(" the"), byte_level("\n"), byte_level("你"), byte_level("好")[:2], "[BOS]"]
    assert pieces[0] == "Ġthe" and pieces[1] == "Ċ"
    shown = lw.readable_tokens(pieces)
    assert shown == ["␣the", "↵", "你", "<e5 a5>", "[BOS]"]
    assert lw.readable_tokens(["a", " ", "\n", "猫", "\t"]) == ["a", "␣", "↵", "猫", "⇥"]


# --------------------------------------------------------------------------------------------
# AttentionExplorer: traits and what the browser receives
# --------------------------------------------------------------------------------------------


def _quantized(a: np.ndarray) -> bytes:
    return np.rint(a * 255).astype(np.uint8).tobytes()


def test_explorer_sends_the_current_layer_as_bytes() -> None:
    a = _attention(L=3, H=2, T=6)
    ex = lw.AttentionExplorer(a, list("abcdef"))
    assert ex._layer_bytes == _quantized(a[0]) and ex._layer_shown == 0
    comm = _listen(ex)
    ex.layer = 2
    sent = comm.updates()
    assert sent["layer"] == 2 and sent["_layer_shown"] == 2
    assert sent["_layer_bytes"] == _quantized(a[2])  # what the canvas draws
    # Changing the head re-sends nothing but the number: the browser already has the layer.
    comm.sent.clear()
    ex.head = 1
    assert comm.updates() == {"head": 1}
    np.testing.assert_array_equal(ex.current(), a[2, 1])


def test_a_click_in_the_browser_sets_the_trait_and_fires_observe() -> None:
    ex = lw.AttentionExplorer(_attention(H=4), list("abcde"), view="layer")
    comm = _listen(ex)
    seen = []
    ex.observe(lambda change: seen.append(change["new"]), names="head")
    comm.click(head=3, view="head")
    assert ex.head == 3 and ex.view == "head" and seen == [3]
    comm.click(selected_token=4)
    assert ex.selected_token == 4
    position, token, weight = ex.top_attended(k=2)[0]
    assert weight == pytest.approx(float(ex.current()[4].max()), abs=1e-4)
    assert token == "abcde"[position] and position == int(ex.current()[4].argmax())


def test_trait_values_are_checked() -> None:
    ex = lw.AttentionExplorer(_attention(), list("abcde"))
    with pytest.raises(traitlets.TraitError, match=r"layer must be in 0..1"):
        ex.layer = 2
    with pytest.raises(traitlets.TraitError, match=r"head must be in 0..2"):
        ex.head = -1
    with pytest.raises(traitlets.TraitError, match="view must be one of"):
        ex.view = "grid"
    ex.selected_token = -1  # "none" is allowed
    with pytest.raises(traitlets.TraitError, match="selected_token"):
        ex.selected_token = 5


def test_long_inputs_are_windowed_with_a_notice() -> None:
    T = 300
    a = np.tile(np.eye(T, dtype=np.float32), (1, 2, 1, 1))  # (1, 2, T, T)
    tokens = [f"t{i}" for i in range(T)]
    ex = lw.AttentionExplorer(a, tokens)
    assert ex._window == 256 and "Showing tokens 0–255 of 300" in ex._notice
    assert len(ex._layer_bytes) == 2 * 256 * 256 and len(ex._tokens) == 256
    ex.window_start = 1000  # clamped to the last full window
    assert ex.window_start == 44 and ex._tokens[0] == "t44"
    assert "44–299" in ex._notice
    assert len(ex._thumb_bytes) == 1 * 2 * ex._thumb_size**2 and ex._thumb_size <= 32


def test_thumbnails_keep_thin_patterns() -> None:
    # 64 tokens attending to themselves: the thumbnail the browser gets is THUMB × THUMB,
    # and shrinking keeps each block's maximum, so the thin diagonal stays fully visible.
    ex = lw.AttentionExplorer(np.eye(64, dtype=np.float32)[None, None])
    comm = _listen(ex)
    ex.window_start = 0
    ex.send_state()
    state = comm.updates()
    size = state["_thumb_size"]
    assert size == THUMB
    thumb = np.frombuffer(state["_thumb_bytes"], np.uint8).reshape(size, size)
    np.testing.assert_array_equal(thumb, 255 * np.eye(THUMB, dtype=np.uint8))


def test_explore_runs_a_labkit_model(char_model: tuple) -> None:
    model, tok = char_model
    ex = lw.explore(model, tok, "the cat")
    assert (ex.n_layers, ex.n_heads, ex.n_tokens) == (2, 2, 7)
    assert ex._tokens[3] == "␣"
    np.testing.assert_allclose(ex.attention.sum(-1), 1.0, atol=1e-5)
    assert np.allclose(np.triu(ex.attention[0, 0], 1), 0)  # causal: no looking ahead
    long = lw.explore(model, tok, TEXT)  # 47 tokens > block_size 16
    assert long.n_tokens == 16 and "only the first 16" in long._notice
    with pytest.raises(ValueError, match="text is empty"):
        lw.explore(model, tok, "  ")


def test_explore_runs_a_hugging_face_model() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    tok = train_bpe_tokenizer(TEXT * 3, vocab_size=280)
    config = GPT2Config(
        n_layer=2,
        n_head=2,
        n_embd=32,
        vocab_size=len(tok),
        n_positions=32,
        bos_token_id=2,
        eos_token_id=3,
    )
    model = GPT2LMHeadModel._from_config(config, attn_implementation="eager")
    ex = lw.explore(model, tok, "the cat sat")
    assert (ex.n_layers, ex.n_heads) == (2, 2) and ex._tokens[1].startswith("␣")
    fused = GPT2LMHeadModel._from_config(config, attn_implementation="sdpa")
    with pytest.raises(ValueError, match="attn_implementation='eager'"):
        lw.explore(fused, tok, "the cat sat")


# --------------------------------------------------------------------------------------------
# Static fallbacks and the display switch
# --------------------------------------------------------------------------------------------


def _svg_of(html: str) -> ET.Element:
    prefix = '<img src="data:image/svg+xml;base64,'
    assert html.startswith(prefix)
    return ET.fromstring(base64.b64decode(html[len(prefix) :].split('"')[0]))


def test_output_holds_the_widget_and_a_static_picture() -> None:
    ex = lw.AttentionExplorer(_attention(), ["Ġthe", "Ġcat", "你", "Ċ", "x"])
    data = ex._repr_mimebundle_()
    assert WIDGET_VIEW in data
    svg = _svg_of(data["text/html"])  # valid SVG, no script, no external link
    assert svg.tag.endswith("svg")
    text = ET.tostring(svg, encoding="unicode")
    assert "<script" not in text and "http://" not in text.replace("http://www.w3.org", "")
    assert "␣cat" in text and "你" in text
    try:
        lw.set_display("static")
        data = ex._repr_mimebundle_()
        assert WIDGET_VIEW not in data and "text/html" in data
    finally:
        lw.set_display("auto")
    with pytest.raises(ValueError, match="display mode"):
        lw.set_display("fancy")


def test_png_encoder_writes_a_valid_png() -> None:
    data = png_bytes(np.zeros((3, 4, 3), np.uint8))
    assert (
        data.startswith(b"\x89PNG\r\n\x1a\n")
        and b"IHDR" in data
        and data.endswith(b"IEND\xaeB`\x82")
    )


def test_every_widget_has_a_static_picture(char_model: tuple, tmp_path) -> None:
    model, tok = char_model
    widgets = [
        lw.SoftmaxTemperature(),
        lw.SqrtDkScaling(),
        lw.PositionalEncodingExplorer(max_len=16, d_model=16),
        lw.SamplingExplorer(model, tok, "the"),
        lw.LossPlot(),
        lw.EmbeddingProjector(model, tok),
    ]
    for widget in widgets:
        data = widget._repr_mimebundle_()
        assert WIDGET_VIEW in data, type(widget).__name__
        _svg_of(data["text/html"])
        assert len(data["text/html"]) < 200_000, type(widget).__name__
    path = widgets[0].static().save(tmp_path / "softmax.svg")
    assert ET.parse(path).getroot().tag.endswith("svg")


def test_front_end_assets_are_bundled_and_offline() -> None:
    js = lw.AttentionExplorer._esm
    source = str(js)
    assert "export default" in source and "render" in source
    # Nothing is loaded at render time: no URLs, no imports, no fetches.
    for forbidden in ("http://", "https://", "require(", "import(", "\nimport ", "fetch("):
        assert forbidden not in source, forbidden
    assert ".lk-attn" in str(lw.AttentionExplorer._css)


def test_colab_widget_manager_is_enabled_in_colab(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    output = types.ModuleType("google.colab.output")
    output.enable_custom_widget_manager = lambda: calls.append(True)  # type: ignore[attr-defined]
    colab = types.ModuleType("google.colab")
    colab.output = output  # type: ignore[attr-defined]
    assert lw.enable_colab_widgets() is False and not calls
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab.output", output)
    assert lw.enable_colab_widgets() is True and calls == [True]


# --------------------------------------------------------------------------------------------
# Teaching widgets
# --------------------------------------------------------------------------------------------


def test_softmax_temperature() -> None:
    w = lw.SoftmaxTemperature([2.0, 1.0, 0.0], ["a", "b", "c"], temperature=1.0)
    e = np.exp([2.0, 1.0, 0.0])
    np.testing.assert_allclose(w.fig.data[0].y, e / e.sum())
    w.slider.value = 0.1  # the slider drives the trait and the bars
    assert w.temperature == pytest.approx(0.1)
    assert w.fig.data[0].y[0] > 0.99
    w.temperature = 10.0
    assert w.slider.value == pytest.approx(10.0) and max(w.fig.data[0].y) < 0.4
    with pytest.raises(traitlets.TraitError, match="temperature must be > 0"):
        w.temperature = 0.0
    with pytest.raises(ValueError, match="one label per value"):
        lw.SoftmaxTemperature([1.0, 2.0], ["a"])
    with pytest.raises(ValueError, match="NaN"):
        lw.SoftmaxTemperature([1.0, math.nan])
    np.testing.assert_allclose(softmax(np.array([1000.0, 1000.0])), [0.5, 0.5])


def test_sqrt_dk_scaling_measures_what_the_chapter_claims() -> None:
    w = lw.SqrtDkScaling(d_k=256)
    s = w.stats()
    assert s["std_unscaled"] == pytest.approx(16.0, rel=0.15)
    assert s["std_scaled"] == pytest.approx(1.0, rel=0.15)
    assert s["max_weight_unscaled"] > 0.9 > 0.5 > s["max_weight_scaled"]
    np.testing.assert_allclose(w.fig.data[3].y, s["example_scaled"])
    w.d_k = 4
    np.testing.assert_allclose(w.fig.data[3].y, w.stats(4)["example_scaled"])
    with pytest.raises(traitlets.TraitError, match="d_k must be one of"):
        w.d_k = 100


def test_positional_encoding_explorer() -> None:
    w = lw.PositionalEncodingExplorer(max_len=20, d_model=16, position=5)
    np.testing.assert_allclose(w.encoding(), sinusoidal_encoding(20, 16).numpy())
    sim = w.similarity()
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-6)
    np.testing.assert_allclose(w.fig.data[2].y, sim[5])
    w.d_model = 32
    assert np.asarray(w.fig.data[0].z).shape == (20, 32)
    learned = lw.PositionalEncodingExplorer(encoding=torch.randn(10, 6))
    assert learned.encoding().shape == (10, 6) and learned.dim_slider.disabled
    with pytest.raises(ValueError, match="even d_model"):
        lw.PositionalEncodingExplorer(d_model=15)


def test_sampling_explorer_matches_generate(char_model: tuple) -> None:
    model, tok = char_model
    ids = tok("the c")["input_ids"]
    w = lw.SamplingExplorer(model, tok, "the c", seed=0)
    for t, k, p in [(1.0, 0, 1.0), (0.7, 5, 1.0), (1.5, 0, 0.6), (0.8, 10, 0.9)]:
        w.temperature, w.top_k, w.top_p = t, k, p
        _, after = w.distribution()
        expected = next_token_distribution(model, ids, temperature=t, top_k=k or None, top_p=p)
        np.testing.assert_allclose(after, expected.numpy(), atol=1e-5)
    w.temperature, w.top_k, w.top_p = 1.0, 3, 1.0
    assert int((w.distribution()[1] > 0).sum()) == 3
    assert w.fig.layout.title.text.startswith("3 of")
    before = w.text
    w.sample_button.click()  # the button appends one sampled token
    assert len(w.ids) == len(ids) + 1 and w.text != before
    w.reset()
    assert w.ids == ids and w.text == before
    w.temperature = 0
    before_t0, after_t0 = w.distribution()
    assert after_t0.max() == 1.0 and after_t0.sum() == 1.0
    with pytest.raises(ValueError, match="prompt is empty"):
        lw.SamplingExplorer(model, tok, "")
    with pytest.raises(traitlets.TraitError, match="top_p"):
        w.top_p = 0.0


def test_loss_plot_is_a_training_callback(char_model: tuple) -> None:
    from labkit.train import CausalLMTask, train

    model, tok = char_model
    ids = torch.tensor(tok(TEXT * 4)["input_ids"])
    plot = lw.LossPlot(min_interval=0.0)
    task = CausalLMTask(ids[:150], ids[150:], block_size=16)
    train(
        model,
        task,
        max_steps=10,
        batch_size=2,
        log_every=2,
        eval_every=5,
        eval_batches=1,
        progress=False,
        warmup_steps=1,
        callbacks=[plot],
    )
    assert plot.history["step"] == [2, 4, 6, 8, 10]
    assert plot.history["val_step"] == [5, 10]
    assert list(plot.fig.data[0].y) == plot.history["train"]
    assert "best" in plot.readout.value
    with pytest.raises(ValueError, match="diverged"):
        plot.update(11, train_loss=math.nan)


def test_embedding_projector(char_model: tuple) -> None:
    model, tok = char_model
    w = lw.EmbeddingProjector(model, tok)
    V = model.config.vocab_size
    assert w.coordinates().shape == (V, 2) and len(w.labels) == V
    x = model.wte.weight.detach().numpy().astype(np.float64)
    s = np.linalg.svd(x - x.mean(0), compute_uv=False)
    np.testing.assert_allclose(w.explained_variance, (s**2 / (s**2).sum())[:3], rtol=1e-6)
    w.dims = 3
    assert w.coordinates().shape == (V, 3) and w.fig.data[1].visible
    w.highlight = "a"
    assert "contain 'a' (red)" in w.readout.value
    with pytest.raises(traitlets.TraitError, match="dims must be 2 or 3"):
        w.dims = 4
    with pytest.raises(ValueError, match="NaN"):
        lw.EmbeddingProjector(np.full((4, 3), np.nan))
    small = lw.EmbeddingProjector(np.random.default_rng(0).normal(size=(50, 8)), max_points=10)
    assert len(small.labels) == 10 and "showing 10 of 50" in small.readout.value


def test_svg_text_is_escaped() -> None:
    from labkit.widgets.svg import escape, text_element

    assert escape('<b> & "x"') == "&lt;b&gt; &amp; &quot;x&quot;"
    element = text_element(1, 2, "<script>", font_weight="bold")
    assert "&lt;script&gt;" in element and 'font-weight="bold"' in element
    ET.fromstring(element)  # well-formed


def test_static_figure_repr_is_short() -> None:
    from labkit.widgets.display import StaticFigure

    fig = StaticFigure(svg="<svg>" + "x" * 10_000 + "</svg>", alt="loss curve")
    text = repr(fig)
    assert len(text) < 100 and "loss curve" in text and "10,011" in text
    assert fig._repr_html_().startswith('<img src="data:image/svg+xml;base64,')


# --------------------------------------------------------------------------------------------
# Diagrams (chapter 2: multi-head attention's data flow)
# --------------------------------------------------------------------------------------------


def test_multihead_diagram_is_a_static_svg_with_one_box_per_head() -> None:
    from labkit.widgets.diagrams.multihead import multihead_diagram

    for h in (2, 4, 8):
        fig = multihead_diagram(h)
        text = ET.tostring(ET.fromstring(fig.svg), encoding="unicode")
        assert "<script" not in text and "<image" not in text  # pure vector, no JavaScript
        assert all(f"head {i}" in text for i in range(1, h + 1)) and f"head {h + 1}" not in text
    numbered = multihead_diagram(2, B=2, T=5, D=8).svg
    assert "(2, 2, 5, 4)" in numbered and "(2, 5, 8)" in numbered  # (B, h, T, D/h), (B, T, D)
    assert "(2, 5, 8)" not in multihead_diagram(2).svg
    assert multihead_diagram(4).to_html().startswith('<img src="data:image/svg+xml;base64,')


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_heads": 1}, "n_heads"),
        ({"n_heads": 3, "B": 2, "T": 5, "D": 8}, "divisible"),
        ({"n_heads": 2, "D": 8}, "all three"),
    ],
)
def test_multihead_diagram_rejects_bad_shapes(kwargs: dict, message: str) -> None:
    from labkit.widgets.diagrams.multihead import multihead_diagram

    with pytest.raises(ValueError, match=message):
        multihead_diagram(**kwargs)
