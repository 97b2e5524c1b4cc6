"""Chat in chapter 8: one assistant turn of a chat model, from a list of messages formatted
with the chat template (:func:`labkit.tokenizers.chat_prompt`). Taught in chapter 8.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from labkit.generate import generate
from labkit.tokenizers import chat_prompt

__all__ = ["chat"]


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
    ends = {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")}
    stop = [t for t in ends if t is not None and t != tokenizer.unk_token_id]
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
