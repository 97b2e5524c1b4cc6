"""Tests for labkit.distributed and DDP training: 2 CPU processes with gloo on 127.0.0.1, started
with torchrun as chapter 4 starts them (``run_torchrun``)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from labkit import distributed as d
from labkit.models import TinyGPT
from labkit.train import CausalLMTask, TrainConfig, Trainer

ROOT = Path(__file__).resolve().parents[1]


def make_trainer(**overrides) -> Trainer:
    torch.manual_seed(0)
    model = TinyGPT(vocab_size=20, block_size=16, n_layer=2, n_head=2, d_model=32)
    ids = 7 + (torch.arange(4000) * 5 + torch.arange(4000) // 7) % 13
    settings = {"max_steps": 5, "batch_size": 4, "eval_every": 0, "eval_batches": 2}
    config = TrainConfig(**settings, progress=False, seed=3, device="cpu", **overrides)
    return Trainer(model, CausalLMTask(ids[:3600], ids[3600:], 16), config)


def combined_batch() -> tuple[torch.Tensor, torch.Tensor]:
    ids = 7 + torch.randint(13, (8, 17), generator=torch.Generator().manual_seed(42))
    return ids[:, :-1], ids[:, 1:]


def ddp_worker(rank: int, out: str) -> None:
    """Runs in each torchrun process: gradients on this rank's half, then a few real steps."""
    trainer = make_trainer()
    assert isinstance(trainer.net, torch.nn.parallel.DistributedDataParallel)
    x, y = combined_batch()
    half = slice(rank * 4, (rank + 1) * 4)
    trainer.forward_backward((x[half], y[half]))  # DDP averages the gradients of both ranks
    grads = {n: p.grad.contiguous() for n, p in trainer.model.named_parameters()}
    save_file(grads, os.path.join(out, f"grads{rank}.safetensors"))
    trainer.optimizer.zero_grad(set_to_none=True)
    result = trainer.fit()
    weights = {n: p.detach().contiguous() for n, p in trainer.model.named_parameters()}
    save_file(weights, os.path.join(out, f"weights{rank}.safetensors"))
    run = {"losses": torch.tensor(result.history["train_loss"]), "shard": trainer.task.train[:5]}
    save_file({k: v.clone() for k, v in run.items()}, os.path.join(out, f"run{rank}.safetensors"))


WORKER_SCRIPT = """\
import sys
sys.path.insert(0, {tests!r})
from labkit import distributed as d
from test_distributed import ddp_worker
info = d.init_distributed(backend="gloo", device="cpu")
try:
    ddp_worker(info.rank, {out!r})
finally:
    d.cleanup()
"""


# --------------------------------------------------------------------------- the helpers


def test_shard_splits_without_overlap():
    data = torch.arange(103)
    parts = [d.shard(data, r, 4) for r in range(4)]
    assert [len(p) for p in parts] == [25] * 4
    assert torch.equal(torch.cat(parts), data[:100])
    assert d.shard("abcdef", 1, 2) == "def"
    with pytest.raises(ValueError, match="rank must be in"):
        d.shard(data, 4, 4)
    with pytest.raises(ValueError, match="use more data"):
        d.shard([1], 0, 2)


def test_single_process_fallbacks():
    assert (d.rank(), d.world_size(), d.is_distributed()) == (0, 1, False)
    t = torch.tensor([1.0, 2.0])
    assert d.all_reduce_mean(t) is t and d.all_reduce_min(t) is t
    d.barrier()  # no-op alone
    info = d.init_distributed(device="cpu") if "WORLD_SIZE" not in os.environ else None
    assert info is not None and info.world_size == 1 and info.backend is None and info.is_main


