"""Citation markers: parsing [n] / [n, m] / [n-m] in every position a model puts them,
sentence splitting that keeps a marker with the sentence it follows, and n -> chunk."""
from __future__ import annotations

import pytest

from assistant.citations import (
    MAX_RANGE,
    claim_text,
    find_markers,
    format_marker,
    parse_numbers,
    remove_markers,
    source_chunk,
    split_sentences,
    split_valid,
    with_markers,
)
from knowledge.types import Chunk


@pytest.mark.parametrize(("body", "numbers"), [
    ("1", (1,)),
    ("1, 3", (1, 3)),
    ("1,3", (1, 3)),
    ("1; 3 and 5", (1, 3, 5)),
    ("2-4", (2, 3, 4)),
    ("4–2", (2, 3, 4)),  # en dash, reversed: still the range 2..4
    ("1, 1, 2", (1, 2)),  # duplicates once, first-appearance order
    (f"1-{MAX_RANGE + 1}", (1, MAX_RANGE + 1)),  # wider than MAX_RANGE: only its ends
])
def test_parse_numbers(body: str, numbers: tuple[int, ...]) -> None:
    assert parse_numbers(body) == numbers


@pytest.mark.parametrize(("answer", "expected"), [
    # marker before the period, after it, after it with a space, and at the start
    ("Alien is a 1979 film [1].", [("Alien is a 1979 film.", (1,))]),
    ("Alien is a 1979 film.[1] It stars Sigourney Weaver. [2]",
     [("Alien is a 1979 film.", (1,)), ("It stars Sigourney Weaver.", (2,))]),
    ("[3] Alien is a film.", [("Alien is a film.", (3,))]),
    # several markers in one sentence, mid-sentence, adjacent, with a word
    ("Alien [1] and Aliens [2] are films.", [("Alien and Aliens are films.", (1, 2))]),
    ("Alien is a film [1][3].", [("Alien is a film.", (1, 3))]),
    ("Alien is a film [1, 3].", [("Alien is a film.", (1, 3))]),
    ("Alien is a film [Source 2].", [("Alien is a film.", (2,))]),
    ("Alien is a film [1-3].", [("Alien is a film.", (1, 2, 3))]),
    # a sentence without markers stays separate and cites nothing
    ("Dr. No is a 1962 film [4]. It was a hit.", [("Dr. No is a 1962 film.", (4,)), ("It was a hit.", ())]),
    # list items: a lead-in, bullets, numbered items (the item number is not a claim)
    ("Films:\n- Alien [1]\n- Aliens [2]", [("Films:", ()), ("Alien", (1,)), ("Aliens", (2,))]),
    ("1. Alien [1]\n2. Heat [2]", [("Alien", (1,)), ("Heat", (2,))]),
    # four digits in brackets are text, not a citation
    ("It opened in [2016] cinemas.", [("It opened in [2016] cinemas.", ())]),
    ("", []),
])
def test_split_sentences_assigns_markers(answer: str, expected: list[tuple[str, tuple[int, ...]]]) -> None:
    assert [(s.claim, s.cited) for s in split_sentences(answer)] == expected


def test_sentence_spans_index_the_answer() -> None:
    answer = "Alien is a 1979 film.[1]  It stars Sigourney Weaver [2].\n\n- Heat [3]"
    sentences = split_sentences(answer)
    assert [s.text for s in sentences] == ["Alien is a 1979 film.[1]", "It stars Sigourney Weaver [2].", "- Heat [3]"]
    for sentence in sentences:
        assert answer[sentence.span[0]:sentence.span[1]] == sentence.text


def test_find_markers_offsets() -> None:
    text = "A [1] b [2, 4]."
    markers = find_markers(text)
    assert [(text[m.span[0]:m.span[1]], m.numbers) for m in markers] == [("[1]", (1,)), ("[2, 4]", (2, 4))]


def test_split_valid_and_source_chunk() -> None:
    assert split_valid((1, 5, 0, 3), 3) == ((1, 3), (5, 0))
    chunks = [Chunk("a#0", "a", "x", (0, 1)), Chunk("b#0", "b", "y", (0, 1))]
    assert source_chunk(2, chunks).id == "b#0"
    assert source_chunk(0, chunks) is None and source_chunk(3, chunks) is None


def test_marker_removal_and_rewriting() -> None:
    assert remove_markers("A film [1]. It [2]\n- x [3]") == "A film. It\n- x"
    assert claim_text("  2. Alien is a film [1] .") == "Alien is a film."
    assert with_markers("Alien is a film [2].", [1]) == "Alien is a film [1]."
    assert with_markers("Alien is a film.[2]", [1, 3]) == "Alien is a film [1, 3]."
    assert with_markers("Alien is a film [1] [7].", []) == "Alien is a film."
    assert with_markers("- Heat", [3]) == "- Heat [3]"
    assert format_marker([]) == "" and format_marker([2]) == "[2]"
