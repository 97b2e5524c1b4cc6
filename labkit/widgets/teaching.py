"""Small interactive demos for the chapters: move a slider, watch the maths respond.

* :class:`SoftmaxTemperature` — logits → probabilities as the temperature moves (chapter 2, 6)
* :class:`SqrtDkScaling` — why attention divides scores by √d_k (chapter 2)
* :class:`PositionalEncodingExplorer` — the sinusoidal table and how positions resemble
  each other (chapter 2)
* :class:`SamplingExplorer` — a model's next-token distribution under temperature, top-k and
  top-p, and a button that samples (chapter 8)
* :class:`LossPlot` — live train/validation curves, usable as the training loop's callback
  (chapter 4)
* :class:`EmbeddingProjector` — token embeddings in 2-D/3-D by PCA, with hover labels
  (chapter 3)

Each is an ``ipywidgets.VBox`` of controls plus one plotly ``FigureWidget`` (plotly's widget
JavaScript ships inside the plotly package: nothing is fetched from the network). Moving a
slider recomputes in Python from numbers kept in memory — models are run only when the text
changes. Each widget's settings are traits you can set or ``observe`` from Python, and each
has ``static()``: the SVG picture stored in the notebook for GitHub, nbconvert and nbval.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import traitlets
from plotly.subplots import make_subplots

from labkit.widgets.attention import readable_tokens
from labkit.widgets.fallback import (
    GREY,
    PALETTE,
    FallbackMixin,
    StaticFigure,
    bar_chart,
    compose,
    heatmap,
    line_chart,
    scatter_chart,
)

__all__ = [
    "EmbeddingProjector",
    "LossPlot",
    "PositionalEncodingExplorer",
    "SamplingExplorer",
    "SoftmaxTemperature",
    "SqrtDkScaling",
    "softmax",
]

_LAYOUT = {"template": "plotly_white", "margin": {"l": 50, "r": 20, "t": 40, "b": 50}}
_WIDE = {"description_width": "initial"}  # slider labels are not cut off


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax: subtract the maximum before ``exp`` so nothing overflows.

    Taught in chapter 2.
    """
    x = np.asarray(x, dtype=np.float64)
    z = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def _vector(values: Any, name: str, min_len: int = 2) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().float().cpu().numpy()
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size < min_len:
        raise ValueError(f"{name} must be a 1-D list of at least {min_len} numbers, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf; give finite numbers")
    return arr


def _labels(labels: Sequence[str] | None, n: int, name: str = "labels") -> list[str]:
    if labels is None:
        return [str(i) for i in range(n)]
    if isinstance(labels, str):
        raise TypeError(f"{name} must be a list of strings, not one string")
    labels = [str(x) for x in labels]
    if len(labels) != n:
        raise ValueError(f"got {len(labels)} {name} for {n} values: give one label per value")
    return labels


class _Demo(FallbackMixin, widgets.VBox):
    """A VBox of controls, a plotly FigureWidget ``self.fig`` and an HTML ``self.readout``.

    A widget is built in two steps: ``_start(figure)`` with a plain ``go.Figure`` that the
    first drawing fills in, then ``_finish(rows...)`` turns it into a ``FigureWidget``. So
    the browser receives each figure once, complete, instead of an empty figure followed by
    a burst of updates while plotly's JavaScript is still loading.
    """

    def _start(self, fig: go.Figure) -> None:
        self.fig = fig
        self.readout = widgets.HTML()

    def _finish(self, *rows: widgets.Widget) -> None:
        self.fig = go.FigureWidget(self.fig)
        self.children = [*rows, self.fig, self.readout]


# --------------------------------------------------------------------------------------------
# Softmax temperature
# --------------------------------------------------------------------------------------------


