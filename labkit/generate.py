"""Decoding: turning a language model's next-token scores into text.

A language model answers one question: *given these tokens, how likely is each possible
next token?* Generation is a loop around that answer::

    repeat max_new_tokens times:
        logits = model(tokens)[:, -1, :]     # scores for the next token, one per vocab entry
        next   = choose(logits)              # greedy, sampling, or beam search
        tokens = tokens + [next]

Everything in this module is a different ``choose``:

- **greedy** takes the single most likely token (``argmax``): deterministic, often repetitive;
- **sampling** draws a token at random from the softmax distribution, reshaped first by
  **temperature** (< 1 sharper, > 1 flatter), **top-k** (keep the k best tokens) and
  **top-p** / nucleus (keep the fewest best tokens whose probabilities add up to ≥ p);
- **beam search** keeps the ``num_beams`` most probable *sequences* so far instead of one.

The model can be a labkit model (``model(idx)`` returns logits ``[B, T, V]``, context length
in ``model.config.block_size``) or a Hugging Face causal LM (returns an object with
``.logits``; context length in ``config.n_positions`` or ``config.max_position_embeddings``).

For clarity the loop re-runs the model on the whole (cropped) context at every step; real
libraries keep a key/value cache instead so each step only processes the newest token.

Taught in chapter 8 (Applications: text generation and decoding).
"""

from __future__ import annotations

import operator
import warnings
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F

from labkit._util import block_size_of, eval_mode, logits_of, model_device

__all__ = [
    "beam_search",
    "context_length",
    "generate",
    "generate_text",
    "next_token_distribution",
    "temperature_scale",
    "top_k_filter",
    "top_p_filter",
]

Strategy = Literal["greedy", "sample", "beam"]
STRATEGIES = ("greedy", "sample", "beam")

EMPTY_PROMPT_MESSAGE = (
    "the prompt is empty: a language model needs at least one token to predict the next one. "
    "Start from a beginning-of-text token, e.g. torch.tensor([[tokenizer.bos_token_id]]), "
    "or from any token such as a newline."
)


# --- 1. Talking to the model -------------------------------------------------------------


#: How many tokens the model can look at, or ``None`` if it does not say: reads
#: ``config.block_size`` (labkit) or ``config.n_positions`` / ``config.max_position_embeddings``
#: (Hugging Face). The same as :func:`labkit._util.block_size_of`. Taught in chapter 8.
context_length = block_size_of


def _last_logits(model: Any, idx: torch.Tensor) -> torch.Tensor:
    """Run the model on ``idx`` [B, T] and return the next-token scores [B, V] as float32."""
    return logits_of(model(idx))[:, -1, :].float()


def _crop(idx: torch.Tensor, context: int | None) -> torch.Tensor:
    """Keep only the last ``context`` tokens: all the model can see."""
    return idx if context is None else idx[:, -context:]


def _prepare_prompt(
    model: Any, idx: torch.Tensor | Sequence[int] | Sequence[Sequence[int]]
) -> tuple[torch.Tensor, bool, int | None]:
    """Check the prompt and return it as a [B, T] tensor on the model's device.

    Also returns whether the caller passed a 1-D prompt (so we can answer in 1-D too) and the
    model's context length. Warns once if the prompt is longer than the context.
    """
    if not isinstance(idx, torch.Tensor):
        idx = torch.tensor(idx, dtype=torch.long)
    if idx.dim() not in (1, 2):
        raise ValueError(
            f"the prompt must be token ids of shape [T] or [batch, T], got shape {tuple(idx.shape)}"
        )
    if idx.shape[-1] == 0:
        raise ValueError(EMPTY_PROMPT_MESSAGE)
    if idx.is_floating_point() or idx.is_complex() or idx.dtype == torch.bool:
        raise TypeError(
            f"the prompt must hold integer token ids, got dtype {idx.dtype}; "
            "build it with torch.tensor(ids, dtype=torch.long)"
        )
    one_dim = idx.dim() == 1
    idx = idx.reshape(1, -1) if one_dim else idx
    idx = idx.long().to(model_device(model, idx.device))
    context = context_length(model)
    if context is not None and idx.shape[1] > context:
        warnings.warn(
            f"the prompt has {idx.shape[1]} tokens but the model's context is {context}: "
            f"only the last {context} tokens are fed to the model (the start is cropped).",
            stacklevel=3,
        )
    return idx, one_dim, context


