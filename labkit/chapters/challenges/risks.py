"""Risks of language models, measured: memorised secrets, bias, hallucination, typos.

* **Privacy**: :func:`make_canaries`, :func:`insert_canaries` and :func:`canary_exposure`
  plant made-up secrets in the training text and measure how much a model gives away;
* **Bias**: :func:`continuation_logprobs` and :func:`log_odds` compare how likely a model
  finds two continuations of the same prompt;
* **Hallucination**: :func:`answer` writes a greedy answer and reports how sure the model was
  of each token;
* **Robustness**: :func:`add_typos` replaces a fraction of the letters, and
  :func:`labkit.evaluate.target_losses` gives the loss at every position, so that the typos
  themselves can be left out of the score.

Works with labkit models and Hugging Face causal LMs. Taught in chapter 9 (sections 4–7).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labkit._util import (
    block_size_of,
    check_positive_int,
    eval_mode,
    is_hf_model,
    logits_of,
    model_device,
)
from labkit.generate import generate

__all__ = [
    "Answer",
    "Canary",
    "CanaryResult",
    "add_typos",
    "answer",
    "canary_exposure",
    "continuation_logprobs",
    "insert_canaries",
    "log_odds",
    "make_canaries",
]


# --------------------------------------------------------------------------- scoring


def _encode(tokenizer: Any, text: str) -> list[int]:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is not None and unk in ids and getattr(tokenizer, "unk_token", None) not in text:
        raise ValueError(
            f"the tokenizer does not know every character of {text!r}; train it on text that "
            "contains them (train_char_tokenizer(text, extra_chars=...))"
        )
    return ids


def _score_rows(
    model: nn.Module, rows: Sequence[tuple[list[int], list[int]]], batch_size: int = 256
) -> Tensor:
    """``log P(continuation | prefix)`` (nats) for each ``(prefix ids, continuation ids)`` pair."""
    for prefix_ids, cont_ids in rows:
        if not prefix_ids:
            raise ValueError("every prefix must hold at least one token")
        if not cont_ids:
            raise ValueError("every continuation must hold at least one token")
    full = [p + c for p, c in rows]
    context = block_size_of(model)
    if context is not None and max(len(r) for r in full) > context:
        raise ValueError(
            f"prefix + continuation is longer than the model's context ({context} tokens)"
        )
    device = model_device(model)
    scores = torch.empty(len(rows))
    # equal lengths batch together
    order = sorted(range(len(full)), key=lambda i: len(full[i]))
    with eval_mode(model):
        start = 0
        while start < len(order):
            length = len(full[order[start]])
            group = [i for i in order[start : start + batch_size] if len(full[i]) == length]
            idx = torch.tensor([full[i] for i in group], device=device)
            logp = F.log_softmax(logits_of(model(idx)).float(), dim=-1)
            # log P(token t+1 | ..t)
            token_logp = logp[:, :-1].gather(-1, idx[:, 1:, None])[..., 0]
            first = torch.tensor([len(rows[i][0]) - 1 for i in group], device=device)
            keep = torch.arange(length - 1, device=device)[None, :] >= first[:, None]
            scores[group] = (token_logp * keep).sum(-1).cpu()
            start += len(group)
    return scores


def continuation_logprobs(
    model: nn.Module,
    tokenizer: Any,
    prefix: str,
    continuations: Sequence[str],
    batch_size: int = 256,
) -> Tensor:
    """``log P(continuation | prefix)`` for each continuation, summed over its tokens (nats).

    Prefix and continuation are tokenised separately and joined, so every continuation is
    scored from the same prefix tokens. Works with labkit models and Hugging Face causal LMs.
    Taught in chapter 9.
    """
    if isinstance(continuations, str):
        raise TypeError("continuations must be a list of strings, e.g. [' he', ' she']")
    if not continuations:
        raise ValueError("continuations is empty")
    prefix_ids = _encode(tokenizer, prefix)
    if not prefix_ids:
        raise ValueError("the prefix must hold at least one token")
    rows = [(prefix_ids, _encode(tokenizer, c)) for c in continuations]
    return _score_rows(model, rows, batch_size)


def log_odds(
    model: nn.Module,
    tokenizer: Any,
    prefix: str | Sequence[str],
    option_a: str,
    option_b: str,
) -> Any:
    """``log P(option_a | prefix) - log P(option_b | prefix)`` in nats: > 0 means the model
    prefers a.

    E.g. ``log_odds(model, tok, "The doctor said that", " he", " she")``. A value of
    ``ln 3 ≈ 1.1`` means the model finds ``a`` three times as likely. Give a list of prefixes
    to score them all in a few batched forward passes: the answer is then a list of floats.
    Taught in chapter 9.
    """
    single = isinstance(prefix, str)
    prefixes = [prefix] if single else list(prefix)
    if not prefixes:
        raise ValueError("give at least one prefix")
    a_ids, b_ids = _encode(tokenizer, option_a), _encode(tokenizer, option_b)
    rows = []
    for p in prefixes:
        p_ids = _encode(tokenizer, p)
        if not p_ids:
            raise ValueError("the prefix must hold at least one token")
        rows += [(p_ids, a_ids), (p_ids, b_ids)]
    scores = _score_rows(model, rows)
    diffs = (scores[0::2] - scores[1::2]).tolist()
    return diffs[0] if single else diffs


# --------------------------------------------------------------------------- canaries


@dataclass
class Canary:
    """A made-up secret planted in training data: ``prefix + secret`` appears ``copies`` times.

    Taught in chapter 9.
    """

    prefix: str
    secret: str
    copies: int

    @property
    def text(self) -> str:
        """The sentence that goes into the training text."""
        return self.prefix + self.secret + "."


def make_canaries(
    prefixes: Sequence[str], copies: Sequence[int], n_digits: int = 6, seed: int = 0
) -> list[Canary]:
    """One canary per prefix, each with a random ``n_digits``-digit secret and its copy count.

    ``make_canaries(["Kim's code is ", "Bo's code is "], [1, 8])``. Taught in chapter 9.
    """
    if len(prefixes) != len(copies):
        raise ValueError(
            f"give one copy count per prefix: {len(prefixes)} prefixes, {len(copies)} counts"
        )
    check_positive_int(n_digits, "n_digits")
    for k in copies:
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ValueError(f"copy counts must be ints >= 0, got {k!r}")
    rng = random.Random(seed)
    return [
        Canary(p, "".join(rng.choice("0123456789") for _ in range(n_digits)), k)
        for p, k in zip(prefixes, copies)
    ]


def insert_canaries(
    documents: Sequence[str], canaries: Sequence[Canary], seed: int = 0, separator: str = "\n\n"
) -> list[str]:
    """The documents with each canary's sentence added as ``copies`` extra documents, at random
    places.

    Each planted document is ``canary.text + separator``. The original documents keep their
    order. Taught in chapter 9.
    """
    if isinstance(documents, str):
        raise TypeError(
            "documents must be a list of documents (e.g. corpus.documents), not one string"
        )
    rng = random.Random(seed)
    out = list(documents)
    for canary in canaries:
        for _ in range(canary.copies):
            out.insert(rng.randrange(len(out) + 1), canary.text + separator)
    return out


@dataclass
class CanaryResult:
    """How much a model gives a canary away. Taught in chapter 9.

    ``rank``: 1 + how many of the ``n_candidates`` random secrets the model finds more likely
    than the real one. ``exposure = log2(n_candidates + 1) - log2(rank)`` (Carlini et al. 2019):
    0 for a model that knows nothing, the maximum when the secret ranks first. ``extracted``:
    greedy decoding from the prefix writes the whole secret; ``greedy`` is what it wrote.
    """

    canary: Canary
    logprob: float
    rank: int
    n_candidates: int
    greedy: str

    @property
    def exposure(self) -> float:
        """Bits of the secret given away (0 = none; log2(n_candidates + 1) = all)."""
        return math.log2(self.n_candidates + 1) - math.log2(self.rank)

    @property
    def extracted(self) -> bool:
        """True when greedy decoding reproduces the secret exactly."""
        return self.greedy == self.canary.secret


def canary_exposure(
    model: nn.Module, tokenizer: Any, canary: Canary, n_candidates: int = 999, seed: int = 0
) -> CanaryResult:
    """Measure a planted canary: its log-probability and rank among random secrets of the same
    length, and whether greedy decoding from its prefix reproduces it. Taught in chapter 9.
    """
    check_positive_int(n_candidates, "n_candidates")
    n = len(canary.secret)
    if n_candidates > 10**n - 1:
        raise ValueError(f"there are only {10**n - 1} other {n}-digit secrets; lower n_candidates")
    rng = random.Random(seed)
    others: set[str] = set()
    while len(others) < n_candidates:
        s = "".join(rng.choice("0123456789") for _ in range(n))
        if s != canary.secret:
            others.add(s)
    candidates = [canary.secret, *sorted(others)]
    scores = continuation_logprobs(model, tokenizer, canary.prefix, candidates)
    rank = 1 + int((scores[1:] > scores[0]).sum())
    prefix_ids = torch.tensor([_encode(tokenizer, canary.prefix)], device=model_device(model))
    n_new = len(_encode(tokenizer, canary.secret))
    out = generate(model, prefix_ids, n_new, strategy="greedy")
    greedy = tokenizer.decode(out[0, prefix_ids.shape[1] :].tolist())
    return CanaryResult(canary, float(scores[0]), rank, n_candidates, greedy)


# --------------------------------------------------------------------------- hallucination


@dataclass
class Answer:
    """A greedy answer and the probability the model gave each of its tokens. Taught in chapter 9.

    ``tokens`` are the answer's tokens as text and ``probs`` the model's probability for each,
    given everything before it; ``mean_prob`` and ``min_prob`` summarise how sure it was.
    """

    prompt: str
    text: str
    tokens: list[str]
    probs: list[float]

    @property
    def mean_prob(self) -> float:
        """The average probability of the answer's tokens (nan for an empty answer)."""
        return sum(self.probs) / len(self.probs) if self.probs else math.nan

    @property
    def min_prob(self) -> float:
        """The probability of the answer's least likely token (nan for an empty answer)."""
        return min(self.probs) if self.probs else math.nan


