"""Prompting in chapter 8: zero-shot and few-shot (in-context) classification with a causal
language model. The prompt shows *k* labelled examples ("shots") and then the new text; the
model's answer is the label whose words it finds most likely next. No weight changes: the
examples only sit in the context (Brown et al. 2020, "Language Models are Few-Shot
Learners"). Taught in chapter 8.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from labkit._util import block_size_of, check_non_negative_int, eval_mode, logits_of, model_device
from labkit.chapters.applications.encoding import left_padded

__all__ = ["few_shot_prompt", "label_log_likelihoods", "pick_shots", "classify_by_likelihood"]

#: The default layout of one example: ``{text}`` and ``{label}`` are filled in.
DEFAULT_TEMPLATE = "Sentence: {text}\nTopic: {label}"


def few_shot_prompt(
    text: str,
    shots: Sequence[tuple[str, str]] = (),
    *,
    instruction: str = "",
    template: str = DEFAULT_TEMPLATE,
) -> str:
    """The prompt for classifying ``text``: an optional ``instruction``, then each
    ``(text, label)`` shot laid out by ``template``, then ``text`` in the same layout with the
    label left open (the prompt ends right before the label). With no shots it is a
    zero-shot prompt. Taught in chapter 8.
    """
    if "{text}" not in template or not template.rstrip().endswith("{label}"):
        raise ValueError("template must contain {text} and end with {label}")
    parts = [instruction.strip()] if instruction.strip() else []
    parts += [template.format(text=t, label=label) for t, label in shots]
    parts.append(template.format(text=text, label="").rstrip())
    return "\n\n".join(parts)


def _ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def label_log_likelihoods(model: Any, tokenizer: Any, prompt: str, labels: Sequence[str]) -> Tensor:
    """``log P(" " + label | prompt)`` for each label, summed over the label's tokens: a
    ``(len(labels),)`` tensor. When every label is a single token, one forward pass over the
    prompt reads them all off the last position; otherwise the prompt is run once per label.
    A prompt longer than the model's context keeps its end. Works with a labkit ``TinyGPT``
    and a Hugging Face causal LM. Taught in chapter 8.
    """
    if isinstance(labels, str) or not labels:
        raise ValueError("labels must be a non-empty list of label words")
    prompt_ids = _ids(tokenizer, prompt)
    label_ids = [_ids(tokenizer, " " + label) for label in labels]
    if not prompt_ids or any(not ids for ids in label_ids):
        raise ValueError("the prompt and every label must give at least one token")
    limit = block_size_of(model)
    device = model_device(model)
    scores = []
    with eval_mode(model), torch.no_grad():
        if all(len(ids) == 1 for ids in label_ids):
            ids = prompt_ids[-limit:] if limit else prompt_ids
            logp = logits_of(model(torch.tensor([ids], device=device)))[0, -1].float()
            logp = logp.log_softmax(-1)
            return torch.stack([logp[ids[0]] for ids in label_ids]).cpu()
        for ids in label_ids:
            row = prompt_ids + ids
            row = row[-limit:] if limit else row
            logp = logits_of(model(torch.tensor([row], device=device)))[0].float().log_softmax(-1)
            positions = range(len(row) - len(ids) - 1, len(row) - 1)
            scores.append(sum(logp[p, t] for p, t in zip(positions, ids)))
    return torch.stack(scores).cpu()


def pick_shots(pool: Sequence[tuple[str, str]], k: int, seed: int = 0) -> list[tuple[str, str]]:
    """``k`` labelled examples drawn from ``pool`` without replacement, in a random order set
    by ``seed`` (another seed gives other shots and another order). Taught in chapter 8."""
    check_non_negative_int(k, "k")
    if k > len(pool):
        raise ValueError(f"k = {k} shots asked for, but the pool has only {len(pool)} examples")
    return random.Random(seed).sample(list(pool), k)


def classify_by_likelihood(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    labels: Sequence[str],
    shots: Sequence[tuple[str, str]] = (),
    **prompt_options: Any,
) -> list[int]:
    """For each text, the index of the label the model finds most likely after
    :func:`few_shot_prompt` (``shots`` and ``prompt_options`` go there). A Hugging Face model
    with one-token labels scores the prompts in left-padded batches (the same answers as
    :func:`label_log_likelihoods` one by one, faster). Taught in chapter 8."""
    if isinstance(texts, str):
        raise TypeError("texts must be a list of texts, e.g. [text]")
    prompts = [few_shot_prompt(t, shots, **prompt_options) for t in texts]
    limit = block_size_of(model)
    fits = not limit or max(len(_ids(tokenizer, p)) for p in prompts) <= limit
    if fits and _batchable(model, tokenizer, labels):  # same answers, one forward per batch
        return _classify_batched(model, tokenizer, prompts, labels)
    return [int(label_log_likelihoods(model, tokenizer, p, labels).argmax()) for p in prompts]


def _batchable(model: Any, tokenizer: Any, labels: Sequence[str]) -> bool:
    """A Hugging Face model (it takes an attention mask) and one-token labels."""
    is_hf = hasattr(model, "generation_config") and hasattr(tokenizer, "padding_side")
    return is_hf and all(len(_ids(tokenizer, " " + label)) == 1 for label in labels)


def _classify_batched(
    model: Any, tokenizer: Any, prompts: Sequence[str], labels: Sequence[str], batch_size: int = 8
) -> list[int]:
    """:func:`label_log_likelihoods`' argmax for many prompts, in left-padded batches: the
    attention mask hides the padding, so each prompt's last position sees only its prompt."""
    label_ids = [_ids(tokenizer, " " + label)[0] for label in labels]
    out: list[int] = []
    with eval_mode(model), torch.no_grad():
        for i in range(0, len(prompts), batch_size):
            batch = left_padded(tokenizer, prompts[i : i + batch_size]).to(model_device(model))
            logits = logits_of(model(**batch))[:, -1].float()
            out += logits[:, label_ids].argmax(-1).tolist()
    return out
