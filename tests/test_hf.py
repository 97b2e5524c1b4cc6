"""labkit.hf: same weights → same logits as transformers' GPT-2 / BERT; offline pipelines."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import transformers

from labkit.hf import from_hf, save_hf, to_hf
from labkit.models import (
    TinyBERT,
    TinyBertForSequenceClassification,
    TinyBertForTokenClassification,
    TinyEncoderDecoder,
    TinyGPT,
)
from labkit.tokenizers import train_char_tokenizer

TINY = dict(vocab_size=40, block_size=16, n_layer=2, n_head=4, d_model=32)
TOL = 1e-4
TEXT = "the cat sat on the mat. the dog sat on the log.\n"


def ids(B: int = 3, T: int = 16, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 40, (B, T), generator=torch.Generator().manual_seed(seed))


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


# ---------------------------------------------------------------- GPT-2


@pytest.mark.parametrize(
    "options",
    [{}, {"tie_weights": False}, {"activation": "relu", "d_ff": 48}, {"activation": "gelu"}],
)
def test_tinygpt_to_hf_and_back_same_logits(options: dict) -> None:
    torch.manual_seed(0)
    model = TinyGPT(**TINY, **options).eval()
    idx = ids()
    hf = to_hf(model)
    assert isinstance(hf, transformers.GPT2LMHeadModel) and not hf.training
    assert max_diff(hf(idx).logits, model(idx)) <= TOL
    assert hf.num_parameters() == model.num_parameters()
    back = from_hf(hf)
    assert isinstance(back, TinyGPT) and back.config == model.config
    assert max_diff(back(idx), model(idx)) <= TOL


def test_random_hf_gpt2_to_labkit_same_logits() -> None:
    torch.manual_seed(1)
    config = transformers.GPT2Config(
        vocab_size=40,
        n_positions=16,
        n_embd=32,
        n_layer=2,
        n_head=4,
        bos_token_id=None,
        eos_token_id=None,
    )
    hf = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():  # make biases and LayerNorms non-trivial
        for p in hf.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    model = from_hf(hf)
    idx = ids()
    assert max_diff(model(idx), hf(idx).logits) <= TOL
    _, attn = model(idx, return_attention=True)
    # attention maps match too (Hugging Face returns them with the eager implementation)
    hf.set_attn_implementation("eager")
    hf_attn = hf(idx, output_attentions=True).attentions
    assert max_diff(attn, torch.stack(hf_attn)) <= TOL


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"pos": "rope"}, "learned positions"),
        ({"pos": "sinusoidal"}, "learned positions"),
        ({"pre_ln": False}, "pre-LN"),
        ({"bias": False}, "biases"),
    ],
)
def test_to_hf_refuses_gpt_options_without_hf_equivalent(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        to_hf(TinyGPT(**TINY, **options))


def test_to_hf_and_from_hf_reject_other_types() -> None:
    with pytest.raises(TypeError, match="TinyGPT"):
        to_hf(TinyEncoderDecoder(**TINY))
    with pytest.raises(ValueError, match="post-LN"):
        to_hf(TinyBERT(**TINY, pre_ln=True))
    with pytest.raises(TypeError, match="GPT2LMHeadModel"):
        from_hf(torch.nn.Linear(2, 2))


# ---------------------------------------------------------------- BERT


@pytest.mark.parametrize(
    ("cls", "hf_cls"),
    [
        (TinyBERT, transformers.BertForMaskedLM),
        (TinyBertForSequenceClassification, transformers.BertForSequenceClassification),
        (TinyBertForTokenClassification, transformers.BertForTokenClassification),
    ],
)
@pytest.mark.parametrize("type_vocab_size", [2, 0])
def test_tinybert_to_hf_and_back_same_logits(cls: type, hf_cls: type, type_vocab_size: int) -> None:
    torch.manual_seed(2)
    model = cls(**TINY, type_vocab_size=type_vocab_size, num_labels=3).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    idx = ids()
    am = torch.ones(3, 16, dtype=torch.long)
    am[1, 9:] = 0
    kwargs = {}
    if type_vocab_size:
        kwargs["token_type_ids"] = (torch.arange(16) >= 8).long().expand(3, 16)
    hf = to_hf(model)
    assert type(hf) is hf_cls
    ours = model(idx, attention_mask=am, **kwargs)
    assert max_diff(hf(input_ids=idx, attention_mask=am, **kwargs).logits, ours) <= TOL
    back = from_hf(hf)
    assert type(back) is cls
    assert max_diff(back(idx, attention_mask=am, **kwargs), ours) <= TOL


def test_random_hf_bert_to_labkit_same_logits() -> None:
    torch.manual_seed(3)
    config = transformers.BertConfig(
        vocab_size=40,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=16,
    )
    hf = transformers.BertForMaskedLM(config).eval()
    model = from_hf(hf)
    assert isinstance(model, TinyBERT) and model.config.d_ff == 64
    idx = ids()
    am = torch.ones(3, 16, dtype=torch.long)
    am[2, 5:] = 0
    assert (
        max_diff(model(idx, attention_mask=am), hf(input_ids=idx, attention_mask=am).logits) <= TOL
    )


# ---------------------------------------------------------------- offline pipelines


def test_tinygpt_exported_directory_works_with_text_generation_pipeline(tmp_path: Path) -> None:
    tok = train_char_tokenizer(TEXT)
    torch.manual_seed(4)
    model = TinyGPT(vocab_size=len(tok), block_size=32, n_layer=2, n_head=2, d_model=32).eval()
    out = save_hf(model, tok, tmp_path / "gpt")
    assert (out / "model.safetensors").exists() and (out / "tokenizer.json").exists()
    assert not list(out.glob("*.bin"))

    reloaded = transformers.AutoModelForCausalLM.from_pretrained(out, local_files_only=True).eval()
    idx = torch.tensor([tok.encode("the cat sat")])
    assert max_diff(reloaded(idx).logits, model(idx)) <= TOL

    pipe = transformers.pipeline("text-generation", model=str(out), device="cpu")
    result = pipe("the cat", max_new_tokens=8, do_sample=False)
    text = result[0]["generated_text"]
    assert text.startswith("the cat") and len(text) > len("the cat")
    # greedy decoding by hand with our model gives the same continuation
    ids_ = tok.encode("the cat")
    for _ in range(len(tok.encode(text)) - len(ids_)):
        ids_.append(int(model(torch.tensor([ids_]))[0, -1].argmax()))
    assert tok.decode(ids_) == text


def test_tinybert_exported_directory_works_with_fill_mask_pipeline(tmp_path: Path) -> None:
    tok = train_char_tokenizer(TEXT)
    torch.manual_seed(5)
    model = TinyBERT(vocab_size=len(tok), block_size=32, n_layer=2, n_head=2, d_model=32).eval()
    out = save_hf(model, tok, tmp_path / "bert")
    pipe = transformers.pipeline("fill-mask", model=str(out), device="cpu")
    preds = pipe("the c[MASK]t sat", top_k=3)
    assert len(preds) == 3 and all({"score", "token_str", "sequence"} <= set(p) for p in preds)
    assert preds[0]["score"] >= preds[1]["score"] >= preds[2]["score"]
    idx = torch.tensor([tok.encode("the c[MASK]t sat")])
    pos = idx[0].tolist().index(tok.mask_token_id)
    assert preds[0]["token"] == int(model(idx)[0, pos].argmax())


def test_save_hf_rejects_a_tokenizer_bigger_than_the_model(tmp_path: Path) -> None:
    tok = train_char_tokenizer(TEXT)
    with pytest.raises(ValueError, match="tokenizer"):
        save_hf(TinyGPT(**{**TINY, "vocab_size": 10}), tok, tmp_path / "x")


# ------------------------------------------------------- chapter 5: classifiers via Auto classes


def test_exported_classifiers_load_with_the_matching_auto_class(tmp_path: Path) -> None:
    tok = train_char_tokenizer(TEXT)
    torch.manual_seed(3)
    pairs = [
        (
            TinyBertForSequenceClassification,
            transformers.AutoModelForSequenceClassification,
            transformers.BertForSequenceClassification,
        ),
        (
            TinyBertForTokenClassification,
            transformers.AutoModelForTokenClassification,
            transformers.BertForTokenClassification,
        ),
    ]
    x = torch.tensor([tok.encode("the cat sat"), tok.encode("the dog sat")])
    for cls, auto, hf_cls in pairs:
        model = cls(
            vocab_size=len(tok), block_size=16, n_layer=1, n_head=2, d_model=16, num_labels=3
        ).eval()
        out = save_hf(model, tok, tmp_path / cls.__name__)
        hf = auto.from_pretrained(out).eval()
        assert type(hf) is hf_cls and hf.config.num_labels == 3
        with torch.no_grad():
            assert max_diff(hf(input_ids=x).logits, model(x)) < TOL
