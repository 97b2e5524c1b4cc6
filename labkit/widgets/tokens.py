"""Token strings as a learner should see them: byte-level BPE pieces decoded, spaces visible.

Used by the widgets that label tokens (the attention explorer, the sampling explorer, the
embedding projector). Taught in chapter 1 (tokenisation).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["readable_tokens"]


def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet: each byte 0–255 is written as one printable character
    (printable bytes as themselves, the rest shifted to U+0100 and up: space → 'Ġ')."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    chars, shift = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(0x100 + shift)
            shift += 1
    return {c: b for b, c in chars.items()}


_BYTES = _byte_decoder()
_INVISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍", "\u3000": "␣"}


def _show(text: str) -> str:
    out = "".join(_INVISIBLE.get(ch, ch) for ch in text)
    return out.replace("▁", "␣")  # SentencePiece's word-start marker


def readable_tokens(tokens: Sequence[str]) -> list[str]:
    """Token strings as a learner should see them.

    Byte-level BPE pieces (GPT-2, SmolLM, labkit's BPE) are decoded back to text, so
    ``"Ġthe"`` shows as ``"␣the"`` and ``"Ċ"`` as ``"↵"``; a piece that is only part of a
    multi-byte character (a Chinese character split in two) shows its bytes, e.g.
    ``"<e4 b8>"``. Spaces, newlines and tabs in plain tokens become ``␣ ↵ ⇥``.

    Taught in chapter 1 (tokenisation).
    """
    tokens = [str(t) for t in tokens]
    # Byte-level pieces use shifted characters such as Ġ (U+0120) and never a real space.
    byte_level = any(any(0x100 <= ord(c) <= 0x143 for c in t) for t in tokens) and not any(
        c in " \n\t" for t in tokens for c in t
    )
    if not byte_level:
        return [_show(t) for t in tokens]
    shown = []
    for t in tokens:
        if not all(c in _BYTES for c in t) or (t.startswith(("[", "<")) and t.endswith(("]", ">"))):
            shown.append(_show(t))  # a special token such as [BOS] or <|endoftext|>
            continue
        raw = bytes(_BYTES[c] for c in t)
        try:
            shown.append(_show(raw.decode("utf-8")))
        except UnicodeDecodeError:
            shown.append("<" + " ".join(f"{b:02x}" for b in raw) + ">")
    return shown
