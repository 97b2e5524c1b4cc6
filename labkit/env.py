"""The learner's environment: where labkit keeps files, which device to use, how many threads.

Taught in chapter 0 (Start here). ``doctor()``, which checks all of it, is in
:mod:`labkit.doctor`.
"""

from __future__ import annotations

import os
import random
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from labkit._util import check_positive_int

DEVICE_TYPES = ("cpu", "cuda", "mps")


def home_dir() -> Path:
    """Return labkit's data directory (caches, checkpoints, exercise progress), creating it.

    ``$LABKIT_HOME`` wins when set; otherwise the platform's user data directory
    (e.g. ``~/.local/share/labkit`` on Linux). Never inside the course repository.
    """
    env = os.environ.get("LABKIT_HOME")
    if env:
        path = Path(env).expanduser()
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir("labkit", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


# --------------------------------------------------------------------------- devices


def mps_available() -> bool:
    """True when torch can use an Apple GPU (MPS). Taught in chapter 0."""
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def available_devices() -> list[str]:
    """List the device names that work on this machine, e.g. ``["cpu", "cuda", "cuda:0"]``.

    Taught in chapter 0.
    """
    names = ["cpu"]
    if torch.cuda.is_available():
        names.append("cuda")
        names += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if mps_available():
        names.append("mps")
    return names


def get_device(device: str | torch.device | None = None) -> torch.device:
    """Pick the device to compute on.

    Order: the ``device`` argument, then the ``$LABKIT_DEVICE`` environment variable, then
    the best one present: CUDA (NVIDIA GPU) → MPS (Apple GPU) → CPU. An unknown or absent
    device raises ``ValueError`` listing the devices that work here.

    >>> get_device("cpu")
    device(type='cpu')

    Taught in chapter 0.
    """
    source = "argument"
    if device is None and os.environ.get("LABKIT_DEVICE", "").strip():
        device, source = os.environ["LABKIT_DEVICE"].strip(), "$LABKIT_DEVICE"
    if device is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")

    valid = ", ".join(repr(name) for name in available_devices())
    try:
        dev = device if isinstance(device, torch.device) else torch.device(str(device).lower())
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(
            f"unknown device {device!r} (from the {source}); valid choices here: {valid}"
        ) from None
    if dev.type not in DEVICE_TYPES:
        raise ValueError(
            f"labkit supports the device types {', '.join(DEVICE_TYPES)}, not {dev.type!r} "
            f"(from the {source}); valid choices here: {valid}"
        )
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {device!r} (from the {source}) needs an NVIDIA GPU with CUDA, and "
                f"torch sees none here; valid choices here: {valid}"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device {device!r} (from the {source}) does not exist: this machine has "
                f"{torch.cuda.device_count()} CUDA device(s); valid choices here: {valid}"
            )
    if dev.type == "mps" and not mps_available():
        raise ValueError(
            f"device {device!r} (from the {source}) needs an Apple-silicon Mac with MPS; "
            f"valid choices here: {valid}"
        )
    return dev


