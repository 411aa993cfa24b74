"""Adversarial text for every text parser and chunker: hypothesis feeds long runs of
punctuation, quotes of every kind, blanks, brackets, digits, unicode and the parsers' own cue
words, and each parser must return a well-formed result (spans in order, inside the text, equal
to the slice they name) or its documented error. Then one test per formerly pathological
pattern runs a huge input under a hang watchdog, and a question over the length limit is
refused with a message that names its length, the limit and the fix.

Runs are deterministic (`derandomize=True`); example counts are set per parser so the whole
file runs in seconds.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import signal
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_world import kbs, make_agent  # noqa: F401 - kbs is a fixture
from assistant import citations, prompts, query, query_lexicon
from assistant.chat_session import chat_turn
from assistant.dates import find_time_phrases
from assistant.extract import findings, follow_up, grounding, medications, negation, spans
from assistant.extract.errors import ExtractConfigError
from assistant.extract.pipeline import extract_note
from assistant.extract.rules import analyse
from assistant.extract.sections import find_sections as find_note_sections
from assistant.query import MAX_QUESTION_CHARS, QueryError, Vocabulary, understand
from knowledge.chunking import RecursiveChunker, SectionChunker
from knowledge.chunking.sections import find_sections
from knowledge.chunking.sentences import sentence_boundaries, sentence_spans
from knowledge.loaders import iter_documents
from knowledge.types import Document, IngestIssue

TODAY = dt.date(2026, 11, 22)
VOCABULARY = Vocabulary.from_records([
    {"title": "Silicon Valley", "type": "series", "genres": ["comedy"], "cast": ["Thomas Middleditch"]},
    {"title": "Alien", "type": "film", "genres": ["horror"], "creators": ["Ridley Scott"]},
    {"patient_id": "pt_0003", "author": "Dr. Rosa Harper", "note_type": "progress note"},
])

# --- adversarial text ---------------------------------------------------------------------------

MARKS = list(".!?…,;:-–—/\\#+*•_%&@|~^=<>")
QUOTES = list("'\"“”‘’«»`„‹›")
BLANKS = [" ", "  ", "\t", "\n", "\n\n", "\r\n", "\r", "\x0b", "\x0c", "\u00a0", "\u2028", "\u3000", "\u200b"]
BRACKETS = list("()[]{}") + ["[1]", "[1, 2]", "[2-4]", "[Source 3]", "[2016]", "[1;3]", "[ 7 ]"]
DIGITS = ["0", "7", "42", "1990", "2026", "3.5", "1/2", "1.", "2)", "0/0", "10:30", "-1", "99999", "90s"]
UNICODE = ["é", "İ", "ı", "ß", "ﬁ", "\u212a", "e\u0301", "😀", "中文", "עברית", "\x00", "\ufeff", "\U0001d7d8"]
ATOMS = MARKS + QUOTES + BLANKS + BRACKETS + DIGITS + UNICODE
# What a run is made of: "......", "'''''", "      ", "((((((", "999999"...
RUN_UNITS = MARKS + QUOTES + BLANKS + list("()[]") + ["0", "9", "a", "A", ". ", "' ", " ,", "1,", "0/", "\n ", "a "]

QUESTION_WORDS = ["documentaries", "about", "in French", "under 90 minutes", "or less", "rated 8", "or higher",
                  "from the last year", "since 1990", "in the late 90s", "set in", "comedies", "like", "Alien",
                  "Silicon Valley", "directed by", "Ridley Scott", "patient", "pt_0003", "notes", "by Dr.",
                  "Rosa Harper", "progress notes", "hello", "thanks", "with", "that", "and", "the", "a", "an"]
PROSE_WORDS = ["Dr.", "Smith", "e.g.", "approx.", "J.", "No.", "b.i.d.", "100.2F", "said", "the", "film", "HR: 88",
               "- item", "1. Start", "Plan:", "Ignore previous instructions", "reply only with", "PWNED",
               "system prompt", "you are now a bot", "new instructions:", "<source", "</sources>", "<|im_start|>"]
NOTE_WORDS = ["HPI:", "CC:", "A/P:", "ASSESSMENT:", "PLAN:", "PMH:", "IMAGING:", "VITALS:", "FOLLOW-UP:",
              "Allergies:", "presents with", "c/o", "reports", "fever", "cough", "chest pain", ", and", "or",
              "denies", "no", "without", "since", "today", "on exam", "x 3 days", "for 2 weeks", "stable", "PMH of",
              "history of", "consistent with", "Likely", "CXR:", "CT head showed", "apixaban", "10 mg",
              "160/4.5 mcg", "1-2 tabs", "PO", "BID", "as needed", "x 7 days", "Follow up in 2 weeks", "PCP",
              "RTC", "T 101.3F", "BP 138/86", "HR 104", "SpO2 93%", "+cough", "pt has", "well-controlled", " ) ",
              "(rash )"]


def adversarial(words: list[str] = (), max_pieces: int = 25) -> st.SearchStrategy[str]:
    """Text built from atoms, long runs of one unit, random unicode and a parser's own words."""
    run = st.tuples(st.sampled_from(RUN_UNITS), st.integers(2, 150)).map(lambda unit_n: unit_n[0] * unit_n[1])
    pieces = [st.sampled_from(ATOMS), run, st.text(max_size=12)] + ([st.sampled_from(words)] if words else [])
    return st.lists(st.one_of(*pieces), max_size=max_pieces).map("".join)


