"""Chapter 8, applications: ``course/08_applications.ipynb`` ↔ this package ↔
``labkit.exercises.applications``. ``from labkit.chapters import applications as T``.

Every data set here is *generated* from the words of labkit's story grammars, so it is
offline, endless, and its right answers are known. One module per part of the chapter:

* :mod:`~.datasets` — :func:`translation_pairs` (English → Chinese, word for word from
  :data:`EN_ZH`), :func:`summarisation_pairs`, :func:`qa_examples` (extractive QA),
  :func:`code_pairs` (spoken arithmetic → a program, run by :func:`run_program`);
* :mod:`~.metrics` — :func:`bleu` (written out; equals ``sacrebleu``), :func:`exact_match`,
  :func:`token_f1`, :func:`entity_f1`;
* :mod:`~.encoding` — the shared steps (ids, padding, :func:`join_words`, :func:`split_words`);
* :mod:`~.seq2seq` — :func:`encode_pairs`, :func:`train_seq2seq`, :func:`seq2seq_generate`;
* :mod:`~.spans` — sequence and token classification and QA as span tagging
  (:func:`encode_texts`, :func:`encode_tagged`, :func:`tag_tokens`, :func:`encode_qa`,
  :func:`predict_spans`);
* :mod:`~.chat` — :func:`chat`, one assistant turn;
* :mod:`~.graph` — knowledge graphs (:func:`relation_sentences`, :func:`extract_triples`,
  :func:`build_graph`, :func:`graph_figure`);
* :mod:`~.search` — :data:`FAQ`, :class:`BagOfWords` (TF-IDF), :func:`top_k_similar`.

The chapter also uses concept modules directly: :func:`labkit.tokenizers.task_tokenizer` and
:func:`labkit.tokenizers.chat_prompt`; :func:`labkit.evaluate.text_perplexity`,
:func:`labkit.evaluate.seq2seq_perplexity` and :func:`labkit.evaluate.predict`.

Taught in chapter 8.
"""

from __future__ import annotations

from labkit.chapters.applications.chat import chat
from labkit.chapters.applications.datasets import (
    EN_ZH,
    NAMES,
    NUMBER_WORDS,
    ZH_WORDS,
    QAExample,
    code_pairs,
    english_words,
    qa_examples,
    run_program,
    summarisation_pairs,
    translation_pairs,
)
from labkit.chapters.applications.encoding import join_words, split_words
from labkit.chapters.applications.graph import (
    RELATION_PATTERNS,
    build_graph,
    extract_triples,
    graph_figure,
    relation_sentences,
)
from labkit.chapters.applications.metrics import (
    BleuScore,
    bleu,
    entity_f1,
    entity_spans,
    exact_match,
    ngrams,
    token_f1,
)
from labkit.chapters.applications.search import FAQ, FAQ_QUERIES, BagOfWords, top_k_similar
from labkit.chapters.applications.seq2seq import encode_pairs, seq2seq_generate, train_seq2seq
from labkit.chapters.applications.spans import (
    encode_qa,
    encode_tagged,
    encode_texts,
    predict_spans,
    tag_tokens,
)

__all__ = [
    "EN_ZH",
    "FAQ",
    "FAQ_QUERIES",
    "NAMES",
    "NUMBER_WORDS",
    "RELATION_PATTERNS",
    "ZH_WORDS",
    "BagOfWords",
    "BleuScore",
    "QAExample",
    "bleu",
    "build_graph",
    "chat",
    "code_pairs",
    "encode_pairs",
    "encode_qa",
    "encode_tagged",
    "encode_texts",
    "english_words",
    "entity_f1",
    "entity_spans",
    "exact_match",
    "extract_triples",
    "graph_figure",
    "join_words",
    "ngrams",
    "predict_spans",
    "qa_examples",
    "relation_sentences",
    "run_program",
    "seq2seq_generate",
    "split_words",
    "summarisation_pairs",
    "tag_tokens",
    "token_f1",
    "top_k_similar",
    "train_seq2seq",
    "translation_pairs",
]
