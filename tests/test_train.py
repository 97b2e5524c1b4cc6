"""Tests for labkit.train: schedule, masking, the loop, callbacks, interrupts, determinism."""

from __future__ import annotations

import math
import threading
import time

import pytest
import torch

from labkit.models import (
    EncDecConfig,
    TinyBERT,
    TinyBertForSequenceClassification,
    TinyEncoderDecoder,
    TinyGPT,
)
from labkit.train import (
    CausalLMTask,
    ClassificationTask,
    MaskedLMTask,
    Seq2SeqTask,
    TrainConfig,
    Trainer,
    lr_at,
    make_optimizer,
    mask_tokens,
    perplexity,
    train,
)

VOCAB = 20
TINY = dict(n_layer=2, n_head=2, d_model=32)


def pattern_ids(n: int = 3000, seed: int = 0) -> torch.Tensor:
    """A learnable sequence: repeating runs 7..19 with random restarts (ids >= 7, no specials)."""
    g = torch.Generator().manual_seed(seed)
    out, x = [], 7
    for _ in range(n):
        out.append(x)
        x = (
            7 + int(torch.randint(13, (1,), generator=g))
            if torch.rand(1, generator=g) < 0.1
            else 7 + (x - 6) % 13
        )
    return torch.tensor(out)


def gpt(seed: int = 0, block: int = 16) -> TinyGPT:
    torch.manual_seed(seed)
    return TinyGPT(vocab_size=VOCAB, block_size=block, **TINY)


def quick(**kw) -> TrainConfig:
    base = dict(
        max_steps=20,
        batch_size=8,
        lr=3e-3,
        warmup_steps=5,
        eval_every=0,
        eval_batches=2,
        log_every=1,
        progress=False,
        seed=0,
    )
    return TrainConfig(**{**base, **kw})


def lm_task(block: int = 16) -> CausalLMTask:
    ids = pattern_ids()
    return CausalLMTask(ids[:2500], ids[2500:], block)


# ---- schedule, perplexity, optimizer ------------------------------------------------------


def test_lr_schedule_warmup_then_cosine_to_min_lr():
    lrs = [lr_at(s, 1e-3, 1000, warmup_steps=100) for s in range(1001)]
    assert lrs[0] == pytest.approx(1e-5)  # (0 + 1) / 100 of the peak
    assert lrs[99] == pytest.approx(1e-3)
    assert all(a < b for a, b in zip(lrs[:99], lrs[1:100]))  # rising during warm-up
    assert all(a >= b for a, b in zip(lrs[100:], lrs[101:]))  # then never rising
    assert lrs[550] == pytest.approx(1e-4 + 0.5 * 9e-4, rel=1e-6)  # half way: midpoint
    assert lrs[1000] == pytest.approx(1e-4)  # min_lr defaults to lr / 10
    assert lr_at(5000, 1e-3, 1000, min_lr=0.0) == 0.0
    assert lr_at(0, 1e-3, 20, warmup_steps=100) == pytest.approx(
        1e-3 / 2
    )  # warm-up capped at 20 // 10


def test_perplexity_is_exp_loss():
    assert perplexity(math.log(65)) == pytest.approx(65)
    assert perplexity(1e6) == math.inf


def test_optimizer_decays_matrices_only_and_is_fused():
    model = gpt()
    opt = make_optimizer(model, quick(weight_decay=0.1))
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"]) and all(
        p.dim() < 2 for p in no_decay["params"]
    )
    n_params = len({id(p) for p in model.parameters()})
    assert len(decay["params"]) + len(no_decay["params"]) == n_params  # tied weight counted once
    assert opt.defaults["fused"] is True


def test_config_rejects_bad_values_with_clear_messages():
    with pytest.raises(ValueError, match="max_steps must be a positive int"):
        TrainConfig(max_steps=0)
    with pytest.raises(ValueError, match="lr must be a positive"):
        TrainConfig(lr=-1)
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="fp8")
    with pytest.raises(ValueError, match="time_budget"):
        TrainConfig(time_budget=0)
    with pytest.raises(ValueError, match="cpu_workers"):
        TrainConfig(cpu_workers=0)


