"""Training on several processes with ``torch.distributed``: the helpers labkit's trainer uses.

Taught in chapter 4 (scaling out). The idea of data-parallel training (DDP):

1. start N copies of the same script (``torchrun --nproc_per_node=N script.py``); each is a
   *rank* 0..N-1 and learns its number from the environment (``RANK``, ``WORLD_SIZE``, ...);
2. every rank builds the same model (same seed, so the same initial weights) and reads its own
   *shard* of the training data;
3. ``DistributedDataParallel`` averages the gradients of all ranks during ``backward()``
   (an all-reduce), so every rank takes the same optimizer step: N ranks with batch B behave
   like one process with batch N·B.

The backend moves the numbers: ``gloo`` on CPUs, ``nccl`` between NVIDIA GPUs. Outside
``torchrun`` every helper here behaves as a single process (rank 0 of 1), so the same code
runs both ways. In a notebook, where ``torchrun`` cannot start the kernel, :func:`launch`
starts N local processes instead.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

__all__ = [
    "DistInfo",
    "init_distributed",
    "cleanup",
    "is_distributed",
    "rank",
    "world_size",
    "is_main_process",
    "shard",
    "all_reduce_mean",
    "all_reduce_min",
    "barrier",
    "free_port",
    "launch",
]


@dataclass
class DistInfo:
    """Who this process is: ``rank`` of ``world_size``, its ``local_rank`` on this machine,
    the ``device`` it computes on and the ``backend`` ("gloo", "nccl" or None when alone)."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str | None

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that prints and saves."""
        return self.rank == 0


def is_distributed() -> bool:
    """True inside an initialised process group (e.g. under ``torchrun``)."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's rank (0 when not distributed)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """The number of processes (1 when not distributed)."""
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    """True on rank 0 (and in a plain single process)."""
    return rank() == 0


def init_distributed(backend: str | None = None, device: str | None = None) -> DistInfo:
    """Join the process group that ``torchrun`` set up (``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR``, ``MASTER_PORT`` in the environment) and pick this rank's device.

    ``backend`` defaults to ``"nccl"`` when CUDA is available and ``"gloo"`` otherwise; each
    rank gets GPU ``LOCAL_RANK``. Without ``torchrun`` (no ``WORLD_SIZE``) nothing is
    initialised and a single-process ``DistInfo`` is returned. Taught in chapter 4.
    """
    use_cuda = device == "cuda" or (device is None and torch.cuda.is_available())
    local = int(os.environ.get("LOCAL_RANK", 0))
    dev = torch.device("cuda", local) if use_cuda else torch.device(device or "cpu")
    if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) == 1:
        if use_cuda:
            torch.cuda.set_device(dev)
        return DistInfo(0, 1, 0, dev, None)
    backend = backend or ("nccl" if use_cuda else "gloo")
    if backend == "nccl" and not torch.cuda.is_available():
        raise ValueError("the nccl backend needs NVIDIA GPUs; use backend='gloo' on CPUs")
    if use_cuda:
        torch.cuda.set_device(dev)
    if not is_distributed():
        dist.init_process_group(backend=backend)
    return DistInfo(rank(), world_size(), local, dev, backend)


def cleanup() -> None:
    """Wait for every rank, then leave the process group (call at the end of a script)."""
    if is_distributed():
        dist.barrier()
        dist.destroy_process_group()


def shard(data: Any, rank: int, world_size: int) -> Any:
    """Rank ``rank``'s contiguous ``1/world_size`` part of a sequence (a tensor, list or str).

    The parts do not overlap and together cover everything but at most ``world_size - 1``
    trailing items (every rank gets the same length). Taught in chapter 4.
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank must be in 0..world_size-1, got rank={rank}, world_size={world_size}")
    size = len(data) // world_size
    if size == 0:
        raise ValueError(f"cannot split {len(data)} items over {world_size} processes; use more data")
    return data[rank * size : (rank + 1) * size]


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """The mean of ``tensor`` over all ranks (the tensor itself when not distributed)."""
    if not is_distributed():
        return tensor
    tensor = tensor.clone()
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor / world_size()


def all_reduce_min(tensor: torch.Tensor) -> torch.Tensor:
    """The minimum of ``tensor`` over all ranks (so every rank agrees, e.g. on when to stop)."""
    if not is_distributed():
        return tensor
    tensor = tensor.clone()
    dist.all_reduce(tensor, op=dist.ReduceOp.MIN)
    return tensor


def barrier() -> None:
    """Wait until every rank gets here (no-op when not distributed)."""
    if is_distributed():
        dist.barrier()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (for ``MASTER_PORT``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(local_rank: int, nprocs: int, port: int, backend: str, fn: Callable[..., Any], args: tuple) -> None:
    os.environ.update({
        "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(local_rank),
        "LOCAL_RANK": str(local_rank), "WORLD_SIZE": str(nprocs),
    })
    # keep gloo on the loopback interface: works offline, touches no network
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo0" if sys.platform == "darwin" else "lo")
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // nprocs))
    init_distributed(backend=backend)
    try:
        fn(local_rank, nprocs, *args)
    finally:
        cleanup()


def launch(fn: Callable[..., Any], nprocs: int = 2, *args: Any, backend: str = "gloo") -> None:
    """Run ``fn(rank, world_size, *args)`` in ``nprocs`` local processes joined in a process
    group on 127.0.0.1 — what ``torchrun`` does, from Python (e.g. a notebook).

    ``fn`` must be importable by the child processes (defined in a module, not in a notebook
    cell). Each process gets ``cpu_count // nprocs`` threads. Taught in chapter 4.
    """
    if nprocs < 1:
        raise ValueError(f"nprocs must be >= 1, got {nprocs}")
    mp.spawn(_worker, args=(nprocs, free_port(), backend, fn, args), nprocs=nprocs, join=True)
