"""labkit.models.lora (chapter 5): freezing, LoRA from scratch (formula, merge, gradients, the
fused attention path) and LoRA from peft (same logits, same merged model)."""

from __future__ import annotations

import copy

import peft
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from labkit.evaluate import lm_loss
from labkit.hf import from_hf, to_hf
from labkit.models import BertConfig, TinyBertForSequenceClassification, TinyGPT
from labkit.models.lora import (
    LoRALinear,
    add_lora,
    freeze,
    lora_from_peft,
    merge_lora,
    trainable_parameters,
)
from labkit.nn import set_fused
from labkit.train import CausalLMTask, train


def _gpt(seed: int = 0) -> TinyGPT:
    torch.manual_seed(seed)
    return TinyGPT(vocab_size=40, block_size=12, n_layer=2, n_head=2, d_model=16).eval()


# ----------------------------------------------------------------------------- freezing


def test_freeze_trains_only_the_named_parts() -> None:
    config = BertConfig(vocab_size=50, block_size=16, n_layer=2, n_head=2, d_model=16)
    clf = TinyBertForSequenceClassification(config, num_labels=2)
    total = clf.num_parameters()
    freeze(clf, ["pooler", "classifier"])
    head = 16 * 16 + 16 + 16 * 2 + 2
    assert trainable_parameters(clf) == (head, total)
    assert not any(p.requires_grad for n, p in clf.named_parameters() if n.startswith("bert."))
    freeze(clf, ["pooler", "classifier", "bert.blocks.1"])
    block = sum(p.numel() for p in clf.bert.blocks[1].parameters())
    assert trainable_parameters(clf)[0] == head + block
    before = {n: p.detach().clone() for n, p in clf.named_parameters()}
    x, y = torch.randint(7, 50, (8, 10)), torch.randint(0, 2, (8,))
    out = clf(x, y)
    out[1].backward()
    torch.optim.SGD([p for p in clf.parameters() if p.requires_grad], lr=0.1).step()
    changed = {n for n, p in clf.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all(
        n.startswith(("pooler", "classifier", "bert.blocks.1.")) for n in changed
    )
    assert freeze(clf, "classifier") is clf and trainable_parameters(clf)[0] == 16 * 2 + 2
    with pytest.raises(ValueError, match="no parameter name starts with 'clasifier'"):
        freeze(clf, ["clasifier"])


def test_trainable_parameters_counts_shared_tensors_once() -> None:
    gpt = _gpt()  # the output head shares the token embedding
    trainable, total = trainable_parameters(gpt)
    assert trainable == total == gpt.num_parameters()
    assert total < sum(p.numel() for p in gpt.state_dict().values())


# ----------------------------------------------------------------------------- LoRA, from scratch


def test_lora_linear_formula_merge_and_gradients() -> None:
    torch.manual_seed(0)
    base = nn.Linear(8, 6)
    lora = LoRALinear(copy.deepcopy(base), r=2, alpha=4)
    x = torch.randn(3, 8)
    assert torch.equal(lora(x), base(x))  # B = 0: exactly the frozen layer
    assert trainable_parameters(lora) == (2 * 8 + 6 * 2, 2 * 8 + 6 * 2 + 8 * 6 + 6)
    assert (lora.in_features, lora.out_features) == (8, 6) and "r=2" in repr(lora)
    with torch.no_grad():
        lora.lora_B.normal_()
    expected = x @ base.weight.T + base.bias + 2.0 * (x @ lora.lora_A.T) @ lora.lora_B.T
    assert torch.allclose(lora(x), expected, atol=1e-5)
    assert torch.allclose(F.linear(x, lora.weight, lora.bias), expected, atol=1e-5)
    merged = lora.merged()
    assert isinstance(merged, nn.Linear) and torch.allclose(merged(x), expected, atol=1e-5)
    lora(x).sum().backward()
    assert lora.base.weight.grad is None
    assert lora.lora_A.grad is not None and lora.lora_B.grad is not None
    with pytest.raises(TypeError, match="wraps an nn.Linear"):
        LoRALinear(nn.Conv1d(2, 2, 1))
    with pytest.raises(ValueError, match="r must be a positive int"):
        LoRALinear(base, r=0)


def test_add_lora_works_with_fused_attention_and_trains_only_adapters() -> None:
    gpt = _gpt()
    x = torch.randint(0, 40, (2, 12))
    model = add_lora(copy.deepcopy(gpt), ("w_q", "w_v"), r=2, alpha=4)
    assert torch.allclose(model(x), gpt(x), atol=1e-6)
    assert trainable_parameters(model)[0] == 2 * 2 * (2 * 16 + 16 * 2)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, LoRALinear):
                m.lora_B.normal_()
    unfused = set_fused(copy.deepcopy(model), False)
    assert not torch.allclose(model(x), gpt(x), atol=1e-3)  # the adapters act in the fused path too
    assert torch.allclose(model(x), unfused(x), atol=1e-5)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    task = CausalLMTask(torch.randint(0, 40, (200,)), block_size=12)
    train(model, task, max_steps=3, batch_size=4, progress=False, eval_every=0, eval_batches=1)
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if n in frozen)
    merged = merge_lora(copy.deepcopy(model))
    assert not any(isinstance(m, LoRALinear) for m in merged.modules())
    assert all(p.requires_grad for n, p in merged.named_parameters() if ".w_q." in n)
    assert torch.allclose(merged.eval()(x), model.eval()(x), atol=1e-5)
    with pytest.raises(ValueError, match="already has LoRA"):
        add_lora(model)
    with pytest.raises(ValueError, match="no nn.Linear named"):
        add_lora(copy.deepcopy(gpt), ["query"])


