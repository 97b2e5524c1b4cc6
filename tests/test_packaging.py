"""The set-up files agree with each other, and the package imports cheaply."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;@]", requirement.strip(), maxsplit=1)[0].lower()


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_parses_and_matches_pyproject() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["name"] == "llm-lab"
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda_pip = {_name(r): r.replace(" ", "") for r in pip_section if not r.startswith("-e")}
    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    wanted = project["dependencies"] + extras["lab"] + extras["real-models"]
    for requirement in wanted:
        name = _name(requirement)
        assert name in conda_pip, f"{name} is in pyproject.toml but not in environment.yml"
        if name != "torch":
            assert conda_pip[name] == requirement.replace(" ", ""), (name, conda_pip[name])
    assert set(conda_pip) == {_name(r) for r in wanted}, "environment.yml lists extra packages"
    assert conda_pip["torch"] == "torch==2.13.0", "conda users get the CPU build's version"


def test_dependencies_are_ranges_not_pins() -> None:
    project = _pyproject()["project"]
    every = project["dependencies"] + [
        r for rs in project["optional-dependencies"].values() for r in rs
    ]
    pinned = [r for r in every if "==" in r]
    assert not pinned, f"use ranges, not exact pins: {pinned}"
    torch_req = next(r for r in project["dependencies"] if _name(r) == "torch")
    assert ">=" in torch_req, "an installed torch (e.g. Colab's) must satisfy the range"


def test_readme_commands_are_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "torch==2.13.0" in readme, "the README installs the CPU build of torch"
    blocks = re.findall(r"<!-- (setup|test)-command -->\n```bash\n(.+?)\n```", readme, re.S)
    assert {kind for kind, _ in blocks} == {"setup", "test"}
    assert "test-command" in ci, ".ci/run must run the README's test command"


def test_import_is_cheap() -> None:
    code = "import sys, labkit; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", "import labkit must not import torch"


def test_cli_lists_commands_and_rejects_unknown() -> None:
    ok = subprocess.run([sys.executable, "-m", "labkit"], capture_output=True, text=True)
    assert ok.returncode == 0 and "doctor" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "labkit", "dance"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown command 'dance'" in bad.stderr
