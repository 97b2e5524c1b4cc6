"""The exercise framework: three states, time limit, errors, mutation, use(), progress.

Also: hidden solutions, the catalog, and old (renamed) exercise ids.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

import labkit
from labkit import exercises
from labkit.exercises.compare import compare
from labkit.exercises.running import is_stub

SOFTMAX = "attention.softmax"


def reference_of(ex: exercises.Exercise) -> Callable[..., Any]:
    """The reference of ``ex``: the public function ``ex.name`` of the module its id names."""
    module = importlib.import_module(f"labkit.exercises.{ex.id.split('.')[0]}")
    return getattr(module, ex.name)


# The ids and signatures fixed by the course (issue "Exercises").
CORE_IDS = {
    "language_models.bigram_counts": "(tokens: list[str], vocab: list[str]) -> Tensor[V,V]",
    "language_models.sequence_logprob": "(probs: Tensor[V,V], ids: list[int]) -> float",
    "attention.softmax": "(x: Tensor, dim: int = -1) -> Tensor",
    "attention.scaled_dot_product": "(q, k, v, mask=None) -> (out, weights)",
    "attention.causal_mask": "(T: int) -> BoolTensor[T,T]",
    "attention.split_heads": "(x: Tensor[B,T,D], n_heads: int) -> Tensor[B,H,T,D/H]",
    "attention.merge_heads": "(x: Tensor[B,H,T,d]) -> Tensor[B,T,H·d]",
    "attention.sinusoidal_positions": "(T: int, d: int) -> Tensor[T,d]",
    "transformer.layer_norm": "(x, gamma, beta, eps=1e-5) -> Tensor",
    "transformer.ffn": "(x, W1, b1, W2, b2) -> Tensor",
    "transformer.param_count": "(vocab, d, n_layers, block, tied=True) -> int",
    "training.cross_entropy": "(logits: Tensor[N,C], targets: Tensor[N]) -> Tensor",
    "training.perplexity": "(token_logprobs: Tensor) -> float",
    "training.adam_step": "(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8) -> "
    "(param, m, v)",
    "training.mlm_mask": "(ids, mask_id, vocab_size, p=0.15, generator=None) -> (inputs, labels)",
    "applications.top_k_filter": "(logits: Tensor, k: int) -> Tensor",
    "applications.top_p_filter": "(logits: Tensor, p: float) -> Tensor",
    "challenges.training_flops": "(n_params: float, n_tokens: float) -> float",
}


@pytest.fixture(autouse=True)
def _solutions_default(monkeypatch: pytest.MonkeyPatch):
    """Every test starts with solutions shown and no override left behind."""
    monkeypatch.delenv("LABKIT_SOLUTIONS", raising=False)
    exercises.set_solutions(None)
    yield
    exercises.set_solutions(None)


def good_softmax(x, dim=-1):
    return torch.softmax(x, dim=dim)


# ----------------------------------------------------------------------------- stubs


def stub_ellipsis(x, dim=-1): ...


def stub_pass(x, dim=-1):
    pass


def stub_return_none(x, dim=-1):
    """Docstring, then return None."""
    # YOUR CODE HERE
    return None


def stub_raise(x, dim=-1):
    raise NotImplementedError("write softmax here")


def stub_raise_bare(x, dim=-1):
    raise NotImplementedError


@pytest.mark.parametrize(
    "fn", [stub_ellipsis, stub_pass, stub_return_none, stub_raise, stub_raise_bare]
)
def test_stubs_read_as_not_attempted(fn) -> None:
    assert is_stub(fn) is True
    result = exercises.get(SOFTMAX).check(fn)
    assert result.status == "not_attempted"
    assert not result.passed and not result
    assert "placeholder" in result.message


def test_stub_without_source_is_detected_by_calling_it() -> None:
    scope: dict = {}
    exec("def f(x, dim=-1):\n    y = x\n", scope)  # no source available, returns None
    assert is_stub(scope["f"]) is None
    result = exercises.get(SOFTMAX).check(scope["f"])
    assert result.status == "not_attempted"
    exec("def g(x, dim=-1):\n    y = x * 2\n    raise NotImplementedError('later')\n", scope)
    assert exercises.get(SOFTMAX).check(scope["g"]).status == "not_attempted"


def test_starter_code_is_a_stub_for_every_exercise() -> None:
    for ex in exercises.all_exercises():
        code = ex.starter().code
        scope: dict = {}
        exec(code, scope)  # runs as pasted: the starter imports what its annotations need
        result = ex.check(scope[ex.name])
        assert result.status == "not_attempted", (ex.id, result)


def test_forgotten_return_is_incorrect_not_unattempted() -> None:
    def softmax(x, dim=-1):
        e = (x - x.max(dim=dim, keepdim=True).values).exp()
        e / e.sum(dim=dim, keepdim=True)

    result = exercises.get(SOFTMAX).check(softmax)
    assert result.status == "incorrect"
    assert "forget `return`" in result.message


# ----------------------------------------------------------------------------- time limit, errors


def test_infinite_loop_is_reported_as_a_time_out_and_stopped() -> None:
    def softmax(x, dim=-1):
        while True:
            x = x + 0

    before = {t.ident for t in threading.enumerate()}
    result = exercises.get(SOFTMAX).check(softmax, time_limit=0.3)
    assert result.status == "incorrect"  # an endless loop: the result, not a clock, says so
    assert "Time limit" in result.headline and "0.3 s" in result.headline
    assert 'Still running on case "a small vector"' in result.details
    deadline = time.perf_counter() + 2.0  # the runaway thread is stopped, not left spinning
    while time.perf_counter() < deadline:
        extra = [
            t for t in threading.enumerate() if t.ident not in before and t.name == "labkit-check"
        ]
        if not extra:
            break
        time.sleep(0.05)
    assert not extra


def test_exception_is_reported_not_raised() -> None:
    def softmax(x, dim=-1):
        scale = {"a": 1}["b"]  # the learner's line
        return x * scale

    result = exercises.get(SOFTMAX).check(softmax)
    assert result.status == "incorrect"
    assert "KeyError" in result.message and "'b'" in result.message
    assert '`scale = {"a": 1}["b"]  # the learner\'s line`' in result.details
    assert "line " in result.details and 'Failed case "a small vector"' in result.details


def test_sys_exit_in_learner_code_is_reported() -> None:
    def softmax(x, dim=-1):
        raise SystemExit("bye")

    result = exercises.get(SOFTMAX).check(softmax)
    assert result.status == "incorrect" and "SystemExit: bye" in result.message


def test_wrong_signature_is_explained() -> None:
    def softmax(x, axis=-1):
        return torch.softmax(x, dim=axis)

    result = exercises.get(SOFTMAX).check(softmax)
    assert result.status == "incorrect"
    assert "dim" in result.message and "signature" in result.message


def test_passing_a_value_instead_of_a_function() -> None:
    result = exercises.get(SOFTMAX).check(torch.ones(3))
    assert result.status == "incorrect"
    assert "without parentheses" in result.message
    assert exercises.get(SOFTMAX).check(None).status == "not_attempted"


def test_input_mutation_is_detected_and_cannot_corrupt_the_checker() -> None:
    def softmax(x, dim=-1):
        x -= x.max(dim=dim, keepdim=True).values
        x.exp_()
        return x / x.sum(dim=dim, keepdim=True)

    result = exercises.get(SOFTMAX).check(softmax)
    assert result.status == "incorrect"
    assert "changed its input `x` in place" in result.message
    # the reference still passes afterwards: the checker's own inputs were never touched
    assert exercises.get(SOFTMAX).check(good_softmax).passed


# ----------------------------------------------------------------------------- results and hints


def test_result_renders_as_coloured_box_and_plain_text() -> None:
    ex = exercises.get(SOFTMAX)
    ok, bad, todo = ex.check(good_softmax), ex.check(lambda x, dim=-1: x), ex.check(stub_pass)
    assert ok.passed and bool(ok) and ok.status == "correct"
    assert "#2e7d32" in ok._repr_html_() and "✓ Correct" in str(ok)
    assert "#c62828" in bad._repr_html_() and "✗ Incorrect" in str(bad)
    assert "#1565c0" in todo._repr_html_() and "Not attempted" in str(todo)
    assert "<script" not in bad._repr_html_()


def test_hints_are_graded_and_numbered() -> None:
    shared = exercises.get("attention.causal_mask")
    # a fresh copy: the registered exercise remembers the hints other tests have asked for
    ex = exercises.Exercise(
        shared.id,
        shared.chapter,
        shared.title,
        shared.signature,
        shared.task,
        reference=reference_of(shared),
        cases=list,
        hints=shared.hints,
    )
    first, second = ex.hint(), ex.hint()
    assert (first.n, second.n) == (1, 2)
    assert first.text != second.text
    last = ex.hint(len(ex.hints))
    assert "last hint" in last.last_note
    assert "`torch.tril" in last.text  # the last hint is the formula
    assert ex.hint().n == len(ex.hints)  # stays on the last one
    assert "**Hint 1/" in ex.hint(1)._repr_markdown_()
    with pytest.raises(ValueError, match="hints"):
        ex.hint(99)


def test_solution_shows_the_reference_source() -> None:
    sol = exercises.get(SOFTMAX).solution()
    assert "def softmax(x: Tensor, dim: int = -1) -> Tensor:" in sol.code
    assert "```python" in sol._repr_markdown_()


# ----------------------------------------------------------------------- use() and hidden solutions


def test_use_returns_the_learners_function_when_it_passes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert exercises.get(SOFTMAX).use(good_softmax) is good_softmax
    assert capsys.readouterr().out == ""


def test_use_falls_back_to_the_reference_with_a_notice(capsys: pytest.CaptureFixture[str]) -> None:
    ex = exercises.get(SOFTMAX)
    fn = ex.use(lambda x, dim=-1: x.exp())
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "using the reference implementation" in out
    x = torch.tensor([1000.0, 0.0])
    assert torch.allclose(fn(x), torch.tensor([1.0, 0.0]))
    assert ex.use(stub_ellipsis)(torch.zeros(2)).tolist() == [0.5, 0.5]
    assert "not attempted" in capsys.readouterr().out


@pytest.mark.parametrize("how", ["env", "call"])
def test_hidden_solutions(
    how: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if how == "env":
        monkeypatch.setenv("LABKIT_SOLUTIONS", "off")
    else:
        exercises.set_solutions(False)
    assert not exercises.solutions_enabled()
    ex = exercises.get(SOFTMAX)
    shown = ex.solution()
    assert "hidden by your instructor" in str(shown)
    assert "def softmax" not in str(shown)
    fn = ex.use(stub_pass)
    assert "(solution hidden)" in capsys.readouterr().out
    assert torch.allclose(fn(torch.zeros(4)), torch.full((4,), 0.25))
    assert fn is not reference_of(ex) and not hasattr(fn, "__wrapped__")
    assert "solution()" not in ex.hint(len(ex.hints)).last_note
    exercises.set_solutions(True)
    assert "def softmax" in str(ex.solution())


def test_set_solutions_rejects_non_bools() -> None:
    with pytest.raises(TypeError, match="True, False or None"):
        exercises.set_solutions("off")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- progress


def test_progress_is_stored_under_labkit_home_and_printed() -> None:
    home = os.environ["LABKIT_HOME"]
    ex = exercises.get(SOFTMAX)
    ex.check(lambda x, dim=-1: x)
    report = exercises.progress()
    row = next(r for r in report if r.id == SOFTMAX)
    assert (row.passed, row.attempts) == (False, 1)
    ex.check(good_softmax)
    ex.check(lambda x, dim=-1: x)  # a later failure does not undo a pass
    path = exercises.progress_path()
    assert str(path).startswith(home) and path.name == "progress.json"
    stored = json.loads(path.read_text())["exercises"][SOFTMAX]
    assert stored["passed"] is True and stored["attempts"] == 3
    report = labkit.progress()
    assert report.passed == [SOFTMAX]
    text = str(report)
    assert f"Exercises passed: 1 of {len(exercises.catalog())}" in text
    assert "✓ passed" in text and SOFTMAX in text
    assert "<table>" in report._repr_html_()
    assert not [
        p for p in path.parent.iterdir() if p.name.startswith(".progress-")
    ]  # no temp files left
    exercises.reset_progress()
    assert exercises.progress().passed == []


def test_not_attempted_checks_are_not_counted() -> None:
    exercises.get(SOFTMAX).check(stub_pass)
    assert not exercises.progress_path().exists()


def test_damaged_progress_file_is_ignored_with_a_warning() -> None:
    exercises.progress_path().write_text("{not json")
    with pytest.warns(UserWarning, match="unreadable progress file"):
        assert exercises.progress().passed == []


# ----------------------------------------------------------------------------- catalog and lookup


def test_catalog_lists_every_core_exercise_with_its_fixed_signature() -> None:
    rows = exercises.catalog()
    by_id = {r.id: r for r in rows}
    for ex_id, signature in CORE_IDS.items():
        assert by_id[ex_id].signature == signature
        assert by_id[ex_id].chapter == exercises.get(ex_id).chapter
    assert [r.chapter for r in rows] == sorted(r.chapter for r in rows)
    assert len({r.id for r in rows}) == len(rows)
    assert "attention.softmax" in repr(rows) and "<table>" in rows._repr_html_()
    assert {r.id for r in exercises.catalog(chapter=2)} >= {
        "attention.softmax",
        "attention.causal_mask",
    }


def test_unknown_id_lists_close_matches() -> None:
    with pytest.raises(KeyError) as info:
        exercises.get("attention.softmx")
    assert "Did you mean 'attention.softmax'" in str(info.value)
    with pytest.raises(exercises.UnknownExerciseError, match="attention.softmax"):
        exercises.get("softmax")
    with pytest.raises(exercises.UnknownExerciseError, match="catalog"):
        exercises.get("zzz")


@pytest.mark.filterwarnings("ignore:var\\(\\)")
def test_every_exercise_is_consistent() -> None:
    """Reference passes; every known-wrong variant is rejected with exactly its own message."""
    for ex in exercises.all_exercises():
        assert ex.check(reference_of(ex)).passed, ex.id
        assert len(ex.hints) >= 2, ex.id
        assert ex.task and ex.title and ex.signature.startswith("("), ex.id
        for d in ex.diagnoses:
            if d.variant is not None:
                result = ex.check(d.variant)
                assert result.status == "incorrect", (ex.id, d.variant.__name__)
                assert result.headline == d.message, (ex.id, d.variant.__name__, result.headline)


# ----------------------------------------------------------------------------- comparison


def test_compare_explains_differences() -> None:
    e = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert compare(e, e + 1e-7) is None
    assert "shape mismatch — expected (2, 2), got (4,)" in compare(e, e.flatten())
    assert "dtype mismatch" in compare(e > 2, (e > 2).float())
    diff = compare(e, torch.tensor([[1.0, 2.0], [3.5, float("nan")]]))
    assert "values differ at 2 of 4 positions" in diff
    assert "first mismatch at index (1, 0): expected 3, got 3.5" in diff
    assert "max abs error (finite values): 0.5" in diff and "NaN or inf" in diff
    assert compare(e, e.double()) is None and "dtype" in compare(e, e.double(), dtype="exact")
    assert "NumPy" in compare(e, e.numpy())
    assert compare((e, 1.0), (e, torch.tensor(1.0)), names=("out", "x")) is None
    assert compare((e, e), (e,), names=("out", "weights")).startswith(
        "result: expected a tuple of 2 values"
    )
    assert "off by +1" in compare(10, 11)
    assert compare(2.0, "2") == "result: expected a number, got str '2'"
    assert "0-d tensor" in compare(torch.tensor(1.0), 1.0)


# ----------------------------------------------------------------------------- renamed ids

PROGRESS_V0 = Path(__file__).parent / "data" / "progress_v0.json"


def test_old_ids_find_the_renamed_exercises() -> None:
    for old, new in exercises.ALIASES.items():
        assert exercises.get(old) is exercises.get(new)
        assert exercises.get(new).id == new
        module = new.split(".")[0]
        assert module in exercises.CHAPTER_MODULES
    assert exercises.canonical_id("attention.softmax") == "attention.softmax"


def test_every_id_is_prefixed_by_its_module_name() -> None:
    for ex in exercises.all_exercises():
        prefix = ex.id.split(".")[0]
        assert prefix in exercises.CHAPTER_MODULES, ex.id
        module = importlib.import_module(f"labkit.exercises.{prefix}")
        assert callable(getattr(module, ex.name, None)), ex.id  # its reference lives there


def test_progress_written_by_the_previous_version_is_read_under_the_new_ids() -> None:
    """tests/data/progress_v0.json was written by labkit before the renames (old ids)."""
    shutil.copy(PROGRESS_V0, exercises.progress_path())
    report = exercises.progress()
    assert set(report.passed) == {
        "language_models.bigram_counts",
        "language_models.sequence_logprob",
        "finetuning.masked_accuracy",
        "attention.softmax",
    }
    rows = {r.id: r for r in report}
    assert (
        rows["language_models.bigram_probs"].passed,
        rows["language_models.bigram_probs"].attempts,
    ) == (False, 1)
    assert (rows["finetuning.lora_forward"].passed, rows["finetuning.lora_forward"].attempts) == (
        False,
        1,
    )
    assert not any(r.id.startswith("concepts.") for r in report)
    # the next check rewrites the file with the new ids, keeping the old passes
    exercises.get("concepts.bigram_probs").check(lambda *args, **kwargs: 0)
    stored = json.loads(exercises.progress_path().read_text())["exercises"]
    assert (
        "concepts.bigram_counts" not in stored and stored["language_models.bigram_counts"]["passed"]
    )
    assert stored["language_models.bigram_probs"]["attempts"] == 2


def test_old_and_new_entries_of_one_exercise_are_merged() -> None:
    entry = {"passed": False, "attempts": 2, "last_checked": "2026-01-02T00:00:00+00:00"}
    passed = {
        "passed": True,
        "attempts": 1,
        "first_passed": "2026-01-01T00:00:00+00:00",
        "last_checked": "2026-01-01T00:00:00+00:00",
    }
    data = {
        "version": 1,
        "exercises": {"training.lora_forward": passed, "finetuning.lora_forward": entry},
    }
    exercises.progress_path().write_text(json.dumps(data))
    row = next(r for r in exercises.progress() if r.id == "finetuning.lora_forward")
    assert (row.passed, row.attempts) == (True, 3)