def _check_count(name: str, value: Any, minimum: int) -> int:
    """Return ``value`` as an int, or raise a clear error if it is not an int ≥ minimum."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


# --- 2. Reshaping the distribution: pure functions on logits [..., V] ----------------------


def temperature_scale(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide the logits by ``temperature``: < 1 sharpens the distribution, > 1 flattens it.

    Temperature 0 is the limit "always take the most likely token" (greedy decoding); it
    cannot be computed by division, so it raises here: use ``logits.argmax(-1)`` instead.

    Taught in chapter 8.
    """
    if not temperature > 0:  # also catches NaN
        raise ValueError(
            f"temperature must be > 0 to scale logits, got {temperature}. Temperature 0 means "
            "greedy decoding: use logits.argmax(-1) or generate(..., strategy='greedy')."
        )
    return logits / temperature


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` highest logits in each row and set the rest to ``-inf``.

    Works on any [..., V] tensor, each row on its own. Exactly ``k`` tokens survive: among
    equal logits the lower token id wins, so the result is deterministic. ``k`` ≥ V keeps
    everything. Returns a new tensor (the input is not changed).

    Taught in chapter 8.
    """
    k = _check_count("top_k", k, 1)
    if k >= logits.shape[-1]:
        return logits.clone()
    # A stable sort keeps equal logits in token-id order, so ties break towards low ids.
    order = torch.sort(logits, dim=-1, descending=True, stable=True).indices
    keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, order[..., :k], True)
    return logits.masked_fill(~keep, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filtering: keep the fewest most-probable tokens whose probabilities sum to ≥ p.

    Tokens are ranked by probability (ties: lower token id first); a token is kept if the
    tokens ranked above it hold less than ``p`` of the probability mass. So the most likely
    token always survives, and ``p = 1`` keeps everything. The others become ``-inf``.
    Works on any [..., V] tensor, each row on its own; returns a new tensor.

    Taught in chapter 8.
    """
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise TypeError(f"top_p must be a number in (0, 1], got {p!r}")
    if not 0 < p <= 1:
        raise ValueError(
            f"top_p is a probability mass and must be in (0, 1], got {p}: "
            "1 keeps every token, a small value keeps only the most likely ones"
        )
    if p == 1:
        return logits.clone()
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True, stable=True)
    cumulative = sorted_logits.float().softmax(dim=-1).cumsum(dim=-1)
    mass_above = F.pad(cumulative[..., :-1], (1, 0))  # probability of the tokens ranked above
    keep_sorted = mass_above < p  # the top token has 0 above it, so it is always kept
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    return logits.masked_fill(~keep, float("-inf"))


def _filter(
    logits: torch.Tensor, temperature: float, top_k: int | None, top_p: float | None
) -> torch.Tensor:
    """Apply temperature, then top-k, then top-p (the order Hugging Face uses too)."""
    logits = temperature_scale(logits, temperature)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    return logits


def _sample(logits: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Draw one token per row from softmax(logits), using ``generator`` for the randomness."""
    probs = logits.softmax(dim=-1)
    if generator is not None and generator.device != probs.device:
        tokens = torch.multinomial(probs.to(generator.device), 1, generator=generator)
        return tokens.squeeze(-1).to(probs.device)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def next_token_distribution(
    model: Any,
    idx: torch.Tensor | Sequence[int],
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> torch.Tensor:
    """The probabilities the sampler would draw the next token from, after the filters.

    Returns ``[V]`` for a 1-D prompt (``[B, V]`` for a batch); tokens removed by top-k/top-p
    have probability 0. ``temperature=0`` gives a one-hot vector on the greedy choice. This is
    what the sampling explorer widget plots.

    Taught in chapter 8.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be ≥ 0, got {temperature}")
    idx, one_dim, context = _prepare_prompt(model, idx)
    with eval_mode(model):
        logits = _last_logits(model, _crop(idx, context))
    if temperature == 0:
        probs = F.one_hot(logits.argmax(dim=-1), logits.shape[-1]).float()
    else:
        probs = _filter(logits, temperature, top_k, top_p).softmax(dim=-1)
    return probs[0] if one_dim else probs


# --- 3. The generation loop ----------------------------------------------------------------


def _choose_strategy(strategy: str | None, temperature: float, num_beams: int | None) -> str:
    """Resolve ``strategy=None``: beams if num_beams is given, greedy if temperature is 0."""
    if temperature < 0:
        raise ValueError(f"temperature must be ≥ 0 (0 means greedy), got {temperature}")
    if strategy is None:
        strategy = "beam" if num_beams is not None else "sample"
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if strategy == "sample" and temperature == 0:
        return "greedy"  # the limit of sampling as the temperature goes to 0
    return strategy


def _stop_tensor(stop_tokens: Iterable[int] | int | None, device: torch.device) -> torch.Tensor:
    """Stop tokens as a 1-D LongTensor (empty if there are none)."""
    if stop_tokens is None:
        stop_tokens = []
    elif isinstance(stop_tokens, int):
        stop_tokens = [stop_tokens]
    return torch.tensor([int(t) for t in stop_tokens], dtype=torch.long, device=device)


def generate(
    model: Any,
    idx: torch.Tensor | Sequence[int] | Sequence[Sequence[int]],
    max_new_tokens: int,
    *,
    strategy: Strategy | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    num_beams: int | None = None,
    length_penalty: float = 1.0,
    stop_tokens: Iterable[int] | int | None = None,
    pad_token_id: int | None = None,
    generator: torch.Generator | None = None,
    seed: int | None = None,
) -> torch.Tensor:
    """Continue the prompt ``idx`` by up to ``max_new_tokens`` tokens; return prompt + new tokens.

    - ``idx``: token ids, shape ``[T]`` or ``[B, T]`` (a list works too); the answer has the
      same number of dimensions. It must hold at least one token: to start from nothing, pass a
      beginning-of-text id such as ``[[tokenizer.bos_token_id]]``.
    - ``strategy``: ``"greedy"``, ``"sample"`` or ``"beam"``. Left out, it is ``"beam"`` when
      ``num_beams`` is given, else ``"sample"``; sampling with ``temperature=0`` is greedy.
    - ``temperature``, ``top_k``, ``top_p``: how sampling reshapes the distribution (applied in
      that order); see ``temperature_scale``, ``top_k_filter``, ``top_p_filter``.
    - ``num_beams``, ``length_penalty``: for beam search (see ``beam_search``; one prompt).
    - ``stop_tokens``: a row ends once it produces one of these (the stop token is kept). In a
      batch, finished rows are frozen: they repeat their stop token (or ``pad_token_id``)
      while the others go on; the loop ends early once every row has finished.
    - ``seed`` or ``generator``: the randomness for sampling. The same seed gives the same
      tokens; a seed uses its own CPU ``torch.Generator``, never the global random state.

    A prompt longer than the model's context is cropped from the left (with a warning): at
    every step the model only sees the last ``block_size`` tokens. The returned tensor keeps
    the whole prompt. The model runs in eval mode without gradients, on its own device; its
    training mode is restored afterwards.

    Taught in chapter 8.
    """
    strategy = _choose_strategy(strategy, temperature, num_beams)
    max_new_tokens = _check_count("max_new_tokens", max_new_tokens, 0)
    if strategy == "beam":
        beams = 4 if num_beams is None else num_beams
        return beam_search(model, idx, max_new_tokens, beams, length_penalty, stop_tokens)
    if seed is not None and generator is not None:
        raise ValueError("pass either seed or generator, not both")
    if seed is not None:
        generator = torch.Generator().manual_seed(seed)

    idx, one_dim, context = _prepare_prompt(model, idx)
    stops = _stop_tensor(stop_tokens, idx.device)
    finished = torch.zeros(idx.shape[0], dtype=torch.bool, device=idx.device)
    with eval_mode(model):
        for _ in range(max_new_tokens):
            logits = _last_logits(model, _crop(idx, context))  # [B, V]
            if strategy == "greedy":
                next_token = logits.argmax(dim=-1)
            else:
                next_token = _sample(_filter(logits, temperature, top_k, top_p), generator)
            if len(stops) > 0:
                # Finished rows repeat their last token (the stop token) or the pad id.
                filler = idx[:, -1] if pad_token_id is None else pad_token_id
                next_token = torch.where(finished, filler, next_token)
                finished = finished | torch.isin(next_token, stops)
            idx = torch.cat([idx, next_token[:, None]], dim=1)
            if len(stops) > 0 and finished.all():
                break
    return idx[0] if one_dim else idx


def beam_search(
    model: Any,
    idx: torch.Tensor | Sequence[int],
    max_new_tokens: int,
    num_beams: int = 4,
    length_penalty: float = 1.0,
    stop_tokens: Iterable[int] | int | None = None,
    *,
    return_all: bool = False,
) -> torch.Tensor | list[tuple[torch.Tensor, float]]:
    """Keep the ``num_beams`` most probable continuations at each step; return the best one.

    Each step extends every live beam by every token, scores each candidate by its summed
    log-probability, and keeps the best ``num_beams``. A candidate ending in a stop token is
    set aside as finished; the search ends when ``num_beams`` hypotheses have finished or
    after ``max_new_tokens`` steps. Finished and still-live hypotheses are then ranked by
    ``sum of log-probs / (number of new tokens) ** length_penalty``: 0 compares raw sums
    (favours short outputs), 1 compares the average per token, > 1 favours longer outputs.

    One prompt at a time: ``idx`` is ``[T]`` or ``[1, T]`` (the answer has the same number of
    dimensions). With ``return_all=True`` it returns up to ``num_beams`` pairs
    ``(sequence [T'], score)``, best first. ``num_beams=1`` is greedy decoding.

    Taught in chapter 8.
    """
    num_beams = _check_count("num_beams", num_beams, 1)
    max_new_tokens = _check_count("max_new_tokens", max_new_tokens, 0)
    idx, one_dim, context = _prepare_prompt(model, idx)
    if idx.shape[0] != 1:
        raise ValueError(
            f"beam_search decodes one prompt at a time, got a batch of {idx.shape[0]}; "
            "call it once per prompt"
        )

    def as_given(sequence: torch.Tensor) -> torch.Tensor:  # [T] or [1, T], like the prompt
        return sequence if one_dim else sequence[None]

    if max_new_tokens == 0:
        return [(as_given(idx[0]), 0.0)] if return_all else as_given(idx[0])
    stops = set(_stop_tensor(stop_tokens, torch.device("cpu")).tolist())
    prompt_len = idx.shape[1]

    def normalised(log_prob: float, sequence: torch.Tensor) -> float:
        return log_prob / (sequence.shape[0] - prompt_len) ** length_penalty

    beams = idx  # [n, T]: the live hypotheses
    scores = torch.zeros(1, device=idx.device)  # [n]: their summed log-probabilities
    done: list[tuple[torch.Tensor, float]] = []  # finished hypotheses and their scores
    with eval_mode(model):
        for _ in range(max_new_tokens):
            log_probs = _last_logits(model, _crop(beams, context)).log_softmax(dim=-1)  # [n, V]
            vocab_size = log_probs.shape[-1]
            candidates = (scores[:, None] + log_probs).flatten()  # every beam × every token
            # Enough candidates that num_beams of them do not end in a stop token.
            k = min(candidates.numel(), num_beams * (1 + len(stops)))
            best, flat = torch.sort(candidates, descending=True, stable=True)
            new_beams, new_scores = [], []
            for score, position in zip(best[:k].tolist(), flat[:k].tolist()):
                beam, token = divmod(position, vocab_size)
                sequence = torch.cat([beams[beam], beams.new_tensor([token])])
                if token in stops:
                    done.append((sequence, normalised(score, sequence)))
                else:
                    new_beams.append(sequence)
                    new_scores.append(score)
                if len(new_beams) == num_beams:
                    break
            if len(done) >= num_beams or not new_beams:
                break
            beams = torch.stack(new_beams)
            scores = torch.tensor(new_scores, device=idx.device)
        else:  # ran out of steps: the live beams compete too
            done += [(b, normalised(s, b)) for b, s in zip(beams, scores.tolist())]
    done.sort(key=lambda pair: pair[1], reverse=True)  # stable: earlier hypotheses win ties
    if return_all:
        return [(as_given(seq), score) for seq, score in done[:num_beams]]
    return as_given(done[0][0])


# --- 4. Text in, text out -------------------------------------------------------------------


def generate_text(
    model: Any, tokenizer: Any, prompt: str, max_new_tokens: int = 50, **kwargs: Any
) -> str:
    """Encode ``prompt``, ``generate`` a continuation, and decode prompt + continuation.

    ``tokenizer`` is Hugging Face style (``encode(text) -> ids``,
    ``decode(ids, skip_special_tokens=True)``), e.g. a labkit tokenizer. An empty prompt
    starts from ``tokenizer.bos_token_id`` (an error if the tokenizer has none). Unless you
    pass ``stop_tokens``, generation stops at ``tokenizer.eos_token_id`` when there is one.
    Other keyword arguments go to ``generate`` (``strategy``, ``temperature``, ``seed`` ...).

    Taught in chapter 8.
    """
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a string, got {type(prompt).__name__}")
    ids = list(tokenizer.encode(prompt))
    if not ids:
        bos = getattr(tokenizer, "bos_token_id", None)
        if bos is None:
            raise ValueError(EMPTY_PROMPT_MESSAGE + " This tokenizer has no bos_token_id.")
        ids = [bos]
    eos = getattr(tokenizer, "eos_token_id", None)
    if "stop_tokens" not in kwargs and eos is not None:
        kwargs["stop_tokens"] = [eos]
    out = generate(model, torch.tensor(ids, dtype=torch.long), max_new_tokens, **kwargs)
    return tokenizer.decode(out.tolist(), skip_special_tokens=True)
