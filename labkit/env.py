"""The learner's environment: where labkit keeps files, which device to use, and ``doctor()``.

Taught in chapter 0 (Start here).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import os
import platform
import random
import socket
import sys
import threading
from pathlib import Path

import numpy as np
import torch

# Packages labkit needs (import name, distribution name, minimum version) -- the same
# ranges as pyproject.toml.
REQUIRED_PACKAGES: list[tuple[str, str, str]] = [
    ("torch", "torch", "2.2"),
    ("numpy", "numpy", "1.24"),
    ("tokenizers", "tokenizers", "0.19"),
    ("transformers", "transformers", "4.44"),
    ("safetensors", "safetensors", "0.4"),
    ("tqdm", "tqdm", "4.66"),
    ("plotly", "plotly", "5.20"),
    ("ipywidgets", "ipywidgets", "8.1"),
    ("anywidget", "anywidget", "0.9"),
    ("platformdirs", "platformdirs", "3"),
    ("datasketch", "datasketch", "1.6"),
]
# Nice to have: JupyterLab to open the course, gguf + accelerate for the real chat model.
OPTIONAL_PACKAGES: list[tuple[str, str, str]] = [
    ("jupyterlab", "jupyterlab", "4.1"),
    ("gguf", "gguf", "0.10"),
    ("accelerate", "accelerate", "0.30"),
]
MIN_PYTHON = (3, 10)
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


def _mps_available() -> bool:
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
    if _mps_available():
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
        if _mps_available():
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
    if dev.type == "mps" and not _mps_available():
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


def set_threads(n: int | None = None) -> int:
    """Set how many CPU threads torch uses (default: all cores this process may use).

    Returns the thread count now in effect. Taught in chapter 0.
    """
    if n is None:
        n = _usable_cpus()
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"the thread count must be a positive int, got {n!r}")
    torch.set_num_threads(n)
    return torch.get_num_threads()


def _usable_cpus() -> int:
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


# --------------------------------------------------------------------------- doctor


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("+")[0].split("."):
        digits = "".join(ch for ch in piece if ch.isdigit()) if piece[:1].isdigit() else ""
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def _check_package(module: str, dist: str, minimum: str, load: bool = True) -> tuple[str, str]:
    """Return (status, message) for one package: status is "ok", "old" or "missing".

    With ``load=True`` the package is imported (catches broken installs); otherwise only
    looked up (fast: importing jupyterlab alone takes seconds).
    """
    try:
        if load:
            importlib.import_module(module)
        elif importlib.util.find_spec(module) is None:
            return "missing", f"{dist} not installed"
    except Exception as exc:  # not installed, or installed but broken
        return "missing", f"{dist} cannot be imported ({type(exc).__name__}: {exc})"
    try:
        version = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown version"
    if version != "unknown version" and _version_tuple(version) < _version_tuple(minimum):
        return "old", f"{dist} {version} is older than {minimum}: pip install -U '{dist}>={minimum}'"
    return "ok", f"{dist} {version}"


def _line(status: str, text: str) -> None:
    print(f"{status:<7}{text}")


def doctor(check_network: bool = True) -> bool:
    """Check the environment and print one line per check; return True if all required pass.

    ``[OK]`` a check passed, ``[FAIL]`` a required check failed (the line says how to fix it),
    ``[--]`` something optional is absent (fine). Checks: Python version, required and
    optional packages with their versions, the device labkit will use, torch's thread
    count, CPU cores, the optional real models, Colab / VS Code, and (unless
    ``check_network=False``) whether the network is reachable — the course itself runs
    offline, so being offline is not a failure.

    Also ``python -m labkit doctor`` on the command line. Taught in chapter 0.
    """
    ok = True
    py = platform.python_version()
    if sys.version_info[:2] >= MIN_PYTHON:
        _line("[OK]", f"Python {py}")
    else:
        ok = False
        _line("[FAIL]", f"Python {py}: labkit needs Python {'.'.join(map(str, MIN_PYTHON))} or newer")

    for module, dist, minimum in REQUIRED_PACKAGES:
        status, message = _check_package(module, dist, minimum)
        if status == "ok":
            _line("[OK]", message)
        else:
            ok = False
            hint = "" if status == "old" else f": pip install '{dist}>={minimum}'"
            _line("[FAIL]", message + hint)
    for module, dist, minimum in OPTIONAL_PACKAGES:
        status, message = _check_package(module, dist, minimum, load=False)
        if status == "ok":
            _line("[OK]", f"{message} (optional)")
        elif status == "old":
            _line("[--]", f"{message} (optional)")
        else:
            _line("[--]", f"{dist} not installed (optional)")

    cuda = "yes" if torch.cuda.is_available() else "no"
    mps = "yes" if _mps_available() else "no"
    try:
        device = get_device()
        _line("[OK]", f"device: {device} (CUDA available: {cuda}, MPS available: {mps})")
    except ValueError as exc:
        ok = False
        _line("[FAIL]", f"device: {exc} (fix or unset $LABKIT_DEVICE)")
    _line("[OK]", f"torch threads: {torch.get_num_threads()}")
    _line("[OK]", f"CPU cores: {os.cpu_count()} (usable by this process: {_usable_cpus()})")

    from labkit import real_models  # imported here: it imports this module

    for name in real_models.REAL_MODELS:
        installed, message = real_models.real_status(name)
        if installed:
            _line("[OK]", f"real model {name}: {message}")
        else:
            _line("[--]", f"real model {name}: {message} (optional)")
    if real_models.real_models_off():
        _line("[--]", "real models switched off by $LABKIT_REAL_MODELS (chapters use tiny models)")

    where = [name for name, flag in (("Colab", in_colab()), ("VS Code", in_vscode())) if flag]
    _line("[OK]", f"running in: {', '.join(where) if where else 'a local Python (not Colab, not VS Code)'}")
    _line("[OK]", f"labkit home: {home_dir()}")

    if check_network:
        if network_reachable():
            _line("[OK]", "network: pypi.org reachable")
        else:
            _line("[--]", "offline (fine: the course runs offline)")
    else:
        _line("[--]", "network: not checked (--no-network)")
    print("All required checks passed." if ok else "Some required checks FAILED: see [FAIL] above.")
    return ok


def cli(argv: list[str]) -> int:
    """``python -m labkit doctor [--no-network]``: exit 0 when every required check passes.

    Taught in chapter 0.
    """
    parser = argparse.ArgumentParser(
        prog="python -m labkit doctor",
        description="Check labkit's environment: packages, device, threads, models, network.",
    )
    parser.add_argument(
        "--no-network", action="store_true", help="skip the (2-second) network check"
    )
    args = parser.parse_args(argv)
    return 0 if doctor(check_network=not args.no_network) else 1
