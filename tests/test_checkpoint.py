"""labkit.checkpoint and Trainer.save/load: safetensors + JSON only, atomic, exact resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from labkit import checkpoint as ckpt
from labkit.models import TinyGPT
from labkit.train import CausalLMTask, TrainConfig, Trainer

HERE = Path(__file__).parent
STEPS = 20


def make_trainer(out_dir: str | None = None, model_seed: int = 0) -> Trainer:
    """The run every test here uses (also imported by the subprocesses below)."""
    torch.manual_seed(model_seed)
    model = TinyGPT(vocab_size=20, block_size=16, n_layer=2, n_head=2, d_model=32, dropout=0.1)
    ids = 7 + (torch.arange(3000) * 7 + torch.arange(3000) // 5) % 13
    config = TrainConfig(
        max_steps=STEPS,
        batch_size=8,
        lr=3e-3,
        warmup_steps=4,
        eval_every=5,
        eval_batches=2,
        log_every=1,
        progress=False,
        seed=11,
        out_dir=out_dir,
    )
    return Trainer(model, CausalLMTask(ids[:2500], ids[2500:], 16), config)


def run_python(code: str, **kwargs) -> subprocess.Popen:
    """Run ``code`` in a new Python, with this process's thread count: the rounding of
    parallel sums depends on it, so bit-for-bit equality needs the same number of threads."""
    env = {**os.environ, "PYTHONPATH": f"{HERE}{os.pathsep}{HERE.parent}"}
    code = f"import torch; torch.set_num_threads({torch.get_num_threads()})\n" + code
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,
    )


def weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.fixture(scope="module")
def straight() -> tuple[dict, list[float], list[float]]:
    """Weights, per-step losses and val losses of STEPS uninterrupted steps."""
    result = make_trainer().fit()
    return weights(result.model), result.history["train_loss"], result.history["val_loss"]


def test_checkpoint_files_are_safetensors_and_json_only(tmp_path):
    trainer = make_trainer(str(tmp_path / "run"))
    trainer.fit(stop_at=6)
    d = tmp_path / "run"
    names = sorted(p.name for p in d.iterdir())
    assert names == [
        "config.json",
        "model.safetensors",
        "optimizer.safetensors",
        "rng.safetensors",
        "trainer_state.json",
    ]
    for name in names:  # no pickle anywhere: pickles start with the byte 0x80
        assert not (d / name).read_bytes().startswith(b"\x80")
    state = json.loads((d / "trainer_state.json").read_text())
    assert state["format"] == ckpt.FORMAT and state["state"]["step"] == 6
    assert state["state"]["history"]["step"] == list(range(1, 7))
    assert state["optimizer"]["param_groups"][0]["betas"] == [0.9, 0.95]
    opt = load_file(str(d / "optimizer.safetensors"))
    assert {k.split(".", 1)[1] for k in opt} == {"step", "exp_avg", "exp_avg_sq"}
    loaded = TinyGPT.load(d)  # the model part is a plain labkit model directory
    assert_same_weights(weights(loaded), weights(trainer.model))


def test_optimizer_state_round_trip():
    trainer = make_trainer()
    trainer.fit(stop_at=3)
    tensors, meta = ckpt.optimizer_state_to_tensors(trainer.optimizer)
    json.dumps(meta)  # the non-tensor part is plain JSON
    rebuilt = ckpt.optimizer_state_from_tensors(tensors, json.loads(json.dumps(meta)))
    original = trainer.optimizer.state_dict()
    assert rebuilt["param_groups"] == original["param_groups"]
    for i, values in original["state"].items():
        for name, value in values.items():
            assert torch.equal(rebuilt["state"][i][name], value)


def test_resume_in_a_new_process_is_bit_for_bit(tmp_path, straight):
    out = tmp_path / "run"
    half = make_trainer(str(out))
    half.fit(stop_at=STEPS // 2)  # pauses and saves at step 10 (schedule still for 20 steps)
    code = (
        "import torch, random; torch.manual_seed(999); random.seed(999)\n"
        "from test_checkpoint import make_trainer\n"
        # another init: everything must come from disk
        f"t = make_trainer({str(out)!r}, model_seed=123)\n"
        f"assert t.load() and t.step == {STEPS // 2}\n"
        "t.fit()\n"
    )
    proc = run_python(code)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    resumed = TinyGPT.load(out)
    state = json.loads((out / "trainer_state.json").read_text())["state"]
    w, losses, val_losses = straight
    assert_same_weights(weights(resumed.train()), w)
    assert state["step"] == STEPS
    assert state["history"]["train_loss"] == losses  # the whole loss curve, exactly
    assert state["history"]["val_loss"] == val_losses


def test_resume_in_process_with_train_resume_true(tmp_path, straight):
    from labkit.train import train

    out = str(tmp_path / "run")
    make_trainer(out).fit(stop_at=7)
    fresh = make_trainer(out, model_seed=5)
    result = train(fresh.model, fresh.task, fresh.config, resume=True)
    assert result.steps == STEPS
    assert_same_weights(weights(result.model), straight[0])
    assert result.history["train_loss"] == straight[1]


def test_killing_the_process_during_a_save_keeps_the_previous_checkpoint(tmp_path, straight):
    out = tmp_path / "run"
    code = (
        "import time\n"
        "import labkit.checkpoint\n"
        "from test_checkpoint import make_trainer\n"
        f"t = make_trainer({str(out)!r})\n"
        "t.fit(stop_at=5)\n"  # a complete checkpoint at step 5
        # From now on a save stalls after the model's files, before the optimizer's file:
        "def stalled_save_file(*args, **kwargs):\n"
        "    print('MID-SAVE', flush=True)\n"
        "    time.sleep(600)\n"
        "labkit.checkpoint.save_file = stalled_save_file\n"
        "t.fit(stop_at=10)\n"
    )
    proc = run_python(code)
    try:
        assert proc.stdout.readline().strip() == "MID-SAVE"
        assert list(tmp_path.glob(".run.tmp-*/model.safetensors"))  # half of the new checkpoint
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert list(tmp_path.glob(".run.tmp-*"))  # the half-written checkpoint, left aside
    state = json.loads((out / "trainer_state.json").read_text())["state"]
    assert state["step"] == 5
    trainer = make_trainer(str(out), model_seed=9)
    assert trainer.load() and trainer.step == 5
    result = trainer.fit()  # and the run goes on to the same end as an uninterrupted one
    assert_same_weights(weights(result.model), straight[0])
    assert not list(tmp_path.glob(".run.tmp-*"))  # the next save cleaned the leftovers


def test_a_save_killed_between_its_renames_is_recovered(tmp_path):
    out = tmp_path / "run"
    make_trainer(str(out)).fit(stop_at=3)
    os.rename(out, tmp_path / ".run.old-1234-abcd")  # what a kill after the first rename leaves
    assert not out.exists()
    assert ckpt.find_checkpoint(out) == out
    assert json.loads((out / "trainer_state.json").read_text())["state"]["step"] == 3


def test_refuses_to_replace_a_folder_with_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    trainer = make_trainer()
    with pytest.raises(FileExistsError, match="already holds other files"):
        trainer.save(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_load_errors_are_clear(tmp_path):
    trainer = make_trainer()
    with pytest.raises(FileNotFoundError, match="no labkit checkpoint"):
        ckpt.load_checkpoint(tmp_path / "nothing", trainer.model)
    trainer.save(tmp_path / "run")
    other = TinyGPT(vocab_size=20, block_size=16, n_layer=1, n_head=2, d_model=32)
    with pytest.raises(ValueError, match="does not fit this model"):
        ckpt.load_checkpoint(tmp_path / "run", other)
    assert make_trainer().load(tmp_path / "missing") is False


def test_rng_states_round_trip():
    gen = torch.Generator().manual_seed(3)
    tensors, meta = ckpt.capture_rng({"batches": gen})
    import random

    import numpy as np

    expected = (torch.rand(3), random.random(), np.random.rand(), torch.rand(2, generator=gen))
    torch.manual_seed(0)
    random.seed(0)
    np.random.seed(0)
    ckpt.restore_rng(tensors, json.loads(json.dumps(meta)), {"batches": gen})
    again = (torch.rand(3), random.random(), np.random.rand(), torch.rand(2, generator=gen))
    assert torch.equal(expected[0], again[0]) and expected[1:3] == again[1:3]
    assert torch.equal(expected[3], again[3])