def test_quiet_preset_for_helper_runs():
    config = TrainConfig.quiet(300, lr=3e-3)
    assert (config.max_steps, config.progress, config.eval_every) == (300, False, 0)
    assert config.warmup_steps == 30 and config.lr == 3e-3
    assert TrainConfig.quiet(5).warmup_steps == 1
    assert TrainConfig.quiet(50, eval_every=10).eval_every == 10  # overrides win


# ---- tasks --------------------------------------------------------------------------------


def test_causal_batches_are_shifted_windows():
    ids = torch.arange(100)
    task = CausalLMTask(ids[:80], ids[80:], block_size=8)
    x, y = task.get_batch("train", 5, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (5, 8)
    assert torch.equal(y[:, :-1], x[:, 1:]) and torch.equal(y[:, -1], x[:, -1] + 1)
    xv, _ = task.get_batch("val", 5, torch.Generator().manual_seed(0))
    assert int(xv.min()) >= 80


def test_causal_task_too_short_text_says_what_to_do():
    with pytest.raises(
        ValueError, match="training data has 5 tokens.*block_size=8.*smaller block_size"
    ):
        CausalLMTask(torch.arange(5), None, block_size=8)
    with pytest.raises(ValueError, match="validation data has 3 tokens"):
        CausalLMTask(torch.arange(50), torch.arange(3), block_size=8)
    with pytest.raises(ValueError, match="1-D tensor of integer token ids"):
        CausalLMTask(torch.rand(50), None, block_size=8)


def test_mask_tokens_80_10_10_and_loss_positions_only():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(7, 50, (200, 100), generator=g)
    ids[:, 0] = 5  # a [CLS] in every row: special, never masked
    inputs, labels = mask_tokens(ids, mask_token_id=4, vocab_size=50, generator=g)
    picked = labels != -100
    assert picked.float().mean().item() == pytest.approx(0.15, abs=0.01)
    assert not picked[:, 0].any()
    assert torch.equal(labels[picked], ids[picked])  # labels are the original ids
    assert torch.equal(inputs[~picked], ids[~picked])  # unpicked positions untouched
    n = picked.sum().item()
    as_mask = (inputs[picked] == 4).sum().item() / n
    unchanged = (inputs[picked] == ids[picked]).sum().item() / n
    assert as_mask == pytest.approx(0.8, abs=0.03)
    assert unchanged == pytest.approx(0.1 + 0.1 / 43, abs=0.03)  # kept, or randomly drawn the same


def test_mask_tokens_every_row_predicts_something():
    ids = torch.full((50, 3), 9)
    _, labels = mask_tokens(ids, 4, 20, torch.Generator().manual_seed(1), mlm_probability=0.01)
    assert ((labels != -100).sum(dim=1) >= 1).all()


# ---- the loop -----------------------------------------------------------------------------


def test_training_lowers_the_loss_and_reports_metrics():
    result = train(gpt(), lm_task(), quick(max_steps=40, eval_every=20))
    h = result.history
    assert h["step"] == list(range(1, 41)) and len(h["train_loss"]) == len(h["lr"]) == 40
    assert sum(h["train_loss"][-5:]) / 5 < h["train_loss"][0] - 0.5
    assert h["eval_step"] == [20, 40]
    assert result.val_loss == h["val_loss"][-1] and result.val_perplexity == pytest.approx(
        math.exp(result.val_loss)
    )
    assert result.steps == 40 and result.tokens == 40 * 8 * 16 and result.tokens_per_s > 0
    assert not result.interrupted


def test_same_seed_gives_identical_loss_curve():
    a = train(gpt(seed=3), lm_task(), quick(seed=7)).history["train_loss"]
    b = train(gpt(seed=3), lm_task(), quick(seed=7)).history["train_loss"]
    c = train(gpt(seed=3), lm_task(), quick(seed=8)).history["train_loss"]
    assert a == b  # bit for bit
    assert a != c


def test_grad_accumulation_matches_one_big_batch():
    task = lm_task()
    batch = task.get_batch("train", 8, torch.Generator().manual_seed(0))
    grads = []
    for halves in (False, True):
        trainer = Trainer(gpt(), task, quick())
        if halves:
            for part in (slice(0, 4), slice(4, 8)):
                trainer.forward_backward((batch[0][part], batch[1][part]), scale=0.5)
        else:
            trainer.forward_backward(batch)
        grads.append([p.grad.clone() for p in trainer.model.parameters()])
    for g1, g2 in zip(*grads):
        torch.testing.assert_close(g1, g2, atol=1e-6, rtol=1e-5)
    result = train(gpt(), task, quick(max_steps=5, batch_size=4, grad_accum=2))
    assert result.tokens == 5 * 2 * 4 * 16


def test_threads_share_a_batch_with_the_same_gradient():
    """cpu_workers=k: k threads each run a share of the batch; the summed gradient is the
    whole batch's (also for shares of unequal size), and the run stays reproducible."""
    task = lm_task()
    for rows in (8, 5):  # 5 rows: shares of 3 and 2 sequences
        batch = task.get_batch("train", rows, torch.Generator().manual_seed(0))
        grads, losses = [], []
        for workers in (1, 2, 3):
            trainer = Trainer(gpt(), task, quick(batch_size=rows, cpu_workers=workers))
            assert trainer.cpu_share.workers() == workers
            losses.append(trainer.forward_backward(batch))
            grads.append([p.grad.clone() for p in trainer.model.parameters()])
        for other in (1, 2):
            torch.testing.assert_close(losses[other], losses[0], atol=1e-6, rtol=1e-5)
            for g1, g2 in zip(grads[0], grads[other]):
                torch.testing.assert_close(g2, g1, atol=1e-6, rtol=1e-5)
    a = train(gpt(seed=3), task, quick(cpu_workers=2)).history["train_loss"]
    b = train(gpt(seed=3), task, quick(cpu_workers=2)).history["train_loss"]
    c = train(gpt(seed=3), task, quick(cpu_workers=1)).history["train_loss"]
    assert a == b  # bit for bit
    assert a == pytest.approx(c, abs=1e-4)
    assert not sharing_threads()  # the threads stop with each run


def sharing_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("labkit-share")]


