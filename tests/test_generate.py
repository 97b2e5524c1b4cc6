"""Tests for labkit.generate: the filters, the decoding loop, beam search, text in/out."""

from __future__ import annotations

import math
import warnings
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from labkit.generate import (
    beam_search,
    context_length,
    generate,
    generate_text,
    next_token_distribution,
    temperature_scale,
    top_k_filter,
    top_p_filter,
)

# --- tiny deterministic models -------------------------------------------------------------


class Bigram(nn.Module):
    """Next-token logits depend only on the current token: logits = linear(embedding(idx)).

    Records what it was called with, and fails if it is ever fed more than block_size tokens.
    """

    def __init__(self, vocab_size: int = 16, block_size: int = 8, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.config = SimpleNamespace(block_size=block_size, vocab_size=vocab_size)
        self.emb = nn.Embedding(vocab_size, 8)
        self.head = nn.Linear(8, vocab_size)
        self.calls: list[tuple[int, bool, bool]] = []  # (T, training, grad enabled)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        assert idx.shape[1] <= self.config.block_size, "model fed more than block_size tokens"
        self.calls.append((idx.shape[1], self.training, torch.is_grad_enabled()))
        return self.head(self.emb(idx))

    def table(self) -> torch.Tensor:
        """[V, V]: row s holds the logits of the token after s."""
        with torch.no_grad():
            return self.head(self.emb(torch.arange(self.config.vocab_size)))


class ContextSum(Bigram):
    """Logits depend on every token in the window (a running sum), so cropping matters."""

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        assert idx.shape[1] <= self.config.block_size, "model fed more than block_size tokens"
        self.calls.append((idx.shape[1], self.training, torch.is_grad_enabled()))
        return self.head(self.emb(idx).cumsum(dim=1))


class TableModel(nn.Module):
    """A bigram model given by an explicit next-token probability table [V, V]."""

    def __init__(self, probs: list[list[float]], block_size: int = 16) -> None:
        super().__init__()
        table = torch.tensor(probs) + 1e-9
        self.log_table = nn.Parameter(table.log(), requires_grad=False)
        self.config = SimpleNamespace(block_size=block_size, vocab_size=len(probs))
        self.calls = 0

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.log_table[idx]


class FixedLogits(nn.Module):
    """Always predicts the same logits, whatever the context."""

    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.logits = torch.tensor(logits)
        self.config = SimpleNamespace(block_size=4, vocab_size=len(logits))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(idx.shape[0], idx.shape[1], -1)


class HFStyle(nn.Module):
    """Wraps a model the Hugging Face way: output object with .logits, config.n_positions."""

    def __init__(self, inner: nn.Module, n_positions: int) -> None:
        super().__init__()
        self.inner = inner
        self.config = SimpleNamespace(n_positions=n_positions)

    def forward(self, input_ids: torch.Tensor) -> SimpleNamespace:
        return SimpleNamespace(logits=self.inner(input_ids))


def greedy_by_hand(table: torch.Tensor, start: int, steps: int) -> list[int]:
    tokens = [start]
    for _ in range(steps):
        tokens.append(int(table[tokens[-1]].argmax()))
    return tokens


# --- filters -------------------------------------------------------------------------------


def test_temperature_scale():
    logits = torch.tensor([2.0, -4.0, 1.0])
    assert torch.equal(temperature_scale(logits, 2.0), torch.tensor([1.0, -2.0, 0.5]))
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="greedy"):
            temperature_scale(logits, bad)


def test_top_k_keeps_the_k_largest_in_each_row():
    logits = torch.randn(5, 12, generator=torch.Generator().manual_seed(1))
    before = logits.clone()
    out = top_k_filter(logits, 3)
    assert torch.equal(logits, before), "the input must not be modified"
    for row, filtered in zip(logits, out):
        kept = set(torch.isfinite(filtered).nonzero().flatten().tolist())
        assert kept == set(row.topk(3).indices.tolist())
        assert torch.equal(filtered[list(kept)], row[list(kept)])


