"""Watch attention form: the attention explorer, kept up to date while a model trains.

Taught in chapter 2 (section 7: the tiny GPT's heads take shape during training).

:class:`AttentionLive` is a training callback (``train(..., callbacks=[live])``, see
:mod:`labkit.train.callbacks`). It holds an :class:`~labkit.widgets.attention.AttentionExplorer`
of the model on one fixed text and, while the model trains:

* **updates the explorer** on the callback's ``step`` events, at most once every ``every``
  steps and at most once every ``min_seconds`` of wall time (a few updates a second at most,
  so the browser is never flooded and training is barely slowed: one forward pass of the text
  in eval mode, without gradients, that draws no random numbers);
* **takes snapshots** of every head's weights at ``snapshots`` evenly spaced steps, from step 0
  to the last one, whatever the throttling; :meth:`AttentionLive.strip` draws the chosen
  head's snapshots side by side as a static SVG picture.

Displayed in a notebook, it shows the live explorer, and as its stored picture the strip of
snapshots (redrawn at every snapshot and at the end), so a saved notebook shows how the head
formed, and no widget state needs to be kept. Without a browser (scripts, tests, nbconvert)
everything works the same; only nobody watches.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from labkit.widgets.attention import AttentionExplorer, attention_of
from labkit.widgets.display import StaticFigure
from labkit.widgets.svg import compose, heatmap

__all__ = ["AttentionLive", "AttentionSnapshot", "snapshot_steps"]


@dataclass
class AttentionSnapshot:
    """Every head's weights ``(layers, heads, T, T)`` at one training step, with the training
    loss reported at that step (``None`` at step 0). Taught in chapter 2."""

    step: int
    attention: np.ndarray
    train_loss: float | None = None


def snapshot_steps(max_steps: int, n: int) -> list[int]:
    """``n`` evenly spaced steps from 0 to ``max_steps`` (both included, no repeats).

    >>> snapshot_steps(400, 5)
    [0, 100, 200, 300, 400]

    Taught in chapter 2.
    """
    if not isinstance(n, int) or n < 2:
        raise ValueError(f"snapshots must be an int >= 2 (the first and the last step), got {n!r}")
    if max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps!r}")
    return sorted({int(round(s)) for s in np.linspace(0, max_steps, n)})


class AttentionLive:
    """A training callback that keeps an attention explorer live and snapshots its heads.

    ``live = AttentionLive(model, tokenizer, text)`` runs ``model`` on ``text`` and opens an
    explorer (``live.explorer``; keyword arguments such as ``view="layer"``, ``layer``, ``head``
    go to it). Display ``live`` in a notebook, then ``train(model, task, ...,
    callbacks=[live])``. ``every`` is the least number of steps between two updates of the
    explorer, ``min_seconds`` the least wall time; ``snapshots`` how many pictures from step 0
    to the end to keep (``live.snapshots``). ``clock`` is for tests.

    Taught in chapter 2.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        text: str,
        *,
        every: int = 10,
        min_seconds: float = 0.3,
        snapshots: int = 6,
        clock: Callable[[], float] = time.perf_counter,
        **explorer_kwargs: Any,
    ) -> None:
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be an int >= 1 (steps between updates), got {every!r}")
        if not min_seconds >= 0:
            raise ValueError(f"min_seconds must be >= 0, got {min_seconds!r}")
        snapshot_steps(1, snapshots)  # checks the number early, with its message
        self.model, self.tokenizer, self.text = model, tokenizer, text
        self.every, self.min_seconds, self.n_snapshots = every, float(min_seconds), snapshots
        self.clock = clock
        attention, tokens, notice = attention_of(model, tokenizer, text)
        explorer_kwargs.setdefault("notice", notice)
        explorer_kwargs.setdefault("title", "step 0")
        self.explorer = AttentionExplorer(attention, tokens, **explorer_kwargs)
        self.snapshots: list[AttentionSnapshot] = []
        self.updates = 0  # how many times the explorer was redrawn during training
        self._planned: list[int] = []
        self._last_step: int | None = None
        self._last_time = -float("inf")
        self._handles: list[Any] = []

    # ---- the callback protocol (labkit.train.callbacks) ----

    def on_begin(self, m: dict[str, Any]) -> None:
        """Plan the snapshot steps and take the first one (the weights before training)."""
        start, max_steps = int(m["step"]), int(m["max_steps"])
        planned = snapshot_steps(max(max_steps, 1), self.n_snapshots)
        self._planned = [s for s in planned if s > start]
        self.snapshots = [s for s in self.snapshots if s.step < start]  # a resumed run goes on
        self._show(self._snapshot(start, None), start)

    def on_step(self, m: dict[str, Any]) -> None:
        """Snapshot when a planned step is reached; update the explorer when not throttled."""
        step, loss = int(m["step"]), m.get("train_loss")
        attention = None
        if self._planned and step >= self._planned[0]:
            while self._planned and step >= self._planned[0]:
                self._planned.pop(0)
            attention = self._snapshot(step, loss)
        steps_ok = self._last_step is None or step - self._last_step >= self.every
        if steps_ok and self.clock() - self._last_time >= self.min_seconds:
            self._show(attention if attention is not None else self._run(), step)
        elif attention is not None:
            self._refresh_picture()

    def on_end(self, m: dict[str, Any]) -> None:
        """Take the last snapshot (the trained weights) and show them."""
        step = int(m["step"])
        last = self.snapshots[-1] if self.snapshots else None
        if last is None or last.step != step:
            attention = self._snapshot(step, m.get("train_loss"))
        else:
            attention = last.attention
        self._planned = []
        self._show(attention, step)

    # ---- pictures ----

    def strip(self, layer: int | None = None, head: int | None = None) -> StaticFigure:
        """One head's snapshots side by side, step 0 on the left (an SVG picture).

        ``layer``/``head`` default to the explorer's current selection. Taught in chapter 2.
        """
        if not self.snapshots:
            raise ValueError("no snapshots yet: pass this object to train(..., callbacks=[...])")
        L, H = self.explorer.n_layers, self.explorer.n_heads
        layer = self.explorer.layer if layer is None else layer
        head = self.explorer.head if head is None else head
        if not (0 <= layer < L and 0 <= head < H):
            raise ValueError(f"choose layer in 0..{L - 1} and head in 0..{H - 1}")
        size, parts = 150, []
        for i, snap in enumerate(self.snapshots):
            title = f"step {snap.step}"
            if snap.train_loss is not None:
                title += f" (loss {snap.train_loss:.2f})"
            parts.append(
                heatmap(
                    snap.attention[layer, head],
                    x=i * (size + 6),
                    y=22,
                    w=size + 6,
                    h=size + 24,
                    title=title,
                    vmin=0.0,
                    vmax=1.0,
                    margin=6,
                )
            )
        n = len(self.snapshots)
        caption = (
            f"Layer {layer}, head {head} while training, {self.explorer.n_tokens} tokens "
            "(rows: queries, columns: keys; bright = much weight)"
        )
        return compose(
            max(n * (size + 6) + 8, 420),
            size + 56,
            *parts,
            caption=caption,
            alt=f"attention of layer {layer} head {head} at {n} training steps",
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = self.explorer._repr_mimebundle_(**kwargs)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, None)
        picture = self.strip() if self.snapshots else self.explorer.static()
        data = {
            **data,
            "text/html": picture.to_html(),
            "text/plain": "<labkit AttentionLive: run the cell to watch the explorer>",
        }
        return (data, metadata) if metadata else data

    def _ipython_display_(self) -> None:
        """Display through a handle, so the stored picture can follow the snapshots."""
        from IPython.display import display

        bundle = self._repr_mimebundle_()
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, None)
        handle = display(data, metadata=metadata or {}, raw=True, display_id=True)
        if handle is not None:
            self._handles.append(handle)

    # ---- internals ----

    def _run(self) -> np.ndarray:
        return attention_of(self.model, self.tokenizer, self.text)[0]

    def _snapshot(self, step: int, loss: Any) -> np.ndarray:
        attention = self._run()
        loss = None if loss is None else float(loss)
        self.snapshots.append(AttentionSnapshot(step, attention, loss))
        return attention

    def _show(self, attention: np.ndarray, step: int) -> None:
        self.explorer.set_attention(attention)
        self.explorer._title = f"step {step}"
        self._last_step, self._last_time = step, self.clock()
        self.updates += 1
        self._refresh_picture()

    def _refresh_picture(self) -> None:
        for handle in self._handles:
            bundle = self._repr_mimebundle_()
            data, metadata = bundle if isinstance(bundle, tuple) else (bundle, None)
            handle.update(data, metadata=metadata or {}, raw=True)
