"""labkit.chapters.applications.rag (chapter 8): the knowledge base, the RAG prompt, citation
and answer scoring; TF-IDF retrieval over the knowledge base; with the real models (skipped
when they are absent, failing when LABKIT_REQUIRE_REAL_MODELS=1), MiniLM retrieval and one
SmolLM2 answer that uses its source."""

from __future__ import annotations

import pytest

from labkit.chapters import applications as T
from labkit.chapters.applications import rag as R
from labkit.real_models import embed, load_real
from labkit.tokenizers import chat_prompt, task_tokenizer


def test_knowledge_questions_are_answered_by_their_passage() -> None:
    assert len(R.KNOWLEDGE_QUESTIONS) >= 6
    for question, answer, doc in R.KNOWLEDGE_QUESTIONS:
        assert R.contains_answer(R.KNOWLEDGE[doc], answer), (question, answer)
        others = [d for i, d in enumerate(R.KNOWLEDGE) if i != doc]
        assert not any(R.contains_answer(d, answer) for d in others), answer


def test_rag_messages_number_the_passages_best_first() -> None:
    messages = R.rag_messages("Who?", ["first passage", "second passage"])
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "[1] first passage\n[2] second passage" in messages[0]["content"]
    assert messages[1]["content"] == "Who?"
    tok = task_tokenizer(["Who? first second passage"])
    assert "[2] second passage" in chat_prompt(tok, messages)
    with pytest.raises(TypeError):
        R.rag_messages("Who?", "one passage")
    with pytest.raises(ValueError, match="sources"):
        R.rag_messages("Who?", ["p"], instruction="no slot")


def test_cited_sources_and_contains_answer() -> None:
    assert R.cited_sources("It is Nora [2], see also [1].") == [2, 1]
    assert R.cited_sources("[1, 3] and [1][2]") == [1, 3, 2]
    assert R.cited_sources("no citation, 2019") == []
    assert R.contains_answer("The last flood was in 2019.", "2019")
    assert R.contains_answer("It is run by NORA Quill", "Nora")
    assert not R.contains_answer("Pipe", "Pip") and not R.contains_answer("20199", "2019")
    assert R.contains_answer("It leaves at 7:40.", "7:40")


def test_attribute_picks_the_passage_the_reply_repeats() -> None:
    passages = ["The bus leaves at 7:40 from the church square.", "Pip is a green heron."]
    assert R.attribute("The mascot is a heron called Pip.", passages) == 2
    assert R.attribute("It leaves at 7:40 from the square.", passages) == 1
    assert R.attribute("no idea", passages) == 0
    assert R.attribute("the", ["the a", "the b"]) == 1  # a tie goes to the better-ranked one
    with pytest.raises(TypeError):
        R.attribute("x", "one passage")


def test_tfidf_retrieval_finds_most_passages() -> None:
    bow = T.BagOfWords.fit(R.KNOWLEDGE)
    docs = bow(R.KNOWLEDGE)
    queries = bow([q for q, _, _ in R.KNOWLEDGE_QUESTIONS])
    hits = [
        T.top_k_similar(v, docs, k=2)[0][0] == g
        for v, (_, _, g) in zip(queries, R.KNOWLEDGE_QUESTIONS)
    ]
    assert sum(hits) >= len(hits) - 2


def test_real_minilm_retrieves_every_passage_and_smollm2_uses_it(real_model) -> None:
    real_model("minilm")
    real_model("smollm2")
    encoder, encoder_tok = load_real("minilm")
    docs = embed(R.KNOWLEDGE, encoder, encoder_tok)
    queries = embed([q for q, _, _ in R.KNOWLEDGE_QUESTIONS], encoder, encoder_tok)
    best = [T.top_k_similar(v, docs, k=1)[0][0] for v in queries]
    assert best == [g for _, _, g in R.KNOWLEDGE_QUESTIONS]
    model, tok = load_real("smollm2")
    question, answer, doc = R.KNOWLEDGE_QUESTIONS[4]  # the flood year
    reply = T.chat(model, tok, R.rag_messages(question, [R.KNOWLEDGE[doc]]), max_new_tokens=30)
    assert R.contains_answer(reply, answer), reply
