"""Chunkers: hand-checked spans, the span invariant over randomised texts, overlap rules,
sentence boundaries (abbreviations, decimals), section-header recognition, and notes never
cut mid-sentence."""
from __future__ import annotations

import random

import pytest

from knowledge.chunking import RecursiveChunker, SectionChunker, chunker_for
from knowledge.chunking.base import trim
from knowledge.chunking.sections import HEADER_LINE, find_sections, header_name
from knowledge.chunking.sentences import sentence_spans
from knowledge.errors import KnowledgeError
from knowledge.types import Chunk, Document


def spans(chunks: list[Chunk]) -> list[tuple[int, int]]:
    return [c.span for c in chunks]


def check_invariants(doc: Document, chunks: list[Chunk]) -> None:
    """What every chunker promises, whatever the text."""
    for i, c in enumerate(chunks):
        start, end = c.span
        assert doc.text[start:end] == c.text and c.text.strip() == c.text and c.text
        assert c.id == f"{doc.id}#{i}" and c.doc_id == doc.id
        assert c.metadata["chunk_index"] == i
        assert {k: c.metadata[k] for k in doc.metadata} == doc.metadata
    assert all(a.span[0] < b.span[0] and a.span[1] < b.span[1] for a, b in zip(chunks, chunks[1:]))
    covered = set()
    for c in chunks:
        covered.update(range(*c.span))
    assert all(i in covered for i, ch in enumerate(doc.text) if not ch.isspace()), "text was dropped"


# --- sentences --------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("Seen by Dr. Smith today. He is better.", ["Seen by Dr. Smith today. ", "He is better."]),
    ("Take 0.5 mg p.o. b.i.d. with food. Temp 100.2F at 6 pm. Stable.",
     ["Take 0.5 mg p.o. b.i.d. with food. ", "Temp 100.2F at 6 pm. ", "Stable."]),
    ("Use e.g. ice packs. Avoid NSAIDs, i.e. ibuprofen.", ["Use e.g. ice packs. ", "Avoid NSAIDs, i.e. ibuprofen."]),
    ("Seen by J. Smith. Pain approx. two weeks! Why? Unclear.",
     ["Seen by J. Smith. ", "Pain approx. two weeks! ", "Why? ", "Unclear."]),
    ('He said "stop." Then left.', ['He said "stop." ', "Then left."]),
    ("Given 2 tabs. daily for pain. Better.", ["Given 2 tabs. daily for pain. ", "Better."]),
    ("1. Start azithromycin.\n2. Recheck in 1 week.", ["1. Start azithromycin.\n", "2. Recheck in 1 week."]),
    ("Plan: 1. Rest. 2. Fluids. He is 45. Stable.", ["Plan: 1. Rest. ", "2. Fluids. ", "He is 45. ", "Stable."]),
    ("Vitals stable\nBP: 120/80\nHR: 88\n- afebrile", ["Vitals stable\n", "BP: 120/80\n", "HR: 88\n", "- afebrile"]),
    ("A wrapped line\ncontinues here.\n\nNew paragraph", ["A wrapped line\ncontinues here.\n\n", "New paragraph"]),
])
def test_sentence_spans(text, expected):
    assert [text[s:e] for s, e in sentence_spans(text)] == expected


def test_sentence_spans_cover_a_sub_range_exactly():
    text = "xx. One. Two. yy"
    assert sentence_spans(text, 4, 13) == [(4, 9), (9, 13)]
    assert sentence_spans(text, 5, 5) == []


# --- recursive chunker ------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [{"chunk_size": 0}, {"chunk_size": 100, "chunk_overlap": 100},
                                    {"chunk_size": 100, "chunk_overlap": -1}, {"chunk_size": 10.5}])
def test_recursive_config_is_validated(kwargs):
    with pytest.raises(KnowledgeError):
        RecursiveChunker(**kwargs)


def test_short_text_is_one_chunk_with_doc_metadata():
    doc = Document("d1", "Arrival (film, 2016; drama)\n\nA linguist.\n", metadata={"type": "film"})
    (chunk,) = RecursiveChunker(chunk_size=800).chunk(doc)
    assert chunk.id == "d1#0" and chunk.span == (0, len(doc.text) - 1)
    assert chunk.metadata == {"type": "film", "chunk_index": 0}
    assert doc.metadata == {"type": "film"}  # not mutated


