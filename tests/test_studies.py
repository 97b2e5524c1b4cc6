"""labkit.studies: stored multi-seed tables, found wherever labkit runs (chapters 3, 5, 9)."""

from __future__ import annotations

import json

import pytest

from labkit import studies


def test_seed_spread() -> None:
    s = studies.seed_spread([1.0, 2.0, 3.0])
    assert s == {"n": 3, "mean": 2.0, "sd": 1.0, "min": 1.0, "max": 3.0}
    assert studies.seed_spread([0.5])["sd"] == 0.0
    with pytest.raises(ValueError, match="at least one"):
        studies.seed_spread([])
    with pytest.raises(ValueError, match="NaN"):
        studies.seed_spread([1.0, float("nan")])


def test_within_spread() -> None:
    assert studies.within_spread(1.5, [1.0, 2.0])
    assert not studies.within_spread(2.2, [1.0, 2.0])
    assert studies.within_spread(2.2, [1.0, 2.0], margin=0.25)
    with pytest.raises(ValueError, match="margin"):
        studies.within_spread(1.0, [1.0, 2.0], margin=-1)


def test_save_and_load_round_trip(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(studies, "STUDIES_DIR", tmp_path / "results")
    path = studies.save_study("ch99_demo", {"alpha": 0.3, "seeds": [0, 1, 2]})
    assert path == tmp_path / "results" / "ch99_demo.json"
    assert json.loads(path.read_text()) == {"alpha": 0.3, "seeds": [0, 1, 2]}
    assert studies.load_study("ch99_demo.json") == studies.load_study("ch99_demo")
    assert not list(path.parent.glob(".*.tmp"))  # written atomically, nothing left behind
    with pytest.raises(FileNotFoundError, match=r"course/scripts/ch99_missing\.py"):
        studies.load_study("ch99_missing")


@pytest.mark.parametrize("bad", ["", "../x", "a/b.json", 3])
def test_study_names_are_plain_file_names(bad) -> None:
    with pytest.raises(ValueError, match="plain file name"):
        studies.study_path(bad)


def test_every_stored_study_has_a_script_that_writes_it() -> None:
    stored = sorted(studies.STUDIES_DIR.glob("*.json"))
    assert stored, "labkit/study_results/ holds the course scripts' tables"
    scripts = studies.STUDIES_DIR.parents[1] / "course" / "scripts"
    for path in stored:
        assert (scripts / f"{path.stem}.py").is_file() or any(
            path.stem in p.read_text(encoding="utf-8") for p in scripts.glob("*.py")
        ), f"no script in course/scripts writes {path.name}"
        json.loads(path.read_text(encoding="utf-8"))
