"""The live attention explorer (labkit.widgets.attention_live): a training callback that keeps
the explorer up to date, throttled, and snapshots the heads from step 0 to the end (chapter 2).
Everything here runs without a browser."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch

import labkit.widgets as lw
from labkit.models import TinyGPT
from labkit.tokenizers import train_char_tokenizer
from labkit.train import CausalLMTask, train
from labkit.widgets.attention import attention_of
from labkit.widgets.attention_live import AttentionLive, snapshot_steps

TEXT = "the cat sat on the mat. the dog sat on the log. " * 20
PROBE = "the cat sat on the log."
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _setup(seed: int = 0) -> tuple[TinyGPT, object, CausalLMTask]:
    tok = train_char_tokenizer(TEXT)
    ids = torch.tensor(tok(TEXT)["input_ids"])
    task = CausalLMTask(ids[:800], ids[800:], block_size=16)
    torch.manual_seed(seed)
    model = TinyGPT(vocab_size=len(tok), n_layer=2, n_head=2, d_model=16, block_size=16)
    return model, tok, task


def _train(model: TinyGPT, task: CausalLMTask, steps: int, callbacks: list) -> object:
    return train(
        model,
        task,
        max_steps=steps,
        batch_size=4,
        lr=3e-3,
        warmup_steps=2,
        eval_every=0,
        eval_batches=1,
        log_every=1,
        progress=False,
        num_threads=1,
        callbacks=callbacks,
    )


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _svg_of(html: str) -> ET.Element:
    prefix = '<img src="data:image/svg+xml;base64,'
    assert html.startswith(prefix)
    return ET.fromstring(base64.b64decode(html[len(prefix) :].split('"')[0]))


def test_snapshot_steps_are_even_and_include_both_ends() -> None:
    assert snapshot_steps(400, 6) == [0, 80, 160, 240, 320, 400]
    assert snapshot_steps(400, 5) == [0, 100, 200, 300, 400]
    assert snapshot_steps(3, 6) == [0, 1, 2, 3]  # fewer steps than pictures: no repeats
    with pytest.raises(ValueError, match="snapshots"):
        snapshot_steps(10, 1)


def test_snapshots_are_taken_at_the_planned_steps_during_real_training() -> None:
    model, tok, task = _setup()
    live = AttentionLive(model, tok, PROBE, min_seconds=0.0, snapshots=5)
    _train(model, task, 20, [live])
    assert [s.step for s in live.snapshots] == [0, 5, 10, 15, 20]
    assert live.snapshots[0].train_loss is None
    assert all(s.train_loss is not None for s in live.snapshots[1:])
    # each snapshot is the model's attention at that moment: the last one equals a fresh run
    final = attention_of(model, tok, PROBE)[0]
    np.testing.assert_allclose(live.snapshots[-1].attention, final, atol=1e-6)
    np.testing.assert_allclose(live.explorer.attention, final, atol=1e-6)
    # and training changed the weights (so a snapshot strip can show anything at all)
    assert np.abs(live.snapshots[0].attention - final).max() > 1e-3
    assert model.training  # the callback put the model back in training mode


def test_the_callback_does_not_change_training() -> None:
    model_a, tok, task = _setup()
    result_a = _train(model_a, task, 12, [])
    model_b, tok, task = _setup()
    result_b = _train(model_b, task, 12, [AttentionLive(model_b, tok, PROBE, min_seconds=0.0)])
    assert result_a.history["train_loss"] == result_b.history["train_loss"]
    for pa, pb in zip(model_a.parameters(), model_b.parameters()):
        assert torch.equal(pa, pb)


def test_updates_are_throttled_by_steps() -> None:
    model, tok, task = _setup()
    live = AttentionLive(model, tok, PROBE, every=5, min_seconds=0.0, snapshots=2)
    _train(model, task, 20, [live])
    # begin (step 0), steps 5, 10, 15, 20 and the end (already at step 20 but shown again)
    assert live.updates == 6


def test_updates_are_throttled_by_wall_time() -> None:
    model, tok, _ = _setup()
    clock = FakeClock()
    live = AttentionLive(model, tok, PROBE, every=1, min_seconds=0.5, snapshots=2, clock=clock)
    live.on_begin({"event": "begin", "step": 0, "max_steps": 100})
    assert live.updates == 1
    for step in range(1, 11):  # ten steps within 0.45 s: no update
        clock.t += 0.045
        live.on_step({"event": "step", "step": step, "max_steps": 100, "train_loss": 1.0})
    assert live.updates == 1
    clock.t += 0.1  # now 0.55 s since the last update
    live.on_step({"event": "step", "step": 11, "max_steps": 100, "train_loss": 1.0})
    assert live.updates == 2
    for step in range(12, 100):  # 88 steps in 4.4 s: at most one update per 0.5 s
        clock.t += 0.05
        live.on_step({"event": "step", "step": step, "max_steps": 100, "train_loss": 1.0})
    assert 8 <= live.updates - 2 <= 9
    # snapshots ignore the throttle: the last one is taken at the end
    live.on_end({"event": "end", "step": 100, "max_steps": 100, "train_loss": 0.9})
    assert [s.step for s in live.snapshots] == [0, 100]


def test_the_strip_is_a_static_svg_of_the_chosen_head() -> None:
    model, tok, task = _setup()
    live = AttentionLive(model, tok, PROBE, min_seconds=0.0, snapshots=4, view="layer")
    with pytest.raises(ValueError, match="no snapshots"):
        live.strip()
    _train(model, task, 9, [live])
    live.explorer.layer, live.explorer.head = 1, 1
    svg = _svg_of(live.strip().to_html())
    text = ET.tostring(svg, encoding="unicode")
    assert "Layer 1, head 1" in text and "step 0" in text and "step 9" in text
    assert text.count("<ns0:image") + text.count("<image") == 4  # one heatmap per snapshot
    assert "<script" not in text
    with pytest.raises(ValueError, match="head in 0..1"):
        live.strip(layer=0, head=5)
    # displayed in a notebook: the live widget, and the strip as its stored picture
    data = live._repr_mimebundle_()
    assert WIDGET_VIEW in data
    assert data["text/html"] == live.strip().to_html()


def test_explorer_set_attention_checks_the_shape() -> None:
    model, tok, _ = _setup()
    live = AttentionLive(model, tok, PROBE)
    with pytest.raises(ValueError, match="same model on the same text"):
        live.explorer.set_attention(np.ones((1, 1, 3, 3), np.float32) / 3)


def test_bad_settings_name_the_fix() -> None:
    model, tok, _ = _setup()
    with pytest.raises(ValueError, match="every"):
        AttentionLive(model, tok, PROBE, every=0)
    with pytest.raises(ValueError, match="snapshots"):
        AttentionLive(model, tok, PROBE, snapshots=1)
    assert lw.AttentionLive is AttentionLive