class SoftmaxTemperature(_Demo):
    """Bar chart of ``softmax(logits / T)`` with a temperature slider.

    Low T sharpens towards the largest logit (greedy); high T flattens towards uniform.
    ``temperature`` is a trait: set it from Python or ``observe`` it. ``probabilities(T)``
    returns the numbers. Taught in chapter 2 (softmax) and chapter 8 (sampling).
    """

    temperature = traitlets.Float(1.0)

    def __init__(
        self,
        logits: Sequence[float] | None = None,
        labels: Sequence[str] | None = None,
        temperature: float = 1.0,
    ) -> None:
        super().__init__()
        if logits is None:  # next word after "The cat sat on the"
            logits = [3.2, 2.5, 2.1, 1.0, -0.5, -1.5]
            labels = labels or ["mat", "sofa", "floor", "roof", "dog", "moon"]
        self.logits = _vector(logits, "logits")
        self.labels = _labels(labels, len(self.logits))
        self.slider = widgets.FloatLogSlider(
            value=temperature, base=10, min=-1.3, max=1.3, step=0.01, description="temperature",
            continuous_update=True, readout_format=".2f", style=_WIDE,
        )  # fmt: skip
        fig = go.Figure(layout={**_LAYOUT, "height": 320, "yaxis": {"range": [0, 1], "title": "probability"}})
        fig.add_bar(x=self.labels, y=self.probabilities(temperature), marker_color=PALETTE[0])
        self._start(fig)
        widgets.link((self.slider, "value"), (self, "temperature"))
        self.temperature = temperature
        self._redraw()
        self._finish(widgets.HBox([self.slider]))

    @traitlets.validate("temperature")
    def _valid_t(self, proposal: dict) -> float:
        t = proposal["value"]
        if not t > 0:
            raise traitlets.TraitError(f"temperature must be > 0, got {t} (near 0 = greedy: try 0.05)")
        return t

    @traitlets.observe("temperature")
    def _on_t(self, change: dict) -> None:
        self._redraw()

    def probabilities(self, temperature: float | None = None) -> np.ndarray:
        """``softmax(logits / temperature)`` (default: the current temperature)."""
        t = self.temperature if temperature is None else temperature
        if not t > 0:
            raise ValueError(f"temperature must be > 0, got {t}")
        return softmax(self.logits / t)

    def _redraw(self) -> None:
        if not hasattr(self, "fig"):
            return
        p = self.probabilities()
        entropy = float(-(p * np.log(np.maximum(p, 1e-300))).sum())
        with self.fig.batch_update():
            self.fig.data[0].y = p
            self.fig.layout.title = f"softmax(logits / {self.temperature:.2f})"
        self.readout.value = (
            f"T = {self.temperature:.2f}: top token <b>{self.labels[int(p.argmax())]}</b> "
            f"gets {p.max():.1%}; entropy {entropy:.2f} nats (uniform would be "
            f"{math.log(len(p)):.2f})"
        )

    def static(self) -> StaticFigure:
        """Bar charts at T = 0.5, 1, 2 and the current temperature."""
        temps = sorted({0.5, 1.0, 2.0, round(self.temperature, 2)})
        w = 250
        parts = [
            bar_chart(self.labels, self.probabilities(t), x=i * w, y=20, w=w, h=230,
                      title=f"T = {t:g}", ylabel="probability" if i == 0 else "", ymax=1.0,
                      annotate=len(self.labels) <= 8)
            for i, t in enumerate(temps)
        ]  # fmt: skip
        return compose(w * len(temps), 260, *parts, caption="softmax(logits / T)",
                       alt="softmax at several temperatures")  # fmt: skip


# --------------------------------------------------------------------------------------------
# √d_k scaling
# --------------------------------------------------------------------------------------------

D_K_CHOICES = tuple(2**i for i in range(11))  # 1 … 1024