def test_top_k_ties_keep_exactly_k_lowest_ids():
    logits = torch.tensor([1.0, 2.0, 2.0, 2.0, 0.0])
    kept = torch.isfinite(top_k_filter(logits, 2)).nonzero().flatten().tolist()
    assert kept == [1, 2]


def test_top_k_k_at_least_vocab_is_unchanged_and_bad_k_raises():
    logits = torch.randn(2, 6)
    assert torch.equal(top_k_filter(logits, 6), logits)
    assert torch.equal(top_k_filter(logits, 100), logits)
    with pytest.raises(ValueError, match="top_k"):
        top_k_filter(logits, 0)
    with pytest.raises(TypeError, match="top_k"):
        top_k_filter(logits, 2.5)  # type: ignore[arg-type]


def reference_top_p(row: torch.Tensor, p: float) -> set[int]:
    """Smallest set of most-probable tokens (ties: low id first) with total mass >= p."""
    probs = row.double().softmax(-1).tolist()
    order = sorted(range(len(probs)), key=lambda i: (-probs[i], i))
    kept, mass = set(), 0.0
    for i in order:
        kept.add(i)
        mass += probs[i]
        if mass >= p:
            break
    return kept


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8, 0.95, 0.999])
def test_top_p_matches_the_definition(p):
    logits = torch.randn(20, 10, generator=torch.Generator().manual_seed(2)) * 2
    out = top_p_filter(logits, p)
    for row, filtered in zip(logits, out):
        kept = set(torch.isfinite(filtered).nonzero().flatten().tolist())
        assert kept == reference_top_p(row, p)
        assert torch.equal(filtered[list(kept)], row[list(kept)])


def test_top_p_edge_cases():
    logits = torch.randn(4, 7, generator=torch.Generator().manual_seed(3))
    assert torch.equal(top_p_filter(logits, 1.0), logits)
    tiny = top_p_filter(logits, 1e-9)
    assert torch.isfinite(tiny).sum(-1).tolist() == [1, 1, 1, 1]
    assert torch.equal(tiny.argmax(-1), logits.argmax(-1))
    # Ties: four equally likely tokens; exactly enough of them, lowest ids first.
    flat = torch.zeros(4)
    assert torch.isfinite(top_p_filter(flat, 0.25)).nonzero().flatten().tolist() == [0]
    assert torch.isfinite(top_p_filter(flat, 0.3)).nonzero().flatten().tolist() == [0, 1]
    assert torch.isfinite(top_p_filter(flat, 0.5)).nonzero().flatten().tolist() == [0, 1]
    # A single dominant token survives any p <= its probability.
    peaked = torch.tensor([0.0, 10.0, 0.0])
    assert torch.isfinite(top_p_filter(peaked, 0.9)).tolist() == [False, True, False]
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="top_p"):
            top_p_filter(logits, bad)
    with pytest.raises(TypeError, match="top_p"):
        top_p_filter(logits, "0.5")  # type: ignore[arg-type]


def test_filters_treat_batched_rows_independently():
    logits = torch.randn(2, 3, 9, generator=torch.Generator().manual_seed(4))
    for fn, arg in ((top_k_filter, 4), (top_p_filter, 0.7)):
        batched = fn(logits, arg)
        one_by_one = torch.stack([torch.stack([fn(r, arg) for r in rows]) for rows in logits])
        assert torch.equal(batched, one_by_one)


# --- greedy, sampling, reproducibility ------------------------------------------------------


def test_greedy_equals_the_argmax_chain_by_hand():
    model = Bigram()
    out = generate(model, torch.tensor([[3], [5]]), 6, strategy="greedy")
    assert out.shape == (2, 7)
    table = model.table()
    assert out[0].tolist() == greedy_by_hand(table, 3, 6)
    assert out[1].tolist() == greedy_by_hand(table, 5, 6)
    one_dim = generate(model, [3], 6, strategy="greedy")  # 1-D in, 1-D out; lists work
    assert one_dim.tolist() == greedy_by_hand(table, 3, 6)
    assert generate(model, [3], 0).tolist() == [3]


