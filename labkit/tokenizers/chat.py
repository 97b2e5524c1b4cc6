"""The chat template: how a list of ``{"role", "content"}`` messages becomes the one text a
chat model reads. Taught in chapter 8; the assistant chapter (6) builds on it.
"""

from __future__ import annotations

from collections.abc import Iterable

from transformers import PreTrainedTokenizerFast

#: The ChatML chat template (what SmolLM2 and many other chat models use), for tokenizers that
#: have none: ``<|im_start|>role\ncontent<|im_end|>`` per message.
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def chat_prompt(tokenizer: PreTrainedTokenizerFast, messages: Iterable[dict[str, str]]) -> str:
    """The text a chat model really reads for ``messages`` (a list of ``{"role", "content"}``
    dicts): the tokenizer's own chat template, or :data:`CHATML_TEMPLATE` when it has none,
    ending with the assistant's turn opened.

    Taught in chapter 8.
    """
    if isinstance(messages, dict) or not messages:
        raise ValueError('messages must be a non-empty list of {"role": ..., "content": ...} dicts')
    for m in messages:
        if not isinstance(m, dict) or set(m) != {"role", "content"}:
            raise ValueError(f'each message is a dict with exactly "role" and "content", got {m!r}')
    template = None if getattr(tokenizer, "chat_template", None) else CHATML_TEMPLATE
    return tokenizer.apply_chat_template(
        list(messages), chat_template=template, add_generation_prompt=True, tokenize=False
    )
