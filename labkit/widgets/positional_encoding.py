"""The positional-encoding explorer: the table as a heatmap, and how alike positions are.

Taught in chapter 2.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import numpy as np
import traitlets
from plotly.subplots import make_subplots

from labkit.nn import sinusoidal_encoding
from labkit.widgets.base import LAYOUT, WIDE, Demo
from labkit.widgets.display import StaticFigure
from labkit.widgets.svg import PALETTE, compose, heatmap

__all__ = ["PositionalEncodingExplorer"]


def _cosine_similarity(pe: np.ndarray) -> np.ndarray:
    unit = pe / np.maximum(np.linalg.norm(pe, axis=1, keepdims=True), 1e-12)
    return unit @ unit.T


class PositionalEncodingExplorer(Demo):
    """The positional-encoding table as a heatmap, and how similar positions are to each other.

    Left: ``PE[pos, dim]`` (sinusoidal by default, from :func:`labkit.nn.sinusoidal_encoding`,
    or any ``(positions, d_model)`` table you pass, e.g. a trained model's learned position
    embeddings). Middle: cosine similarity between every pair of positions. Right: the
    similarity of the chosen ``position`` to all others — nearby positions look alike.
    Traits: ``position`` and (for the sinusoidal table) ``d_model``. Taught in chapter 2.
    """

    position = traitlets.Int(0)
    d_model = traitlets.Int(64)

    def __init__(
        self, max_len: int = 64, d_model: int = 64, encoding: Any = None, position: int = 10
    ) -> None:
        super().__init__()
        self.learned = encoding is not None
        if self.learned:
            table = (
                encoding.detach().float().cpu().numpy()
                if hasattr(encoding, "detach")
                else np.asarray(encoding, float)
            )
            if table.ndim != 2 or min(table.shape) < 1:
                raise ValueError(
                    f"encoding must be a (positions, d_model) table, got shape {table.shape}"
                )
            if not np.isfinite(table).all():
                raise ValueError("encoding contains NaN or inf")
            max_len, d_model = table.shape
        elif max_len < 2 or d_model < 2 or d_model % 2:
            raise ValueError(f"need max_len ≥ 2 and an even d_model ≥ 2, got {max_len}, {d_model}")
        self.max_len = max_len
        self.pos_slider = widgets.IntSlider(
            value=min(position, max_len - 1),
            min=0,
            max=max_len - 1,
            description="position",
            style=WIDE,
        )
        self.dim_slider = widgets.IntSlider(
            value=d_model,
            min=2 if self.learned else 8,
            max=max(d_model, 256),
            step=2 if self.learned else 8,
            description="d_model",
            disabled=self.learned,
            style=WIDE,
        )
        fig = make_subplots(
            rows=1,
            cols=3,
            horizontal_spacing=0.08,
            subplot_titles=(
                "PE[position, dimension]",
                "cosine similarity",
                "similarity to the position",
            ),
        )
        fig.update_layout(**LAYOUT, height=360, showlegend=False)
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
            raise traitlets.TraitError(
                f"position must be in 0..{self.max_len - 1}, got {proposal['value']}"
            )
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
        frame = {"y": 20, "h": 340, "ylabel": "position"}  # both heatmaps: rows are positions
        table = heatmap(
            pe, x=0, w=360, title="PE[position, dimension]", xlabel="dimension", **frame
        )
        similar = heatmap(
            sim,
            x=360,
            w=340,
            title="cosine similarity",
            xlabel="position",
            vmin=-1,
            vmax=1,
            **frame,
        )
        kind = "Learned" if self.learned else "Sinusoidal"
        return compose(
            700,
            370,
            table,
            similar,
            caption=f"{kind} positional encoding ({self.max_len} × {self.d_model})",
            alt="positional encoding heatmaps",
        )