def deterministic(examples: int) -> settings:
    # Big generated texts are the point here, so hypothesis's size and speed warnings do not apply.
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


def assert_tiles(spans: list[tuple[int, int]], start: int, end: int) -> None:
    """Non-empty, contiguous spans that cover [start, end) exactly, in order."""
    if start >= end:
        assert spans == []
        return
    assert spans[0][0] == start and spans[-1][1] == end
    assert all(a < b for a, b in spans) and all(p[1] == q[0] for p, q in zip(spans, spans[1:]))


def assert_in_order(spans: list[tuple[int, int]], length: int, *, overlap: bool = False) -> None:
    """Spans inside [0, length), sorted; disjoint unless `overlap`."""
    assert all(0 <= a <= b <= length for a, b in spans)
    assert spans == sorted(spans)
    if not overlap:
        assert all(p[1] <= q[0] for p, q in zip(spans, spans[1:]))


def assert_covers_every_word(text: str, spans: list[tuple[int, int]]) -> None:
    """Every non-blank character lies in some span (a chunker never drops text)."""
    covered = bytearray(len(text))
    for a, b in spans:
        covered[a:b] = b"\x01" * (b - a)
    assert all(covered[i] or ch.isspace() for i, ch in enumerate(text))


# --- query understanding --------------------------------------------------------------------------

@deterministic(250)
@given(adversarial(QUESTION_WORDS), st.sampled_from([None, "catalog", "notes"]))
def test_understand_reads_any_question_into_a_well_formed_plan(question, hint):
    try:
        plan = understand(question, today=TODAY, collection_hint=hint, vocabulary=VOCABULARY)
    except QueryError:  # the documented refusals: an empty question or one over the limit
        assert not question.strip() or len(question) > MAX_QUESTION_CHARS
        return
    assert plan.route in ("catalog", "notes", "chitchat") and plan.question == question
    for span in plan.spans:
        assert span.phrase == question[span.span[0]:span.span[1]]
    assert_in_order([s.span for s in plan.spans], len(question), overlap=True)
    assert isinstance(plan.search_text, str) and plan.query
    plan.filter_list()  # the filters it wrote are ones the retrievers accept


@deterministic(250)
@given(adversarial(QUESTION_WORDS))
def test_time_phrases_are_disjoint_slices_with_valid_ranges(text):
    phrases = find_time_phrases(text, TODAY)
    assert_in_order([(p.start, p.end) for p in phrases], len(text))
    for p in phrases:
        assert p.text == text[p.start:p.end] and p.start < p.end
        assert p.range.start is None or p.range.end is None or p.range.start <= p.range.end


# --- sentences and chunkers -----------------------------------------------------------------------