def test_find_script_from_the_repository_and_from_course(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = (ROOT / "course" / "scripts" / "train_ddp.py").resolve()
    monkeypatch.chdir(ROOT)
    assert d.find_script() == expected
    monkeypatch.chdir(ROOT / "course")
    assert d.find_script("train_ddp.py") == expected
    with pytest.raises(FileNotFoundError, match="clone"):
        d.find_script("no_such_script.py")


def test_torchrun_command_and_checksums() -> None:
    cmd = d.torchrun_command("scripts/train_ddp.py", 2, "--max-steps", 5)
    assert cmd[:4] == [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    assert cmd[4:] == ["--nproc_per_node=2", "scripts/train_ddp.py", "--max-steps", "5"]
    with pytest.raises(ValueError, match="nproc"):
        d.torchrun_command("x.py", 0)
    out = (
        "[rank 1/2] done: 5 steps, 1 tokens/s (all ranks), weight checksum -3.25\n"
        "[rank 0/2] done: 5 steps, 1 tokens/s (all ranks), weight checksum 12.500000\n"
    )
    assert d.rank_checksums(out) == {0: 12.5, 1: -3.25}


# --------------------------------------------------------------------------- torchrun


def test_run_torchrun_starts_the_ranks(tmp_path: Path) -> None:
    script = tmp_path / "hello.py"
    # One write() per rank: a write of under 4 KiB to a pipe is atomic, so the two ranks' lines
    # cannot interleave (print() with several arguments may write them in pieces).
    script.write_text(
        "import os\ne = os.environ\n"
        "os.write(1, f\"rank {e['RANK']} of {e['WORLD_SIZE']} {e['OMP_NUM_THREADS']}\\n\""
        ".encode())\n"
    )
    proc = d.run_torchrun(script, 2, timeout=120)
    assert sorted(line for line in proc.stdout.splitlines() if line.startswith("rank")) == [
        "rank 0 of 2 1",
        "rank 1 of 2 1",
    ]
    bad = tmp_path / "bad.py"
    bad.write_text("raise SystemExit(3)\n")
    with pytest.raises(RuntimeError, match="exited with code"):
        d.run_torchrun(bad, 1, timeout=120)


def test_two_gloo_processes_average_gradients_like_one_big_batch(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER_SCRIPT.format(tests=str(ROOT / "tests"), out=str(tmp_path)))
    d.run_torchrun(script, 2, timeout=180)

    single = make_trainer()  # one process on the combined batch of 8
    single.forward_backward(combined_batch())
    for rank in (0, 1):
        grads = load_file(str(tmp_path / f"grads{rank}.safetensors"))
        for name, p in single.model.named_parameters():
            torch.testing.assert_close(grads[name], p.grad, atol=1e-6, rtol=1e-5)

    w0, w1 = (load_file(str(tmp_path / f"weights{r}.safetensors")) for r in (0, 1))
    assert all(torch.equal(w0[k], w1[k]) for k in w0)  # the ranks stay identical while training
    r0, r1 = (load_file(str(tmp_path / f"run{r}.safetensors")) for r in (0, 1))
    assert torch.equal(r0["losses"], r1["losses"])  # losses averaged over the ranks
    assert len(r0["losses"]) == 5
    assert not torch.equal(r0["shard"], r1["shard"])  # each rank read its own shard
    assert torch.equal(r1["shard"], single.task.train[1800:1805])


def test_torchrun_runs_the_course_script() -> None:
    args = ("--max-steps", "6", "--chars", "20000", "--device", "cpu")
    proc = d.run_torchrun(d.find_script("train_ddp.py"), 2, *args, timeout=180)
    assert "[rank 0/2] device=cpu backend=gloo" in proc.stdout, proc.stdout
    assert "[rank 1/2] device=cpu backend=gloo" in proc.stdout, proc.stdout
    sums = d.rank_checksums(proc.stdout)
    assert len(sums) == 2 and len(set(sums.values())) == 1  # both ranks ended with the same weights
    summary = json.loads(next(x for x in proc.stdout.splitlines() if x.startswith("{")))
    assert summary["steps"] == 6
