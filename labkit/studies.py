"""Multi-seed studies: the tables that the course's scripts store, and their spread.

A notebook can afford one training run per setting; a conclusion that moves with the seed
needs several. The scripts in ``course/scripts/`` (``ch03_post_ln.py``, ``ch05_*.py``,
``ch09_scaling.py``) repeat an experiment over seeds and store the table with
:func:`save_study` inside labkit (``labkit/study_results/``), so a notebook finds it with
:func:`load_study` wherever it runs: a clone of the repository, a pip-installed labkit, Colab.
The notebook then re-runs one seed live and checks it against the stored spread
(:func:`seed_spread`, :func:`within_spread`). Taught in chapter 3 (first use), chapters 5 and 9.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from labkit._util import atomic_write

__all__ = ["STUDIES_DIR", "load_study", "save_study", "seed_spread", "study_path", "within_spread"]

#: Where the stored tables live (package data, shipped in labkit's wheel).
STUDIES_DIR = Path(__file__).resolve().parent / "study_results"


def study_path(name: str) -> Path:
    """The file of the stored table ``name`` (``"ch09_scaling"`` or ``"ch09_scaling.json"``).

    Taught in chapter 3.
    """
    if not isinstance(name, str) or not name or "/" in name or "\\" in name:
        raise ValueError(f"a study name is a plain file name like 'ch09_scaling', got {name!r}")
    return STUDIES_DIR / (name if name.endswith(".json") else f"{name}.json")


def save_study(name: str, table: dict[str, Any]) -> Path:
    """Store ``table`` (JSON-serialisable) as the study ``name``, atomically; returns the path.

    The course scripts call this; a notebook only reads. Taught in chapter 3.
    """
    path = study_path(name)
    text = json.dumps(table, indent=1, ensure_ascii=False) + "\n"

    def write(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")

    atomic_write(path, write)
    return path


def load_study(name: str) -> dict[str, Any]:
    """Read the stored table ``name``; a missing one names the script that writes it.

    Taught in chapter 3.
    """
    path = study_path(name)
    if not path.is_file():
        script = "course/scripts/" + path.stem + ".py"
        raise FileNotFoundError(
            f"no stored study {path.name!r} in {STUDIES_DIR}: make it with `python {script}` "
            "from a clone of the course repository"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def seed_spread(values: Sequence[float]) -> dict[str, float]:
    """``{"n", "mean", "sd", "min", "max"}`` of one number measured over several seeds.

    ``sd`` is the sample standard deviation (n - 1), 0 for a single value. Taught in
    chapter 5.
    """
    xs = [float(v) for v in values]
    if not xs:
        raise ValueError("seed_spread needs at least one value (one per seed)")
    if any(math.isnan(x) for x in xs):
        raise ValueError(f"a seed's value is NaN: {values!r}")
    return {
        "n": len(xs),
        "mean": statistics.fmean(xs),
        "sd": statistics.stdev(xs) if len(xs) > 1 else 0.0,
        "min": min(xs),
        "max": max(xs),
    }


def within_spread(value: float, values: Sequence[float], margin: float = 0.0) -> bool:
    """Whether ``value`` lies in ``[min - margin, max + margin]`` of the stored seeds' values.

    The check a notebook makes on its own live run. Taught in chapter 5.
    """
    if margin < 0 or not math.isfinite(margin):
        raise ValueError(f"margin must be a finite number >= 0, got {margin!r}")
    spread = seed_spread(values)
    return spread["min"] - margin <= float(value) <= spread["max"] + margin
