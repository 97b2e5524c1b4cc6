"""Tests for labkit.env: device choice, seeding, environment detection, doctor()."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from labkit import env
from labkit.env import get_device, home_dir, network_reachable, seed_everything


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend there is neither CUDA nor MPS, whatever this machine has."""
    monkeypatch.delenv("LABKIT_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(env, "_mps_available", lambda: False)


def test_home_dir_follows_labkit_home(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "lab"))
    assert home_dir() == tmp_path / "lab"
    assert (tmp_path / "lab").is_dir()


def test_device_order_cuda_then_mps_then_cpu(no_gpu, monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_device() == torch.device("cpu")
    monkeypatch.setattr(env, "_mps_available", lambda: True)
    assert get_device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device() == torch.device("cuda")


def test_device_argument_beats_environment_variable(no_gpu, monkeypatch) -> None:
    monkeypatch.setenv("LABKIT_DEVICE", "cuda")  # not available: would fail if it were used
    assert get_device("cpu") == torch.device("cpu")
    assert get_device(torch.device("cpu")) == torch.device("cpu")
    assert get_device("CPU") == torch.device("cpu")


def test_labkit_device_overrides_automatic_choice(no_gpu, monkeypatch) -> None:
    monkeypatch.setattr(env, "_mps_available", lambda: True)
    monkeypatch.setenv("LABKIT_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")
    monkeypatch.setenv("LABKIT_DEVICE", "  ")  # blank counts as unset
    assert get_device() == torch.device("mps")


def test_bad_device_names_the_valid_choices(no_gpu, monkeypatch) -> None:
    with pytest.raises(ValueError, match=r"unknown device 'gpu'.*valid choices here: 'cpu'"):
        get_device("gpu")
    monkeypatch.setenv("LABKIT_DEVICE", "tpu")
    with pytest.raises(ValueError, match=r"\$LABKIT_DEVICE.*valid choices here: 'cpu'"):
        get_device()
    with pytest.raises(ValueError, match="supports the device types cpu, cuda, mps"):
        get_device("meta")


def test_unavailable_device_is_refused(no_gpu) -> None:
    with pytest.raises(ValueError, match="NVIDIA GPU"):
        get_device("cuda")
    with pytest.raises(ValueError, match="NVIDIA GPU"):
        get_device("cuda:1")
    with pytest.raises(ValueError, match="MPS"):
        get_device("mps")


def test_seed_everything_repeats_every_generator() -> None:
    def draw() -> tuple:
        return random.random(), float(np.random.rand()), torch.rand(3).tolist()

    seed_everything(123)
    first = draw()
    seed_everything(123)
    assert draw() == first
    seed_everything(124)
    assert draw() != first
    assert os.environ["PYTHONHASHSEED"] == "124"


def test_seed_everything_rejects_bad_seeds() -> None:
    with pytest.raises(TypeError, match="seed must be an int"):
        seed_everything(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="2\\*\\*32"):
        seed_everything(-1)


def test_set_threads() -> None:
    before = torch.get_num_threads()
    try:
        assert env.set_threads(1) == 1
        assert torch.get_num_threads() == 1
        with pytest.raises(ValueError, match="positive int"):
            env.set_threads(0)
    finally:
        torch.set_num_threads(before)


def test_colab_and_vscode_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("COLAB_RELEASE_TAG", "VSCODE_PID", "VSCODE_CWD", "VSCODE_IPC_HOOK_CLI", "TERM_PROGRAM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert not env.in_colab() and not env.in_vscode()
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab-123")
    monkeypatch.setenv("TERM_PROGRAM", "vscode")
    assert env.in_colab() and env.in_vscode()


def test_network_check_reports_offline_without_hanging() -> None:
    # conftest blocks every non-loopback connection: the check must say "offline", not raise.
    start = time.perf_counter()
    assert network_reachable("pypi.org", 443, timeout=1.0) is False
    assert time.perf_counter() - start < 2.0


def test_network_check_sees_a_local_listener() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        assert network_reachable("127.0.0.1", port, timeout=1.0) is True
    finally:
        server.close()
    assert network_reachable("127.0.0.1", port, timeout=1.0) is False  # closed now


def test_doctor_prints_checks_and_passes(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABKIT_DEVICE", raising=False)
    # A folder without labkit's manifest is not an installed model (a real install is tested
    # in tests/test_real_models.py).
    monkeypatch.setenv("LABKIT_REAL_MODELS_DIR", str(home_dir() / "real_models"))
    (home_dir() / "real_models" / "minilm").mkdir(parents=True)
    (home_dir() / "real_models" / "minilm" / "config.json").write_text("{}")
    start = time.perf_counter()
    assert env.doctor(check_network=True) is True
    out = capsys.readouterr().out
    assert time.perf_counter() - start < 30
    assert "[OK]   Python " in out
    for _, dist, _ in env.REQUIRED_PACKAGES:
        assert f"[OK]   {dist} " in out
    assert f"device: {get_device()}" in out
    assert f"torch threads: {torch.get_num_threads()}" in out
    assert "[--]   real model minilm: " in out  # incomplete: no manifest
    assert "[--]   real model smollm2: not installed" in out
    assert "[--]   offline (fine: the course runs offline)" in out
    assert "[FAIL]" not in out


def test_doctor_fails_on_a_missing_required_package(capsys, monkeypatch) -> None:
    missing = ("labkit_no_such_package", "labkit-no-such-package", "1.0")
    monkeypatch.setattr(env, "REQUIRED_PACKAGES", [*env.REQUIRED_PACKAGES[:1], missing])
    assert env.cli(["--no-network"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] labkit-no-such-package cannot be imported" in out
    assert "pip install 'labkit-no-such-package>=1.0'" in out
    assert "network: not checked" in out


def test_doctor_flags_an_old_version(monkeypatch) -> None:
    monkeypatch.setattr(env, "REQUIRED_PACKAGES", [("numpy", "numpy", "999.0")])
    status, message = env._check_package("numpy", "numpy", "999.0")
    assert status == "old" and "pip install -U 'numpy>=999.0'" in message
    assert env.doctor(check_network=False) is False


def test_python_m_labkit_doctor_exits_zero() -> None:
    environment = {k: v for k, v in os.environ.items() if k != "LABKIT_DEVICE"}
    result = subprocess.run(
        [sys.executable, "-m", "labkit", "doctor", "--no-network"],
        capture_output=True, text=True, timeout=120, env=environment,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "device: " in result.stdout
    assert "All required checks passed." in result.stdout
