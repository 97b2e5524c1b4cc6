"""Chat in chapter 8: one assistant turn of a chat model, from a list of messages formatted
with the chat template (:func:`labkit.tokenizers.chat_prompt`). Taught in chapter 8.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from labkit.chapters.applications.encoding import left_padded
from labkit.generate import generate
from labkit.tokenizers import chat_prompt

__all__ = ["chat", "chat_batch"]


def chat(
    model: Any, tokenizer: Any, messages: Sequence[dict[str, str]], max_new_tokens: int = 40
) -> str:
    """One assistant turn: format ``messages`` with :func:`labkit.tokenizers.chat_prompt`,
    decode greedily for at most ``max_new_tokens`` tokens (stopping at the end-of-turn token),
    and return the reply's text. A Hugging Face model uses its own ``generate`` (with its
    key-value cache); a labkit model uses :func:`labkit.generate.generate`. Taught in chapter 8.
    """
    prompt = chat_prompt(tokenizer, messages)
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
    stop = _stop_tokens(tokenizer)
    with torch.no_grad():
        if hasattr(model, "generate") and hasattr(model, "generation_config"):
            out = model.generate(
                ids.to(model.device),
                attention_mask=torch.ones_like(ids).to(model.device),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                eos_token_id=stop or None,
                pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
            )
        else:
            out = generate(model, ids, max_new_tokens, strategy="greedy", stop_tokens=stop)
    return tokenizer.decode(out[0, ids.shape[1] :].tolist(), skip_special_tokens=True).strip()


def _stop_tokens(tokenizer: Any) -> list[int]:
    ends = {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")}
    return [t for t in ends if t is not None and t != tokenizer.unk_token_id]


def chat_batch(
    model: Any,
    tokenizer: Any,
    conversations: Sequence[Sequence[dict[str, str]]],
    max_new_tokens: int = 40,
) -> list[str]:
    """One assistant turn for each of several conversations: the replies :func:`chat` gives,
    computed together.

    A Hugging Face model decodes all of them in one ``generate`` call: the prompts are padded
    on the left (so that every prompt ends where its reply starts) and the attention mask hides
    the padding; a finished reply waits for the others. A labkit model answers one conversation
    at a time with :func:`chat`. Taught in chapter 8 (RAG asks many questions at once).
    """
    if not conversations or isinstance(conversations[0], dict):
        raise TypeError("conversations must be a list of conversations (lists of messages)")
    if not (hasattr(model, "generate") and hasattr(model, "generation_config")):
        return [chat(model, tokenizer, c, max_new_tokens) for c in conversations]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    batch = left_padded(tokenizer, [chat_prompt(tokenizer, c) for c in conversations])
    batch = {k: v.to(model.device) for k, v in batch.items()}
    with torch.no_grad():
        out = model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=_stop_tokens(tokenizer) or None,
            pad_token_id=pad,
        )
    start = batch["input_ids"].shape[1]
    return [tokenizer.decode(row[start:].tolist(), skip_special_tokens=True).strip() for row in out]