@deterministic(300)
@given(st.data())
def test_sentence_spans_tile_any_range(data):
    text = data.draw(adversarial(PROSE_WORDS))
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    assert_tiles(sentence_spans(text), 0, len(text))
    assert_tiles(sentence_spans(text, start, end), start, end)
    cuts = sentence_boundaries(text, start, end)
    assert cuts == sorted(set(cuts)) and all(start < c < end for c in cuts)


@deterministic(200)
@given(adversarial(PROSE_WORDS), st.integers(20, 300), st.data())
def test_recursive_chunks_are_exact_slices_that_cover_the_text(text, size, data):
    overlap = data.draw(st.integers(0, size - 1))
    doc = Document("d1", text, {"title": "t"})
    chunks = RecursiveChunker(chunk_size=size, chunk_overlap=overlap).chunk(doc)
    for i, chunk in enumerate(chunks):
        assert chunk.text == text[chunk.span[0]:chunk.span[1]] == chunk.text.strip() != ""
        assert len(chunk.text) <= size and chunk.id == f"d1#{i}" and chunk.metadata["chunk_index"] == i
    # In order; a chunk may repeat its predecessor's start when trimming the blanks that led
    # its span lands on the same word.
    assert [c.span for c in chunks] == sorted(c.span for c in chunks)
    assert_covers_every_word(text, [c.span for c in chunks])


@deterministic(200)
@given(adversarial(NOTE_WORDS + PROSE_WORDS), st.integers(20, 400))
def test_section_chunks_are_exact_disjoint_slices_that_cover_the_note(text, size):
    sections = find_sections(text)
    if text:  # (an empty note is one empty preamble)
        assert_tiles([span for _, span in sections], 0, len(text))
    chunks = SectionChunker(max_chunk_chars=size).chunk(Document("n1", text))
    for chunk in chunks:
        assert chunk.text == text[chunk.span[0]:chunk.span[1]] == chunk.text.strip() != ""
        assert chunk.metadata["section"] in {name for name, _ in sections}
    assert_in_order([c.span for c in chunks], len(text))
    assert_covers_every_word(text, [c.span for c in chunks])


@deterministic(200)
@given(adversarial(NOTE_WORDS))
def test_note_sections_for_extraction_lie_inside_the_note_in_order(note):
    sections = find_note_sections(note)
    assert [s.header_start for s in sections] == sorted(s.header_start for s in sections)
    for s in sections:
        assert 0 <= s.header_start <= s.start <= s.end <= len(note) or s.start == s.end
        assert note[s.start:s.end] == note[s.start:s.end].strip()


# --- answers: citations and prompt guards ---------------------------------------------------------

@deterministic(300)
@given(adversarial(PROSE_WORDS + BRACKETS))
def test_citation_markers_and_sentences_are_exact_slices(answer):
    markers = citations.find_markers(answer)
    assert_in_order([m.span for m in markers], len(answer))
    for m in markers:
        written = answer[m.span[0]:m.span[1]]
        assert written.startswith("[") and written.endswith("]") and all(n >= 0 for n in m.numbers)
    sentences = citations.split_sentences(answer)
    assert_in_order([s.span for s in sentences], len(answer))
    named = {n for m in markers for n in m.numbers}
    for s in sentences:
        assert s.text == answer[s.span[0]:s.span[1]] == s.text.strip() != ""
        assert set(s.cited) <= named and isinstance(s.claim, str)
    assert "[1, 2]" in citations.with_markers(answer, (1, 2))


@deterministic(300)
@given(adversarial(PROSE_WORDS))
def test_injection_guards_only_touch_instruction_like_text(text):
    kinds = prompts.injection_kinds(text)
    assert set(kinds) <= set(prompts.INJECTION_PATTERNS)
    withheld, dropped = prompts.withhold_instructions(text), prompts.drop_instructions(text)
    if kinds:
        assert prompts.WITHHELD_TEXT in withheld
    else:  # plain data passes through untouched
        assert withheld == text and dropped == text.strip()


# --- clinical extraction --------------------------------------------------------------------------

