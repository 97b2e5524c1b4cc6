"""Remember which exercises a learner has passed, in ``labkit.env.home_dir() / "progress.json"``.

Taught in chapter 0 (Start here). The file lives in the learner's data directory (or
``$LABKIT_HOME``), never in the course repository, and is written atomically (a temporary
file renamed over the old one) so an interrupted kernel cannot leave half a file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

from .aliases import canonical_id

FILE_NAME = "progress.json"


def progress_path() -> Path:
    """Return the path of the progress file (``home_dir() / "progress.json"``).

    Taught in chapter 0.
    """
    from labkit.env import home_dir

    return home_dir() / FILE_NAME


def load_progress() -> dict[str, dict[str, Any]]:
    """Return ``{exercise_id: {"passed": bool, "attempts": int, ...}}``; empty if nothing is stored.

    Entries stored under an old exercise id (:data:`labkit.exercises.aliases.ALIASES`) are
    returned under the current id. A damaged file is reported with a warning and treated as
    empty. Taught in chapter 0.
    """
    path = progress_path()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        exercises = data.get("exercises", {})
        if not isinstance(exercises, dict):
            raise ValueError("'exercises' is not an object")
        return _renamed(exercises)
    except (OSError, ValueError, AttributeError) as exc:
        warnings.warn(f"labkit: ignoring an unreadable progress file {path} ({exc})", stacklevel=2)
        return {}


def _renamed(exercises: dict[str, Any]) -> dict[str, Any]:
    """Store entries of renamed exercises under their current id (merging old and new entries)."""
    merged: dict[str, Any] = {}
    for old_id, entry in exercises.items():
        if not isinstance(entry, dict):
            raise ValueError(f"the entry for {old_id!r} is not an object")
        new_id = canonical_id(old_id)
        if new_id not in merged:
            merged[new_id] = dict(entry)
            continue
        both = merged[new_id]
        both["passed"] = bool(both.get("passed")) or bool(entry.get("passed"))
        both["attempts"] = int(both.get("attempts", 0)) + int(entry.get("attempts", 0))
        for key, pick in (("first_passed", min), ("last_checked", max)):
            stamps = [e[key] for e in (both, entry) if e.get(key)]
            if stamps:
                both[key] = pick(stamps)
    return merged


def _write_atomically(path: Path, data: dict[str, Any]) -> None:
    """Write JSON to a temporary file next to ``path``, then rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".progress-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def record_attempt(exercise_id: str, passed: bool) -> None:
    """Count one checked attempt of ``exercise_id``; a pass is remembered for good.

    Never raises: if the file cannot be written (read-only disk), it warns instead, because
    a progress file must not break a notebook. Taught in chapter 0.
    """
    try:
        exercises = load_progress()
        now = datetime.now().astimezone().isoformat(timespec="seconds")
        entry = exercises.setdefault(exercise_id, {"passed": False, "attempts": 0})
        entry["attempts"] = int(entry.get("attempts", 0)) + 1
        entry["last_checked"] = now
        if passed and not entry.get("passed"):
            entry["passed"] = True
            entry["first_passed"] = now
        _write_atomically(progress_path(), {"version": 1, "exercises": exercises})
    except OSError as exc:
        warnings.warn(f"labkit: could not save exercise progress ({exc})", stacklevel=2)


def reset_progress() -> None:
    """Forget all stored progress (deletes the progress file). Taught in chapter 0."""
    progress_path().unlink(missing_ok=True)