def test_temperature_zero_and_tiny_temperature_are_greedy():
    model = Bigram()
    prompt = torch.tensor([[1], [2], [7]])
    greedy = generate(model, prompt, 8, strategy="greedy")
    assert torch.equal(generate(model, prompt, 8, temperature=0), greedy)
    assert torch.equal(
        generate(model, prompt, 8, strategy="sample", temperature=1e-4, seed=0), greedy
    )


def test_model_runs_in_eval_mode_without_grad_and_mode_is_restored():
    model = Bigram()
    model.train()
    generate(model, [1], 3, seed=0)
    assert model.training
    assert all(not training and not grad for _, training, grad in model.calls)
    model.eval()
    generate(model, [1], 3, strategy="greedy")
    assert not model.training


def test_seeded_sampling_is_reproducible_and_leaves_global_rng_alone():
    model = Bigram()
    prompt = torch.zeros(4, 1, dtype=torch.long)
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    a = generate(model, prompt, 20, seed=7)
    assert torch.equal(torch.random.get_rng_state(), state), "seeded generation used global RNG"
    b = generate(model, prompt, 20, seed=7)
    c = generate(model, prompt, 20, seed=8)
    d = generate(model, prompt, 20, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    assert torch.equal(a, d)
    assert not torch.equal(a, c)
    with pytest.raises(ValueError, match="seed or generator"):
        generate(model, prompt, 2, seed=1, generator=torch.Generator())


@pytest.mark.parametrize(
    "kw", [{"top_k": 3}, {"top_p": 0.6}, {"top_k": 4, "top_p": 0.5, "temperature": 1.5}]
)
def test_sampled_tokens_stay_inside_the_filtered_set(kw):
    model = Bigram(vocab_size=12)
    table = model.table()
    t = kw.get("temperature", 1.0)
    allowed = table / t
    if "top_k" in kw:
        allowed = top_k_filter(allowed, kw["top_k"])
    if "top_p" in kw:
        allowed = top_p_filter(allowed, kw["top_p"])
    allowed = torch.isfinite(allowed)  # [V, V]: allowed[s, t] = t may follow s
    prompt = torch.arange(12).repeat(8)[:, None]  # 96 rows, every start token
    out = generate(model, prompt, 25, seed=0, **kw)
    prev, nxt = out[:, :-1].flatten(), out[:, 1:].flatten()
    assert allowed[prev, nxt].all()
    assert len(set(nxt.tolist())) > 1  # it really sampled


def test_sampling_frequencies_match_the_softmax():
    logits = [2.0, 1.0, 0.5, 0.0, -1.0]
    model = FixedLogits(logits)
    n = 20_000
    out = generate(model, torch.zeros(n, 1, dtype=torch.long), 1, seed=0)
    freq = torch.bincount(out[:, 1], minlength=5).float() / n
    assert torch.allclose(freq, torch.tensor(logits).softmax(-1), atol=0.015)
    # With filters: frequencies follow next_token_distribution (zero outside the top-3).
    kw = {"temperature": 0.7, "top_k": 3}
    out = generate(model, torch.zeros(n, 1, dtype=torch.long), 1, seed=1, **kw)
    freq = torch.bincount(out[:, 1], minlength=5).float() / n
    expected = next_token_distribution(model, [0], **kw)
    assert expected[3:].sum() == 0
    assert torch.allclose(freq, expected, atol=0.015)


def test_next_token_distribution():
    model = Bigram()
    probs = next_token_distribution(model, [4], top_k=5)
    assert probs.shape == (16,)
    assert math.isclose(probs.sum().item(), 1.0, rel_tol=1e-5)
    assert (probs > 0).sum() == 5
    assert torch.allclose(
        probs[probs > 0].sort().values, model.table()[4].topk(5).values.softmax(-1).sort().values
    )
    one_hot = next_token_distribution(model, [4], temperature=0)
    assert one_hot.sum() == 1 and one_hot.argmax() == model.table()[4].argmax()
    assert next_token_distribution(model, [[4], [5]]).shape == (2, 16)


# --- stop tokens, cropping, errors -----------------------------------------------------------


def successor_table(vocab_size: int) -> list[list[float]]:
    """Token s is always followed by s + 1 (mod V)."""
    return [
        [1.0 if t == (s + 1) % vocab_size else 0.0 for t in range(vocab_size)]
        for s in range(vocab_size)
    ]


def test_stop_tokens_end_rows_and_freeze_them():
    model = TableModel(successor_table(8))
    out = generate(model, [[1], [4]], 10, strategy="greedy", stop_tokens=[6])
    # Row 0 needs 5 steps to reach 6, row 1 only 2; then the loop ends (not 10 steps).
    assert out.tolist() == [[1, 2, 3, 4, 5, 6], [4, 5, 6, 6, 6, 6]]
    assert model.calls == 5
    padded = generate(model, [[1], [4]], 10, strategy="greedy", stop_tokens=[6], pad_token_id=0)
    assert padded.tolist() == [[1, 2, 3, 4, 5, 6], [4, 5, 6, 0, 0, 0]]
    # Several stop tokens (any iterable, or one int).
    out = generate(model, [[1], [4]], 3, strategy="greedy", stop_tokens={5, 3})
    assert out.tolist() == [[1, 2, 3], [4, 5, 5]]
    # A row that never stops runs to max_new_tokens while the finished one stays frozen.
    out = generate(model, [[1], [4]], 3, strategy="greedy", stop_tokens=3)
    assert out.tolist() == [[1, 2, 3, 3], [4, 5, 6, 7]]
    # Sampling obeys stop tokens too (this table leaves no randomness).
    assert generate(model, [2], 9, seed=0, stop_tokens=[4]).tolist() == [2, 3, 4]


def test_long_prompts_are_cropped_from_the_left_with_one_warning():
    model = ContextSum(block_size=4)
    prompt = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = generate(model, prompt, 5, strategy="greedy")
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "cropped" in messages[0] and "4" in messages[0]
    assert max(t for t, _, _ in model.calls) == 4
    assert torch.equal(out[:, :10], prompt)  # the whole prompt is returned
    # The model only ever saw the last 4 tokens, so the result is as if the prompt were those.
    short = generate(model, prompt[:, -4:], 5, strategy="greedy")
    assert torch.equal(out[:, 10:], short[:, 4:])


def test_a_prompt_that_fits_slides_its_window_without_warning():
    model = ContextSum(block_size=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = generate(model, [1, 2], 10, seed=0)
    assert out.shape == (12,)
    assert [t for t, _, _ in model.calls] == [2, 3, 4, 4, 4, 4, 4, 4, 4, 4]


def test_empty_prompt_and_other_bad_arguments_raise_clear_errors():
    model = Bigram()
    for empty in (torch.empty(1, 0, dtype=torch.long), torch.empty(0, dtype=torch.long), []):
        with pytest.raises(ValueError, match="bos_token_id"):
            generate(model, empty, 3)
    with pytest.raises(ValueError, match="bos_token_id"):
        beam_search(model, [], 3)
    with pytest.raises(TypeError, match="integer token ids"):
        generate(model, torch.tensor([[1.0, 2.0]]), 3)
    with pytest.raises(ValueError, match="shape"):
        generate(model, torch.zeros(1, 1, 2, dtype=torch.long), 3)
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate(model, [1], -1)
    with pytest.raises(ValueError, match="strategy"):
        generate(model, [1], 3, strategy="nucleus")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="temperature"):
        generate(model, [1], 3, temperature=-1)
    with pytest.raises(ValueError, match="top_k"):
        generate(model, [1], 3, top_k=0, seed=0)


# --- beam search -------------------------------------------------------------------------------


def test_beam_search_with_one_beam_is_greedy():
    model = Bigram(seed=5)
    for start in range(6):
        greedy = generate(model, [start], 7, strategy="greedy", stop_tokens=[2])
        assert torch.equal(beam_search(model, [start], 7, num_beams=1, stop_tokens=[2]), greedy)
        assert torch.equal(
            beam_search(model, [start], 7, num_beams=1), generate(model, [start], 7, temperature=0)
        )


MYOPIC = [  # tokens 0, 1, 2 = start
    [0.34, 0.33, 0.33],  # after 0: nothing is likely
    [0.005, 0.99, 0.005],  # after 1: 1 is almost certain
    [0.6, 0.4, 0.0],  # after the start: 0 looks best right now
]


def sequence_log_prob(seq: list[int]) -> float:
    return sum(math.log(MYOPIC[a][b] + 1e-9) for a, b in zip(seq, seq[1:]))


def test_beam_search_beats_myopic_greedy():
    model = TableModel(MYOPIC)
    greedy = generate(model, [2], 2, strategy="greedy").tolist()
    beam = beam_search(model, [2], 2, num_beams=2).tolist()
    assert greedy == [2, 0, 0]
    assert beam == [2, 1, 1]
    assert sequence_log_prob(beam) > sequence_log_prob(greedy)
    assert generate(model, [[2]], 2, num_beams=2).tolist() == [[2, 1, 1]]  # strategy inferred
    ranked = beam_search(model, [2], 2, num_beams=3, length_penalty=0.0, return_all=True)
    assert len(ranked) == 3
    assert [seq.tolist() for seq, _ in ranked][0] == [2, 1, 1]
    for seq, score in ranked:
        assert math.isclose(score, sequence_log_prob(seq.tolist()), rel_tol=1e-4)
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)


