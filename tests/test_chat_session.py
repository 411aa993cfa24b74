"""The chat tab's core (assistant/chat_session.py) with a scripted model over the tiny agent world:
streaming then the verified answer with its cards, memory per session, form filters, regenerate,
no notes for a user, the chat log, and 👍/👎 feedback landing in the grades database."""
from __future__ import annotations

import pytest

from agent_world import kbs, make_agent, supported  # noqa: F401 - kbs is a fixture
from assistant.chat_session import chat_feedback, chat_turn, regenerate, reset_chat
from assistant.llm import FakeLLM
from evals.grading.chatlog import chat_log_path, read_turns
from evals.grading.store import GradeStore


@pytest.fixture
def agent_for(kbs):  # noqa: F811
    def make(role="user", collection="catalog", reply="Deep Blue is about the ocean [1]."):
        agent, _ = make_agent(kbs, FakeLLM(default=reply, logprob_tables=[supported()] * 200), role=role,
                              collection=collection, policy="flag")
        return agent
    return make


def test_streams_then_shows_the_verified_answer_and_cards(agent_for):
    updates = list(chat_turn(agent_for(), None, "documentaries about the ocean", "catalog"))
    assert len(updates) > 2 and [u[2] for u in updates[:-1]] == ["answering…"] * (len(updates) - 1)
    messages, cards, status, session = updates[-1]
    assert messages[0] == {"role": "user", "content": "documentaries about the ocean"}
    assert messages[1]["content"].startswith("Deep Blue is about the ocean \\[1\\]")  # escaped: shows "[1]"
    assert 'id="source-1"' in cards and "<mark>" in cards and "sentences supported" in status
    assert session.last["answer"]["citations"][0]["n"] == 1 and session.last["role"] == "user"


def test_follow_ups_read_the_same_sessions_memory(agent_for):
    agent = agent_for()
    *_, (_, _, _, session) = chat_turn(agent, None, "documentaries about the ocean", "catalog")
    *_, (messages, _, _, session) = chat_turn(agent, session, "and which of those are from 2023?", "catalog")
    assert len(messages) == 4 and len(session.conversation.turns) == 2
    assert session.conversation.turns[-1].plan.filters.get("doc_id")
    _, _, _, fresh = reset_chat()
    assert fresh.conversation.turns == [] and fresh.messages == []


def test_form_filters_apply_and_bad_ones_are_reported(agent_for):
    *_, (_, _, _, session) = chat_turn(agent_for(), None, "documentaries about the ocean", "catalog",
                                       "documentary", 2021, None, "")
    assert {s["doc_id"] for s in session.last["answer"]["sources"]} <= {"d1", "d3"}
    assert session.last["filters"] == {"type": "documentary", "year": {"gte": 2021}}
    (_, _, status, _), = chat_turn(agent_for(), None, "ocean films", "catalog", None, 2024, 2020, None)
    assert status.startswith("**Filter error:** year from 2024 is after year to 2020")
    (_, _, status, _), = chat_turn(agent_for(), None, "  ", "catalog")
    assert status == "Type a question first."


def test_a_user_never_gets_notes_through_the_chat(agent_for):
    *_, (messages, cards, _, session) = chat_turn(agent_for("user", "notes"), None,
                                                  "what was started for the cough?", "notes")
    assert "role does not allow" in messages[-1]["content"] and "azithromycin" not in messages[-1]["content"]
    assert "azithromycin" not in cards and session.last["answer"]["sources"] == []
    assert all("azithromycin" not in t.answer for t in read_turns(chat_log_path()))


def test_regenerate_replaces_the_last_turn(agent_for):
    agent = agent_for()
    *_, (_, _, _, session) = chat_turn(agent, None, "documentaries about the ocean", "catalog")
    *_, (messages, _, _, session) = regenerate(agent, session, "catalog")
    assert len(messages) == 2 and len(session.conversation.turns) == 1
    (_, _, status, _), = regenerate(agent, None, "catalog")
    assert status == "Nothing to regenerate yet."


def test_refused_answer_shows_the_no_answer_state(agent_for):
    *_, (messages, cards, _, _) = chat_turn(agent_for(reply="I could not find this in the sources."), None,
                                            "documentaries about the ocean", "catalog")
    assert messages[-1]["content"].startswith("**No answer in the sources**") and "No sources cited" in cards


def test_turns_are_logged_and_feedback_is_stored_for_graders(agent_for, tmp_path):
    store = GradeStore(tmp_path / "grades.sqlite")
    assert chat_feedback(store, "user", "ann", None, "up").startswith("Ask a question first")
    *_, (_, _, _, session) = chat_turn(agent_for(), None, "documentaries about the ocean", "catalog", user="ann")
    turns = read_turns(chat_log_path())
    assert [t.question for t in turns] == ["documentaries about the ocean"] and turns[0].user == "ann"
    assert turns[0].cited_ids == ("d1",) and turns[0].collection == "catalog"
    assert chat_feedback(store, "user", "ann", session, "down", "too short ") == "Thanks — feedback (not helpful) saved."
    (feedback,) = store.feedback(role="expert")
    assert (feedback.thumb, feedback.reason, feedback.user, feedback.turn_id) == ("down", "too short", "ann",
                                                                                  turns[0].turn_id)
    assert [i.question for i in store.queue("eve", role="expert")] == ["documentaries about the ocean"]
    with pytest.raises(Exception, match="may not"):
        store.feedback(role="user")  # the asker cannot read feedback back


def test_unlogged_turns_stay_out_of_the_chat_log(agent_for):
    list(chat_turn(agent_for(), None, "documentaries about the ocean", "catalog", log=False))
    assert not chat_log_path().exists()
