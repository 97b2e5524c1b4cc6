"""The code style is enforced, not just configured: ruff's lint rules (line length 100
included) and ruff's formatter hold for labkit, the tests, the benchmarks and the tools."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ["labkit", "tests", "benchmarks", "tools", "course/scripts"]


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, *TARGETS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_ruff_lint_passes() -> None:
    result = _ruff("check", "--no-cache")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]


def test_ruff_format_is_applied() -> None:
    result = _ruff("format", "--check", "--no-cache")
    assert result.returncode == 0, "run `ruff format` on:\n" + result.stdout[-3000:]
