"""Tests for labkit.distributed and DDP training: 2 CPU processes with gloo on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from labkit import distributed as d
from labkit.models import TinyGPT
from labkit.train import CausalLMTask, TrainConfig, Trainer

ROOT = Path(__file__).parent.parent


def make_trainer(**overrides) -> Trainer:
    torch.manual_seed(0)
    model = TinyGPT(vocab_size=20, block_size=16, n_layer=2, n_head=2, d_model=32)
    ids = 7 + (torch.arange(4000) * 5 + torch.arange(4000) // 7) % 13
    config = TrainConfig(**{"max_steps": 5, "batch_size": 4, "eval_every": 0, "eval_batches": 2,
                            "progress": False, "seed": 3, **overrides})
    return Trainer(model, CausalLMTask(ids[:3600], ids[3600:], 16), config)


def combined_batch() -> tuple[torch.Tensor, torch.Tensor]:
    ids = 7 + torch.randint(13, (8, 17), generator=torch.Generator().manual_seed(42))
    return ids[:, :-1], ids[:, 1:]


def _ddp_worker(rank: int, world: int, out: str) -> None:
    """Runs in each spawned process: gradients on this rank's half, then a few real steps."""
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
    save_file({"losses": torch.tensor(result.history["train_loss"]),
               "shard": trainer.task.train[:5].clone()}, os.path.join(out, f"run{rank}.safetensors"))


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
    assert (d.rank(), d.world_size(), d.is_main_process(), d.is_distributed()) == (0, 1, True, False)
    t = torch.tensor([1.0, 2.0])
    assert d.all_reduce_mean(t) is t and d.all_reduce_min(t) is t
    info = d.init_distributed() if "WORLD_SIZE" not in os.environ else None
    assert info is not None and info.world_size == 1 and info.backend is None and info.is_main
    assert 0 < d.free_port() < 65536


def test_two_gloo_processes_average_gradients_like_one_big_batch(tmp_path):
    d.launch(_ddp_worker, 2, str(tmp_path))

    single = make_trainer()  # one process on the combined batch of 8
    single.forward_backward(combined_batch())
    for rank in (0, 1):
        grads = load_file(str(tmp_path / f"grads{rank}.safetensors"))
        for name, p in single.model.named_parameters():
            torch.testing.assert_close(grads[name], p.grad, atol=1e-6, rtol=1e-5)

    w0, w1 = (load_file(str(tmp_path / f"weights{r}.safetensors")) for r in (0, 1))
    assert all(torch.equal(w0[k], w1[k]) for k in w0)  # the ranks stay identical while training
    r0, r1 = (load_file(str(tmp_path / f"run{r}.safetensors")) for r in (0, 1))
    assert torch.equal(r0["losses"], r1["losses"]) and len(r0["losses"]) == 5  # losses averaged over ranks
    assert not torch.equal(r0["shard"], r1["shard"])  # each rank read its own shard
    assert torch.equal(r1["shard"], single.task.train[1800:1805])


def test_torchrun_runs_the_course_script():
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
           f"--master_port={d.free_port()}", "course/scripts/train_ddp.py", "--max-steps", "6", "--chars", "20000"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert "[rank 0/2] device=cpu backend=gloo" in proc.stdout, proc.stdout
    assert "[rank 1/2] device=cpu backend=gloo" in proc.stdout, proc.stdout
    sums = {line.rsplit(" ", 1)[1] for line in lines if "weight checksum" in line}
    assert len(sums) == 1  # both ranks ended with the same weights
    assert '"steps": 6' in proc.stdout
