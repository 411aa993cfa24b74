"""Compact context: what the answer model reads of each source — its metadata line (title, type,
year, …, always) plus the sentences of its text most relevant to the question, within a
per-source token budget.

Why: the prompt is what a CPU answer costs. A catalog chunk runs to ~160 tokens (median over
the golden questions, up to 260), five of them ~830 tokens, while the sentence that answers is
usually one or two of each. Every token cut is prefill the answer and the judge do not pay.

    chunk text  "S1 S2 S3 S4 S5"          question "who composed the score?"
    ranked      S4 (shares 'score'), then S1, S2, … by position (a logline comes first)
    kept        S1 S4 within the budget, in document order, a gap marked " … "
    view        Chunk(text="S1 … S4", span=chunk.span, metadata=chunk.metadata)

The view is what the prompt shows and what the verifier checks the answer against (the model
read nothing else, so nothing else can support what it wrote); the answer's citations, spans
and source cards keep the whole chunk, whose text is the document's own (answer.narrow_span
finds the cited sentence there, so a card highlights the exact document text). The judge goes
one step further: for each claim it reads the cited passage focused on that claim
(`focus_passage`), its metadata line whole.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from assistant.words import content_words
from knowledge.chunking.sentences import sentence_spans
from knowledge.types import Chunk

GAP = " … "  # between two kept sentences that were not adjacent in the chunk


def sentence_scores(question: str, sentences: list[str]) -> list[int]:
    """How many distinct content words of the question each sentence holds (plurals folded,
    stopwords ignored): a small, exact ranking that needs no model."""
    wanted = content_words(question)
    return [len(wanted & content_words(sentence)) for sentence in sentences]


def select_sentences(scores: list[int], costs: list[int], budget: int) -> list[int]:
    """Indices of the sentences to keep, in document order: the highest scores first (ties:
    the earlier sentence), each taken while the kept costs fit `budget`. The first choice is
    always kept, even over budget, so no source is shown empty.

        select_sentences([0, 2, 0, 1], [10, 10, 10, 10], 25) == [1, 3]
    """
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    kept: list[int] = []
    spent = 0
    for i in order:
        if kept and spent + costs[i] > budget:
            continue
        kept.append(i)
        spent += costs[i]
    return sorted(kept)


def focus_text(text: str, query: str, budget: int, count_tokens: Callable[[str], int]) -> str:
    """`text` cut to its sentences most relevant to `query` within `budget` tokens, in order,
    gaps marked; unchanged when it fits, or when it is one sentence (cutting inside a sentence
    would change what it says)."""
    if budget < 1:
        raise ValueError(f"budget={budget} must be >= 1 token")
    if count_tokens(text) <= budget:
        return text
    sentences = [text[a:b].strip() for a, b in sentence_spans(text) if text[a:b].strip()]
    if len(sentences) < 2:
        return text
    kept = select_sentences(sentence_scores(query, sentences), [count_tokens(s) for s in sentences], budget)
    pieces = [sentences[kept[0]]]
    for previous, i in zip(kept, kept[1:]):
        pieces.append((" " if i == previous + 1 else GAP) + sentences[i])
    return "".join(pieces)


def compact_chunk(chunk: Chunk, question: str, budget: int, count_tokens: Callable[[str], int]) -> Chunk:
    """The view of `chunk` the answer model reads (module docstring): its text focused on the
    question (`focus_text`); the chunk itself when nothing was cut. `count_tokens`: the model's."""
    text = focus_text(chunk.text, question, budget, count_tokens)
    return chunk if text == chunk.text else replace(chunk, text=text)


def focus_passage(passage: str, claim: str, budget: int, count_tokens: Callable[[str], int]) -> str:
    """A rendered passage (metadata line, newline, text: prompts.passage_text) with its text
    focused on `claim` and the metadata line kept whole: the evidence a judge needs for one
    claim is the sentence that states it, and every other sentence is prompt it pays for."""
    header, sep, body = passage.partition("\n")
    if not sep:
        return focus_text(passage, claim, budget, count_tokens)
    return header + sep + focus_text(body, claim, budget, count_tokens)
