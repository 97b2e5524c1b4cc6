"""Search in chapter 8: a toy shop's FAQ, customer questions in other words, TF-IDF vectors
(the lexical baseline) and cosine top-k retrieval, for comparison with sentence embeddings.
Taught in chapter 8.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["FAQ", "FAQ_QUERIES", "BagOfWords", "top_k_similar"]

#: A toy shop's frequently asked questions and their answers: the documents of chapter 8's
#: customer-service search.
FAQ: list[tuple[str, str]] = [
    (
        "How do I return a toy?",
        "Bring it back within 30 days with the receipt and we refund the full price.",
    ),
    ("When will my order arrive?", "Parcels are delivered within three to five working days."),
    ("What are your opening hours?", "The shop is open from 9 am to 6 pm, Monday to Saturday."),
    ("Which payment methods do you accept?", "Cash, debit and credit cards, and mobile payments."),
    (
        "Is this kite safe for small children?",
        "The kite is tested for ages 4 and up; younger children need an adult.",
    ),
    (
        "Do you send orders to other countries?",
        "Yes, we ship to most countries in Europe and Asia.",
    ),
    (
        "How can I reset my password?",
        "Click 'forgot password' on the sign-in page and follow the email we send.",
    ),
    (
        "Are batteries included with the toy car?",
        "No, the toy car needs four AA batteries, sold separately.",
    ),
    ("Can you wrap a present for me?", "Gift wrapping is free: tick the box at checkout."),
    ("Where is the shop?", "We are at 12 Market Street, next to the library."),
]

#: Customer questions in other words than the FAQ's, each with the index of the FAQ entry
#: that answers it. Most share few or no words with that entry.
FAQ_QUERIES: list[tuple[str, int]] = [
    ("my parcel still hasn't come", 1),
    ("I want my money back for a broken doll", 0),
    ("are you open on sunday?", 2),
    ("can I pay by card", 3),
    ("is it ok for a three-year-old to fly it?", 4),
    ("do you deliver to Japan", 5),
    ("I forgot my login", 6),
    ("what does the remote-control car need to run", 7),
    ("it's a birthday gift, could you make it look nice", 8),
    ("what's your address", 9),
    ("how long does shipping take", 1),
    ("the puzzle is missing pieces, can I bring it back", 0),
]


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


@dataclass
class BagOfWords:
    """TF-IDF vectors: the classic lexical representation for search.

    ``BagOfWords.fit(documents)`` learns the vocabulary (lower-cased words) and each word's
    inverse document frequency ``idf = log((1 + N) / (1 + df)) + 1`` (rare words weigh more);
    calling it on texts gives their L2-normalised vectors ``(len(texts), V)``. Words outside
    the vocabulary are ignored, so two texts that share no word have similarity 0 however
    close their meanings — what sentence embeddings fix. Taught in chapter 8.
    """

    vocabulary: dict[str, int]
    idf: Tensor

    @classmethod
    def fit(cls, documents: Sequence[str]) -> BagOfWords:
        """Learn the vocabulary and IDF weights of ``documents``."""
        if isinstance(documents, str) or not documents:
            raise ValueError("documents must be a non-empty list of texts")
        words = [_words(d) for d in documents]
        vocabulary = {w: i for i, w in enumerate(sorted({w for ws in words for w in ws}))}
        df = torch.zeros(len(vocabulary))
        for ws in words:
            for w in set(ws):
                df[vocabulary[w]] += 1
        return cls(vocabulary, torch.log((1 + len(documents)) / (1 + df)) + 1)

    def __call__(self, texts: Sequence[str]) -> Tensor:
        """The TF-IDF vectors of ``texts``, one row each, L2-normalised."""
        if isinstance(texts, str):
            raise TypeError("pass a list of texts, e.g. bow([query])")
        counts = torch.zeros(len(texts), len(self.vocabulary))
        for row, text in enumerate(texts):
            for w in _words(text):
                if w in self.vocabulary:
                    counts[row, self.vocabulary[w]] += 1
        return F.normalize(counts * self.idf, dim=-1)


def top_k_similar(query: Tensor, documents: Tensor, k: int = 3) -> list[tuple[int, float]]:
    """The ``k`` documents most similar to ``query`` by cosine similarity, as
    ``(index, similarity)`` pairs, best first. ``query`` is ``(d,)``, ``documents`` ``(N, d)``.
    Taught in chapter 8."""
    if query.dim() != 1 or documents.dim() != 2 or documents.shape[1] != query.shape[0]:
        raise ValueError(
            f"query must be (d,) and documents (N, d) with the same d, got {tuple(query.shape)} "
            f"and {tuple(documents.shape)}"
        )
    sims = F.normalize(documents.float(), dim=-1) @ F.normalize(query.float(), dim=0)
    k = min(k, len(sims))
    values, index = sims.topk(k)
    return [(int(i), float(v)) for i, v in zip(index, values)]