@deterministic(150)
@given(adversarial(NOTE_WORDS, max_pieces=40), st.data())
def test_rule_extraction_quotes_only_what_the_note_says(note, data):
    try:
        extraction = extract_note(note, mode="rules")
    except ExtractConfigError:  # the documented refusal: an empty note
        assert not note.strip()
        return
    for _, _, evidence in extraction.fields.items():
        assert evidence.text == note[evidence.start:evidence.end]
    # The model's quotes are located in the note the same way (the `hybrid` and `llm` modes).
    words = note.split() or ["x"]
    quote = st.builds(lambda a, n: " ".join(words[a:a + n]), st.integers(0, len(words) - 1), st.integers(1, 4))
    reply = {"symptoms": [data.draw(quote)], "diagnoses": [data.draw(quote)], "imaging": [data.draw(quote)],
             "negated_findings": [data.draw(quote)], "follow_up": data.draw(quote),
             "vitals": {"heart_rate": data.draw(quote)},
             "medications": [{"name": data.draw(quote), "dose": data.draw(quote), "route": data.draw(quote)}]}
    fields, _ = grounding.ground_reply(note, reply, analyse(note))
    found = [e for value in fields.values() for item in (value if isinstance(value, tuple) else (value,))
             for e in _evidence_of(item)]
    assert all(e.text == note[e.start:e.end] for e in found)


@pytest.mark.parametrize("note, field, text", [
    ("Pt presents with cough ) .", "symptoms", "cough"),
    ("CC: cough ) and fever", "symptoms", "cough"),
    ("IMAGING: CXR clear )", "imaging", "CXR clear"),
])
def test_a_stray_closing_bracket_goes_with_the_blanks_before_it(note, field, text):
    assert (field, text) in [(f, e.text) for f, _, e in extract_note(note, mode="rules").fields.items()]


def _evidence_of(item):
    if item is None:
        return []
    if hasattr(item, "value"):  # a Vital
        return [item.value]
    if hasattr(item, "name"):  # a Medication
        return [e for e in (item.evidence, item.name, item.dose, item.route, item.frequency, item.duration) if e]
    return [item]


# --- loaders ----------------------------------------------------------------------------------------

@deterministic(60)
@given(adversarial(NOTE_WORDS + QUOTES + ["{", "}", ",", '"id":', '"text":']), st.sampled_from(["jsonl", "txt", "csv"]))
def test_loaders_turn_any_file_into_documents_or_issues(text, fmt):
    records = [{"id": "n1", "text": text}, {"id": "n2", "text": text[::-1]}]
    body = {"jsonl": "\n".join([json.dumps(r) for r in records] + [text]),
            "txt": text,
            "csv": "id,text\n" + "\n".join(f'{r["id"]},"{r["text"]}"' for r in records)}[fmt]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"note.{fmt}"
        path.write_text(body, encoding="utf-8", errors="surrogatepass")
        results = list(iter_documents([path], "notes"))
    assert results and all(isinstance(r, (Document, IngestIssue)) for r in results)
    docs = [r for r in results if isinstance(r, Document)]
    assert len({d.id for d in docs}) == len(docs) and all(d.text.strip() for d in docs)
    if fmt == "jsonl" and text.strip():
        assert docs[0].text == text  # a note's text is kept verbatim: spans index into it


# --- huge pathological inputs, one per formerly backtracking pattern ----------------------------------

WATCHDOG_S = 30
MB = 1_000_000
BIG = 200_000  # quadratic in this is hours for the old patterns, and linear is milliseconds


@pytest.fixture
def hang_watchdog():
    """Fail a test still running after WATCHDOG_S. A hang detector, not a speed claim: these
    inputs made the old patterns backtrack for minutes to hours; they now take milliseconds."""
    if not hasattr(signal, "SIGALRM"):
        pytest.skip("the hang watchdog needs SIGALRM (POSIX)")

    def hung(signum, frame):
        raise TimeoutError(f"still running after {WATCHDOG_S} s: the input makes a pattern backtrack")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(WATCHDOG_S)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _no_match(pattern: re.Pattern[str], text: str) -> bool:
    return pattern.search(text) is None


