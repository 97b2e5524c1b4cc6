"""Tests for labkit.doctor: the checks it prints, and the package list from the metadata."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys

import pytest
import torch

import labkit
from labkit import doctor as doctor_module
from labkit.doctor import Requirement, check_package, doctor, parse_requirement, requirements
from labkit.env import get_device, home_dir


def test_requirements_come_from_the_installed_metadata() -> None:
    reqs, requires_python = requirements()
    assert requires_python == importlib.metadata.metadata("labkit")["Requires-Python"]
    base = {r.dist for r in reqs if r.extra is None}
    assert {"torch", "transformers", "peft", "sacrebleu", "networkx"} <= base
    assert Requirement("gguf", "0.10", "real-models") in reqs


def test_parse_requirement() -> None:
    assert parse_requirement("torch>=2.2") == Requirement("torch", "2.2", None)
    assert parse_requirement('gguf>=0.10; extra == "real-models"') == Requirement(
        "gguf", "0.10", "real-models"
    )
    assert parse_requirement("tqdm") == Requirement("tqdm", None, None)
    assert parse_requirement("numpy[x] (>=1.24,<3)") == Requirement("numpy", "1.24", None)


def test_doctor_prints_checks_and_passes(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABKIT_DEVICE", raising=False)
    # A folder without labkit's manifest is not an installed model (a real install is tested
    # in tests/test_real_models.py).
    monkeypatch.setenv("LABKIT_REAL_MODELS_DIR", str(home_dir() / "real_models"))
    (home_dir() / "real_models" / "minilm").mkdir(parents=True)
    (home_dir() / "real_models" / "minilm" / "config.json").write_text("{}")
    assert doctor(check_network=True) is True
    out = capsys.readouterr().out
    assert "[OK]   Python " in out
    for req in requirements()[0]:
        if req.extra is None:
            assert f"[OK]   {req.dist} " in out
    assert "[OK]   peft " in out and "[OK]   networkx " in out
    assert f"device: {get_device()}" in out
    assert f"torch threads: {torch.get_num_threads()}" in out
    assert "[--]   real model minilm: " in out  # incomplete: no manifest
    assert "[--]   real model smollm2: not installed" in out
    assert "[--]   offline (fine: the course runs offline)" in out
    assert "[FAIL]" not in out


def test_doctor_fails_on_a_missing_required_package(capsys, monkeypatch) -> None:
    reqs, python = requirements()
    missing = Requirement("labkit-no-such-package", "1.0", None)
    extra = Requirement("labkit-no-such-extra", "1.0", "nothing")
    monkeypatch.setattr(
        doctor_module, "requirements", lambda: ([*reqs[:1], missing, extra], python)
    )
    assert doctor_module.cli(["--no-network"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] labkit-no-such-package not installed" in out
    assert "pip install 'labkit-no-such-package>=1.0'" in out
    assert '[--]   extra "nothing" not installed (optional: pip install "labkit[nothing]")' in out
    assert "network: not checked" in out


def test_doctor_flags_an_old_version_and_a_too_old_python(capsys, monkeypatch) -> None:
    status, message = check_package(Requirement("numpy", "999.0", None))
    assert status == "old" and "pip install -U 'numpy>=999.0'" in message
    old = [Requirement("numpy", "999.0", None)]
    monkeypatch.setattr(doctor_module, "requirements", lambda: (old, ">=3.11"))
    assert doctor(check_network=False) is False
    assert "[FAIL] numpy " in capsys.readouterr().out
    monkeypatch.setattr(doctor_module, "requirements", lambda: ([], ">=99.1"))
    assert doctor(check_network=False) is False
    assert "labkit needs Python 99.1 or newer" in capsys.readouterr().out


def test_labkit_doctor_shortcut_works_before_and_after_the_module_import(capsys) -> None:
    assert labkit.doctor(check_network=False) is True
    assert doctor_module(check_network=False) is True  # the module itself is callable
    assert capsys.readouterr().out.count("All required checks passed.") == 2


def test_python_m_labkit_doctor_exits_zero() -> None:
    environment = {k: v for k, v in os.environ.items() if k != "LABKIT_DEVICE"}
    result = subprocess.run(
        [sys.executable, "-m", "labkit", "doctor", "--no-network"],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "device: " in result.stdout
    assert "All required checks passed." in result.stdout
