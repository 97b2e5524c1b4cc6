"""Retrieval-augmented generation (RAG) in chapter 8: a small knowledge base about an
invented town, questions a pretrained model cannot answer from memory, the prompt that puts
the retrieved passages in front of a chat model with numbers to cite, and the scores (is the
answer right? does the reply cite the passage that holds it?). Lewis et al. 2020 named the
recipe. Taught in chapter 8.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "KNOWLEDGE",
    "KNOWLEDGE_QUESTIONS",
    "RAG_INSTRUCTION",
    "attribute",
    "cited_sources",
    "contains_answer",
    "rag_messages",
]

#: Short passages about Little Ashby, a town invented for this course: no pretrained model
#: has read them, so a right answer must come from the retrieved passage.
KNOWLEDGE: list[str] = [
    "The Little Ashby kite festival takes place every year on the first Saturday of May, "
    "on Hill Meadow.",
    "The toy shop in Little Ashby is run by Nora Quill; it opened in 1987.",
    "The Little Ashby library lends board games for two weeks; borrowing a game costs 50 pence.",
    "The bus from Little Ashby to the coast leaves at 7:40 every morning from the church square.",
    "The river Wend floods the park in Little Ashby about once every ten years; the last flood "
    "was in 2019.",
    "Ashby School's mascot is a green heron called Pip.",
    "The bakery on Mill Lane in Little Ashby sells plum cake only on Thursdays.",
    "Little Ashby's football team, the Ashby Owls, plays in blue and white shirts.",
]

#: ``(question, answer, index of the passage in KNOWLEDGE that holds the answer)``. A reply
#: is right when it contains the answer (:func:`contains_answer`).
KNOWLEDGE_QUESTIONS: list[tuple[str, str, int]] = [
    ("Who runs the toy shop in Little Ashby?", "Nora", 1),
    ("On which day can I buy plum cake at the Mill Lane bakery?", "Thursday", 6),
    ("What is the name of Ashby School's mascot?", "Pip", 5),
    ("What time does the bus to the coast leave?", "7:40", 3),
    ("When did the river Wend last flood the park?", "2019", 4),
    ("What colours does the Ashby Owls team wear?", "blue", 7),
    ("Where is the Little Ashby kite festival held?", "Hill Meadow", 0),
    ("How much does it cost to borrow a board game from the library?", "50", 2),
]

#: The system message of :func:`rag_messages`; ``{sources}`` is replaced by the numbered
#: passages.
RAG_INSTRUCTION = (
    "Answer the question in one sentence using only the sources below, and cite the source "
    "you used, like [1].\n\nSources:\n{sources}"
)


def rag_messages(
    question: str, passages: Sequence[str], instruction: str = RAG_INSTRUCTION
) -> list[dict[str, str]]:
    """The chat messages of a RAG turn: a system message holding the retrieved ``passages``
    numbered ``[1]``, ``[2]``, … (best first) inside ``instruction``, then the user's
    ``question``. Format them with the model's chat template (:func:`labkit.tokenizers.chat_prompt`
    or :func:`labkit.chapters.applications.chat`). Taught in chapter 8.
    """
    if isinstance(passages, str):
        raise TypeError("passages must be a list of texts, e.g. [passage]")
    if "{sources}" not in instruction:
        raise ValueError("instruction must contain {sources}, where the passages go")
    sources = "\n".join(f"[{n}] {p}" for n, p in enumerate(passages, start=1))
    return [
        {"role": "system", "content": instruction.format(sources=sources)},
        {"role": "user", "content": question},
    ]


def cited_sources(reply: str) -> list[int]:
    """The source numbers a reply cites, in order of first citation: ``"... [2], see [1]"``
    → ``[2, 1]`` (``[1, 2]`` and ``[1][2]`` count both). Taught in chapter 8."""
    found: list[int] = []
    for group in re.findall(r"\[(\d+(?:\s*,\s*\d+)*)\]", reply):
        for n in re.findall(r"\d+", group):
            if int(n) not in found:
                found.append(int(n))
    return found


def contains_answer(reply: str, answer: str) -> bool:
    """True when ``answer`` occurs in ``reply`` as whole words (a plural "s" allowed), ignoring
    case: the lenient "answer is right" test of chapter 8's RAG measurement. Taught in
    chapter 8."""
    pattern = r"(?<!\w)" + re.escape(answer.lower()) + r"s?(?!\w)"
    return re.search(pattern, reply.lower()) is not None


def _word_set(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def attribute(reply: str, passages: Sequence[str]) -> int:
    """The number (1-based, as in :func:`rag_messages`) of the passage that shares the most
    distinct words with ``reply``, or 0 when it shares none: a citation the *pipeline* adds
    when the model does not cite by itself (post-hoc attribution). Ties go to the better
    retrieved passage. Taught in chapter 8."""
    if isinstance(passages, str):
        raise TypeError("passages must be a list of texts, e.g. [passage]")
    words = _word_set(reply)
    overlaps = [len(words & _word_set(p)) for p in passages]
    if not overlaps or max(overlaps) == 0:
        return 0
    return overlaps.index(max(overlaps)) + 1