def test_beam_search_stop_tokens_and_length_penalty():
    # 0 = stop, 3 = start. After the start: stop or 1, half each; after 1: stop with 0.9.
    probs = [[1, 0, 0, 0], [0.9, 0, 0.1, 0], [1, 0, 0, 0], [0.5, 0.5, 0, 0]]
    model = TableModel(probs)
    short = beam_search(model, [3], 5, num_beams=2, length_penalty=0.0, stop_tokens=[0])
    long = beam_search(model, [3], 5, num_beams=2, length_penalty=1.0, stop_tokens=[0])
    assert short.tolist() == [3, 0]  # log 0.5 beats log 0.45 as a raw sum
    assert long.tolist() == [3, 1, 0]  # but per token, (log 0.45) / 2 wins
    ranked = beam_search(
        model, [3], 5, num_beams=2, length_penalty=1.0, stop_tokens=[0], return_all=True
    )
    assert math.isclose(ranked[0][1], math.log(0.45) / 2, rel_tol=1e-4)
    assert math.isclose(ranked[1][1], math.log(0.5), rel_tol=1e-4)


def test_beam_search_arguments():
    model = Bigram()
    with pytest.raises(ValueError, match="one prompt at a time"):
        beam_search(model, [[1], [2]], 3)
    with pytest.raises(ValueError, match="num_beams"):
        beam_search(model, [1], 3, num_beams=0)
    assert beam_search(model, [[1, 2]], 0).tolist() == [[1, 2]]
    assert beam_search(model, [1], 3, num_beams=3).shape == (4,)
    model.calls.clear()
    with pytest.warns(UserWarning, match="cropped"):
        beam_search(model, list(range(12)), 3, num_beams=2)
    assert max(t for t, _, _ in model.calls) == 8