class SqrtDkScaling(_Demo):
    """Why attention computes ``softmax(q·k / √d_k)``.

    For random q, k with unit-variance entries, q·k has standard deviation √d_k: the wider the
    head, the larger the scores, and softmax saturates (one key gets almost all the weight,
    gradients vanish). Dividing by √d_k keeps the spread at 1. Left: spread of the scores vs
    d_k, measured. Right: the weights one query gives 16 keys at the chosen d_k, with and
    without scaling. ``d_k`` is a trait; ``stats(d_k)`` returns the numbers.
    Taught in chapter 2.
    """

    d_k = traitlets.Int(64)

    def __init__(self, d_k: int = 64, n_keys: int = 16, seed: int = 0) -> None:
        super().__init__()
        if n_keys < 2:
            raise ValueError(f"n_keys must be ≥ 2, got {n_keys}")
        self.n_keys, self.seed = n_keys, seed
        self._cache: dict[int, dict[str, Any]] = {}
        self.slider = widgets.SelectionSlider(options=D_K_CHOICES, value=_snap(d_k), description="d_k", style=_WIDE)
        fig = make_subplots(rows=1, cols=2, column_widths=[0.45, 0.55], subplot_titles=(
            "spread (std) of q·k", "softmax weights of one query"))  # fmt: skip
        fig.update_layout(**_LAYOUT, height=340, barmode="group")
        ds = np.array(D_K_CHOICES)
        fig.add_scatter(x=ds, y=[self.stats(d)["std_unscaled"] for d in ds], name="q·k", row=1, col=1,
                        line_color=PALETTE[3])  # fmt: skip
        fig.add_scatter(x=ds, y=[self.stats(d)["std_scaled"] for d in ds], name="q·k / √d_k", row=1,
                        col=1, line_color=PALETTE[0])  # fmt: skip
        keys = [f"k{i}" for i in range(n_keys)]
        fig.add_bar(x=keys, y=np.zeros(n_keys), name="softmax(q·k)", row=1, col=2, marker_color=PALETTE[3])
        fig.add_bar(x=keys, y=np.zeros(n_keys), name="softmax(q·k / √d_k)", row=1, col=2,
                    marker_color=PALETTE[0])  # fmt: skip
        fig.update_xaxes(type="log", title_text="d_k", row=1, col=1)
        fig.update_yaxes(range=[0, 1], title_text="weight", row=1, col=2)
        self._start(fig)
        widgets.link((self.slider, "value"), (self, "d_k"))
        self.d_k = _snap(d_k)
        self._redraw()
        self._finish(widgets.HBox([self.slider]))

    @traitlets.validate("d_k")
    def _valid_dk(self, proposal: dict) -> int:
        if proposal["value"] not in D_K_CHOICES:
            raise traitlets.TraitError(f"d_k must be one of {D_K_CHOICES}, got {proposal['value']}")
        return proposal["value"]

    @traitlets.observe("d_k")
    def _on_dk(self, change: dict) -> None:
        self._redraw()

    def stats(self, d_k: int | None = None) -> dict[str, Any]:
        """Measured on random unit-variance q, k: score spread and softmax saturation.

        Keys: ``std_unscaled`` (≈ √d_k), ``std_scaled`` (≈ 1), ``max_weight_unscaled`` and
        ``max_weight_scaled`` (average largest weight over 256 queries), ``example_unscaled``
        and ``example_scaled`` (one query's weights over the keys).
        """
        d = self.d_k if d_k is None else int(d_k)
        if d < 1:
            raise ValueError(f"d_k must be ≥ 1, got {d}")
        if d not in self._cache:
            rng = np.random.default_rng(self.seed + d)
            q = rng.standard_normal((256, d))
            k = rng.standard_normal((self.n_keys, d))
            scores = q @ k.T  # (256 queries, n_keys)
            w_raw, w_scaled = softmax(scores), softmax(scores / math.sqrt(d))
            self._cache[d] = {
                "std_unscaled": float(scores.std()),
                "std_scaled": float((scores / math.sqrt(d)).std()),
                "max_weight_unscaled": float(w_raw.max(axis=1).mean()),
                "max_weight_scaled": float(w_scaled.max(axis=1).mean()),
                "example_unscaled": w_raw[0],
                "example_scaled": w_scaled[0],
            }
        return self._cache[d]

    def _redraw(self) -> None:
        if not hasattr(self, "fig"):
            return
        s = self.stats()
        with self.fig.batch_update():
            self.fig.data[2].y = s["example_unscaled"]
            self.fig.data[3].y = s["example_scaled"]
            self.fig.layout.shapes = [{"type": "line", "xref": "x", "yref": "paper", "x0": self.d_k,
                                       "x1": self.d_k, "y0": 0, "y1": 1, "line": {"dash": "dot"}}]  # fmt: skip
        self.readout.value = (
            f"d_k = {self.d_k}: scores spread {s['std_unscaled']:.1f} unscaled vs "
            f"{s['std_scaled']:.2f} scaled; on average the top key gets "
            f"<b>{s['max_weight_unscaled']:.0%}</b> of the weight unscaled vs "
            f"<b>{s['max_weight_scaled']:.0%}</b> scaled (uniform: {1 / self.n_keys:.0%})"
        )

    def static(self) -> StaticFigure:
        """Spread vs d_k, and saturation (average top weight) vs d_k, with and without scaling."""
        ds = list(D_K_CHOICES)
        st = [self.stats(d) for d in ds]
        left = line_chart(
            [("q·k", ds, [s["std_unscaled"] for s in st]),
             ("q·k / √d_k", ds, [s["std_scaled"] for s in st])],
            x=0, y=20, w=400, h=260, title="spread (std) of scores", xlabel="d_k", logx=True,
        )  # fmt: skip
        right = line_chart(
            [("unscaled", ds, [s["max_weight_unscaled"] for s in st]),
             ("scaled", ds, [s["max_weight_scaled"] for s in st])],
            x=400, y=20, w=400, h=260, title="average largest softmax weight", xlabel="d_k",
            logx=True,
        )  # fmt: skip
        return compose(800, 290, left, right, caption=f"Why divide by √d_k ({self.n_keys} keys)",
                       alt="score spread and softmax saturation versus d_k")  # fmt: skip


def _snap(d_k: int) -> int:
    """The allowed d_k (a power of two) closest to ``d_k``."""
    if not isinstance(d_k, int) or d_k < 1:
        raise ValueError(f"d_k must be a positive int, got {d_k!r}")
    return min(D_K_CHOICES, key=lambda d: abs(math.log2(d) - math.log2(d_k)))


# --------------------------------------------------------------------------------------------
# Positional encodings
# --------------------------------------------------------------------------------------------


def _cosine_similarity(pe: np.ndarray) -> np.ndarray:
    unit = pe / np.maximum(np.linalg.norm(pe, axis=1, keepdims=True), 1e-12)
    return unit @ unit.T


