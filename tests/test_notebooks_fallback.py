"""The chapters with real-model cells (1, 2, 3, 8, 9) also run, under nbval, without the models.

``LABKIT_REAL_MODELS=off`` makes :func:`labkit.real_models.real_available` answer False, so
every real-model cell takes its fallback (labkit's own tiny models, with a one-line notice).
The main test run covers the other path: there the real models are installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = [
    "course/01_language_models.ipynb",
    "course/02_attention.ipynb",
    "course/03_transformer.ipynb",
    "course/08_applications.ipynb",
    "course/09_challenges.ipynb",
]
OFF = {**os.environ, "LABKIT_REAL_MODELS": "off"}


def test_real_model_chapters_run_without_the_real_models() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", *NOTEBOOKS],
        cwd=ROOT,
        env=OFF,
        capture_output=True,
        text=True,
        timeout=2400,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout


def test_fallback_switch_is_seen_by_the_library() -> None:
    code = (
        "from labkit.real_models import real_available; "
        "print(real_available('minilm'), real_available('smollm2'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=OFF, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "False"]
