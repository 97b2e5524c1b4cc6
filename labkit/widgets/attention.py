"""The attention explorer: look inside every head of a Transformer, and click to tell Python.

Taught in chapter 2 (attention) and chapter 3 (what the heads of a trained GPT learned).

Attention weights are a ``(layers, heads, T, T)`` block of numbers: for every layer and head,
row *i* says how much token *i* (the query) looks at each token *j* (the keys). The explorer
shows them three ways: one head as a heatmap, all heads of a layer side by side, and every
layer × head as thumbnails. Hover a token to see where it looks; click a head to select it.

How it is built (so it works offline, in JupyterLab, Notebook 7, VS Code and Colab):

* an ``anywidget.AnyWidget`` with a small hand-written ES module (``static/attention.js``,
  shipped inside labkit) that draws on ``<canvas>``: no CDN, no d3, no require.js;
* attention travels as bytes (each weight rounded to one of 256 levels), only what the view
  needs: the current layer in full and every head as a ≤ 32×32 thumbnail. Changing the head
  is handled by the browser alone; changing the layer slices one layer in Python (≈ 1 ms) —
  the model is never re-run;
* ``layer``, ``head``, ``selected_token`` and ``view`` are synced traits: set them from
  Python, or ``explorer.observe(callback, names="head")`` to react to clicks;
* longer inputs than ``max_tokens`` (256) are shown through a window of 256 tokens that you
  slide with the ◀ ▶ buttons or ``explorer.window_start``;
* a static picture of the current head (and the layer's heads) is stored in the notebook for
  GitHub, nbconvert and nbval (see :mod:`labkit.widgets.display`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets

from labkit._util import block_size_of, eval_mode, is_hf_model, model_device
from labkit.widgets.base import one_of
from labkit.widgets.display import FallbackMixin, StaticFigure
from labkit.widgets.svg import compose, heatmap
from labkit.widgets.tokens import readable_tokens

__all__ = [
    "AttentionExplorer",
    "attention_of",
    "explore",
    "readable_tokens",
    "to_attention_array",
]

_STATIC = Path(__file__).parent / "static"
VIEWS = ("head", "layer", "model")
THUMB = 32  # thumbnails are at most THUMB × THUMB cells


# --------------------------------------------------------------------------------------------
# Input checking: every mistake gets a message that names the fix
# --------------------------------------------------------------------------------------------


def _as_numpy(x: Any, what: str) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, on any device, in any dtype
        x = x.detach().float().cpu().numpy()
    if not isinstance(x, np.ndarray):
        raise TypeError(
            f"{what} must be a torch tensor or numpy array, got {type(x).__name__}; "
            "pass model(idx, return_attention=True)[-1] or a Hugging Face outputs.attentions"
        )
    return x.astype(np.float32, copy=False)


def to_attention_array(attention: Any) -> np.ndarray:
    """Bring attention weights to one ``float32 (layers, heads, T, T)`` array, checking them.

    Accepts a labkit attention tensor ``(layers, heads, T, T)`` or ``(layers, 1, heads, T, T)``
    (what ``model(idx, return_attention=True)`` returns for one sequence), a single layer
    ``(heads, T, T)``, a single head ``(T, T)``, or a Hugging Face ``outputs.attentions``
    tuple (one ``(1, heads, T, T)`` tensor per layer). Raises ``ValueError``/``TypeError``
    with the fix for batches, non-square matrices, empty input, NaN/inf and values outside
    [0, 1].

    Taught in chapter 2.
    """
    if isinstance(attention, (tuple, list)):
        if len(attention) == 0:
            raise ValueError(
                "the attention tuple is empty: a Hugging Face model returns no weights when it "
                "uses fused attention; load it with attn_implementation='eager' and call it "
                "with output_attentions=True"
            )
        layers = [_as_numpy(a, "each layer's attention") for a in attention]
        if any(a.ndim != layers[0].ndim or a.shape != layers[0].shape for a in layers):
            raise ValueError(
                f"all layers must have the same shape, got {[a.shape for a in layers]}"
            )
        if layers[0].ndim == 4:  # Hugging Face: (batch, heads, T, T) per layer
            if layers[0].shape[0] != 1:
                raise ValueError(
                    f"the attentions hold a batch of {layers[0].shape[0]} sequences; the "
                    "explorer shows one: pass tuple(a[i:i+1] for a in outputs.attentions)"
                )
            layers = [a[0] for a in layers]
        arr = np.stack(layers)
    else:
        arr = _as_numpy(attention, "attention")
    if arr.ndim == 5:  # labkit: (layers, batch, heads, T, T)
        if arr.shape[1] != 1:
            raise ValueError(
                f"the attention holds a batch of {arr.shape[1]} sequences (shape "
                f"{tuple(arr.shape)}); the explorer shows one: pass attn[:, i] for sequence i"
            )
        arr = arr[:, 0]
    elif arr.ndim == 3:
        arr = arr[None]
    elif arr.ndim == 2:
        arr = arr[None, None]
    if arr.ndim != 4:
        raise ValueError(f"attention must have shape (layers, heads, T, T), got {tuple(arr.shape)}")
    L, H, T, T2 = arr.shape
    if T != T2:
        raise ValueError(
            f"attention matrices must be square (T × T: queries × keys), got {T} × {T2}; "
            "for cross-attention pass the decoder's self-attention instead"
        )
    if min(L, H, T) == 0:
        raise ValueError(f"attention is empty (shape {tuple(arr.shape)}): the text had no tokens?")
    bad = ~np.isfinite(arr)
    if bad.any():
        layer, head, row, _ = np.argwhere(bad)[0]
        raise ValueError(
            f"attention contains NaN or inf (first at layer {layer}, head {head}, query {row}): "
            "a row whose keys are all masked gives NaN after softmax; check the mask"
        )
    lo, hi = float(arr.min()), float(arr.max())
    if lo < -1e-4 or hi > 1 + 1e-3:
        raise ValueError(
            f"attention weights must be probabilities in [0, 1], got values in [{lo:.3g}, "
            f"{hi:.3g}]: pass the softmax output (the weights), not the raw scores"
        )
    return arr


def _check_tokens(tokens: Sequence[str] | None, n: int) -> list[str]:
    if tokens is None:
        return [str(i) for i in range(n)]
    if isinstance(tokens, str):
        raise TypeError(
            "tokens must be a list of token strings, not one string: use "
            "tokenizer.convert_ids_to_tokens(ids)"
        )
    tokens = [str(t) for t in tokens]
    if len(tokens) != n:
        raise ValueError(
            f"got {len(tokens)} tokens for {n} × {n} attention matrices: pass exactly the tokens "
            "the model saw, e.g. tokenizer.convert_ids_to_tokens(ids)"
        )
    return tokens


def _quantize(a: np.ndarray) -> bytes:
    """Weights in [0, 1] → one byte each (0–255): 4× smaller than float32, plenty for colour."""
    return np.rint(np.clip(a, 0.0, 1.0) * 255.0).astype(np.uint8).tobytes()


def _max_pool(a: np.ndarray, size: int) -> np.ndarray:
    """Shrink the last two axes (T, T) to at most (size, size), keeping each block's maximum
    (so a thin diagonal stays visible in a thumbnail)."""
    T = a.shape[-1]
    if T <= size:
        return a
    k = -(-T // size)  # ceil
    n = -(-T // k)
    pad = n * k - T
    a = np.pad(a, [(0, 0)] * (a.ndim - 2) + [(0, pad), (0, pad)])
    return a.reshape(*a.shape[:-2], n, k, n, k).max(axis=(-3, -1))


# --------------------------------------------------------------------------------------------
# The widget
# --------------------------------------------------------------------------------------------


class AttentionExplorer(FallbackMixin, anywidget.AnyWidget):
    """Interactive heatmaps of attention weights: one head, a layer's heads, or all of them.

    ``AttentionExplorer(attn, tokens)`` where ``attn`` is ``(layers, heads, T, T)``,
    ``(layers, 1, heads, T, T)`` or a Hugging Face ``outputs.attentions`` tuple, and
    ``tokens`` the T token strings (shown readably; ``None`` numbers them). Synced traits:
    ``layer``, ``head``, ``selected_token`` (−1 = none; an index into all tokens), ``view``
    (``"head"``, ``"layer"`` or ``"model"``) and ``window_start``.

    Taught in chapter 2 (and used in chapter 3 on a trained model).
    """

    _esm = _STATIC / "attention.js"
    _css = _STATIC / "attention.css"

    layer = traitlets.Int(0).tag(sync=True)
    head = traitlets.Int(0).tag(sync=True)
    selected_token = traitlets.Int(-1).tag(sync=True)
    view = traitlets.Unicode("head").tag(sync=True)
    window_start = traitlets.Int(0).tag(sync=True)

    # What the browser draws; kept in step with the public traits above.
    _n_layers = traitlets.Int(1).tag(sync=True)
    _n_heads = traitlets.Int(1).tag(sync=True)
    _n_total = traitlets.Int(1).tag(sync=True)
    _window = traitlets.Int(1).tag(sync=True)
    _tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    _layer_bytes = traitlets.Bytes(b"").tag(sync=True)
    _layer_shown = traitlets.Int(-1).tag(sync=True)
    _thumb_bytes = traitlets.Bytes(b"").tag(sync=True)
    _thumb_size = traitlets.Int(1).tag(sync=True)
    _notice = traitlets.Unicode("").tag(sync=True)
    _title = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        attention: Any,
        tokens: Sequence[str] | None = None,
        *,
        layer: int = 0,
        head: int = 0,
        view: str = "head",
        max_tokens: int = 256,
        title: str = "",
        notice: str = "",
    ) -> None:
        arr = to_attention_array(attention)
        L, H, T, _ = arr.shape
        if not isinstance(max_tokens, int) or max_tokens < 2:
            raise ValueError(f"max_tokens must be an int ≥ 2, got {max_tokens!r}")
        self.attention: np.ndarray = arr
        self.tokens: list[str] = _check_tokens(tokens, T)
        self.display_tokens: list[str] = readable_tokens(self.tokens)
        self._extra_notice = notice
        super().__init__(
            _n_layers=L, _n_heads=H, _n_total=T, _window=min(T, max_tokens), _title=title
        )
        with self.hold_sync():
            self.view = view
            self.layer = layer
            self.head = head
            self._refresh_window()

    # ---- properties for analysis in Python ----

    @property
    def n_layers(self) -> int:
        """Number of layers."""
        return self.attention.shape[0]

    @property
    def n_heads(self) -> int:
        """Number of heads per layer."""
        return self.attention.shape[1]

    @property
    def n_tokens(self) -> int:
        """Number of tokens (T)."""
        return self.attention.shape[2]

    def current(self) -> np.ndarray:
        """The selected head's full ``(T, T)`` weights (rows: queries, columns: keys)."""
        return self.attention[self.layer, self.head]

    def top_attended(self, token: int | None = None, k: int = 5) -> list[tuple[int, str, float]]:
        """The ``k`` tokens that ``token`` (default: ``selected_token``) attends to most in the
        selected head, as ``(position, readable token, weight)``, largest weight first."""
        token = self.selected_token if token is None else token
        if not 0 <= token < self.n_tokens:
            raise ValueError(f"choose a token in 0..{self.n_tokens - 1} (or set selected_token)")
        row = self.current()[token]
        order = np.argsort(-row, kind="stable")[:k]
        return [(int(j), self.display_tokens[j], round(float(row[j]), 4)) for j in order]

    def set_attention(self, attention: Any) -> None:
        """Replace the weights shown (same tokens, same number of layers and heads), e.g. while
        a model trains (:class:`~labkit.widgets.attention_live.AttentionLive` calls this).

        The selected layer, head, token and view stay as they are. Taught in chapter 2.
        """
        arr = to_attention_array(attention)
        if arr.shape != self.attention.shape:
            raise ValueError(
                f"new attention has shape {tuple(arr.shape)}, the explorer shows "
                f"{tuple(self.attention.shape)}: run the same model on the same text"
            )
        self.attention = arr
        self._refresh_window()

    # ---- trait checks and updates ----

    @traitlets.validate("layer")
    def _valid_layer(self, proposal: dict) -> int:
        return _in_range("layer", proposal["value"], self.attention.shape[0])

    @traitlets.validate("head")
    def _valid_head(self, proposal: dict) -> int:
        return _in_range("head", proposal["value"], self.attention.shape[1])

    @traitlets.validate("selected_token")
    def _valid_token(self, proposal: dict) -> int:
        value = proposal["value"]
        if value == -1:
            return -1
        return _in_range("selected_token", value, self.attention.shape[2], "(or -1 for none)")

    @traitlets.validate("view")
    def _valid_view(self, proposal: dict) -> str:
        return one_of("view", proposal["value"], VIEWS)

    @traitlets.validate("window_start")
    def _valid_window(self, proposal: dict) -> int:
        # Clamp instead of failing: the ◀ ▶ buttons may step past either end.
        return int(min(max(proposal["value"], 0), self.attention.shape[2] - self._window))

    @traitlets.observe("layer")
    def _on_layer(self, change: dict) -> None:
        self._send_layer()

    @traitlets.observe("window_start")
    def _on_window(self, change: dict) -> None:
        self._refresh_window()

    def _span(self) -> slice:
        return slice(self.window_start, self.window_start + self._window)

    def _send_layer(self) -> None:
        s = self._span()
        with self.hold_sync():  # bytes and their layer number reach the browser together
            self._layer_bytes = _quantize(self.attention[self.layer, :, s, s])
            self._layer_shown = self.layer

    def _refresh_window(self) -> None:
        s = self._span()
        thumbs = _max_pool(self.attention[:, :, s, s], THUMB)
        T = self.n_tokens
        notice = self._extra_notice
        if self._window < T:
            shown = (
                f"Showing tokens {s.start}–{s.stop - 1} of {T} (a window of {self._window}; "
                "slide it with ◀ ▶ or explorer.window_start). Keys outside the window are "
                "hidden, so rows may sum to less than 1."
            )
            notice = f"{notice} {shown}".strip()
        with self.hold_sync():
            self._tokens = self.display_tokens[s]
            self._thumb_size = thumbs.shape[-1]
            self._thumb_bytes = _quantize(thumbs)
            self._notice = notice
            self._send_layer()

    # ---- static fallback ----

    def static(self) -> StaticFigure:
        """The selected head as a heatmap, next to every head of its layer (an SVG picture)."""
        s = self._span()
        labels = self.display_tokens[s]
        main = heatmap(
            self.attention[self.layer, self.head, s, s],
            x=0,
            y=20,
            w=420,
            h=420,
            title=f"layer {self.layer}, head {self.head}",
            row_labels=labels,
            col_labels=labels,
            vmin=0.0,
            vmax=1.0,
            xlabel="key (attended to)",
            ylabel="query",
        )
        H = self.n_heads
        cols = min(H, 4)
        size = 110
        small = []
        for h in range(H):
            a = _max_pool(self.attention[self.layer, h, s, s], 64)
            small.append(
                heatmap(
                    a,
                    x=430 + (h % cols) * size,
                    y=20 + (h // cols) * (size + 4),
                    w=size,
                    h=size + 6,
                    title=f"head {h}",
                    vmin=0.0,
                    vmax=1.0,
                    margin=6,
                )
            )
        rows = -(-H // cols)
        height = max(450, 30 + rows * (size + 4))
        caption = f"Attention, layer {self.layer} of {self.n_layers} ({self.n_tokens} tokens)"
        if self._notice:
            caption += " — window " + f"{s.start}–{s.stop - 1}"
        return compose(
            430 + cols * size + 10,
            height,
            main,
            *small,
            caption=caption,
            alt=f"attention heatmap, layer {self.layer} head {self.head}",
        )


def _in_range(name: str, value: int, n: int, extra: str = "") -> int:
    if not 0 <= value < n:
        raise traitlets.TraitError(
            f"{name} must be in 0..{n - 1} {extra}, got {value}".replace("  ", " ")
        )
    return value


# --------------------------------------------------------------------------------------------
# explore(model, tokenizer, text): run a model and open the explorer
# --------------------------------------------------------------------------------------------


def attention_of(model: Any, tokenizer: Any, text: str) -> tuple[np.ndarray, list[str], str]:
    """Run ``model`` once on ``text``: ``(attention, tokens, notice)``, without a widget.

    ``attention`` is the checked ``float32 (layers, heads, T, T)`` array, ``tokens`` the T token
    strings, ``notice`` a sentence when the text was cut to the model's context (else ``""``).
    The model runs in eval mode without gradients and is put back in training mode after, so
    it can be called from a training callback (:mod:`labkit.widgets.attention_live`).

    Taught in chapter 2.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("text is empty: give the model something to read, e.g. 'The cat sat.'")
    encoded = tokenizer(text, return_tensors="pt")
    ids = encoded["input_ids"]
    if ids.numel() == 0:
        raise ValueError(f"the tokenizer turned {text[:40]!r} into no tokens; try other text")
    limit = block_size_of(model)
    notice = ""
    if limit is not None and ids.shape[1] > limit:
        notice = (
            f"The text has {ids.shape[1]} tokens; the model reads {limit}, so only the first "
            f"{limit} are shown."
        )
        encoded = {k: v[:, :limit] for k, v in encoded.items()}
        ids = encoded["input_ids"]
    device = model_device(model)
    with eval_mode(model):
        if is_hf_model(model):
            inputs = {k: v.to(device) for k, v in encoded.items() if hasattr(v, "to")}
            out = model(**inputs, output_attentions=True)
            attention = getattr(out, "attentions", None)
            if attention is None:
                raise TypeError(
                    f"{type(model).__name__} returned no .attentions; use a model with "
                    "self-attention (for encoder-decoders pass the encoder)"
                )
        else:
            out = model(ids.to(device), return_attention=True)
            if not isinstance(out, tuple) or len(out) < 2:
                raise TypeError(
                    f"{type(model).__name__}(idx, return_attention=True) must return "
                    "(logits, attention): see labkit.models"
                )
            attention = out[-1]
    tokens = tokenizer.convert_ids_to_tokens(ids[0].tolist())
    return to_attention_array(attention), [str(t) for t in tokens], notice


def explore(model: Any, tokenizer: Any, text: str, **kwargs: Any) -> AttentionExplorer:
    """Run ``model`` on ``text`` once and return an :class:`AttentionExplorer` of its attention.

    ``model`` is a labkit model (``model(idx, return_attention=True)``) or a Hugging Face
    model loaded with ``attn_implementation="eager"`` (its ``outputs.attentions`` are used).
    ``tokenizer`` is any Hugging Face-style tokenizer (labkit's included). Text longer than
    the model's context is cut to fit, with a notice. Other keyword arguments go to
    :class:`AttentionExplorer`.

    Taught in chapter 2 and chapter 3.
    """
    attention, tokens, notice = attention_of(model, tokenizer, text)
    kwargs.setdefault("notice", notice)
    return AttentionExplorer(attention, tokens, **kwargs)