def test_overlap_is_whole_words_within_the_limit():
    # 10 four-character pieces "aaa " ... "jjj": the second chunk repeats the last three
    # whole words of the first (11 chars <= 12), never a fourth (15 chars).
    doc = Document("d", "aaa bbb ccc ddd eee fff ggg hhh iii jjj")
    chunks = RecursiveChunker(chunk_size=30, chunk_overlap=12).chunk(doc)
    assert spans(chunks) == [(0, 27), (16, 39)]
    assert [c.text for c in chunks] == ["aaa bbb ccc ddd eee fff ggg", "eee fff ggg hhh iii jjj"]
    no_overlap = RecursiveChunker(chunk_size=30, chunk_overlap=0).chunk(doc)
    assert spans(no_overlap) == [(0, 27), (28, 39)]


def test_paragraphs_are_preferred_to_sentences_and_words():
    text = "First para, short.\n\nSecond para one. Second para two is longer."
    chunks = RecursiveChunker(chunk_size=30, chunk_overlap=0).chunk(Document("d", text))
    assert [c.text for c in chunks] == ["First para, short.", "Second para one.", "Second para two is longer."]
    assert spans(chunks) == [(0, 18), (20, 36), (37, 63)]


def test_abbreviations_do_not_end_pieces_and_long_words_are_hard_cut():
    text = "Dr. Who met Mr. Smith. They talked."
    chunks = RecursiveChunker(chunk_size=25, chunk_overlap=0).chunk(Document("d", text))
    assert [c.text for c in chunks] == ["Dr. Who met Mr. Smith.", "They talked."]
    hard = RecursiveChunker(chunk_size=10, chunk_overlap=0).chunk(Document("d", "x" * 25))
    assert spans(hard) == [(0, 10), (10, 20), (20, 25)]


WORDS = ["the", "river", "film", "a", "documentary", "about", "climate", "Dr.", "e.g.", "100.2F", "series",
         "and", "its", "people", "who", "live", "there", "long-form", "podcast", "episode"]
JOINERS = [" ", " ", " ", " ", ". ", ", ", "\n", "\n\n", "  ", "! ", "? ", " \t "]


def random_text(rng: random.Random, n_words: int, long_words: bool = False) -> str:
    parts = []
    for _ in range(n_words):
        word = rng.choice(WORDS)
        if long_words and rng.random() < 0.02:
            word = "x" * rng.randint(50, 300)
        parts.append(word + rng.choice(JOINERS))
    return rng.choice(["", " ", "\n"]) + "".join(parts)


def test_recursive_invariants_over_random_texts():
    rng = random.Random(1234)
    for trial in range(400):
        size = rng.randint(20, 400)
        overlap = rng.randint(0, size - 1)
        long_words = trial % 4 == 0
        doc = Document(f"d{trial}", random_text(rng, rng.randint(1, 300), long_words), metadata={"n": trial})
        chunks = RecursiveChunker(chunk_size=size, chunk_overlap=overlap).chunk(doc)
        check_invariants(doc, chunks)
        if len(doc.text) <= size:
            assert len(chunks) <= 1
        for a, b in zip(chunks, chunks[1:]):
            assert len(a.text) <= size and len(b.text) <= size
            assert a.span[1] - b.span[0] <= overlap, "overlap longer than chunk_overlap"
            if not long_words:  # only words longer than chunk_size may be cut
                start, end = b.span
                assert doc.text[start - 1].isspace(), f"chunk starts mid-word: {doc.text[start - 5:start + 5]!r}"
                assert a.span[1] == len(doc.text) or doc.text[a.span[1]].isspace(), "chunk ends mid-word"


@pytest.mark.parametrize("text", ["               0000 0", "\n" * 30 + "alpha beta gamma delta"])
def test_a_mostly_blank_chunk_does_not_reappear_inside_the_next(text):
    doc = Document("d", text)
    chunks = RecursiveChunker(chunk_size=20, chunk_overlap=5).chunk(doc)
    check_invariants(doc, chunks)  # strictly increasing starts and ends, nothing dropped


