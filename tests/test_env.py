"""Tests for labkit.env: device choice, seeding, threads, environment detection.

doctor() is tested in tests/test_doctor.py.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import textwrap

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
    monkeypatch.setattr(env, "mps_available", lambda: False)


def test_home_dir_follows_labkit_home(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "lab"))
    assert home_dir() == tmp_path / "lab"
    assert (tmp_path / "lab").is_dir()


def test_device_order_cuda_then_mps_then_cpu(no_gpu, monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_device() == torch.device("cpu")
    monkeypatch.setattr(env, "mps_available", lambda: True)
    assert get_device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device() == torch.device("cuda")


def test_device_argument_beats_environment_variable(no_gpu, monkeypatch) -> None:
    monkeypatch.setenv("LABKIT_DEVICE", "cuda")  # not available: would fail if it were used
    assert get_device("cpu") == torch.device("cpu")
    assert get_device(torch.device("cpu")) == torch.device("cpu")
    assert get_device("CPU") == torch.device("cpu")


def test_labkit_device_overrides_automatic_choice(no_gpu, monkeypatch) -> None:
    monkeypatch.setattr(env, "mps_available", lambda: True)
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
    names = ("COLAB_RELEASE_TAG", "VSCODE_PID", "VSCODE_CWD", "VSCODE_IPC_HOOK_CLI", "TERM_PROGRAM")
    for name in names:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert not env.in_colab() and not env.in_vscode()
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab-123")
    monkeypatch.setenv("TERM_PROGRAM", "vscode")
    assert env.in_colab() and env.in_vscode()


def test_network_check_reports_offline_without_hanging() -> None:
    # conftest blocks every non-loopback connection: the check must say "offline", not raise.
    assert network_reachable("pypi.org", 443, timeout=1.0) is False


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


# ----------------------------------------------------------------------------- thread policy
# Each case runs in a fresh Python, so this process's own thread count is not disturbed.


def _threads_in_fresh_python(script: str, **variables: str) -> list[str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LABKIT_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    }
    environment.update(variables)
    code = "import torch\nimport labkit.env as env\n" + textwrap.dedent(script)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=environment
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.split()


def test_thread_policy_sets_one_thread_once_when_models_first_run() -> None:
    out = _threads_in_fresh_python(
        """
        import labkit.nn  # labkit runs models: the policy applies
        print(torch.get_num_threads())
        torch.set_num_threads(3)  # the learner's choice afterwards
        print(env.apply_thread_policy(), torch.get_num_threads())  # applies once only
        """
    )
    assert out == ["1", "3", "3"]


def test_thread_policy_follows_labkit_threads() -> None:
    script = "import labkit.nn\nprint(torch.get_num_threads(), env.usable_cpus())\n"
    assert _threads_in_fresh_python(script, LABKIT_THREADS="3")[0] == "3"
    threads, cores = _threads_in_fresh_python(script, LABKIT_THREADS="all")
    assert threads == cores


def test_thread_policy_keeps_an_explicit_choice() -> None:
    out = _threads_in_fresh_python(
        """
        torch.set_num_threads(3)  # changed from torch's default before labkit runs models
        import labkit.nn
        print(torch.get_num_threads())
        """
    )
    assert out == ["3"]
    out = _threads_in_fresh_python(
        """
        print(env.set_threads(2))  # labkit's own switch counts as a choice, too
        import labkit.nn
        print(torch.get_num_threads(), env.set_threads() == env.usable_cpus())
        """
    )
    assert out == ["2", "2", "True"]


def test_thread_policy_rejects_a_bad_labkit_threads() -> None:
    out = _threads_in_fresh_python(
        """
        try:
            env.apply_thread_policy()
        except ValueError as exc:
            print("refused:", "LABKIT_THREADS" in str(exc))
        """,
        LABKIT_THREADS="many",
    )
    assert out == ["refused:", "True"]


def test_threads_block_sets_and_restores_the_count() -> None:
    from labkit.env import threads, usable_cpus

    before = torch.get_num_threads()
    with threads(1) as n:
        assert n == torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with threads() as n:
        assert n == torch.get_num_threads() == usable_cpus()
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), threads(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before  # restored after an error too
    with pytest.raises(ValueError, match="thread count"), threads(0):
        pass
    assert torch.get_num_threads() == before