def answer(
    model: nn.Module,
    tokenizer: Any,
    prompt: str,
    max_new_tokens: int = 40,
    chat: bool | None = None,
) -> Answer:
    """Answer ``prompt`` greedily and measure how probable the model found each token it wrote.

    ``chat=None`` wraps the prompt in the tokenizer's chat template when it has one (an
    instruction-tuned model such as SmolLM2), else continues the raw text (a labkit model).
    Generation stops at the tokenizer's end-of-text token. Works with Hugging Face causal LMs
    (their ``generate``, with the KV cache) and labkit models (:func:`labkit.generate.generate`).
    The probabilities come from one more forward pass over prompt + answer. Taught in chapter 9.
    """
    if not isinstance(prompt, str) or not prompt:
        raise ValueError("prompt must be a non-empty string")
    check_positive_int(max_new_tokens, "max_new_tokens")
    template = getattr(tokenizer, "chat_template", None)
    if chat is None:
        chat = bool(template)
    if chat and not template:
        raise ValueError(
            "this tokenizer has no chat template: pass chat=False to continue the raw text"
        )
    if chat:
        message = [{"role": "user", "content": prompt}]
        text = tokenizer.apply_chat_template(message, tokenize=False, add_generation_prompt=True)
    else:
        text = prompt
    prompt_ids = _encode(tokenizer, text)
    idx = torch.tensor([prompt_ids], device=model_device(model))
    eos = getattr(tokenizer, "eos_token_id", None)
    with eval_mode(model):
        if is_hf_model(model):
            out = model.generate(
                idx,
                attention_mask=torch.ones_like(idx),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=eos,
            )
        else:
            out = generate(model, idx, max_new_tokens, strategy="greedy", stop_tokens=eos)
        new = out[0, len(prompt_ids) :].tolist()
        if eos is not None and eos in new:
            new = new[: new.index(eos)]
        if not new:
            return Answer(prompt, "", [], [])
        full = out[:, : len(prompt_ids) + len(new)]
        context = block_size_of(model)
        if context is not None and full.shape[1] > context:
            full = full[:, -context:]
        logp = F.log_softmax(logits_of(model(full)).float(), dim=-1)[0]
        n = len(new)
        picked = logp[-n - 1 : -1].gather(-1, full[0, -n:, None])[:, 0]
    tokens = [tokenizer.decode([i]) for i in new]
    text = tokenizer.decode(new, skip_special_tokens=True)
    return Answer(prompt, text, tokens, picked.exp().tolist())


# --------------------------------------------------------------------------- robustness


def add_typos(
    text: str, rate: float, seed: int = 0, alphabet: str = "abcdefghijklmnopqrstuvwxyz"
) -> str:
    """``text`` with a fraction ``rate`` of its letters replaced by random letters (a typo model).

    Only letters are changed (spaces, digits and punctuation stay), so the text keeps its
    shape. Taught in chapter 9.
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be a fraction in [0, 1], got {rate}")
    if not alphabet:
        raise ValueError("alphabet must not be empty")
    rng = random.Random(seed)
    chars = list(text)
    for i, ch in enumerate(chars):
        if ch.isalpha() and rng.random() < rate:
            new = rng.choice(alphabet)
            chars[i] = new.upper() if ch.isupper() else new
    return "".join(chars)