def test_overlap_happens_when_pieces_allow_it():
    rng = random.Random(7)
    text = " ".join(rng.choice(["alpha", "beta", "gamma", "delta"]) for _ in range(400))
    chunks = RecursiveChunker(chunk_size=100, chunk_overlap=30).chunk(Document("d", text))
    overlaps = [a.span[1] - b.span[0] for a, b in zip(chunks, chunks[1:])]
    assert all(15 < o <= 30 for o in overlaps), overlaps  # words <= 6 chars: a 30-char budget is mostly used


# --- section headers --------------------------------------------------------------------

@pytest.mark.parametrize("line, name", [
    ("HPI: 45M with cough", "hpi"),
    ("CHIEF COMPLAINT:", "chief complaint"),
    ("VITALS:", "vitals"),
    ("Assessment:", "assessment"),
    ("PLAN: continue current meds", "plan"),
    ("A/P: community-acquired pneumonia", "a/p"),
    ("  Physical Exam:", "physical exam"),
    ("Follow-up: 1 week", "follow-up"),
    ("assessment and plan:", "assessment and plan"),
    ("HOSPITAL COURSE: uneventful", "hospital course"),
    ("DISCHARGE  CONDITION:", "discharge condition"),  # all-caps rule, not in the vocabulary
])
def test_header_lines(line, name):
    match = HEADER_LINE.match(line)
    assert match is not None and header_name(match) == name


@pytest.mark.parametrize("line", [
    "BP: 120/80", "T: 100.2F", "HR: 88", "P: 88", "RR: 16", "SpO2: 97%", "O2 sat: 94% RA", "PULSE: 88",
    "TEMP: 100.2F", "WEIGHT: 80 kg", "CXR: bilateral infiltrates", "CT CHEST: no PE", "Patient states: better",
    "Note: see above", "NEW BED: 4", "Seen at 10:30 today", "ratio 1:2", "See http://example.org",
    "Dose:500 mg", "Started azithromycin. Plan: recheck", "ROM: full and painless",
])
def test_non_header_lines(line):
    match = HEADER_LINE.match(line)
    assert match is None or header_name(match) is None


NOTE = ("Seen by Dr. Lee.\n"
        "CHIEF COMPLAINT: cough x3 days.\n"
        "HPI: 45M with cough and fever to 100.2F. Took 0.5 mg p.o. b.i.d. Denies chest pain.\n"
        "VITALS:\nBP: 120/80\nT: 100.2F\n"
        "A/P: CAP. Start azithromycin 500 mg day 1, then 250 mg days 2-5.\n")


def test_find_sections_on_a_hand_checked_note():
    found = [(name, NOTE[s:e]) for name, (s, e) in find_sections(NOTE)]
    assert [name for name, _ in found] == ["preamble", "chief complaint", "hpi", "vitals", "a/p"]
    assert found[3][1] == "VITALS:\nBP: 120/80\nT: 100.2F\n"
    assert "".join(text for _, text in found) == NOTE


def test_section_chunks_exact_spans():
    doc = Document("n1", NOTE, metadata={"patient_id": "p1"})
    chunks = SectionChunker(max_chunk_chars=60).chunk(doc)
    assert [(c.metadata["section"], c.span, c.text) for c in chunks] == [
        ("preamble", (0, 16), "Seen by Dr. Lee."),
        ("chief complaint", (17, 48), "CHIEF COMPLAINT: cough x3 days."),
        ("hpi", (49, 89), "HPI: 45M with cough and fever to 100.2F."),
        ("hpi", (90, 132), "Took 0.5 mg p.o. b.i.d. Denies chest pain."),
        ("vitals", (133, 161), "VITALS:\nBP: 120/80\nT: 100.2F"),
        ("a/p", (162, 171), "A/P: CAP."),
        ("a/p", (172, 226), "Start azithromycin 500 mg day 1, then 250 mg days 2-5."),
    ]
    assert chunks[0].metadata == {"patient_id": "p1", "section": "preamble", "chunk_index": 0}
    check_invariants(doc, chunks)
    whole = SectionChunker().chunk(doc)  # every section fits: one chunk per section
    assert [c.metadata["section"] for c in whole] == ["preamble", "chief complaint", "hpi", "vitals", "a/p"]


