"""Data for the course, all offline: generated corpora, your own text files, blocks and batches,
checksummed downloads, and cleaning / de-duplication.

* ``pcfg`` — probabilistic grammars: compile, sample, exact entropy (chapter 1); the rules
  themselves are in ``grammar_en`` and ``grammar_zh``.
* ``corpus`` — ``generate_corpus("en" | "zh")``: stories and dialogues with the **exact
  entropy per character** of the process that made them (chapters 1 and 4), and
  ``generate_labelled``: labelled sentences (sentiment, topic, named entities) for chapter 5.
* ``text`` — ``load_text``, ``train_val_split``, ``pack_blocks``, ``get_batch``: from a text
  file to training batches (chapter 4).
* ``downloads`` — ``download()``: optional public corpora (Tiny Shakespeare), verified by
  SHA-256 and cached (chapter 4).
* ``augment`` — label-preserving synonym replacement and random edits (chapter 5).
* ``cleaning`` — ``clean_text``, ``is_junk``, ``find_boilerplate``, ``dedup_exact``,
  ``dedup_near`` and ``messy_corpus``: data preparation before pretraining (chapter 4).

Everything is re-exported here, so ``from labkit.data import generate_corpus`` works.
"""

from labkit._util import sha256_file
from labkit.data.augment import SYNONYM_GROUPS, augment, augment_examples, detokenize, synonyms
from labkit.data.cleaning import (
    BOILERPLATE,
    JUNK_LINES,
    MessyCorpus,
    clean_documents,
    clean_text,
    dedup_exact,
    dedup_near,
    find_boilerplate,
    find_exact_duplicates,
    find_near_duplicates,
    is_junk,
    jaccard,
    messy_corpus,
    normalize,
    shingles,
)
from labkit.data.corpus import (
    ENTITY_TYPES,
    LABELLED_TASKS,
    LANGUAGES,
    Corpus,
    corpus_entropy,
    generate_corpus,
    generate_labelled,
    grammar,
    label_names,
)
from labkit.data.downloads import DATASETS, ChecksumError, DownloadError, download
from labkit.data.pcfg import (
    Grammar,
    GrammarStats,
    RawGrammar,
    compile_grammar,
    expand,
    grammar_stats,
    sample,
)
from labkit.data.text import get_batch, load_text, pack_blocks, train_val_split

__all__ = [
    "SYNONYM_GROUPS",
    "augment",
    "augment_examples",
    "detokenize",
    "synonyms",
    "BOILERPLATE",
    "DATASETS",
    "ENTITY_TYPES",
    "JUNK_LINES",
    "LABELLED_TASKS",
    "LANGUAGES",
    "ChecksumError",
    "Corpus",
    "DownloadError",
    "Grammar",
    "GrammarStats",
    "MessyCorpus",
    "RawGrammar",
    "clean_documents",
    "clean_text",
    "compile_grammar",
    "corpus_entropy",
    "dedup_exact",
    "dedup_near",
    "download",
    "expand",
    "find_boilerplate",
    "find_exact_duplicates",
    "find_near_duplicates",
    "generate_corpus",
    "generate_labelled",
    "get_batch",
    "grammar",
    "grammar_stats",
    "is_junk",
    "jaccard",
    "label_names",
    "load_text",
    "messy_corpus",
    "normalize",
    "pack_blocks",
    "sample",
    "sha256_file",
    "shingles",
    "train_val_split",
]