class PositionalEncodingExplorer(_Demo):
    """The positional-encoding table as a heatmap, and how similar positions are to each other.

    Left: ``PE[pos, dim]`` (sinusoidal by default, from :func:`labkit.nn.sinusoidal_encoding`,
    or any ``(positions, d_model)`` table you pass, e.g. a trained model's learned position
    embeddings). Middle: cosine similarity between every pair of positions. Right: the
    similarity of the chosen ``position`` to all others — nearby positions look alike.
    Traits: ``position`` and (for the sinusoidal table) ``d_model``. Taught in chapter 2.
    """

    position = traitlets.Int(0)
    d_model = traitlets.Int(64)

    def __init__(self, max_len: int = 64, d_model: int = 64, encoding: Any = None, position: int = 10) -> None:
        super().__init__()
        self.learned = encoding is not None
        if self.learned:
            table = encoding.detach().float().cpu().numpy() if hasattr(encoding, "detach") else np.asarray(encoding, float)
            if table.ndim != 2 or min(table.shape) < 1:
                raise ValueError(f"encoding must be a (positions, d_model) table, got shape {table.shape}")
            if not np.isfinite(table).all():
                raise ValueError("encoding contains NaN or inf")
            max_len, d_model = table.shape
        elif max_len < 2 or d_model < 2 or d_model % 2:
            raise ValueError(f"need max_len ≥ 2 and an even d_model ≥ 2, got {max_len}, {d_model}")
        self.max_len = max_len
        self.pos_slider = widgets.IntSlider(value=min(position, max_len - 1), min=0, max=max_len - 1,
                                            description="position", style=_WIDE)  # fmt: skip
        self.dim_slider = widgets.IntSlider(value=d_model, min=2 if self.learned else 8, max=max(d_model, 256),
                                            step=2 if self.learned else 8, description="d_model",
                                            disabled=self.learned, style=_WIDE)  # fmt: skip
        fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.08, subplot_titles=(
            "PE[position, dimension]", "cosine similarity", "similarity to the position"))  # fmt: skip
        fig.update_layout(**_LAYOUT, height=360, showlegend=False)
        fig.add_heatmap(z=[[0]], colorscale="RdBu", zmid=0, showscale=False, row=1, col=1)
        fig.add_heatmap(z=[[0]], colorscale="Viridis", showscale=False, row=1, col=2)
        fig.add_scatter(x=[0], y=[0], mode="lines", line_color=PALETTE[0], row=1, col=3)
        fig.update_xaxes(title_text="dimension", row=1, col=1)
        fig.update_xaxes(title_text="position", row=1, col=2)
        fig.update_xaxes(title_text="position", row=1, col=3)
        for col in (1, 2):
            fig.update_yaxes(title_text="position", autorange="reversed", row=1, col=col)
        fig.update_yaxes(range=[-1.05, 1.05], row=1, col=3)
        self._start(fig)
        self._table = table if self.learned else None
        self._cache: tuple[int, Any, Any] = (0, None, None)  # (d_model, table, similarity)
        widgets.link((self.pos_slider, "value"), (self, "position"))
        widgets.link((self.dim_slider, "value"), (self, "d_model"))
        self.d_model = d_model
        self.position = min(position, max_len - 1)
        self._redraw(table_changed=True)
        self._finish(widgets.HBox([self.pos_slider, self.dim_slider]))

    def encoding(self) -> np.ndarray:
        """The ``(max_len, d_model)`` table being shown."""
        if self._table is not None:
            return self._table
        if self._cache[0] != self.d_model:
            from labkit.nn import sinusoidal_encoding

            pe = sinusoidal_encoding(self.max_len, self.d_model).numpy()
            self._cache = (self.d_model, pe, _cosine_similarity(pe))
        return self._cache[1]

    def similarity(self) -> np.ndarray:
        """Cosine similarity ``(max_len, max_len)`` between position vectors."""
        if self._table is not None:
            if self._cache[0] != -1:
                self._cache = (-1, self._table, _cosine_similarity(self._table))
            return self._cache[2]
        self.encoding()
        return self._cache[2]

    @traitlets.validate("position")
    def _valid_pos(self, proposal: dict) -> int:
        if not 0 <= proposal["value"] < self.max_len:
            raise traitlets.TraitError(f"position must be in 0..{self.max_len - 1}, got {proposal['value']}")
        return proposal["value"]

    @traitlets.validate("d_model")
    def _valid_d(self, proposal: dict) -> int:
        d = proposal["value"]
        if self._table is not None and d != self._table.shape[1]:
            raise traitlets.TraitError("d_model is fixed by the table you passed")
        if d < 2 or d % 2:
            raise traitlets.TraitError(f"d_model must be even and ≥ 2, got {d}")
        return d

    @traitlets.observe("position")
    def _on_pos(self, change: dict) -> None:
        self._redraw(table_changed=False)

    @traitlets.observe("d_model")
    def _on_d(self, change: dict) -> None:
        self._redraw(table_changed=True)

    def _redraw(self, table_changed: bool) -> None:
        if not hasattr(self, "fig"):
            return
        pe, sim = self.encoding(), self.similarity()
        with self.fig.batch_update():
            if table_changed:
                self.fig.data[0].z = pe
                self.fig.data[1].z = sim
            self.fig.data[2].x = np.arange(self.max_len)
            self.fig.data[2].y = sim[self.position]
        near = sim[self.position, max(self.position - 1, 0)] if self.position else sim[0, 1]
        far = sim[self.position].min()
        kind = "learned" if self.learned else "sinusoidal"
        self.readout.value = (
            f"{kind} encoding, {self.max_len} positions × {self.d_model} dims. Position "
            f"{self.position}: similarity {near:.2f} to its neighbour, {far:.2f} to the least "
            "similar position."
        )

    def static(self) -> StaticFigure:
        """The table and the similarity matrix as heatmaps."""
        pe, sim = self.encoding(), self.similarity()
        left = heatmap(pe, x=0, y=20, w=360, h=340, title="PE[position, dimension]",
                       xlabel="dimension", ylabel="position")  # fmt: skip
        right = heatmap(sim, x=360, y=20, w=340, h=340, title="cosine similarity",
                        xlabel="position", ylabel="position", vmin=-1, vmax=1)  # fmt: skip
        kind = "Learned" if self.learned else "Sinusoidal"
        return compose(700, 370, left, right, caption=f"{kind} positional encoding ({self.max_len} × {self.d_model})",
                       alt="positional encoding heatmaps")  # fmt: skip


