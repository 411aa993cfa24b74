"""Compact context (assistant/context.py): sentence ranking and selection worked by hand, the
view the model reads, an answer over compacted sources whose citations still point at the
document's own text, and the judge's evidence focused on each claim."""
from __future__ import annotations

import math

import pytest

from assistant.answer import answer_question
from assistant.citations import split_sentences
from assistant.context import GAP, compact_chunk, focus_passage, select_sentences, sentence_scores
from assistant.llm import FakeLLM
from assistant.prompts import passage_text
from assistant.verify import Verifier, VerifierConfig, VerifierConfigError
from knowledge.types import Chunk

DOC = ("Nine miners are trapped below a Welsh valley. Their families wait at the pit head. "
       "The rescue takes eleven days. The score was composed by Ana Ruiz. It premiered in Cardiff.")
CHUNK = Chunk("m1#0", "m1", DOC, (100, 100 + len(DOC)), {"title": "Deep Seam", "type": "film", "year": 2019})


def words(text: str) -> int:  # a tokenizer stand-in: one token per word
    return len(text.split())


def test_scores_count_distinct_question_words() -> None:
    sentences = ["The score was composed by Ana Ruiz.", "Their families wait.", "Scores and scores."]
    # "who composed the score?" -> {composed, score}; plurals fold, stopwords and repeats do not count
    assert sentence_scores("who composed the score?", sentences) == [2, 0, 1]


def test_selection_takes_best_first_then_fits_the_budget_in_document_order() -> None:
    assert select_sentences([0, 2, 0, 1], [10, 10, 10, 10], 25) == [1, 3]
    assert select_sentences([0, 0, 0], [10, 10, 10], 25) == [0, 1]  # no overlap: the opening sentences
    assert select_sentences([0, 3, 0], [10, 40, 5], 25) == [1]  # the best one is kept even over budget...
    assert select_sentences([0, 3, 0], [10, 40, 5], 45) == [1, 2]  # ...and what still fits joins it


def test_compact_view_keeps_the_relevant_sentence_and_marks_gaps() -> None:
    view = compact_chunk(CHUNK, "Who composed the score of Deep Seam?", 16, words)
    assert view.text == f"Nine miners are trapped below a Welsh valley.{GAP}The score was composed by Ana Ruiz."
    assert (view.id, view.doc_id, view.span, view.metadata) == (CHUNK.id, CHUNK.doc_id, CHUNK.span, CHUNK.metadata)
    # the metadata line is always shown whole, above the kept sentences
    assert passage_text(view).splitlines()[0] == passage_text(CHUNK).splitlines()[0] == \
        "title: Deep Seam | type: film | year: 2019"
    assert compact_chunk(CHUNK, "anything", 100, words) is CHUNK  # fits: unchanged
    one = Chunk("x#0", "x", "one long sentence " * 20, (0, 360))
    assert compact_chunk(one, "long", 5, words) is one  # never cut inside a sentence
    with pytest.raises(ValueError, match="budget=0"):
        compact_chunk(CHUNK, "q", 0, words)


def test_answer_reads_the_view_and_cites_the_document_text() -> None:
    lp = {"SUPPORTED": math.log(0.9), "UNSUPPORTED": math.log(0.1)}
    llm = FakeLLM(["The score of Deep Seam was composed by Ana Ruiz [1]."], logprob_tables=[lp])
    answer = answer_question(llm, "Who composed the score of Deep Seam?", [CHUNK], context_tokens=16,
                             config=VerifierConfig(judge_calibration="none"))
    prompt = llm.calls[0].messages[-1]["content"]
    assert "Ana Ruiz" in prompt and "eleven days" not in prompt and GAP in prompt  # the model read the view
    assert llm.calls[1].kind == "token_logprob_of" and "eleven days" not in llm.calls[1].messages[-1]["content"]
    assert not answer.refused and answer.chunks == [CHUNK]  # the whole chunk stays the answer's source
    (citation,) = answer.citations
    start = citation.span[0] - CHUNK.span[0]
    assert DOC[start:citation.span[1] - CHUNK.span[0]] == "The score was composed by Ana Ruiz."
    assert answer.trace["context"][0]["shown_chars"] < len(DOC)


def test_focus_passage_keeps_the_metadata_line_and_the_claims_sentence() -> None:
    passage = passage_text(CHUNK)
    # the claim's sentence (7 words) first; of the rest only "The rescue takes eleven days." (5) still fits 12
    focused = focus_passage(passage, "Ana Ruiz composed the score.", 12, words)
    assert focused == ("title: Deep Seam | type: film | year: 2019\n"
                       "The rescue takes eleven days. The score was composed by Ana Ruiz.")
    assert focus_passage("no metadata. just text.", "text", 100, words) == "no metadata. just text."


def test_judge_reads_the_passage_focused_on_each_claim() -> None:
    lp = {"SUPPORTED": math.log(0.9), "UNSUPPORTED": math.log(0.1)}
    llm = FakeLLM(logprob_tables=[lp])
    config = VerifierConfig(judge_calibration="none", judge_evidence_tokens=16)
    (check,) = Verifier(llm, config).verify(split_sentences("The rescue of the miners takes eleven days [1]."),
                                            [passage_text(CHUNK)])
    judged = llm.calls[0].messages[-1]["content"]
    assert check.supported and "The rescue takes eleven days." in judged and "Ana Ruiz" not in judged
    assert "title: Deep Seam" in judged
    with pytest.raises(VerifierConfigError, match="judge_evidence_tokens=8"):
        VerifierConfig(judge_evidence_tokens=8)