def test_batch_sharing_is_automatic_only_where_it_is_safe(tmp_path):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        task = lm_task()
        assert Trainer(gpt(), task, quick()).cpu_share.workers() == 2  # GPT, no dropout
        assert Trainer(gpt(), task, quick(cpu_workers=1)).cpu_share.workers() == 1
        torch.manual_seed(0)
        dropout = TinyGPT(vocab_size=VOCAB, block_size=16, dropout=0.1, **TINY)
        assert Trainer(dropout, task, quick()).cpu_share.workers() == 1  # RNG from threads
        bert_task = MaskedLMTask(task.train, task.val, 16, vocab_size=VOCAB)
        bert = TinyBERT(vocab_size=VOCAB, block_size=16, **TINY)
        assert Trainer(bert, bert_task, quick()).cpu_share.workers() == 1
        seen = []
        trainer = Trainer(gpt(), task, quick(max_steps=6, out_dir=str(tmp_path / "run")))
        trainer.callbacks.append(lambda m: seen.append(len(sharing_threads())))
        trainer.fit(stop_at=3)
        assert max(seen) == 1  # one more thread ran a share of each batch ...
        assert not sharing_threads()  # ... and stopped at the end of fit()
        assert torch.get_num_threads() == 2  # fit() gives the thread setting back
        resumed = Trainer(gpt(seed=9), task, quick(max_steps=6, out_dir=str(tmp_path / "run")))
        assert resumed.load()
        straight = train(gpt(), task, quick(max_steps=6))
        assert resumed.fit().history["train_loss"] == straight.history["train_loss"]  # exact
    finally:
        torch.set_num_threads(before)


def test_callbacks_objects_and_plain_functions():
    class Recorder:
        def __init__(self):
            self.steps, self.evals, self.ended = [], [], None

        def on_step(self, m):
            self.steps.append(m["step"])

        def on_eval(self, m):
            self.evals.append(m)

        def on_end(self, m):
            self.ended = m

    rec, events = Recorder(), []
    train(
        gpt(),
        lm_task(),
        quick(max_steps=10, log_every=5, eval_every=5),
        callbacks=[rec, events.append],
    )
    assert rec.steps == [5, 10]
    assert [e["step"] for e in rec.evals] == [5, 10]
    assert rec.evals[0]["val_perplexity"] == pytest.approx(math.exp(rec.evals[0]["val_loss"]))
    assert rec.ended["steps"] == 10 and rec.ended["interrupted"] is False
    assert [e["event"] for e in events] == ["begin", "step", "eval", "step", "eval", "end"]
    step = events[1]
    assert len(step["losses"]) == 5 and step["train_loss"] == pytest.approx(sum(step["losses"]) / 5)
    assert {"lr", "tokens_per_s", "tokens", "max_steps", "elapsed"} <= set(step)