# --------------------------------------------------------------------------------------------
# Sampling explorer
# --------------------------------------------------------------------------------------------


class SamplingExplorer(_Demo):
    """A model's next-token distribution, reshaped by temperature, top-k and top-p.

    Grey bars: the probabilities at the chosen temperature before filtering. Blue bars: what
    the sampler really draws from after top-k and top-p (0 = removed). "Sample" draws a token
    from the blue distribution and appends it to the text; "Reset" goes back to the prompt.
    The model runs once per text; moving a slider only re-filters the stored scores.
    Traits: ``temperature`` (0 = greedy), ``top_k`` (0 = off), ``top_p`` (1 = off), ``text``.
    The filtering is :mod:`labkit.generate`'s, so the numbers equal
    ``next_token_distribution(model, ids, temperature, top_k, top_p)``. Taught in chapter 8.
    """

    temperature = traitlets.Float(1.0)
    top_k = traitlets.Int(0)
    top_p = traitlets.Float(1.0)
    text = traitlets.Unicode("")

    def __init__(
        self, model: Any, tokenizer: Any, prompt: str, *, temperature: float = 1.0,
        top_k: int | None = None, top_p: float | None = None, n_show: int = 20, seed: int = 0,
    ) -> None:  # fmt: skip
        import torch

        super().__init__()
        if not isinstance(prompt, str) or not prompt:
            raise ValueError("prompt is empty: give the model some text to continue, e.g. 'Once upon a'")
        ids = list(tokenizer(prompt)["input_ids"])
        if not ids:
            raise ValueError(f"the tokenizer turned {prompt!r} into no tokens; try other text")
        self.model, self.tokenizer, self.n_show = model, tokenizer, n_show
        self.prompt_ids, self.ids = ids, list(ids)
        self.generator = torch.Generator().manual_seed(seed)
        self._compute_logprobs()
        V = self._logprobs.shape[-1]
        self.t_slider = widgets.FloatSlider(value=temperature, min=0.0, max=3.0, step=0.05,
                                            description="temperature", style=_WIDE)  # fmt: skip
        self.k_slider = widgets.IntSlider(value=top_k or 0, min=0, max=min(V, 100),
                                          description="top-k (0 = off)", style=_WIDE)  # fmt: skip
        self.p_slider = widgets.FloatSlider(value=top_p or 1.0, min=0.05, max=1.0, step=0.05,
                                            description="top-p (1 = off)", style=_WIDE)  # fmt: skip
        self.sample_button = widgets.Button(description="Sample next token", button_style="primary")
        self.reset_button = widgets.Button(description="Reset")
        self.text_view = widgets.HTML()
        fig = go.Figure(layout={**_LAYOUT, "height": 340, "barmode": "overlay", "yaxis": {"title": "probability"}})
        fig.add_bar(x=[], y=[], name="before filtering", marker_color=GREY)
        fig.add_bar(x=[], y=[], name="sampled from", marker_color=PALETTE[0], width=0.5)
        self._start(fig)
        for slider, name in ((self.t_slider, "temperature"), (self.k_slider, "top_k"), (self.p_slider, "top_p")):
            widgets.link((slider, "value"), (self, name))
        self.sample_button.on_click(lambda _: self.sample())
        self.reset_button.on_click(lambda _: self.reset())
        self._redraw()
        controls = widgets.HBox([widgets.VBox([self.t_slider, self.k_slider, self.p_slider]),
                                 widgets.VBox([self.sample_button, self.reset_button])])  # fmt: skip
        self._finish(self.text_view, controls)

    @traitlets.validate("temperature")
    def _valid_t(self, proposal: dict) -> float:
        if not proposal["value"] >= 0:
            raise traitlets.TraitError(f"temperature must be ≥ 0 (0 = greedy), got {proposal['value']}")
        return proposal["value"]

    @traitlets.validate("top_k")
    def _valid_k(self, proposal: dict) -> int:
        if proposal["value"] < 0:
            raise traitlets.TraitError(f"top_k must be ≥ 0 (0 = off), got {proposal['value']}")
        return proposal["value"]

    @traitlets.validate("top_p")
    def _valid_p(self, proposal: dict) -> float:
        if not 0 < proposal["value"] <= 1:
            raise traitlets.TraitError(f"top_p must be in (0, 1] (1 = off), got {proposal['value']}")
        return proposal["value"]

    @traitlets.observe("temperature", "top_k", "top_p")
    def _on_setting(self, change: dict) -> None:
        self._redraw()

    def _compute_logprobs(self) -> None:
        """Run the model once on the current text (T = 1, no filter): log-probabilities [V]."""
        import torch

        from labkit.generate import next_token_distribution

        probs = next_token_distribution(self.model, torch.tensor(self.ids), temperature=1.0)
        self._logprobs = probs.float().clamp_min(1e-38).log().cpu()
        self.text = self.tokenizer.decode(self.ids)

    def distribution(self) -> tuple[np.ndarray, np.ndarray]:
        """``(before, after)``: probabilities ``[V]`` at the temperature before and after
        top-k/top-p (tokens removed by the filters have 0 in ``after``)."""
        import torch.nn.functional as F

        from labkit.generate import temperature_scale, top_k_filter, top_p_filter

        lp = self._logprobs
        if self.temperature == 0:  # greedy: all mass on the most likely token
            one_hot = F.one_hot(lp.argmax(), lp.shape[-1]).float().numpy()
            return one_hot, one_hot
        scaled = temperature_scale(lp, self.temperature)
        filtered = scaled
        if self.top_k:
            filtered = top_k_filter(filtered, self.top_k)
        if self.top_p < 1:
            filtered = top_p_filter(filtered, self.top_p)
        return scaled.softmax(-1).numpy(), filtered.softmax(-1).numpy()

    def sample(self) -> str:
        """Draw the next token from the filtered distribution, append it, and return it."""
        import torch

        _, after = self.distribution()
        token = int(torch.multinomial(torch.from_numpy(after), 1, generator=self.generator))
        self.ids.append(token)
        self._compute_logprobs()
        self._redraw()
        return self.tokenizer.decode([token])

    def reset(self) -> None:
        """Go back to the prompt."""
        self.ids = list(self.prompt_ids)
        self._compute_logprobs()
        self._redraw()

    def _top(self) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
        before, after = self.distribution()
        order = np.argsort(-before, kind="stable")[: self.n_show]
        labels = readable_tokens(self.tokenizer.convert_ids_to_tokens([int(i) for i in order]))
        labels = [f"{lab} ({int(i)})" if labels.count(lab) > 1 else lab for lab, i in zip(labels, order)]
        return order, labels, before[order], after[order]

    def _redraw(self) -> None:
        if not hasattr(self, "fig"):
            return
        _, labels, before, after = self._top()
        _, full_after = self.distribution()
        kept = int((full_after > 0).sum())
        with self.fig.batch_update():
            self.fig.data[0].x, self.fig.data[0].y = labels, before
            self.fig.data[1].x, self.fig.data[1].y = labels, after
            self.fig.layout.title = f"{kept} of {len(full_after)} tokens can be sampled"
        prompt = self.tokenizer.decode(self.prompt_ids)
        added = self.tokenizer.decode(self.ids[len(self.prompt_ids):]) if len(self.ids) > len(self.prompt_ids) else ""
        self.text_view.value = (
            f"<pre style='white-space:pre-wrap;margin:0'>{_html(prompt)}"
            f"<b style='background:#fdae25'>{_html(added)}</b></pre>"
        )
        self.readout.value = (
            f"temperature {self.temperature:g}, top-k {self.top_k or 'off'}, top-p "
            f"{self.top_p if self.top_p < 1 else 'off'}: {kept} tokens survive"
        )

    def static(self) -> StaticFigure:
        """The top tokens' probabilities; the ones the filters remove are grey."""
        _, labels, before, after = self._top()
        colors = [PALETTE[0] if a > 0 else GREY for a in after]
        chart = bar_chart(labels, after if self.temperature == 0 else before, x=0, y=20, w=760,
                          h=280, title="next-token probabilities (grey: removed by top-k/top-p)",
                          ylabel="probability", colors=colors)  # fmt: skip
        text = self.text if len(self.text) < 90 else "…" + self.text[-89:]
        return compose(760, 310, chart, caption=f"after: {text!r}", alt="next-token distribution")