# --- Hugging Face style models and text ---------------------------------------------------------


def test_hf_style_model_with_logits_attribute_and_n_positions():
    inner = ContextSum(block_size=100)
    model = HFStyle(inner, n_positions=3)
    assert context_length(model) == 3
    with pytest.warns(UserWarning, match="context is 3"):
        out = generate(model, [1, 2, 3, 4, 5], 4, strategy="greedy")
    assert max(t for t, _, _ in inner.calls) == 3
    with pytest.warns(UserWarning, match="context is 3"):
        inner_only = generate(ContextSum(block_size=3), [1, 2, 3, 4, 5], 4, strategy="greedy")
    assert torch.equal(out, inner_only)
    assert (
        beam_search(model, [1], 4, num_beams=1).tolist()
        == generate(model, [1], 4, temperature=0).tolist()
    )


def test_greedy_matches_transformers_generate_on_a_tiny_gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=20,
        n_positions=16,
        n_embd=16,
        n_layer=1,
        n_head=2,
        bos_token_id=0,
        eos_token_id=0,
    )
    model = GPT2LMHeadModel(config).eval()  # HF's generate does not switch off dropout itself
    assert context_length(model) == 16
    prompt = torch.tensor([[1, 5, 7]])
    ours = generate(model, prompt, 6, strategy="greedy")
    theirs = model.generate(
        prompt,
        attention_mask=torch.ones_like(prompt),
        max_new_tokens=6,
        do_sample=False,
        pad_token_id=0,
        eos_token_id=None,
    )
    assert torch.equal(ours, theirs)