def test_keyboard_interrupt_ends_cleanly_and_keeps_model_and_history(tmp_path):
    def stop_at_7(m):
        if m["event"] == "step" and m["step"] == 7:
            raise KeyboardInterrupt

    model = gpt()
    before = model.lm_head.weight.detach().clone()
    result = train(model, lm_task(), quick(out_dir=str(tmp_path / "run")), callbacks=[stop_at_7])
    assert result.interrupted and result.steps == 7
    assert result.history["step"] == list(range(1, 8)) and len(result.history["train_loss"]) == 7
    assert result.model is model and not torch.equal(model.lm_head.weight, before)
    assert all(p.grad is None for p in model.parameters())
    assert (tmp_path / "run" / "model.safetensors").exists()  # the work was saved
    trainer = Trainer(gpt(seed=5), lm_task(), quick())
    assert trainer.load(tmp_path / "run") and trainer.step == 7


def test_time_budget_fits_steps_to_the_clock(monkeypatch):
    """A clock that advances 50 ms per reading: the budget of 2 s holds about 40 steps."""
    ticks = iter(range(10**6))
    monkeypatch.setattr(time, "perf_counter", lambda: 0.05 * next(ticks))
    budget = 2.0
    result = train(gpt(), lm_task(), quick(max_steps=100_000, time_budget=budget, log_every=10))
    assert 20 < result.steps < 40
    assert result.seconds <= budget + 3 * 0.05  # within a few clock readings
    assert result.val_loss is not None  # the final evaluation is inside the budget
    assert result.history["lr"][-1] < 0.2 * 3e-3  # the cosine reached its end
    longer = train(gpt(), lm_task(), quick(max_steps=100_000, time_budget=2 * budget))
    assert longer.steps > result.steps + 15  # twice the time, about twice the steps


def test_text_samples_during_training():
    from labkit.tokenizers import train_char_tokenizer

    text = "abcdefg " * 300
    tok = train_char_tokenizer(text)
    ids = torch.tensor(tok.encode(text))
    torch.manual_seed(0)
    model = TinyGPT(vocab_size=len(tok), block_size=16, **TINY)
    result = train(
        model,
        CausalLMTask(ids[:2000], ids[2000:], 16),
        quick(max_steps=10, sample_every=5, sample_tokens=12),
        tokenizer=tok,
    )
    assert result.history["sample_step"] == [5, 10]
    prompt = tok.decode(ids[2000:2008].tolist())  # the default prompt: 8 validation tokens
    assert all(s.startswith(prompt) and len(s) > len(prompt) for s in result.history["sample"])


def test_bad_device_and_precision_are_clear():
    with pytest.raises(ValueError, match="unknown device"):
        Trainer(gpt(), lm_task(), quick(device="tpu"))
    with pytest.raises(ValueError, match="fp16 training needs a GPU"):
        Trainer(gpt(), lm_task(), quick(device="cpu", precision="fp16"))
    with pytest.raises(TypeError, match="unknown training option"):
        train(gpt(), lm_task(), quick(), max_stepz=3)


def test_one_dimensional_ids_become_a_causal_lm_task():
    result = train(gpt(), pattern_ids(), quick(max_steps=3))
    assert result.steps == 3 and result.val_loss is not None


# ---- the other objectives -----------------------------------------------------------------