def test_long_sentence_is_its_own_chunk_and_no_headers_means_sentences():
    long_sentence = "Patient reports " + "intermittent " * 10 + "pain."
    text = f"Short one. {long_sentence} Short two. Short three."
    chunks = SectionChunker(max_chunk_chars=30).chunk(Document("n", text))
    assert [c.text for c in chunks] == ["Short one.", long_sentence, "Short two. Short three."]
    assert {c.metadata["section"] for c in chunks} == {"preamble"}


def test_section_config_and_chunker_for():
    with pytest.raises(KnowledgeError, match="max_chunk_chars"):
        SectionChunker(max_chunk_chars=0)
    assert chunker_for("catalog") == RecursiveChunker(800, 120)
    assert chunker_for("notes", max_chunk_chars=500) == SectionChunker(500)
    with pytest.raises(KnowledgeError, match="unknown collection"):
        chunker_for("movies")


# Sentences a note generator may use: each must stay whole, whatever the splitter thinks.
SENTENCES = ["Seen by Dr. Lee today.", "Took 0.5 mg p.o. b.i.d. for pain.", "Temp was 100.2F overnight.",
             "Cough is worse at night, e.g. when lying flat.", "Denies chest pain!", "Any sputum?",
             "Start azithromycin 500 mg day 1, then 250 mg days 2-5.", "Follow up in approx. two weeks.",
             "Mr. Jones, i.e. the patient, agrees.", "Lungs with crackles at the bases bilaterally.",
             "BP: 120/80", "HR: 88", "- afebrile since admission", "2. Recheck CBC in 1 week."]
HEADERS = ["HPI:", "CHIEF COMPLAINT:", "VITALS:", "Assessment:", "PLAN:", "A/P:", "HOSPITAL COURSE:"]


def random_note(rng: random.Random) -> tuple[str, list[tuple[int, int]]]:
    """A note and the [start, end) of every sentence in it."""
    text, sentences = rng.choice(["", "Clinic note.\n"]), []
    for _ in range(rng.randint(0, 6)):
        if rng.random() < 0.8:
            text += rng.choice(HEADERS) + rng.choice([" ", "\n"])
        for _ in range(rng.randint(1, 12)):
            sentence = rng.choice(SENTENCES)
            if rng.random() < 0.05:
                sentence = "Patient " + "very " * rng.randint(20, 60) + "tired."
            sentences.append((len(text), len(text) + len(sentence)))
            text += sentence
            last_is_line = sentence[0] in "-2" or ":" in sentence[:4]
            text += "\n" if last_is_line else rng.choice([" ", " ", "\n\n", "  "])
    return (text or "Nothing to report."), sentences


def test_notes_are_never_cut_mid_sentence():
    rng = random.Random(99)
    for trial in range(500):
        text, sentences = random_note(rng)
        limit = rng.randint(30, 400)
        doc = Document(f"n{trial}", text)
        chunks = SectionChunker(max_chunk_chars=limit).chunk(doc)
        check_invariants(doc, chunks)
        for a, b in zip(chunks, chunks[1:]):
            assert a.span[1] <= b.span[0], "section chunks must not overlap"
        sections = find_sections(text)
        for c in chunks:
            start, end = c.span
            for s, e in sentences:
                assert not s < start < e and not s < end < e, f"cut mid-sentence: {text[s:e]!r} by {c.text!r}"
            # A chunk lies inside the section it names.
            assert any(name == c.metadata["section"] and s <= start and end <= e for name, (s, e) in sections)
            if len(c.text) > limit:  # only a lone over-long sentence may exceed the limit
                section = next(span for name, span in sections if span[0] <= start and end <= span[1])
                assert (start, end) in {trim(text, s, e) for s, e in sentence_spans(text, *section)}, c.text