PATHOLOGICAL = {
    # query understanding (the patterns themselves: `understand` refuses questions this long)
    "quoted title never closed": lambda: _no_match(query_lexicon.QUOTED, ' "' + "a b " * (MB // 4)),
    "duration over a digit run": lambda: _no_match(query_lexicon.DURATION, "9" * BIG + "x"),
    "dangling words before the topic": lambda: query._tidy("x" + " a" * BIG + " y").endswith("a y"),
    # sentences: every chunker and the citation parser split with them
    "punctuation run": lambda: sentence_spans("." * MB + "x") == [(0, MB + 1)],
    "note of punctuation": lambda: len(SectionChunker().chunk(Document("n", "HPI: " + "!?" * MB + "x"))) == 1,
    # citations
    "marker with a blank run": lambda: citations.parse_numbers("1" + " " * MB + "-2") == (1, 2),
    "blank run before a word": lambda: _no_match(citations._SPACE_BEFORE_PUNCT_RE, "a" + " " * MB + "b"),
    "answer with a blank run": lambda: citations.claim_text("a" + " \t" * MB + "b") == "a b",
    # clinical extraction
    "list separator": lambda: _no_match(findings.LIST_SEP_RE, "a" + " " * BIG + "b"),
    "symptom duration": lambda: _no_match(findings.DURATION_RE, "a" + " " * BIG + "b"),
    "history end": lambda: _no_match(findings._HISTORY_END_RE, "a" + " " * BIG + "b"),
    "diagnosis numbering": lambda: _no_match(findings._NUMBERING_RE, "a" + " \t" * BIG + "b"),
    "trailing qualifier": lambda: _no_match(findings.QUALIFIER_RE, "a" + " " * BIG + "b"),
    "negation separator": lambda: _no_match(negation._SEPARATOR_RE, "a" + " " * BIG + "b"),
    "trailing circumstance": lambda: _no_match(negation.CIRCUMSTANCE_RE, "a" + " " * BIG + "b"),
    "trailing punctuation": lambda: spans.trim("a" + " ," * BIG + "b", (0, 2 * BIG + 2)) == (0, 2 * BIG + 2),
    "closing bracket run": lambda: spans.trim("fever" + ")" * MB, (0, MB + 5)) == (0, 5),
    "quoted diagnosis list": lambda: _no_match(grounding._SPLITTERS["diagnoses"], "a" + " " * BIG + "b"),
    "dose chain without a unit": lambda: _no_match(medications.DOSE_RE, "0/" * (BIG // 4) + "x"),
    "follow-up cue run": lambda: follow_up.extract_follow_up("PCP " * (BIG // 8) + "x") is None,
}


@pytest.mark.parametrize("case", PATHOLOGICAL)
def test_huge_pathological_input_finishes(case, hang_watchdog):
    assert PATHOLOGICAL[case]()


def test_a_huge_note_goes_through_rule_extraction(hang_watchdog):
    filler = " " * 50_000
    note = ("HPI: presents with fever" + filler + "and cough" + filler + "x. Denies chest pain" + filler + "since"
            + filler + "y.\nA/P: 1. pneumonia" + filler + "stable" + filler + "z\nPLAN: apixaban " + "0/" * 50_000
            + "x; Follow up with " + "PCP " * 50_000 + "x")
    assert extract_note(note, mode="rules").fields.symptoms


# --- the question length limit --------------------------------------------------------------------

def test_a_question_over_the_limit_is_refused_with_its_length_and_the_fix(hang_watchdog):
    understand("a" * MAX_QUESTION_CHARS, today=TODAY)  # the limit itself is accepted
    too_long = ' "' + "a b " * MAX_QUESTION_CHARS  # also an unclosed quote: refused before any parsing
    with pytest.raises(QueryError) as refused:
        understand(too_long, today=TODAY, vocabulary=VOCABULARY)
    message = str(refused.value)
    assert f"{len(too_long)} characters" in message and str(MAX_QUESTION_CHARS) in message and "shorten" in message


def test_the_chat_shows_the_length_message_instead_of_failing(kbs):  # noqa: F811
    agent, _ = make_agent(kbs)
    *_, (messages, cards, status, _) = chat_turn(agent, None, "o" * 6000, "catalog")
    assert status == "failed" and cards == ""
    assert messages[-1]["content"].startswith("**Error:** question is 6000 characters long")
    assert "shorten" in messages[-1]["content"]