def _html(text: str) -> str:
    import html

    return html.escape(text)


# --------------------------------------------------------------------------------------------
# Live loss plot
# --------------------------------------------------------------------------------------------


class LossPlot(_Demo):
    """Train and validation loss curves that grow while a model trains.

    Call ``plot.update(step, train_loss=..., val_loss=...)`` (either may be omitted), or pass
    the plot to the training loop: ``train(model, task, callbacks=[plot])`` (it implements
    ``on_begin``/``on_step``/``on_eval``/``on_end`` of :mod:`labkit.train`). Redraws at most
    every ``min_interval`` seconds so a fast loop is not slowed down; ``flush()`` draws the
    rest. ``history`` keeps every number. Taught in chapter 4.
    """

    def __init__(self, title: str = "loss", logy: bool = False, min_interval: float = 0.25) -> None:
        super().__init__()
        self.title, self.min_interval = title, min_interval
        self.history: dict[str, list[float]] = {"step": [], "train": [], "val_step": [], "val": []}
        self._last_draw = 0.0
        fig = go.Figure(layout={**_LAYOUT, "height": 320, "title": title, "xaxis": {"title": "step"},
                                "yaxis": {"title": "loss", "type": "log" if logy else "linear"}})  # fmt: skip
        fig.add_scatter(x=[], y=[], name="train", mode="lines", line_color=PALETTE[0])
        fig.add_scatter(x=[], y=[], name="validation", mode="lines+markers", line_color=PALETTE[1])
        self._start(fig)
        self.readout.value = "waiting for the first loss…"
        self._finish()

    def update(self, step: int, train_loss: float | None = None, val_loss: float | None = None) -> None:
        """Record the losses of ``step`` and redraw if enough time has passed."""
        for name, value in (("train_loss", train_loss), ("val_loss", val_loss)):
            if value is not None and not math.isfinite(float(value)):
                raise ValueError(f"{name} at step {step} is {value}: training diverged (lower the learning rate)")
        if train_loss is not None:
            self.history["step"].append(int(step))
            self.history["train"].append(float(train_loss))
        if val_loss is not None:
            self.history["val_step"].append(int(step))
            self.history["val"].append(float(val_loss))
        if val_loss is not None or time.monotonic() - self._last_draw >= self.min_interval:
            self.flush()

    # The training loop's callback protocol (labkit.train): train(..., callbacks=[plot]).

    def on_begin(self, m: dict[str, Any]) -> None:
        """Training starts: a fresh run clears the curves; the x axis spans ``max_steps``."""
        if not m.get("resumed") and m.get("step", 0) == 0:
            for values in self.history.values():
                values.clear()
        self.fig.layout.xaxis.range = [0, m.get("max_steps", 1)]
        self.flush()

    def on_step(self, m: dict[str, Any]) -> None:
        """Every ``log_every`` steps: the mean training loss since the last point."""
        self.update(m["step"], train_loss=m["train_loss"])

    def on_eval(self, m: dict[str, Any]) -> None:
        """After an evaluation: the validation loss."""
        self.update(m["step"], val_loss=m["val_loss"])

    def on_end(self, m: dict[str, Any]) -> None:
        """Training ended (or was interrupted): draw everything, and update the stored picture."""
        self.flush()
        self.refresh_static()

    def flush(self) -> None:
        """Draw everything recorded so far."""
        h = self.history
        with self.fig.batch_update():
            self.fig.data[0].x, self.fig.data[0].y = h["step"], h["train"]
            self.fig.data[1].x, self.fig.data[1].y = h["val_step"], h["val"]
        self._last_draw = time.monotonic()
        parts = []
        if h["train"]:
            parts.append(f"step {h['step'][-1]}: train {h['train'][-1]:.3f}")
        if h["val"]:
            best = int(np.argmin(h["val"]))
            parts.append(f"val {h['val'][-1]:.3f} (best {h['val'][best]:.3f} at step {h['val_step'][best]})")
        self.readout.value = ", ".join(parts) or "waiting for the first loss…"

    def static(self) -> StaticFigure:
        """The curves recorded so far."""
        h = self.history
        series = [("train", h["step"], h["train"])]
        if h["val"]:
            series.append(("validation", h["val_step"], h["val"]))
        chart = line_chart(series, x=0, y=20, w=640, h=300, title=self.title, xlabel="step", ylabel="loss")
        return compose(640, 330, chart, caption=self.readout.value, alt="training loss curves")


