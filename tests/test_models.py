"""labkit.models: the call contract, masking, parameter count, checkpoints, learning."""

from __future__ import annotations

import json
import pickle
from dataclasses import fields
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from labkit import models
from labkit.env import available_devices
from labkit.models import (
    BertConfig,
    EncDecConfig,
    GPTConfig,
    TinyBERT,
    TinyBertForSequenceClassification,
    TinyBertForTokenClassification,
    TinyEncoderDecoder,
    TinyGPT,
    run_blocks,
)
from labkit.nn import set_fused

TINY = dict(vocab_size=40, block_size=16, n_layer=2, n_head=4, d_model=32)


def gpt(**kw: object) -> TinyGPT:
    torch.manual_seed(0)
    return TinyGPT(GPTConfig(**{**TINY, **kw})).eval()


def bert(**kw: object) -> TinyBERT:
    torch.manual_seed(0)
    return TinyBERT(BertConfig(**{**TINY, **kw})).eval()


def encdec(**kw: object) -> TinyEncoderDecoder:
    torch.manual_seed(0)
    return TinyEncoderDecoder(EncDecConfig(**{**TINY, **kw})).eval()


def ids(B: int = 3, T: int = 16, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 40, (B, T), generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------- the call contract


@pytest.mark.parametrize("make", [gpt, bert])
def test_return_contract(make) -> None:  # noqa: ANN001
    model, idx = make(), ids()
    targets = ids(seed=2)
    logits = model(idx)
    assert isinstance(logits, torch.Tensor) and logits.shape == (3, 16, 40)
    lg, loss = model(idx, targets)
    assert torch.equal(lg, logits) and loss.dim() == 0
    lg, attn = model(idx, return_attention=True)
    assert torch.allclose(lg, logits, atol=1e-5)
    assert attn.shape == (2, 3, 4, 16, 16)  # (layers, batch, heads, T, T)
    assert torch.allclose(attn.sum(-1), torch.ones(2, 3, 4, 16), atol=1e-5)
    lg, loss2, attn2 = model(idx, targets, return_attention=True)
    assert torch.allclose(loss2, loss) and torch.allclose(attn2, attn)
    assert model.config.block_size == 16 and model.config.vocab_size == 40


def test_loss_is_cross_entropy_ignoring_minus_100() -> None:
    model, idx, targets = gpt(), ids(), ids(seed=3)
    targets[0, :5] = -100
    logits, loss = model(idx, targets)
    expected = F.cross_entropy(logits.reshape(-1, 40), targets.reshape(-1), ignore_index=-100)
    assert torch.allclose(loss, expected)
    kept = targets != -100
    assert torch.allclose(loss, F.cross_entropy(logits[kept], targets[kept]))
    with pytest.raises(ValueError, match="targets must have shape"):
        model(idx, targets[:, :-1])


def test_gpt_is_causal() -> None:
    model, idx = gpt(), ids()
    changed = idx.clone()
    changed[:, 9] = (changed[:, 9] + 1) % 40
    a, b = model(idx), model(changed)
    assert torch.allclose(a[:, :9], b[:, :9], atol=1e-6)  # the past cannot see the future
    assert not torch.allclose(a[:, 9:], b[:, 9:], atol=1e-4)
    _, attn = model(idx, return_attention=True)
    assert torch.all(attn.triu(diagonal=1) == 0)


def test_bert_is_bidirectional_and_ignores_padding() -> None:
    model, idx = bert(), ids()
    changed = idx.clone()
    changed[:, 12] = (changed[:, 12] + 1) % 40
    assert not torch.allclose(model(idx)[:, :12], model(changed)[:, :12], atol=1e-4)
    am = torch.ones(3, 16, dtype=torch.long)
    am[:, 12:] = 0  # positions 12.. are padding: their content must not matter
    a = model(idx, attention_mask=am)
    b = model(changed, attention_mask=am)
    assert torch.allclose(a[:, :12], b[:, :12], atol=1e-5)
    _, attn = model(idx, attention_mask=am, return_attention=True)
    assert torch.all(attn[..., 12:] == 0)
    tt = torch.zeros_like(idx)
    assert torch.allclose(model(idx, token_type_ids=tt), model(idx), atol=1e-6)
    tt[:, 8:] = 1
    assert not torch.allclose(model(idx, token_type_ids=tt), model(idx), atol=1e-4)


@pytest.mark.parametrize("make", [gpt, bert, encdec])
def test_fused_and_from_scratch_attention_give_the_same_model(make) -> None:  # noqa: ANN001
    model, idx = make(), ids()
    args = (idx, idx) if isinstance(model, TinyEncoderDecoder) else (idx,)
    fast = model(*args)
    slow = set_fused(model, False)(*args)
    assert torch.allclose(fast, slow, atol=1e-5)


@pytest.mark.parametrize("pos", ["learned", "sinusoidal", "rope"])
@pytest.mark.parametrize("pre_ln", [True, False])
def test_gpt_variants_run_and_stay_causal(pos: str, pre_ln: bool) -> None:
    model, idx = gpt(pos=pos, pre_ln=pre_ln, activation="relu"), ids()
    changed = idx.clone()
    changed[:, -1] = (changed[:, -1] + 1) % 40
    logits, loss = model(idx, idx)
    assert torch.isfinite(loss)
    assert torch.allclose(logits[:, :-1], model(changed)[:, :-1], atol=1e-6)


def test_run_blocks_returns_one_attention_stack_per_kind() -> None:
    model, x = encdec(), torch.randn(3, 5, 32)
    memory = torch.randn(3, 7, 32)
    plain, none = run_blocks(model.decoder, x, is_causal=True, memory=memory)
    out, (self_attn, cross) = run_blocks(model.decoder, x, True, is_causal=True, memory=memory)
    assert none == [] and torch.allclose(out, plain, atol=1e-5)
    assert self_attn.shape == (2, 3, 4, 5, 5) and cross.shape == (2, 3, 4, 5, 7)


def test_only_tiny_gpt_lets_the_trainer_split_a_batch() -> None:
    assert TinyGPT.batch_rows_independent is True
    for cls in (TinyBERT, TinyBertForSequenceClassification, TinyEncoderDecoder):
        assert cls.batch_rows_independent is False


# ---------------------------------------------------------------- input errors


def test_clear_errors_for_bad_inputs() -> None:
    model = gpt()
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model(torch.tensor([[1, 2, 40]]))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model(torch.tensor([[1, -3]]))
    with pytest.raises(ValueError, match=r"idx\[None\]"):
        model(torch.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match="LongTensor"):
        model(torch.tensor([[1.0, 2.0]]))
    with pytest.raises(ValueError, match="empty"):
        model(torch.zeros(1, 0, dtype=torch.long))
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(d_model=30, n_head=4)
    with pytest.raises(ValueError, match="pos"):
        GPTConfig(pos="alibi")
    with pytest.raises(TypeError, match="GPTConfig"):
        TinyGPT(BertConfig())
    assert TinyGPT({"vocab_size": 7, "d_model": 16}, n_layer=1).config.vocab_size == 7
    with pytest.raises(ValueError, match="attention_mask"):
        bert()(ids(), attention_mask=torch.ones(3, 5, dtype=torch.long))


def test_configs_share_one_base_and_keep_their_defaults_and_field_order() -> None:
    shared = ["vocab_size", "block_size", "n_layer", "n_head", "d_model", "d_ff", "dropout"]
    shared += ["activation", "pos", "pre_ln", "bias", "tie_weights", "fused", "layer_norm_eps"]
    extra = {
        GPTConfig: ["rope_base"],
        BertConfig: ["type_vocab_size", "pad_token_id", "num_labels", "rope_base"],
        EncDecConfig: ["pad_token_id", "bos_token_id", "eos_token_id", "rope_base"],
    }
    for cls, names in extra.items():  # config.json keeps the order it always had
        assert [f.name for f in fields(cls)] == shared + names
    bert_cfg, encdec_cfg = BertConfig(), EncDecConfig()
    assert (bert_cfg.activation, bert_cfg.pre_ln, bert_cfg.layer_norm_eps) == ("gelu", False, 1e-12)
    assert (encdec_cfg.n_layer, encdec_cfg.activation, encdec_cfg.pos) == (2, "relu", "sinusoidal")
    for cls in extra:  # the shared checks run for every config
        with pytest.raises(ValueError, match="n_head must be a positive integer"):
            cls(n_head=0)
    with pytest.raises(ValueError, match="num_labels"):
        BertConfig(num_labels=0)


# ---------------------------------------------------------------- weights and parameter count


def test_weight_tying() -> None:
    tied, untied = gpt(), gpt(tie_weights=False)
    assert tied.lm_head.weight is tied.wte.weight
    assert untied.lm_head.weight is not untied.wte.weight
    _, loss = tied(ids(), ids(seed=4))
    loss.backward()
    assert tied.wte.weight.grad is tied.lm_head.weight.grad
    b = bert()
    assert b.lm_head.weight is b.bert.wte.weight


def gpt2_param_count(V: int, d: int, L: int, block: int, tied: bool = True) -> int:
    """The closed form from TinyGPT.num_parameters' docstring."""
    return V * d + block * d + L * (12 * d * d + 13 * d) + 2 * d + (0 if tied else V * d)


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize(("V", "d", "L", "block"), [(40, 32, 2, 16), (65, 48, 3, 24)])
def test_parameter_count_formula(V: int, d: int, L: int, block: int, tied: bool) -> None:
    model = TinyGPT(vocab_size=V, d_model=d, n_layer=L, block_size=block, tie_weights=tied)
    expected = gpt2_param_count(V, d, L, block, tied)
    assert model.num_parameters() == expected
    assert model.num_parameters() == sum(p.numel() for p in model.parameters())
    # the lookup tables go; an untied output head is a Linear layer and stays
    assert model.num_parameters(exclude_embeddings=True) == expected - V * d - block * d


def test_gpt2_init() -> None:
    model = TinyGPT(vocab_size=500, d_model=64, n_layer=4, block_size=32)
    assert model.wte.weight.std().item() == pytest.approx(0.02, rel=0.05)
    w_o = model.blocks[0].attn.w_o.weight.std().item()
    assert w_o == pytest.approx(0.02 / (2 * 4) ** 0.5, rel=0.1)
    assert torch.all(model.blocks[0].attn.w_q.bias == 0)
    assert torch.all(model.blocks[0].ln1.weight == 1)


# ---------------------------------------------------------------- checkpoints


@pytest.mark.parametrize(
    "model",
    [
        gpt(),
        gpt(pos="rope", tie_weights=False),
        bert(),
        TinyBertForSequenceClassification(**TINY, num_labels=3).eval(),
        TinyBertForTokenClassification(**TINY, num_labels=5).eval(),
        encdec(),
    ],
    ids=["gpt", "gpt-rope-untied", "bert", "seq-cls", "tok-cls", "encdec"],
)
def test_save_load_round_trip(model, tmp_path: Path) -> None:  # noqa: ANN001
    idx = ids()
    args = (idx, idx) if isinstance(model, TinyEncoderDecoder) else (idx,)
    before = model(*args)
    model.save(tmp_path / "ckpt")
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    config = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    assert config["model_type"] == model.model_type and config["vocab_size"] == 40
    for loaded in (
        type(model).load(tmp_path / "ckpt"),
        models.load(tmp_path / "ckpt", device="cpu"),
    ):
        assert type(loaded) is type(model) and not loaded.training
        assert loaded.config == model.config
        assert torch.equal(loaded(*args), before)
    if model.config.tie_weights and hasattr(model, "lm_head"):
        assert (
            loaded.lm_head.weight.data_ptr()
            == next(
                m.weight for m in loaded.modules() if isinstance(m, torch.nn.Embedding)
            ).data_ptr()
        )


def test_load_errors(tmp_path: Path) -> None:
    gpt().save(tmp_path / "g")
    with pytest.raises(ValueError, match="labkit.models.load"):
        TinyBERT.load(tmp_path / "g")
    with pytest.raises(FileNotFoundError):
        models.load(tmp_path / "missing")
    with pytest.raises(ValueError, match="directory"):
        models.load(tmp_path / "g" / "config.json")
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text('{"model_type": "gpt2"}')
    (tmp_path / "hf" / "model.safetensors").write_bytes(
        (tmp_path / "g" / "model.safetensors").read_bytes()
    )
    with pytest.raises(ValueError, match="from_hf"):
        models.load(tmp_path / "hf")


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_damaged_weights_file_names_the_file_and_the_fix(tmp_path: Path, damage: str) -> None:
    d = tmp_path / "ckpt"
    gpt().save(d)
    weights = d / "model.safetensors"
    data = weights.read_bytes()
    bad = {"truncated": data[: len(data) // 2], "garbage": b"not weights" * 3, "empty": b""}
    weights.write_bytes(bad[damage])
    for load in (models.load, TinyGPT.load):
        with pytest.raises(ValueError, match="model.safetensors is damaged") as info:
            load(d)
        assert "save the model again" in str(info.value)


class _Trap:
    """Unpickling this would create a file: proof that loading never unpickles."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):  # noqa: ANN204
        return (Path.touch, (Path(self.path),))


@pytest.mark.parametrize("name", ["pytorch_model.bin", "model.pt", "ckpt.pth", "weights.pkl"])
@pytest.mark.parametrize("keep_safetensors", [False, True])
def test_pickle_checkpoints_are_refused(tmp_path: Path, name: str, keep_safetensors: bool) -> None:
    d = tmp_path / "ckpt"
    gpt().save(d)
    if not keep_safetensors:
        (d / "model.safetensors").unlink()
    trap = tmp_path / "unpickled"
    (d / name).write_bytes(pickle.dumps(_Trap(str(trap))))
    with pytest.raises(ValueError, match="pickle"):
        models.load(d)
    with pytest.raises(ValueError, match="pickle"):
        TinyGPT.load(d)
    assert not trap.exists()


# ---------------------------------------------------------------- classification heads


def test_classifiers_from_pretrained_bert() -> None:
    base = bert()
    am = torch.ones(3, 16, dtype=torch.long)
    am[1, 10:] = 0
    seq = TinyBertForSequenceClassification.from_pretrained(base, num_labels=3).eval()
    assert seq.config.num_labels == 3
    assert torch.equal(seq.bert.wte.weight, base.bert.wte.weight)
    assert torch.allclose(seq.bert(ids(), am), base.bert(ids(), am))
    logits, loss = seq(ids(), torch.tensor([0, 2, 1]), attention_mask=am)
    assert logits.shape == (3, 3)
    assert torch.allclose(loss, F.cross_entropy(logits, torch.tensor([0, 2, 1])))
    tok = TinyBertForTokenClassification.from_pretrained(base, num_labels=5).eval()
    targets = torch.randint(0, 5, (3, 16))
    targets[1, 10:] = -100
    logits, loss, attn = tok(ids(), targets, attention_mask=am, return_attention=True)
    assert logits.shape == (3, 16, 5) and attn.shape == (2, 3, 4, 16, 16)
    with pytest.raises(TypeError, match="TinyBERT"):
        TinyBertForSequenceClassification.from_pretrained(gpt())


def test_classifier_from_pretrained_directory(tmp_path: Path) -> None:
    base = bert()
    base.save(tmp_path / "b")
    seq = TinyBertForSequenceClassification.from_pretrained(tmp_path / "b", num_labels=4)
    assert seq.classifier.out_features == 4
    assert torch.equal(seq.bert.blocks[1].ffn.w2.weight, base.bert.blocks[1].ffn.w2.weight)


# ---------------------------------------------------------------- encoder–decoder


def test_encoder_decoder_contract_masks_and_generate() -> None:
    model = encdec()
    src, tgt = ids(T=10), ids(T=7, seed=5)
    logits, loss, attn = model(src, tgt, tgt, return_attention=True)
    assert logits.shape == (3, 7, 40) and loss.dim() == 0
    assert attn["encoder"].shape == (2, 3, 4, 10, 10)
    assert attn["decoder"].shape == (2, 3, 4, 7, 7)
    assert attn["cross"].shape == (2, 3, 4, 7, 10)
    assert torch.all(attn["decoder"].triu(diagonal=1) == 0)
    # decoder is causal
    changed = tgt.clone()
    changed[:, 4] = (changed[:, 4] + 1) % 40
    assert torch.allclose(model(src, tgt)[:, :4], model(src, changed)[:, :4], atol=1e-6)
    # source padding (pad id 0) is masked: what sits in the padding does not matter
    src[:, 8:] = 0
    other = src.clone()
    am = (src != 0).long()
    other[:, 8:] = 7
    assert torch.allclose(model(src, tgt), model(other, tgt, src_attention_mask=am), atol=1e-5)
    out = model.generate(src, max_new_tokens=5)
    assert out.shape[0] == 3 and 2 <= out.shape[1] <= 6 and torch.all(out[:, 0] == 2)
    with pytest.raises(ValueError, match="max_new_tokens"):
        model.generate(src, max_new_tokens=16)


def test_encoder_decoder_learns_to_reverse() -> None:
    torch.manual_seed(0)
    model = TinyEncoderDecoder(vocab_size=12, block_size=8, n_layer=1, n_head=2, d_model=32)
    src = torch.randint(5, 12, (16, 5), generator=torch.Generator().manual_seed(0))
    tgt = torch.cat([src.flip(1), torch.full((16, 1), 3)], dim=1)  # reversed, then EOS
    tgt_in = torch.cat([torch.full((16, 1), 2), tgt[:, :-1]], dim=1)  # BOS, shifted right
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(120):
        _, loss = model(src, tgt_in, tgt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.1
    out = model.eval().generate(src[:4], max_new_tokens=7)
    assert torch.equal(out[:, 1:], tgt[:4])


# ---------------------------------------------------------------- devices


@pytest.mark.parametrize("device", sorted({torch.device(n).type for n in available_devices()}))
def test_every_model_runs_on_every_available_device(device: str, tmp_path: Path) -> None:
    for i, model in enumerate([gpt(pos="rope"), gpt(pos="sinusoidal"), bert(), encdec()]):
        model = model.to(device)
        idx = ids().to(device)
        args = (idx, idx) if isinstance(model, TinyEncoderDecoder) else (idx,)
        logits, loss, _ = model(*args, idx, return_attention=True)
        loss.backward()
        assert logits.device.type == device
        assert all(p.grad is not None for p in model.parameters())
        model.save(tmp_path / str(i))
        loaded = models.load(tmp_path / str(i), device=device)
        assert torch.allclose(loaded(*args), model(*args), atol=1e-5)


# ---------------------------------------------------------------- learning


def test_tiny_gpt_overfits_one_batch() -> None:
    torch.manual_seed(0)
    model = TinyGPT(**TINY)
    data = torch.randint(0, 40, (4, 17), generator=torch.Generator().manual_seed(0))
    x, y = data[:, :-1], data[:, 1:]
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(100):
        _, loss = model(x, y)
        first = first or loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first > 3.0  # about ln(40) at the start
    assert loss.item() < 0.1