def test_masked_lm_trains_tiny_bert_on_masked_positions_only():
    ids = 7 + (torch.arange(3000) // 20) % 13  # runs of 20 equal tokens: neighbours give it away
    task = MaskedLMTask(ids[:2500], ids[2500:], block_size=16, vocab_size=VOCAB)
    x, labels = task.get_batch("train", 8, torch.Generator().manual_seed(0))
    picked = labels != -100
    assert (labels[picked] >= 7).all()  # the original ids
    assert 0 < picked.float().mean() < 0.3 and (x[picked] == 4).float().mean() > 0.5
    torch.manual_seed(0)
    model = TinyBERT(vocab_size=VOCAB, block_size=16, **TINY)
    result = train(model, task, quick(max_steps=60, batch_size=16, lr=1e-2, warmup_steps=10))
    assert result.val_loss < result.history["train_loss"][0] - 0.8


def test_classification_fine_tuning_reaches_high_accuracy():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(7, VOCAB, (200, 12), generator=g)
    y = (x == 7).any(dim=1).long()  # label: does token 7 occur?
    x[:100, 10:] = 0  # some padding
    torch.manual_seed(0)
    model = TinyBertForSequenceClassification(vocab_size=VOCAB, block_size=12, num_labels=2, **TINY)
    task = ClassificationTask(x[:160], y[:160], x[160:], y[160:])
    assert set(task.get_batch("train", 4, g)) == {"idx", "targets", "attention_mask"}
    result = train(model, task, quick(max_steps=80, batch_size=16, eval_batches=3))
    assert result.history["val_accuracy"][-1] > 0.75


def test_seq2seq_reads_the_source_through_cross_attention():
    g = torch.Generator().manual_seed(0)
    src = torch.randint(7, VOCAB, (300, 1), generator=g).repeat(1, 6)  # the target repeats it
    bos, eos = torch.full((300, 1), 2), torch.full((300, 1), 3)
    tgt = torch.cat([bos, src, eos], dim=1)
    torch.manual_seed(0)
    model = TinyEncoderDecoder(EncDecConfig(vocab_size=VOCAB, block_size=8, **TINY))
    task = Seq2SeqTask(src[:250], tgt[:250], src[250:], tgt[250:])
    s, tin, t = task.get_batch("train", 4, g)
    assert tin.shape == t.shape == (4, 7) and torch.equal(tin[:, 1:], t[:, :-1])
    result = train(model, task, quick(max_steps=80, batch_size=16, lr=1e-2, warmup_steps=10))
    assert result.history["train_loss"][0] > 2.5 and result.val_loss < 0.5


def test_a_loop_written_out_equals_train_bit_for_bit() -> None:
    """Chapter 4's written-out loop: the same batches (a generator seeded with config.seed),
    lr_at, clipping at 1.0, fused AdamW with decay on matrices only, betas (0.9, 0.95), and
    the evaluation on fixed batches (seed + EVAL_SEED_OFFSET) give exactly train()'s numbers."""
    ids = pattern_ids(2000)
    task = CausalLMTask(ids[:1800], ids[1800:], block_size=16)
    steps, lr, warmup, batch = 30, 1e-2, 5, 4
    config = TrainConfig(
        max_steps=steps, batch_size=batch, lr=lr, warmup_steps=warmup, eval_every=10,
        eval_batches=2, progress=False, cpu_workers=1, precision="fp32", seed=3, device="cpu",
    )  # fmt: skip
    torch.manual_seed(0)
    by_library = TinyGPT(vocab_size=VOCAB, block_size=16, **TINY)
    by_hand = TinyGPT(vocab_size=VOCAB, block_size=16, **TINY)
    by_hand.load_state_dict(by_library.state_dict())
    result = train(by_library, task, config)

    matrices = [p for p in by_hand.parameters() if p.dim() >= 2]
    others = [p for p in by_hand.parameters() if p.dim() < 2]
    groups = [{"params": matrices, "weight_decay": 0.1}, {"params": others, "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95), fused=True)
    batches = torch.Generator().manual_seed(config.seed)
    losses, val_losses = [], []
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, lr, steps, warmup)
        _, loss = by_hand(*task.get_batch("train", batch, batches))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(by_hand.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if (step + 1) % 10 == 0:
            fixed = torch.Generator().manual_seed(config.seed + Trainer.EVAL_SEED_OFFSET)
            with torch.no_grad():
                val = [by_hand(*task.get_batch("val", batch, fixed))[1] for _ in range(2)]
            val_losses.append(float(torch.stack(val).mean()))
    assert losses == result.history["train_loss"]
    assert val_losses == result.history["val_loss"]
    for p, q in zip(by_hand.state_dict().values(), by_library.state_dict().values()):
        assert torch.equal(p, q)