# --------------------------------------------------------------------------------------------
# Embedding projector
# --------------------------------------------------------------------------------------------


def _embedding_matrix(source: Any) -> np.ndarray:
    """A (vocab, d) matrix from an array, a tensor, an nn.Embedding, or a model."""
    if hasattr(source, "get_input_embeddings"):  # Hugging Face model
        source = source.get_input_embeddings()
    elif hasattr(source, "wte") and hasattr(source.wte, "weight"):  # labkit TinyGPT
        source = source.wte
    if hasattr(source, "weight") and not hasattr(source, "shape"):
        source = source.weight
    if hasattr(source, "detach"):
        source = source.detach().float().cpu().numpy()
    arr = np.asarray(source, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < 3 or arr.shape[1] < 2:
        raise ValueError(f"embeddings must be a (tokens, dims) matrix with ≥ 3 rows and ≥ 2 columns, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("embeddings contain NaN or inf")
    return arr


class EmbeddingProjector(_Demo):
    """Token embeddings projected to 2-D or 3-D with PCA; hover a point to see its token.

    ``embeddings``: a ``(tokens, d)`` array/tensor, an ``nn.Embedding``, a labkit model or a
    Hugging Face model. ``labels``: one string per row, or a tokenizer (its tokens are used).
    Only the first ``max_points`` rows are drawn (or the rows in ``ids``). Type in the search
    box to highlight tokens containing that text. Traits: ``dims`` (2 or 3), ``highlight``.
    Taught in chapter 3.
    """

    dims = traitlets.Int(2)
    highlight = traitlets.Unicode("")

    def __init__(
        self, embeddings: Any, labels: Any = None, *, dims: int = 2, ids: Sequence[int] | None = None,
        max_points: int = 1000, highlight: str = "",
    ) -> None:  # fmt: skip
        super().__init__()
        matrix = _embedding_matrix(embeddings)
        if hasattr(labels, "convert_ids_to_tokens"):
            labels = readable_tokens(labels.convert_ids_to_tokens(list(range(matrix.shape[0]))))
        all_labels = _labels(labels, matrix.shape[0])
        if ids is None:
            ids = list(range(min(matrix.shape[0], max_points)))
        ids = [int(i) for i in ids]
        if not ids or min(ids) < 0 or max(ids) >= matrix.shape[0]:
            raise ValueError(f"ids must be row numbers in 0..{matrix.shape[0] - 1}")
        self.ids, self.labels = ids, [all_labels[i] for i in ids]
        self.notice = "" if len(ids) == matrix.shape[0] else f"showing {len(ids)} of {matrix.shape[0]} tokens"
        x = matrix[ids] - matrix[ids].mean(axis=0)
        _, s, vt = np.linalg.svd(x, full_matrices=False)
        self.components = vt[:3]
        self.explained_variance = (s**2 / max((s**2).sum(), 1e-300))[:3]
        self._coords = x @ vt[:3].T
        self.dims_buttons = widgets.ToggleButtons(options=[("2-D", 2), ("3-D", 3)], value=dims, description="view")
        self.search = widgets.Text(value=highlight, placeholder="highlight tokens containing…", description="find")
        fig = go.Figure(layout={**_LAYOUT, "height": 480, "showlegend": False})
        fig.add_scatter(x=[], y=[], mode="markers+text", hoverinfo="text", textposition="top center",
                        textfont_size=10)  # fmt: skip
        fig.add_scatter3d(x=[], y=[], z=[], mode="markers+text", hoverinfo="text", marker_size=3,
                          textfont_size=9)  # fmt: skip
        self._start(fig)
        widgets.link((self.dims_buttons, "value"), (self, "dims"))
        widgets.link((self.search, "value"), (self, "highlight"))
        self.dims, self.highlight = dims, highlight
        self._redraw()
        self._finish(widgets.HBox([self.dims_buttons, self.search]))

    @traitlets.validate("dims")
    def _valid_dims(self, proposal: dict) -> int:
        if proposal["value"] not in (2, 3):
            raise traitlets.TraitError(f"dims must be 2 or 3, got {proposal['value']}")
        return proposal["value"]

    @traitlets.observe("dims", "highlight")
    def _on_change(self, change: dict) -> None:
        self._redraw()

    def coordinates(self) -> np.ndarray:
        """The projected points ``(n, dims)`` (principal components 1, 2 (, 3))."""
        return self._coords[:, : self.dims]

    def _colors(self) -> list[str]:
        q = self.highlight
        return [PALETTE[3] if q and q in lab else PALETTE[0] for lab in self.labels]

    def _redraw(self) -> None:
        if not hasattr(self, "fig"):
            return
        c, colors = self._coords, self._colors()
        text = self.labels
        # Write labels next to the points when there are few, else only the highlighted ones.
        few = len(text) <= 100
        shown = [t if few or col == PALETTE[3] else "" for t, col in zip(text, colors)]
        with self.fig.batch_update():
            flat, cube = self.fig.data
            flat.visible, cube.visible = self.dims == 2, self.dims == 3
            if self.dims == 2:
                flat.x, flat.y, flat.hovertext, flat.text = c[:, 0], c[:, 1], text, shown
                flat.marker.color = colors
            else:
                cube.x, cube.y, cube.z, cube.hovertext, cube.text = c[:, 0], c[:, 1], c[:, 2], text, shown
                cube.marker.color = colors
            self.fig.layout.xaxis.visible = self.dims == 2
            self.fig.layout.yaxis.visible = self.dims == 2
            self.fig.layout.title = f"PCA of {len(text)} embeddings ({self.dims}-D)"
        ev = ", ".join(f"{v:.0%}" for v in self.explained_variance[: self.dims])
        found = sum(col == PALETTE[3] for col in colors)
        extra = f"; {found} contain {self.highlight!r} (red)" if self.highlight else ""
        note = f" ({self.notice})" if self.notice else ""
        self.readout.value = f"{len(self.labels)} tokens; variance explained by the axes: {ev}{extra}{note}"

    def static(self) -> StaticFigure:
        """The 2-D projection (first two principal components) with labels."""
        chart = scatter_chart(self._coords[:, :2], self.labels, x=0, y=20, w=560, h=460,
                              title=f"PCA of {len(self.labels)} embeddings", xlabel="PC 1",
                              ylabel="PC 2", colors=self._colors())  # fmt: skip
        return compose(560, 490, chart, caption=self.readout.value, alt="embedding projection")
