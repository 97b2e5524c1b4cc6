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
runs both ways.

From a notebook, :func:`run_torchrun` starts ``torchrun`` on a course script
(:func:`find_script` finds ``course/scripts/train_ddp.py``; :func:`torchrun_command` is the
command line) and :func:`rank_checksums` reads back the weight checksum each rank printed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from labkit._util import check_positive_int

__all__ = [
    "DistInfo",
    "init_distributed",
    "cleanup",
    "is_distributed",
    "rank",
    "world_size",
    "shard",
    "all_reduce_mean",
    "all_reduce_min",
    "barrier",
    "find_script",
    "torchrun_command",
    "run_torchrun",
    "rank_checksums",
]


@dataclass
class DistInfo:
    """Who this process is: ``rank`` of ``world_size``, its ``local_rank`` on this machine,
    the ``device`` it computes on and the ``backend`` ("gloo", "nccl" or None when alone).

    Taught in chapter 4.
    """

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
    """True inside an initialised process group (e.g. under ``torchrun``). Taught in chapter 4."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's rank (0 when not distributed). Taught in chapter 4."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """The number of processes (1 when not distributed). Taught in chapter 4."""
    return dist.get_world_size() if is_distributed() else 1


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
    """Wait for every rank, then leave the process group (call at the end of a script).

    Taught in chapter 4.
    """
    if is_distributed():
        dist.barrier()
        dist.destroy_process_group()


def shard(data: Any, rank: int, world_size: int) -> Any:
    """Rank ``rank``'s contiguous ``1/world_size`` part of a sequence (a tensor, list or str).

    The parts do not overlap and together cover everything but at most ``world_size - 1``
    trailing items (every rank gets the same length). Taught in chapter 4.
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(
            f"rank must be in 0..world_size-1, got rank={rank}, world_size={world_size}"
        )
    size = len(data) // world_size
    if size == 0:
        raise ValueError(
            f"cannot split {len(data)} items over {world_size} processes; use more data"
        )
    return data[rank * size : (rank + 1) * size]


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """The mean of ``tensor`` over all ranks (the tensor itself when not distributed).

    Taught in chapter 4 (the gradient averaging of DDP, here for numbers such as losses).
    """
    if not is_distributed():
        return tensor
    tensor = tensor.clone()
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor / world_size()


def all_reduce_min(tensor: torch.Tensor) -> torch.Tensor:
    """The minimum of ``tensor`` over all ranks (so every rank agrees, e.g. on when to stop).

    Taught in chapter 4.
    """
    if not is_distributed():
        return tensor
    tensor = tensor.clone()
    dist.all_reduce(tensor, op=dist.ReduceOp.MIN)
    return tensor


def barrier() -> None:
    """Wait until every rank gets here (no-op when not distributed). Taught in chapter 4."""
    if is_distributed():
        dist.barrier()


# --------------------------------------------------------------------------------------------
# Scaling out from a notebook: run the torchrun script
# --------------------------------------------------------------------------------------------


def find_script(name: str = "train_ddp.py") -> Path:
    """The path of a course script (``course/scripts/NAME``), wherever the notebook runs.

    Looks in ``./scripts`` (a notebook in ``course/``), ``./course/scripts`` (the repository
    root) and next to the installed ``labkit`` package (an editable install from a clone).
    Raises ``FileNotFoundError`` with the fix when the repository is not there (e.g. labkit
    was installed from a wheel, as on Colab). Taught in chapter 4.
    """
    candidates = [
        Path("scripts") / name,
        Path("course") / "scripts" / name,
        Path(__file__).resolve().parents[1] / "course" / "scripts" / name,  # labkit/ is beside it
    ]
    for path in candidates:
        if path.is_file():
            return path.resolve()
    raise FileNotFoundError(
        f"cannot find course/scripts/{name} (looked in {', '.join(str(c) for c in candidates)}); "
        "it lives in the course repository: clone it (git clone ...) and run the notebook from "
        "its course/ folder"
    )


def torchrun_command(script: str | os.PathLike, nproc: int = 2, *args: str) -> list[str]:
    """The command line that starts ``nproc`` copies of ``script`` with ``torchrun``.

    It is ``python -m torch.distributed.run --nproc_per_node=N --standalone script args``,
    using this Python (so the notebook's environment), ``--standalone`` so that the
    processes find each other on this machine only. Taught in chapter 4.
    """
    check_positive_int(nproc, "nproc")
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        str(script),
        *map(str, args),
    ]


def run_torchrun(
    script: str | os.PathLike, nproc: int = 2, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run :func:`torchrun_command` and return the finished process (``.stdout``, ``.stderr``,
    ``.returncode``); raises ``RuntimeError`` with the end of the error output when it fails.

    The processes get ``OMP_NUM_THREADS=1`` unless it is set (the script sets its own thread
    count; this only silences torchrun's notice) and, on Linux, ``GLOO_SOCKET_IFNAME=lo`` so
    that gloo talks over the loopback interface (no network needed). Taught in chapter 4.
    """
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    if sys.platform.startswith("linux"):
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")
    proc = subprocess.run(
        torchrun_command(script, nproc, *args),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"torchrun exited with code {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc


_CHECKSUM = re.compile(r"\[rank (\d+)/(\d+)\].*?weight checksum (-?[0-9.]+(?:e[-+]?\d+)?)")


def rank_checksums(output: str) -> dict[int, float]:
    """Read the ``[rank r/n] ... weight checksum X`` lines that ``train_ddp.py`` prints.

    Returns ``{rank: checksum}``. Taught in chapter 4.
    """
    return {int(m.group(1)): float(m.group(3)) for m in _CHECKSUM.finditer(output)}
