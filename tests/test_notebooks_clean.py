"""Every stored notebook is clean, small, and opens the way the course promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "course").glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert (ROOT / "course" / "00_start_here.ipynb") in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_small_and_has_no_widget_state(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert len(text.encode()) < 1_500_000, f"{path.name} is too large: strip big outputs"
    assert "application/vnd.jupyter.widget-state+json" not in text
    nb = json.loads(text)
    assert "widgets" not in nb["metadata"], "widget state is stored: run tools/clean_notebooks.py"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_starts_with_colab_cell_and_every_code_cell_ran(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert "google.colab" in "".join(code[0]["source"]), "first code cell: the Colab install cell"
    unrun = [i for i, c in enumerate(code) if c["execution_count"] is None]
    assert not unrun, f"{path.name}: code cells {unrun} were not run before saving"
    errors = [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, f"{path.name} was saved with error outputs"


def test_cleaner_reports_clean_tree() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "clean_notebooks.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout
