"""Tests for `python -m labkit train | generate | export` (run in-process through labkit.cli)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from labkit.cli import export_cli, generate_cli, train_cli
from labkit.data import generate_corpus

TINY = (
    "--n-layer 2 --n-head 2 --n-embd 32 --block-size 16 --batch-size 8 --eval-batches 2 --quiet"
    " --threads 1"
).split()


@pytest.fixture(scope="module")
def text_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("text") / "stories.txt"
    path.write_text(generate_corpus("en", 20_000, seed=1).text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory, text_file) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("runs") / "stories"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = train_cli(
            [
                str(text_file),
                "--out",
                str(out),
                "--max-steps",
                "30",
                "--eval-every",
                "15",
                "--json",
                *TINY,
            ]
        )
    assert code == 0
    return out, json.loads(buf.getvalue().strip().splitlines()[-1])


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_train_prints_one_json_line_and_saves_a_checkpoint(trained):
    out, metrics = trained
    assert {"steps", "seconds", "tokens_per_s", "train_loss", "val_loss"} <= set(metrics)
    assert metrics["steps"] == 30 and metrics["tokens_per_s"] > 0 and metrics["seconds"] > 0
    assert metrics["val_loss"] < 4.0 and metrics["tokenizer"] == "char"
    for name in ("config.json", "model.safetensors", "optimizer.safetensors", "tokenizer.json"):
        assert (out / name).exists()


def test_generate_continues_the_prompt_and_is_seeded(trained, capsys):
    out, _ = trained
    args = [str(out), "--prompt", "One day", "--max-new-tokens", "20", "--seed", "3"]
    assert generate_cli(args) == 0
    first = capsys.readouterr().out
    assert first.startswith("One day") and len(first.rstrip("\n")) > len("One day")
    assert generate_cli(args) == 0
    assert capsys.readouterr().out == first
    assert (
        generate_cli(
            [str(out), "--prompt", "One day", "--temperature", "0", "--max-new-tokens", "5"]
        )
        == 0
    )


def test_export_to_hugging_face_gives_the_same_logits(trained, tmp_path, capsys):
    from transformers import AutoModelForCausalLM

    from labkit.models import load

    out, _ = trained
    assert export_cli([str(out), "--to", "hf", str(tmp_path / "hf")]) == 0
    assert "text-generation" in capsys.readouterr().out
    hf = AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    ours = load(out)
    idx = torch.tensor([[10, 11, 12, 13, 14]])
    with torch.no_grad():
        torch.testing.assert_close(hf(idx).logits, ours(idx), atol=1e-4, rtol=1e-4)
    assert export_cli([str(out), "--to", "hf", str(out)]) == 2
    assert "OUT must differ from DIR" in capsys.readouterr().err


def test_resume_continues_the_run(tmp_path, text_file, capsys):
    out = str(tmp_path / "run")
    assert train_cli([str(text_file), "--out", out, "--max-steps", "6", "--json", *TINY]) == 0
    first = last_json(capsys)
    assert (
        train_cli([str(text_file), "--out", out, "--max-steps", "10", "--resume", "--json", *TINY])
        == 0
    )
    second = last_json(capsys)
    assert first["steps"] == 6 and second["steps"] == 10
    state = json.loads((tmp_path / "run" / "trainer_state.json").read_text())["state"]
    assert state["history"]["step"] == list(range(1, 11))


def test_time_budget_fits_the_schedule(tmp_path, capsys, monkeypatch):
    """A clock that advances 50 ms per reading: steps and schedule are fitted to 2 s."""
    ticks = iter(range(10**6))
    monkeypatch.setattr(time, "perf_counter", lambda: 0.05 * next(ticks))
    out = tmp_path / "b"
    args = ["corpus:en", "--corpus-chars", "20000", "--out", str(out), "--time-budget", "2"]
    assert train_cli([*args, "--json", *TINY]) == 0
    metrics = last_json(capsys)
    assert 10 < metrics["steps"] < 40 and metrics["seconds"] <= 2 + 3 * 0.05
    state = json.loads((out / "trainer_state.json").read_text())["state"]
    assert state["max_steps"] == metrics["steps"]  # the cosine ended with the budget


def test_bpe_tokenizer_on_chinese_corpus(tmp_path, capsys):
    args = [
        "corpus:zh",
        "--corpus-chars",
        "8000",
        "--tokenizer",
        "bpe",
        "--vocab-size",
        "300",
        "--out",
        str(tmp_path / "zh"),
        "--max-steps",
        "3",
        "--json",
    ]
    assert train_cli(args + TINY) == 0
    metrics = last_json(capsys)
    assert metrics["tokenizer"] == "bpe" and metrics["vocab_size"] <= 300 and metrics["steps"] == 3


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        ("", [], "is empty"),
        ("   \n", [], "only whitespace"),
        ("too short", [], "shorter than one block"),
        ("x" * 100, ["--block-size", "64"], "--block-size 64 is larger than the validation part"),
        ("x" * 100, ["--device", "tpu"], "unknown device 'tpu'"),
    ],
)
def test_bad_inputs_give_one_clear_error(tmp_path, capsys, content, extra, message):
    path = tmp_path / "input.txt"
    path.write_text(content, encoding="utf-8")
    args = [str(path), "--out", str(tmp_path / "out"), "--max-steps", "2", "--quiet"]
    # later options win: the TINY sizes first, then the bad one under test
    assert train_cli(args + TINY + extra) == 2
    err = capsys.readouterr().err
    assert err.startswith("labkit train: error:") and message in err
    assert "Traceback" not in err


def test_more_bad_inputs(tmp_path, capsys):
    assert train_cli([str(tmp_path / "missing.txt"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert train_cli(["corpus:fr", "--out", str(tmp_path / "o")]) == 2
    assert "corpus:en or corpus:zh" in capsys.readouterr().err
    assert (
        train_cli(["corpus:en", "--out", str(tmp_path / "o"), "--max-steps", "x"]) == 2
    )  # argparse
    assert generate_cli([str(tmp_path / "nowhere")]) == 2
    assert "no checkpoint directory" in capsys.readouterr().err
    assert train_cli(["--help"]) == 0


def test_generate_rejects_unknown_characters(trained, capsys):
    out, _ = trained
    assert generate_cli([str(out), "--prompt", "€€"]) == 2
    assert "never saw in training" in capsys.readouterr().err


def test_python_dash_m_labkit_train_runs(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "labkit",
        "train",
        "corpus:en",
        "--corpus-chars",
        "5000",
        "--out",
        str(tmp_path / "m"),
        "--max-steps",
        "2",
        "--json",
        *TINY,
    ]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent.parent
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["steps"] == 2


def test_default_recipe_is_the_small_cpu_recipe(tmp_path, capsys):
    """Without model or optimizer flags the CLI trains benchmarks/README.md's recipe."""
    out = tmp_path / "d"
    assert (
        train_cli(
            [
                "corpus:en",
                "--corpus-chars",
                "5000",
                "--out",
                str(out),
                "--max-steps",
                "2",
                "--json",
                "--quiet",
                "--eval-batches",
                "1",
            ]
        )
        == 0
    )
    metrics = last_json(capsys)
    assert metrics["batch_size"] == 32 and metrics["lr"] == 1e-2 and metrics["block_size"] == 64
    config = json.loads((out / "config.json").read_text())
    assert (config["n_layer"], config["n_head"], config["d_model"], config["activation"]) == (
        4,
        4,
        64,
        "gelu",
    )


def test_the_cli_trains_on_all_cores_and_gives_the_thread_count_back(tmp_path, capsys):
    from labkit.env import usable_cpus

    before = torch.get_num_threads()
    args = ["corpus:en", "--corpus-chars", "5000", "--out", str(tmp_path / "t"), "--max-steps"]
    assert train_cli([*args, "1", "--quiet", "--eval-batches", "1"]) == 0
    state = json.loads((tmp_path / "t" / "trainer_state.json").read_text())["state"]
    assert state["config"]["num_threads"] == usable_cpus()
    assert torch.get_num_threads() == before
