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
* :mod:`~.search` — :data:`FAQ`, :class:`BagOfWords` (TF-IDF), :func:`top_k_similar`;
* :mod:`~.rag` — retrieval-augmented generation: :data:`KNOWLEDGE` (an invented town),
  :data:`KNOWLEDGE_QUESTIONS`, :func:`rag_messages`, :func:`cited_sources`,
  :func:`contains_answer`, :func:`attribute`;
* :mod:`~.prompting` — zero-shot and few-shot prompting: :func:`few_shot_prompt`,
  :func:`label_log_likelihoods`, :func:`pick_shots`, :func:`classify_by_likelihood`;
* :mod:`~.hard` — harder test sets with real errors: :func:`ner_hard_examples`,
  :func:`two_sentence_pairs`, :func:`long_code_pairs`, :func:`qa_error_kind`.

The chapter also uses concept modules directly: :func:`labkit.tokenizers.task_tokenizer` and
:func:`labkit.tokenizers.chat_prompt`; :func:`labkit.evaluate.text_perplexity`,
:func:`labkit.evaluate.seq2seq_perplexity` and :func:`labkit.evaluate.predict`.

Taught in chapter 8.
"""

from __future__ import annotations

from labkit.chapters.applications.chat import chat, chat_batch
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
from labkit.chapters.applications.hard import (
    NER_HARD,
    long_code_pairs,
    ner_hard_examples,
    qa_error_kind,
    two_sentence_pairs,
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
from labkit.chapters.applications.prompting import (
    classify_by_likelihood,
    few_shot_prompt,
    label_log_likelihoods,
    pick_shots,
)
from labkit.chapters.applications.rag import (
    KNOWLEDGE,
    KNOWLEDGE_QUESTIONS,
    RAG_INSTRUCTION,
    attribute,
    cited_sources,
    contains_answer,
    rag_messages,
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
    "KNOWLEDGE",
    "KNOWLEDGE_QUESTIONS",
    "NAMES",
    "NER_HARD",
    "NUMBER_WORDS",
    "RAG_INSTRUCTION",
    "RELATION_PATTERNS",
    "ZH_WORDS",
    "BagOfWords",
    "BleuScore",
    "QAExample",
    "attribute",
    "bleu",
    "build_graph",
    "chat",
    "chat_batch",
    "cited_sources",
    "classify_by_likelihood",
    "code_pairs",
    "contains_answer",
    "encode_pairs",
    "encode_qa",
    "encode_tagged",
    "encode_texts",
    "english_words",
    "entity_f1",
    "entity_spans",
    "exact_match",
    "extract_triples",
    "few_shot_prompt",
    "graph_figure",
    "join_words",
    "label_log_likelihoods",
    "long_code_pairs",
    "ner_hard_examples",
    "ngrams",
    "pick_shots",
    "predict_spans",
    "qa_error_kind",
    "qa_examples",
    "rag_messages",
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
    "two_sentence_pairs",
]
