"""The embedding projector: token embeddings in 2-D or 3-D by PCA, with hover labels.

Taught in chapter 3.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import traitlets

from labkit.widgets.base import LAYOUT, Demo, as_labels
from labkit.widgets.display import StaticFigure
from labkit.widgets.svg import PALETTE, compose, scatter_chart
from labkit.widgets.tokens import readable_tokens

__all__ = ["EmbeddingProjector"]


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
        raise ValueError(
            "embeddings must be a (tokens, dims) matrix with ≥ 3 rows and ≥ 2 columns, "
            f"got {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise ValueError("embeddings contain NaN or inf")
    return arr


class EmbeddingProjector(Demo):
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
        self,
        embeddings: Any,
        labels: Any = None,
        *,
        dims: int = 2,
        ids: Sequence[int] | None = None,
        max_points: int = 1000,
        highlight: str = "",
    ) -> None:
        super().__init__()
        matrix = _embedding_matrix(embeddings)
        if hasattr(labels, "convert_ids_to_tokens"):
            labels = readable_tokens(labels.convert_ids_to_tokens(list(range(matrix.shape[0]))))
        all_labels = as_labels(labels, matrix.shape[0])
        if ids is None:
            ids = list(range(min(matrix.shape[0], max_points)))
        ids = [int(i) for i in ids]
        if not ids or min(ids) < 0 or max(ids) >= matrix.shape[0]:
            raise ValueError(f"ids must be row numbers in 0..{matrix.shape[0] - 1}")
        self.ids, self.labels = ids, [all_labels[i] for i in ids]
        self.notice = (
            "" if len(ids) == matrix.shape[0] else f"showing {len(ids)} of {matrix.shape[0]} tokens"
        )
        x = matrix[ids] - matrix[ids].mean(axis=0)
        _, s, vt = np.linalg.svd(x, full_matrices=False)
        self.components = vt[:3]
        self.explained_variance = (s**2 / max((s**2).sum(), 1e-300))[:3]
        self._coords = x @ vt[:3].T
        self.dims_buttons = widgets.ToggleButtons(
            options=[("2-D", 2), ("3-D", 3)], value=dims, description="view"
        )
        self.search = widgets.Text(
            value=highlight, placeholder="highlight tokens containing…", description="find"
        )
        fig = go.Figure(layout={**LAYOUT, "height": 480, "showlegend": False})
        fig.add_scatter(
            x=[],
            y=[],
            mode="markers+text",
            hoverinfo="text",
            textposition="top center",
            textfont_size=10,
        )
        fig.add_scatter3d(
            x=[], y=[], z=[], mode="markers+text", hoverinfo="text", marker_size=3, textfont_size=9
        )
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
                cube.x, cube.y, cube.z, cube.hovertext, cube.text = (
                    c[:, 0],
                    c[:, 1],
                    c[:, 2],
                    text,
                    shown,
                )
                cube.marker.color = colors
            self.fig.layout.xaxis.visible = self.dims == 2
            self.fig.layout.yaxis.visible = self.dims == 2
            self.fig.layout.title = f"PCA of {len(text)} embeddings ({self.dims}-D)"
        ev = ", ".join(f"{v:.0%}" for v in self.explained_variance[: self.dims])
        found = sum(col == PALETTE[3] for col in colors)
        extra = f"; {found} contain {self.highlight!r} (red)" if self.highlight else ""
        note = f" ({self.notice})" if self.notice else ""
        self.readout.value = (
            f"{len(self.labels)} tokens; variance explained by the axes: {ev}{extra}{note}"
        )

    def static(self) -> StaticFigure:
        """The 2-D projection (first two principal components) with labels."""
        chart = scatter_chart(
            self._coords[:, :2],
            self.labels,
            x=0,
            y=20,
            w=560,
            h=460,
            title=f"PCA of {len(self.labels)} embeddings",
            xlabel="PC 1",
            ylabel="PC 2",
            colors=self._colors(),
        )
        return compose(560, 490, chart, caption=self.readout.value, alt="embedding projection")