def make_tokenizer(with_bos: bool = True):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {ch: i for i, ch in enumerate(["<bos>", "<eos>", *"abcdefgh "])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<eos>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tok.decoder = decoders.Fuse()
    special = {"bos_token": "<bos>"} if with_bos else {}
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", **special)


def test_generate_text_round_trip_empty_prompt_and_eos():
    tokenizer = make_tokenizer()
    model = Bigram(vocab_size=len(tokenizer), seed=3)
    text = generate_text(model, tokenizer, "abc", max_new_tokens=5, strategy="greedy")
    ids = generate(
        model, tokenizer.encode("abc"), 5, strategy="greedy", stop_tokens=[tokenizer.eos_token_id]
    )
    assert text == tokenizer.decode(ids.tolist(), skip_special_tokens=True)
    assert text.startswith("abc")
    from_bos = generate_text(model, tokenizer, "", max_new_tokens=4, seed=0)
    ids = generate(model, [tokenizer.bos_token_id], 4, seed=0, stop_tokens=[tokenizer.eos_token_id])
    assert from_bos == tokenizer.decode(ids.tolist(), skip_special_tokens=True)
    # Generation stops at eos: a model that always predicts eos adds nothing.
    eos_model = FixedLogits([0.0, 50.0] + [0.0] * (len(tokenizer) - 2))
    assert generate_text(eos_model, tokenizer, "ab", max_new_tokens=5) == "ab"
    with pytest.raises(ValueError, match="bos_token_id"):
        generate_text(model, make_tokenizer(with_bos=False), "", max_new_tokens=3)
    with pytest.raises(TypeError, match="string"):
        generate_text(model, tokenizer, [1, 2])  # type: ignore[arg-type]


def test_integration_with_tinygpt():
    from labkit.models import GPTConfig, TinyGPT

    torch.manual_seed(0)
    model = TinyGPT(GPTConfig(vocab_size=20, block_size=8, n_layer=2, n_head=2, d_model=32))
    model.train()
    prompt = torch.randint(0, 20, (2, 12))
    with pytest.warns(UserWarning, match="cropped"):
        out = generate(model, prompt, 5, strategy="greedy")
    assert model.training  # restored
    # By hand: argmax of the logits at the last position, the model seeing 8 tokens at most.
    model.eval()
    expected = prompt
    with torch.no_grad():
        for _ in range(5):
            nxt = model(expected[:, -8:])[:, -1].argmax(-1, keepdim=True)
            expected = torch.cat([expected, nxt], dim=1)
    assert torch.equal(out, expected)
    a = generate(model, prompt[:, -4:], 10, seed=3, top_k=5, top_p=0.9)
    assert torch.equal(a, generate(model, prompt[:, -4:], 10, seed=3, top_k=5, top_p=0.9))
    first = prompt[0, -4:]
    assert torch.equal(
        beam_search(model, first, 6, num_beams=1), generate(model, first, 6, temperature=0)
    )
    assert beam_search(model, first, 6, num_beams=3).shape == (10,)