def seed_everything(seed: int) -> None:
    """Seed every random number generator the course uses, so a run can be repeated.

    Seeds Python's ``random``, NumPy's global generator and torch (CPU and every CUDA
    device), and sets ``$PYTHONHASHSEED`` for processes started afterwards. GPU kernels
    may still differ in the last bits from run to run.

    Taught in chapter 0.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}; e.g. seed_everything(0)")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be between 0 and 2**32 - 1, got {seed}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)


# --------------------------------------------------------------------------- threads

THREADS_VARIABLE = "LABKIT_THREADS"
_THREADS_AT_IMPORT = torch.get_num_threads()  # torch's count before labkit changed anything
_threads_chosen = False  # set_threads() was called: the learner's choice wins
_policy_applied = False


def set_threads(n: int | None = None) -> int:
    """Set how many CPU threads torch uses; no argument: all cores this process may use.

    An explicit choice: :func:`apply_thread_policy` leaves it alone afterwards. Returns the
    thread count now in effect. See :func:`apply_thread_policy` for when more threads help.
    Taught in chapter 0.
    """
    global _threads_chosen
    if n is None:
        n = usable_cpus()
    torch.set_num_threads(check_positive_int(n, "the thread count"))
    _threads_chosen = True
    return torch.get_num_threads()


@contextmanager
def threads(n: int | None = None) -> Iterator[int]:
    """Run a ``with`` block on ``n`` torch threads (default: all usable cores), then go back.

    ``with threads(): model.generate(...)`` — a real pretrained model (SmolLM2, 135 M
    parameters) does big matrix products that two cores finish about 1.6× faster than one,
    while labkit's tiny models stay on the one thread of :func:`apply_thread_policy`. The
    thread count before the block comes back afterwards, even after an error; the policy's
    choice is not changed. Yields the count in effect. Taught in chapter 8.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(usable_cpus() if n is None else check_positive_int(n, "the thread count"))
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def apply_thread_policy() -> int:
    """labkit's one thread policy: one torch thread for tiny models, unless you chose a count.

    Called once, when labkit first runs models (``labkit.nn`` is imported); later calls do
    nothing. It sets torch's intra-op threads to **1**, unless you chose a count:

    * ``LABKIT_THREADS=<n>`` (e.g. ``4``) or ``LABKIT_THREADS=all`` in the environment;
    * :func:`set_threads` was called, or torch's thread count was changed from the count
      labkit found when it was imported (``torch.set_num_threads``), or ``OMP_NUM_THREADS`` /
      ``MKL_NUM_THREADS`` is set.

    Why one thread, measured on the course's 2-core machines: tiny models on shared cores
    run faster on one thread, because OpenMP threads spin and contend when another program
    uses a core — a 1-token forward of a 4×128 GPT took 0.65 ms on one thread and 5 ms on
    two while a test suite ran beside it. Bigger steps gain from more threads:
    ``set_threads()`` (no argument: all usable cores) turns them on, and then labkit's
    trainer shares each tiny-GPT batch between the threads (``labkit.train``'s
    ``cpu_workers``: 1.17–1.22× faster per ``benchmarks/README.md``). The command line
    ``labkit train`` uses all cores.

    Returns the thread count now in effect. Taught in chapter 0.
    """
    global _policy_applied
    if _policy_applied:
        return torch.get_num_threads()
    _policy_applied = True
    choice = os.environ.get(THREADS_VARIABLE, "").strip().lower()
    if choice:
        if choice == "all":
            return set_threads()
        if not choice.isdigit() or int(choice) < 1:
            raise ValueError(
                f"${THREADS_VARIABLE} must be a positive whole number or 'all', got {choice!r}"
            )
        return set_threads(int(choice))
    chosen_elsewhere = any(
        os.environ.get(v, "").strip() for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
    )
    if _threads_chosen or chosen_elsewhere or torch.get_num_threads() != _THREADS_AT_IMPORT:
        return torch.get_num_threads()
    torch.set_num_threads(1)
    return 1


def usable_cpus() -> int:
    """How many CPU cores this process may use (its affinity mask where the OS has one).

    Taught in chapter 0.
    """
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# --------------------------------------------------------------------------- where are we


def in_colab() -> bool:
    """True when running inside Google Colab. Taught in chapter 0."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def in_vscode() -> bool:
    """True when running inside Visual Studio Code (its terminal or its notebook editor).

    Taught in chapter 0.
    """
    markers = ("VSCODE_PID", "VSCODE_CWD", "VSCODE_IPC_HOOK_CLI")
    return os.environ.get("TERM_PROGRAM") == "vscode" or any(m in os.environ for m in markers)


def network_reachable(host: str = "pypi.org", port: int = 443, timeout: float = 2.0) -> bool:
    """Try one TCP connection to ``host:port``; True if it opens within ``timeout`` seconds.

    Never hangs: the attempt (name look-up included) runs in a background thread and is
    abandoned after ``timeout`` seconds. Never raises: any failure means "offline".
    Taught in chapter 0.
    """
    result: list[bool] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except Exception:  # offline, DNS failure, blocked by a firewall or a test
            result.append(False)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])
