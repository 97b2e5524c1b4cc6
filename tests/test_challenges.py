"""Tests for labkit.chapters.challenges (chapter 9): compute, scaling, distillation, pruning,
timing, canaries, bias probes, answers, typos, interpretability.

int8 quantisation is tested in test_quantize.py, ``evaluate_loss`` and ``lm_loss`` in
test_evaluate.py. Tiny models only (one or two layers, width 16-32): every test runs in about a
second.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from labkit.chapters import challenges as E
from labkit.chapters.challenges import compression
from labkit.data import generate_corpus
from labkit.env import seed_everything
from labkit.generate import generate
from labkit.hf import to_hf
from labkit.models import TinyGPT
from labkit.nn import MultiHeadAttention
from labkit.tokenizers import train_char_tokenizer
from labkit.train import CausalLMTask, train


def tiny_gpt(
    vocab: int = 40, block: int = 16, layers: int = 2, d: int = 32, heads: int = 2, **kw
) -> TinyGPT:
    seed_everything(0)
    return TinyGPT(
        vocab_size=vocab, block_size=block, n_layer=layers, n_head=heads, d_model=d, **kw
    ).eval()


@pytest.fixture(scope="module")
def text_and_tok():
    text = generate_corpus("en", n_chars=6000, seed=0).text
    return text, train_char_tokenizer(text, extra_chars="'")


@pytest.fixture(scope="module")
def task(text_and_tok):
    text, tok = text_and_tok
    ids = torch.tensor(tok(text)["input_ids"])
    n = int(0.9 * len(ids))
    return CausalLMTask(ids[:n], ids[n:], block_size=16)


# --------------------------------------------------------------------------------------------
# Compute
# --------------------------------------------------------------------------------------------


def test_gpu_years_reproduces_the_gpt3_figure() -> None:
    flops = 6 * 175e9 * 300e9
    assert flops == pytest.approx(3.15e23)
    assert E.gpu_years(flops, 28e12) == pytest.approx(
        356.5, abs=0.1
    )  # V100 at 28 TFLOP/s sustained
    assert E.gpu_years(E.SECONDS_PER_YEAR * 5.0, 1.0) == pytest.approx(5.0)
    for bad in (0, -1.0, True, "1e12", float("nan")):
        with pytest.raises(ValueError, match="positive number"):
            E.gpu_years(1e20, bad)


@pytest.mark.parametrize("kw", [{}, {"pos": "rope"}, {"d_ff": 48, "tie_weights": False}])
def test_counted_flops_equal_the_formula_exactly(kw) -> None:
    model = tiny_gpt(**kw)
    idx = torch.randint(0, 40, (3, 16))
    count = E.count_training_flops(model, idx, idx)
    assert count.total == count.forward + count.backward
    assert count.backward == 2 * count.forward  # the backward pass costs twice the forward
    assert count.total == E.transformer_training_flops(model.config, idx.numel())
    assert sum(count.by_operator.values()) == count.total
    assert count.by_operator["aten.bmm"] > 0  # attention was counted


def test_without_attention_the_count_drops_by_exactly_the_attention_term() -> None:
    model = tiny_gpt()
    idx = torch.randint(0, 40, (2, 16))
    with_attn = E.count_training_flops(model, idx, idx).total
    without = E.count_training_flops(model, idx, idx, count_attention=False).total
    L, T, d = model.config.n_layer, model.config.block_size, model.config.d_model
    assert with_attn - without == 12 * L * T * d * idx.numel()


def test_counting_leaves_the_fused_switch_as_it_was() -> None:
    model = tiny_gpt()
    before = [m.fused for m in model.modules() if isinstance(m, MultiHeadAttention)]
    assert all(before)
    E.count_training_flops(
        model, torch.zeros(1, 8, dtype=torch.long), torch.zeros(1, 8, dtype=torch.long)
    )
    assert [m.fused for m in model.modules() if isinstance(m, MultiHeadAttention)] == before


def test_six_n_d_is_close_for_wide_short_models() -> None:
    cfg = tiny_gpt(vocab=64, block=8, layers=2, d=128, heads=4).config
    n_params = 2 * 12 * 128 * 128 + 64 * 128
    exact = E.transformer_training_flops(cfg, 1e6)
    assert exact == pytest.approx(6 * n_params * 1e6, rel=0.05)


def test_flop_helpers_reject_wrong_inputs() -> None:
    with pytest.raises(TypeError, match="nn.Module"):
        E.count_training_flops(lambda x: x, torch.zeros(1, 2), torch.zeros(1, 2))
    with pytest.raises(TypeError, match="GPTConfig"):
        E.transformer_training_flops(object(), 10)


# --------------------------------------------------------------------------------------------
# Scaling and power laws
# --------------------------------------------------------------------------------------------


def test_fit_power_law_recovers_an_exact_law_and_agrees_with_polyfit() -> None:
    n = np.array([1e3, 3e3, 1e4, 3e4, 1e5])
    law = E.PowerLaw(a=7.0, alpha=0.3, floor=0.4)
    fit = E.fit_power_law(n, law(n), floor=0.4)
    assert fit.a == pytest.approx(7.0, rel=1e-9) and fit.alpha == pytest.approx(0.3, rel=1e-9)
    noisy = law(n) * np.array([1.02, 0.97, 1.01, 0.99, 1.03])
    fit = E.fit_power_law(n.tolist(), noisy.tolist())
    slope, intercept = np.polyfit(np.log(n), np.log(noisy), 1)
    assert fit.alpha == pytest.approx(-slope) and fit.a == pytest.approx(math.exp(intercept))
    assert "N^(-" in repr(fit)


@pytest.mark.parametrize(
    "n, loss, floor, match",
    [
        ([1.0], [2.0], 0.0, "at least 2 points"),
        ([10.0, 10.0], [2.0, 1.0], 0.0, "all equal"),
        ([10.0, -1.0], [2.0, 1.0], 0.0, "positive"),
        ([10.0, 100.0], [2.0, 1.0], 1.5, "above floor"),
        ([10.0, 100.0, 1000.0], [2.0, 1.0], 0.0, "same length"),
    ],
)
def test_fit_power_law_explains_bad_input(n, loss, floor, match) -> None:
    with pytest.raises(ValueError, match=match):
        E.fit_power_law(n, loss, floor=floor)


def test_scaling_runs_train_every_size_on_the_same_tokens(task, text_and_tok) -> None:
    _, tok = text_and_tok
    runs = E.scaling_runs(
        [(1, 16), (1, 32)], task, steps=30, vocab_size=len(tok), batch_size=8, eval_batches=4
    )
    assert [(r.n_layer, r.d_model) for r in runs] == [(1, 16), (1, 32)]
    assert runs[0].tokens == runs[1].tokens == 30 * 8 * 16
    assert runs[0].params < runs[1].params
    for r in runs:
        assert r.params == r.model.num_parameters() and r.non_embedding_params < r.params
        assert r.flops == 6 * r.params * r.tokens
        assert not r.model.training and 0 < r.val_loss < math.log(len(tok)) + 0.5
    again = E.scaling_runs(
        [(1, 16)], task, steps=30, vocab_size=len(tok), batch_size=8, eval_batches=4
    )
    assert again[0].val_loss == pytest.approx(runs[0].val_loss, abs=1e-4)  # same seed, same batches
    with pytest.raises(ValueError, match="at least one"):
        E.scaling_runs([], task, 10, vocab_size=len(tok))
    with pytest.raises(ValueError, match="pair"):
        E.scaling_runs([(1, 16, 2)], task, 10, vocab_size=len(tok))


# --------------------------------------------------------------------------------------------
# Distillation
# --------------------------------------------------------------------------------------------


def test_distillation_loss_limits() -> None:
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(2, 5, 11, generator=g), torch.randn(2, 5, 11, generator=g)
    y = torch.randint(0, 11, (2, 5), generator=g)
    ce = F.cross_entropy(s.reshape(-1, 11), y.reshape(-1))
    assert E.distillation_loss(s, t, y, alpha=0.0) == pytest.approx(float(ce))
    kl = (
        (F.softmax(t / 3, -1) * (F.log_softmax(t / 3, -1) - F.log_softmax(s / 3, -1)))
        .sum(-1)
        .mean()
    )
    assert E.distillation_loss(s, t, None, temperature=3.0, alpha=1.0) == pytest.approx(
        9 * float(kl), rel=1e-5
    )
    assert float(E.distillation_loss(t, t, None, alpha=1.0)) == pytest.approx(0.0, abs=1e-6)
    mix = E.distillation_loss(s, t, y, temperature=2.0, alpha=0.3)
    expected = 0.3 * E.distillation_loss(s, t, None, 2.0, 1.0) + 0.7 * ce
    assert float(mix) == pytest.approx(float(expected), rel=1e-5)


def test_distillation_loss_sends_no_gradient_to_the_teacher() -> None:
    s = torch.randn(4, 7, requires_grad=True)
    t = torch.randn(4, 7, requires_grad=True)
    E.distillation_loss(s, t, torch.tensor([0, 1, 2, 3])).backward()
    assert s.grad is not None and t.grad is None


def test_distillation_loss_rejects_wrong_inputs() -> None:
    with pytest.raises(ValueError, match="same shape"):
        E.distillation_loss(torch.zeros(2, 5), torch.zeros(2, 6))
    with pytest.raises(ValueError, match="targets are needed"):
        E.distillation_loss(torch.zeros(2, 5), torch.zeros(2, 5), None, alpha=0.5)
    with pytest.raises(ValueError, match="alpha"):
        E.distillation_loss(torch.zeros(2, 5), torch.zeros(2, 5), None, alpha=1.5)
    with pytest.raises(ValueError, match="temperature"):
        E.distillation_loss(torch.zeros(2, 5), torch.zeros(2, 5), None, temperature=0, alpha=1.0)


def test_distill_moves_the_student_towards_a_frozen_teacher(task, text_and_tok) -> None:
    _, tok = text_and_tok
    teacher = tiny_gpt(vocab=len(tok), d=32, pos="rope")
    train(
        teacher,
        task,
        max_steps=40,
        batch_size=8,
        lr=1e-2,
        warmup_steps=4,
        eval_every=0,
        progress=False,
        eval_batches=2,
    )
    teacher.eval()
    frozen = {k: v.clone() for k, v in teacher.state_dict().items()}
    student = tiny_gpt(vocab=len(tok), layers=1, d=16, pos="rope")

    def kl_to_teacher() -> float:
        x, _ = task.get_batch("val", 16, torch.Generator().manual_seed(5))
        with torch.no_grad():
            return float(
                E.distillation_loss(student(x), teacher(x), None, temperature=1.0, alpha=1.0)
            )

    before = kl_to_teacher()
    result = E.distill(
        teacher,
        student,
        task,
        40,
        temperature=1.0,
        alpha=1.0,
        batch_size=8,
        lr=1e-2,
        eval_batches=2,
    )
    assert result.steps == 40 and not student.training
    assert kl_to_teacher() < 0.5 * before
    assert all(torch.equal(frozen[k], v) for k, v in teacher.state_dict().items())
    assert not any(p.requires_grad for p in teacher.parameters())


def test_distiller_keeps_the_teacher_in_eval_mode() -> None:
    student, teacher = tiny_gpt(d=16), tiny_gpt(d=32)
    teacher.train()
    d = E.Distiller(student, teacher)
    d.train()
    assert student.training and not teacher.training
    idx = torch.randint(0, 40, (2, 8))
    logits, loss = d(idx, idx)
    assert logits.shape == (2, 8, 40) and loss.dim() == 0
    with pytest.raises(ValueError, match="two different models"):
        E.Distiller(student, student)
    with pytest.raises(ValueError, match="same tokenizer"):
        E.distill(tiny_gpt(vocab=50), tiny_gpt(vocab=40), None, 1)


# --------------------------------------------------------------------------------------------
# Pruning and timing
# --------------------------------------------------------------------------------------------


def test_forward_seconds_is_the_best_of_the_timed_runs(monkeypatch) -> None:
    ticks = iter([10.0, 10.5, 20.0, 20.2, 30.0, 30.9])  # three timed runs: 0.5 s, 0.2 s, 0.9 s
    monkeypatch.setattr(compression.time, "perf_counter", lambda: next(ticks))
    seen_threads = []

    class Recorder(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen_threads.append(torch.get_num_threads())
            return x

    before = torch.get_num_threads()
    seconds = E.forward_seconds(Recorder(), torch.zeros(2, 3), repeat=3, threads=1)
    assert seconds == pytest.approx(0.2)
    assert len(seen_threads) == 4 and set(seen_threads) == {1}  # one warm-up call, 3 timed
    assert torch.get_num_threads() == before  # the setting is restored


def test_forward_seconds_times_a_real_model_and_checks_repeat() -> None:
    model = tiny_gpt()
    seconds = E.forward_seconds(model, torch.randint(0, 40, (2, 16)), repeat=2, threads=None)
    assert seconds > 0 and math.isfinite(seconds)
    with pytest.raises(ValueError, match="repeat"):
        E.forward_seconds(model, torch.zeros(1, 2, dtype=torch.long), repeat=0)


def test_pruning_zeroes_the_smallest_weights_of_a_copy() -> None:
    model = tiny_gpt(d=32)
    pruned = E.prune_magnitude(model, 0.6)
    assert E.sparsity(model) == 0.0
    assert E.sparsity(pruned) == pytest.approx(0.6, abs=0.01)
    assert not (pruned.wte.weight == 0).any()  # the tied embedding / head is left alone
    w, p = model.blocks[0].ffn.w1.weight.abs(), pruned.blocks[0].ffn.w1.weight
    assert w[p == 0].max() <= w[p != 0].min()  # magnitude pruning: small ones go first
    assert torch.equal(p[p != 0], model.blocks[0].ffn.w1.weight[p != 0])
    assert not hasattr(pruned.blocks[0].ffn.w1, "weight_mask")  # made permanent
    assert E.sparsity(E.prune_magnitude(model, 0.0)) == 0.0
    for bad in (1.0, -0.1, True, "half"):
        with pytest.raises(ValueError, match="fraction"):
            E.prune_magnitude(model, bad)


# --------------------------------------------------------------------------------------------
# Scoring, bias probes, canaries
# --------------------------------------------------------------------------------------------


def test_continuation_logprobs_match_a_hand_computation(text_and_tok) -> None:
    _, tok = text_and_tok
    model = tiny_gpt(vocab=len(tok))
    scores = E.continuation_logprobs(model, tok, "The cat", [" sat", "s", " ran."])
    prefix = tok("The cat")["input_ids"]
    for score, cont in zip(scores.tolist(), [" sat", "s", " ran."]):
        ids = prefix + tok(cont)["input_ids"]
        with torch.no_grad():
            logp = F.log_softmax(model(torch.tensor([ids])), dim=-1)[0]
        by_hand = sum(float(logp[t - 1, ids[t]]) for t in range(len(prefix), len(ids)))
        assert score == pytest.approx(by_hand, abs=1e-4)


def test_log_odds_single_and_batched_agree(text_and_tok) -> None:
    _, tok = text_and_tok
    model = tiny_gpt(vocab=len(tok), block=32)
    prefixes = ["Tom had a cup. Then", "Rosa said", "It was"]
    batched = E.log_odds(model, tok, prefixes, " he", " she")
    single = [E.log_odds(model, tok, p, " he", " she") for p in prefixes]
    assert isinstance(batched, list) and batched == pytest.approx(single, abs=1e-5)
    a, b = E.continuation_logprobs(model, tok, prefixes[0], [" he", " she"]).tolist()
    assert single[0] == pytest.approx(a - b)


def test_scoring_explains_bad_input(text_and_tok) -> None:
    _, tok = text_and_tok
    model = tiny_gpt(vocab=len(tok), block=8)
    with pytest.raises(TypeError, match="list of strings"):
        E.continuation_logprobs(model, tok, "The", " cat")
    with pytest.raises(ValueError, match="empty"):
        E.continuation_logprobs(model, tok, "The", [])
    with pytest.raises(ValueError, match="at least one token"):
        E.continuation_logprobs(model, tok, "The", [""])
    with pytest.raises(ValueError, match="context"):
        E.continuation_logprobs(model, tok, "The cat sat on", [" the mat"])
    with pytest.raises(ValueError, match="does not know"):
        E.continuation_logprobs(model, tok, "The", [" ☃"])


def test_make_and_insert_canaries() -> None:
    canaries = E.make_canaries(["A's PIN is ", "B's PIN is "], [3, 0], n_digits=5, seed=7)
    assert [c.copies for c in canaries] == [3, 0]
    assert all(len(c.secret) == 5 and c.secret.isdigit() for c in canaries)
    assert canaries == E.make_canaries(["A's PIN is ", "B's PIN is "], [3, 0], n_digits=5, seed=7)
    assert canaries[0].text == "A's PIN is " + canaries[0].secret + "."
    docs = [f"doc {i}\n\n" for i in range(10)]
    out = E.insert_canaries(docs, canaries, seed=1)
    assert len(out) == 13 and out.count(canaries[0].text + "\n\n") == 3
    assert [d for d in out if d.startswith("doc")] == docs  # the originals keep their order
    with pytest.raises(ValueError, match="one copy count per prefix"):
        E.make_canaries(["a"], [1, 2])
    with pytest.raises(TypeError, match="list of documents"):
        E.insert_canaries("one string", canaries)


def test_a_canary_seen_many_times_is_extracted_and_an_unseen_one_is_not() -> None:
    corpus = generate_corpus("en", n_chars=3000, seed=0)
    seen, unseen = E.make_canaries(["Kim's PIN is ", "Bo's PIN is "], [40, 0], n_digits=4, seed=1)
    text = "".join(E.insert_canaries(corpus.documents, [seen, unseen]))
    tok = train_char_tokenizer(text)
    ids = torch.tensor(tok(text)["input_ids"])
    model = tiny_gpt(vocab=len(tok), block=32, layers=1, d=32, pos="rope")
    train(
        model,
        CausalLMTask(ids, None, block_size=32),
        max_steps=150,
        batch_size=16,
        lr=1e-2,
        warmup_steps=10,
        eval_every=0,
        progress=False,
    )
    model.eval()
    hit = E.canary_exposure(model, tok, seen, n_candidates=999)
    miss = E.canary_exposure(model, tok, unseen, n_candidates=999)
    assert hit.rank == 1 and hit.extracted and hit.exposure == pytest.approx(math.log2(1000))
    assert miss.rank > 10 and not miss.extracted and miss.exposure < 5
    assert 1 <= miss.rank <= 1000


def test_canary_exposure_explains_bad_input(text_and_tok) -> None:
    _, tok = text_and_tok
    model = tiny_gpt(vocab=len(tok))
    canary = E.Canary("PIN ", "12", 1)
    with pytest.raises(ValueError, match="only 99 other"):
        E.canary_exposure(model, tok, canary, n_candidates=100)
    with pytest.raises(ValueError, match="positive int"):
        E.canary_exposure(model, tok, canary, n_candidates=0)


# --------------------------------------------------------------------------------------------
# Answers and their probabilities (hallucination)
# --------------------------------------------------------------------------------------------


def test_answer_is_greedy_and_reports_the_chosen_tokens_probabilities(text_and_tok) -> None:
    _, tok = text_and_tok
    model = tiny_gpt(vocab=len(tok), block=32)
    ans = E.answer(model, tok, "Tom had a", max_new_tokens=6)
    prompt = tok("Tom had a")["input_ids"]
    out = generate(model, torch.tensor([prompt]), 6, strategy="greedy")[0].tolist()
    assert ans.text == tok.decode(out[len(prompt) :], skip_special_tokens=True)
    assert len(ans.probs) == len(ans.tokens) == 6
    with torch.no_grad():
        probs = F.softmax(model(torch.tensor([out])), dim=-1)[0]
    for t, p in enumerate(ans.probs):  # greedy: every chosen token was the most probable one
        assert p == pytest.approx(float(probs[len(prompt) - 1 + t].max()), abs=1e-5)
    assert ans.min_prob <= ans.mean_prob <= 1
    with pytest.raises(ValueError, match="chat template"):
        E.answer(model, tok, "Hi", chat=True)
    with pytest.raises(ValueError, match="max_new_tokens"):
        E.answer(model, tok, "Hi", max_new_tokens=0)


def test_answer_agrees_between_labkit_and_hugging_face(text_and_tok) -> None:
    _, tok = text_and_tok
    model = tiny_gpt(vocab=len(tok), block=32)
    ours, theirs = E.answer(model, tok, "One day", 8), E.answer(to_hf(model), tok, "One day", 8)
    assert ours.text == theirs.text
    assert ours.probs == pytest.approx(theirs.probs, abs=1e-4)


# --------------------------------------------------------------------------------------------
# Robustness and interpretability
# --------------------------------------------------------------------------------------------


def test_add_typos_changes_only_letters_at_about_the_rate() -> None:
    text = generate_corpus("en", n_chars=5000, seed=0).text
    assert E.add_typos(text, 0.0) == text
    noisy = E.add_typos(text, 0.2, seed=3)
    assert len(noisy) == len(text) and noisy == E.add_typos(text, 0.2, seed=3)
    changed = [(a, b) for a, b in zip(text, noisy) if a != b]
    assert all(a.isalpha() and b.isalpha() and a.isupper() == b.isupper() for a, b in changed)
    letters = sum(ch.isalpha() for ch in text)
    assert 0.2 * 25 / 26 - 0.02 < len(changed) / letters < 0.2 * 25 / 26 + 0.02
    with pytest.raises(ValueError, match="fraction"):
        E.add_typos(text, 1.5)


def test_previous_token_scores_read_the_attention_just_below_the_diagonal() -> None:
    model = tiny_gpt(layers=2, heads=4)
    idx = torch.randint(0, 40, (3, 10))
    scores = E.previous_token_scores(model, idx)
    assert scores.shape == (2, 4)
    _, attn = model(idx, return_attention=True)
    by_hand = torch.stack([attn[:, :, :, t, t - 1] for t in range(1, 10)], dim=-1).mean(dim=(1, 3))
    assert torch.allclose(scores, by_hand, atol=1e-6)
    assert E.previous_token_scores(model, idx[0]).shape == (2, 4)  # one row is fine too
    with pytest.raises(ValueError, match="at least 2 tokens"):
        E.previous_token_scores(model, idx[:, :1])


def test_ablate_head_equals_zeroing_its_columns_of_w_o() -> None:
    model = tiny_gpt(layers=2, heads=4, d=32)
    idx = torch.randint(0, 40, (2, 12))
    with torch.no_grad():
        before = model(idx)
        with E.ablate_head(model, 1, 2):
            ablated = model(idx)
        after = model(idx)
        by_hand = tiny_gpt(layers=2, heads=4, d=32)
        by_hand.blocks[1].attn.w_o.weight[:, 16:24] = 0.0
        expected = by_hand(idx)
    assert torch.equal(before, after)  # the hook is gone
    assert not torch.allclose(before, ablated)
    assert torch.allclose(ablated, expected, atol=1e-6)
    with pytest.raises(ValueError, match="head must be"):
        with E.ablate_head(model, 0, 4):
            pass
    with pytest.raises(ValueError, match="layer must be"):
        with E.ablate_head(model, 2, 0):
            pass


# --------------------------------------------------------------------------------------------
# Per-position losses and stored multi-seed results
# --------------------------------------------------------------------------------------------


def test_target_losses_average_to_lm_loss_and_line_up_with_the_targets(text_and_tok) -> None:
    from labkit.evaluate import lm_loss

    text, tok = text_and_tok
    model = tiny_gpt(vocab=len(tok), block=16)
    ids = tok(text[:500])["input_ids"]
    per = E.target_losses(model, ids, block_size=16)
    assert len(per) == ((len(ids) - 1) // 16) * 16
    assert math.isclose(float(per.mean()), lm_loss(model, ids, block_size=16), rel_tol=1e-5)
    with torch.no_grad():  # element j scores ids[j + 1] given the window it sits in
        logits = model(torch.tensor([ids[16:32]]))[0]  # (T, vocab): no targets, only logits
    by_hand = F.cross_entropy(logits, torch.tensor(ids[17:33]), reduction="none")
    assert torch.allclose(per[16:32], by_hand, atol=1e-5)
    with pytest.raises(ValueError, match="at least block_size"):
        E.target_losses(model, ids[:10], block_size=16)


def test_the_stored_scaling_table_is_complete() -> None:
    table = E.load_study("ch09_scaling")
    seeds = table["seeds"]
    assert len(seeds) >= 3 and len(table["alpha_per_seed"]) == len(seeds)
    for size in table["sizes"]:
        assert len(size["val_loss"]) == len(seeds)
        assert all(table["entropy_floor"] < x < 5 for x in size["val_loss"])
    n = [s["non_embedding_params"] for s in table["sizes"]]
    for i, alpha in enumerate(table["alpha_per_seed"]):
        fit = E.fit_power_law(n, [s["val_loss"][i] for s in table["sizes"]], table["entropy_floor"])
        assert math.isclose(fit.alpha, alpha, abs_tol=1e-3)


def test_scaling_figure_has_error_bars_and_the_live_run() -> None:
    fig = E.scaling_figure(
        [10, 100], [[2.0, 2.2], [1.5, 1.6]], 1.0, live=[2.1, 1.55], alpha=0.3, a=2.0
    )
    bars = [t for t in fig.data if t.error_y is not None and t.error_y.array is not None]
    assert len(bars) == 1 and np.allclose(bars[0].y, [1.1, 0.55])
    assert any(t.name == "this notebook's run" for t in fig.data)
    with pytest.raises(ValueError, match="one row"):
        E.scaling_figure([10, 100, 1000], [[2.0, 2.2], [1.5, 1.6]], 1.0)