# ----------------------------------------------------------------------------- LoRA, from peft


@pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")
def test_lora_from_peft_gives_peft_logits_loss_and_merge() -> None:
    gpt = _gpt()
    config = peft.LoraConfig(
        r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["c_attn"], fan_in_fan_out=True
    )
    peft_model = peft.get_peft_model(to_hf(gpt), config)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_()
    peft_model.eval()
    ours = lora_from_peft(copy.deepcopy(gpt), peft_model)
    trained = {n for n, p in ours.named_parameters() if p.requires_grad}
    layers = [f"blocks.{i}.attn.{w}" for i in (0, 1) for w in ("w_q", "w_k", "w_v")]
    assert trained == {f"{layer}.lora_{ab}" for layer in layers for ab in "AB"}
    x = torch.randint(0, 40, (3, 12))
    with torch.no_grad():
        theirs = peft_model(input_ids=x).logits
        assert not torch.allclose(theirs, gpt(x), atol=1e-3)
        assert torch.allclose(ours(x), theirs, atol=1e-5)
        merged = from_hf(copy.deepcopy(peft_model).merge_and_unload())
        assert torch.allclose(merge_lora(copy.deepcopy(ours))(x), merged(x), atol=1e-5)
    # chapter 5 measures both with labkit.evaluate.lm_loss: a peft model is a causal LM too
    ids = torch.randint(0, 40, (40,))
    assert lm_loss(ours, ids, 12) == pytest.approx(lm_loss(peft_model, ids, 12), rel=1e-4)
    other = TinyGPT(vocab_size=40, block_size=12, n_layer=2, n_head=2, d_model=16)
    with pytest.raises(ValueError, match="not this model's"):
        lora_from_peft(other, peft_model)
    with pytest.raises(ValueError, match="already has LoRA"):
        lora_from_peft(ours, peft_model)
    with pytest.raises(TypeError, match="get_peft_model"):
        lora_from_peft(copy.deepcopy(gpt), to_hf(gpt))
    with pytest.raises(TypeError, match="fills a TinyGPT"):
        lora_from_peft(nn.Linear(2, 2), peft_model)  # type: ignore[arg-type]
