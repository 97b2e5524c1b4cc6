"""The sampling explorer: a model's next-token distribution under temperature, top-k and top-p,
and a button that samples.

Taught in chapter 8.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
import traitlets

from labkit.generate import (
    next_token_distribution,
    temperature_scale,
    top_k_filter,
    top_p_filter,
)
from labkit.widgets.base import LAYOUT, WIDE, Demo
from labkit.widgets.display import StaticFigure
from labkit.widgets.svg import GREY, PALETTE, bar_chart, compose
from labkit.widgets.tokens import readable_tokens

__all__ = ["SamplingExplorer"]


class SamplingExplorer(Demo):
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
        self,
        model: Any,
        tokenizer: Any,
        prompt: str,
        *,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        n_show: int = 20,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not isinstance(prompt, str) or not prompt:
            raise ValueError(
                "prompt is empty: give the model some text to continue, e.g. 'Once upon a'"
            )
        ids = list(tokenizer(prompt)["input_ids"])
        if not ids:
            raise ValueError(f"the tokenizer turned {prompt!r} into no tokens; try other text")
        self.model, self.tokenizer, self.n_show = model, tokenizer, n_show
        self.prompt_ids, self.ids = ids, list(ids)
        self.generator = torch.Generator().manual_seed(seed)
        self._compute_logprobs()
        V = self._logprobs.shape[-1]
        self.t_slider = widgets.FloatSlider(
            value=temperature, min=0.0, max=3.0, step=0.05, description="temperature", style=WIDE
        )
        self.k_slider = widgets.IntSlider(
            value=top_k or 0, min=0, max=min(V, 100), description="top-k (0 = off)", style=WIDE
        )
        self.p_slider = widgets.FloatSlider(
            value=top_p or 1.0,
            min=0.05,
            max=1.0,
            step=0.05,
            description="top-p (1 = off)",
            style=WIDE,
        )
        self.sample_button = widgets.Button(description="Sample next token", button_style="primary")
        self.reset_button = widgets.Button(description="Reset")
        self.text_view = widgets.HTML()
        fig = go.Figure(
            layout={
                **LAYOUT,
                "height": 340,
                "barmode": "overlay",
                "yaxis": {"title": "probability"},
            }
        )
        fig.add_bar(x=[], y=[], name="before filtering", marker_color=GREY)
        fig.add_bar(x=[], y=[], name="sampled from", marker_color=PALETTE[0], width=0.5)
        self._start(fig)
        for slider, name in (
            (self.t_slider, "temperature"),
            (self.k_slider, "top_k"),
            (self.p_slider, "top_p"),
        ):
            widgets.link((slider, "value"), (self, name))
        self.sample_button.on_click(lambda _: self.sample())
        self.reset_button.on_click(lambda _: self.reset())
        self._redraw()
        controls = widgets.HBox(
            [
                widgets.VBox([self.t_slider, self.k_slider, self.p_slider]),
                widgets.VBox([self.sample_button, self.reset_button]),
            ]
        )
        self._finish(self.text_view, controls)

    @traitlets.validate("temperature")
    def _valid_t(self, proposal: dict) -> float:
        if not proposal["value"] >= 0:
            raise traitlets.TraitError(
                f"temperature must be ≥ 0 (0 = greedy), got {proposal['value']}"
            )
        return proposal["value"]

    @traitlets.validate("top_k")
    def _valid_k(self, proposal: dict) -> int:
        if proposal["value"] < 0:
            raise traitlets.TraitError(f"top_k must be ≥ 0 (0 = off), got {proposal['value']}")
        return proposal["value"]

    @traitlets.validate("top_p")
    def _valid_p(self, proposal: dict) -> float:
        if not 0 < proposal["value"] <= 1:
            raise traitlets.TraitError(
                f"top_p must be in (0, 1] (1 = off), got {proposal['value']}"
            )
        return proposal["value"]

    @traitlets.observe("temperature", "top_k", "top_p")
    def _on_setting(self, change: dict) -> None:
        self._redraw()

    def _compute_logprobs(self) -> None:
        """Run the model once on the current text (T = 1, no filter): log-probabilities [V]."""
        probs = next_token_distribution(self.model, torch.tensor(self.ids), temperature=1.0)
        self._logprobs = probs.float().clamp_min(1e-38).log().cpu()
        self.text = self.tokenizer.decode(self.ids)

    def distribution(self) -> tuple[np.ndarray, np.ndarray]:
        """``(before, after)``: probabilities ``[V]`` at the temperature before and after
        top-k/top-p (tokens removed by the filters have 0 in ``after``)."""
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
        labels = [
            f"{lab} ({int(i)})" if labels.count(lab) > 1 else lab for lab, i in zip(labels, order)
        ]
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
        added = (
            self.tokenizer.decode(self.ids[len(self.prompt_ids) :])
            if len(self.ids) > len(self.prompt_ids)
            else ""
        )
        self.text_view.value = (
            f"<pre style='white-space:pre-wrap;margin:0'>{html.escape(prompt)}"
            f"<b style='background:#fdae25'>{html.escape(added)}</b></pre>"
        )
        self.readout.value = (
            f"temperature {self.temperature:g}, top-k {self.top_k or 'off'}, top-p "
            f"{self.top_p if self.top_p < 1 else 'off'}: {kept} tokens survive"
        )

    def static(self) -> StaticFigure:
        """The top tokens' probabilities; the ones the filters remove are grey."""
        _, labels, before, after = self._top()
        colors = [PALETTE[0] if a > 0 else GREY for a in after]
        chart = bar_chart(
            labels,
            after if self.temperature == 0 else before,
            x=0,
            y=20,
            w=760,
            h=280,
            title="next-token probabilities (grey: removed by top-k/top-p)",
            ylabel="probability",
            colors=colors,
        )
        text = self.text if len(self.text) < 90 else "…" + self.text[-89:]
        return compose(760, 310, chart, caption=f"after: {text!r}", alt="next-token distribution")
