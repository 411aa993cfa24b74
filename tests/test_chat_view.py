"""Chat rendering and streaming: source cards match the [n] markers and highlight the cited span,
flagged and refused answers look different, HTML from documents is escaped, the stream ends with
exactly one final update, and UI filters override the parser's."""
from __future__ import annotations

import threading

from agent_world import kbs, make_agent, supported  # noqa: F401 - kbs is a fixture
from assistant.answer import Answer, Citation
from assistant.chat_stream import model_lock, stream_ask
from assistant.chat_view import NO_ANSWER_TITLE, SourceCard, answer_markdown, answer_status, cards_html, \
    markers_of, source_cards
from assistant.llm import FakeLLM
from assistant.memory import Conversation
from knowledge.types import Chunk


def _chunk(n: int, text: str, start: int = 100, **meta) -> Chunk:
    return Chunk(f"c{n}", f"d{n}", text, (start, start + len(text)), {"title": f"T{n}", "type": "film",
                                                                     "year": 2000 + n, **meta})


def _answer(text="Alien is a film [1].", *, refused=False, trace=None) -> Answer:
    chunks = [_chunk(1, "Alien is a 1979 film. It is set in space."), _chunk(2, "Other <b>bold</b> text.")]
    citations = [] if refused else [Citation(1, "d1", "c1", (100, 121), 0.91)]
    return Answer(text, citations, chunks, [], refused, trace or {}, {"total_s": 2.0, "pipeline_ttft_s": 0.5})


def test_cards_match_markers_and_highlight_the_cited_sentence():
    answer = _answer()
    cards = source_cards(answer)
    assert [c.n for c in cards] == markers_of(answer.text) == [1]
    card = cards[0]
    assert (card.title, card.kind, card.year, card.doc_id) == ("T1", "film", "2001", "d1")
    assert card.passage[slice(*card.highlight)] == "Alien is a 1979 film."  # span 100..121 minus chunk start 100
    assert card.to_dict()["quote"] == "Alien is a 1979 film."
    html = cards_html(cards)
    assert '<mark>Alien is a 1979 film.</mark> It is set in space.' in html and 'id="source-1"' in html
    assert "support 0.91" in html


def test_document_markup_is_escaped():
    chunk = _chunk(1, "<script>alert(1)</script> A film.")
    card = SourceCard(1, "<i>T</i>", "film", "2001", "", "d1", chunk.text, (0, 8), None)
    html = cards_html([card])
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;i&gt;T&lt;/i&gt;" in html


def test_highlight_outside_passage_is_rejected():
    try:
        SourceCard(1, "T", "", "", "", "d", "abc", (1, 9), None)
    except ValueError as exc:
        assert "(1, 9)" in str(exc)
    else:
        raise AssertionError("a highlight past the passage must be rejected")


def test_refused_answer_shows_the_no_answer_state_and_no_cards():
    answer = _answer("I could not find this in the sources.", refused=True,
                     trace={"refusal_reason": "no sentence of the reply is supported by its sources"})
    md = answer_markdown(answer)
    assert md.startswith(f"**{NO_ANSWER_TITLE}** (2 passages searched)")
    assert source_cards(answer) == [] and "No sources cited" in cards_html([])
    assert answer_status(answer).startswith("refused: no sentence")


def test_flagged_and_removed_sentences_are_visible():
    text = "Alien is a film [1]. It won five Oscars. [unverified]"
    answer = _answer(text, trace={"flagged": ["It won five Oscars. [unverified]"], "removed": ["X.", "Y."]})
    md = answer_markdown(answer)
    assert "⚠ *It won five Oscars.* (unverified" in md and "[unverified]" not in md
    assert "2 sentences removed" in md


def test_markers_of_expands_ranges_and_dedupes():
    assert markers_of("a [2] b [1-3] c [2][4]") == [2, 1, 3, 4]


def test_stream_yields_pieces_then_one_final_answer(kbs):  # noqa: F811
    agent, _ = make_agent(kbs, FakeLLM(default="Deep Blue is about the ocean [1].",
                                       logprob_tables=[supported()] * 20))
    conversation = Conversation()
    updates = list(stream_ask(agent, "documentaries about the ocean", conversation=conversation))
    assert [u.final for u in updates].count(True) == 1 and updates[-1].final
    assert len(updates) > 2  # streamed word by word, not in one piece
    assert updates[-2].partial.startswith("Deep Blue is about")
    final = updates[-1].answer
    assert final is not None and not final.refused and markers_of(final.text) == [c.n for c in source_cards(final)]
    assert len(conversation.turns) == 1  # memory is per session and kept by the caller
    # the sources come first, before any model text; the verified sentence before the answer
    assert updates[0].sources and updates[0].partial == "" and updates[0].verified == ()
    assert updates[-2].verified == ("Deep Blue is about the ocean [1].",) and updates[-1].verified == updates[-2].verified


def test_stream_reports_errors_instead_of_hanging(kbs):  # noqa: F811
    class Broken(FakeLLM):
        def _stream(self, request):
            raise RuntimeError("disk on fire")
            yield  # pragma: no cover

    agent, _ = make_agent(kbs, Broken(default="x"))
    updates = list(stream_ask(agent, "documentaries about the ocean"))
    assert updates[-1].error == "the assistant failed: RuntimeError: disk on fire" and updates[-1].answer is None
    assert updates[-1].sources and updates[-1].verified == ()  # the sources were found; nothing was verified


def test_ui_filters_override_the_parser(kbs):  # noqa: F811
    agent, _ = make_agent(kbs)
    step = agent.route("documentaries about the ocean", filters={"year": {"gte": 2021}})
    assert step.call.args["filters"] == {"type": "documentary", "year": {"gte": 2021}}
    answer = agent.ask("documentaries about the ocean", filters={"year": {"gte": 2021}})
    assert {c.doc_id for c in answer.chunks} <= {"d1", "d3"}


def test_model_lock_is_shared_per_model():
    a, b = FakeLLM(default="x"), FakeLLM(default="y")
    assert model_lock(a) is model_lock(a) and model_lock(a) is not model_lock(b)
    assert isinstance(model_lock(a), type(threading.Lock()))


def test_form_filters():
    from assistant.chat_view import form_filters

    assert form_filters() == {} and form_filters("Any", None, None, " ") == {} and form_filters("any", 0, 0) == {}
    assert form_filters("Documentary", 2020, None, "Nature, science") == {
        "type": "documentary", "year": {"gte": 2020}, "genres": ["nature", "science"]}
    try:
        form_filters(None, 2024, 2020)
    except ValueError as exc:
        assert "2024 is after year to 2020" in str(exc)
    else:
        raise AssertionError("an upside-down year range must be rejected")
