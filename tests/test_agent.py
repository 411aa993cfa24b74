"""The agent protocol with a scripted model over a tiny catalog + notes: the router's one tool
call per question, roles enforced before any index opens, conversation follow-ups, the
LangChain tool wrapping, planted instructions, and the `cairn ask` shell."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.agent import Agent, AgentConfig, AgentError, route_tool
from assistant.llm import FakeLLM
from assistant.memory import Conversation, Turn
from assistant.prompts import REFUSAL_TEXT
from assistant.query import understand
from assistant.roles import ACCESS_DENIED_TEXT, RoleError
from assistant.tools.base import ToolContext
from agent_world import TODAY, make_agent, supported
from fakes import HashEmbedder
from knowledge.config import KnowledgeConfig
from knowledge.errors import KnowledgeError
from knowledge.index import KnowledgeBase
from knowledge.similar import ItemNotFoundError, find_title, similar_items

# -- the router -----------------------------------------------------------------------------------

@pytest.mark.parametrize("question, tool, args", [
    ("comedies like Silicon Valley", "similar_items", {"title": "Silicon Valley", "filters": {"genres": "comedy", "type": "series"}}),
    ("documentaries about the ocean from 2023", "search_catalog", {"query": "the ocean", "filters": {"type": "documentary", "year": 2023}}),
    ("what medications were started for pt_0001?", "search_notes", {"filters": {"patient_id": "pt_0001"}}),
    ("extract symptoms, vitals and follow-up from note_0001", "extract_note", {"note_id": "note_0001"}),
    ("show me note_0002", "get_item", {"doc_id": "note_0002", "collection": "notes"}),
    ("what is d2 about?", "search_catalog", {}),  # "d2" is not an id pattern: a plain search
])
def test_router_makes_one_structured_tool_call(kbs, question, tool, args) -> None:
    agent, _ = make_agent(kbs, role="clinician")
    step = agent.route(question)
    assert step.call is not None and step.call.name == tool
    for key, value in args.items():
        assert step.call.args[key] == value, step.call.args


def test_chitchat_needs_no_tool_and_no_model(kbs) -> None:
    llm = FakeLLM()
    agent, _ = make_agent(kbs, llm=llm, role="user")
    answer = agent.ask("hello!")
    assert agent.route("hello!").call is None
    assert "catalog" in answer.text and "clinical notes" not in answer.text
    assert llm.calls == [] and answer.citations == []


def test_route_tool_is_pure_over_a_plan() -> None:
    from assistant.memory import Resolution
    from assistant.query import understand

    plan = understand("podcasts about the sea", today=TODAY)
    call = route_tool(plan, Resolution(plan, "new"), k_catalog=3)
    assert (call.name, call.args) == ("search_catalog", {"query": "the sea", "filters": {"type": "podcast"}, "k": 3})


# -- roles ----------------------------------------------------------------------------------------

def test_a_user_never_reaches_the_notes(kbs) -> None:
    llm = FakeLLM()
    agent, opener = make_agent(kbs, llm=llm, role="user")
    answer = agent.ask("what medications with doses were started for patient pt_0001?")
    assert answer.refused and answer.text == ACCESS_DENIED_TEXT and answer.chunks == []
    assert "notes" not in opener.opened and llm.calls == []
    assert "search_notes" not in agent.langchain_tools()
    with pytest.raises(RoleError, match="may not read the notes"):
        ToolContext(role="user", open_kb=opener).kb("notes")
    assert "notes" not in opener.opened  # refused before the index was opened


def test_a_clinician_gets_cited_note_sections(kbs) -> None:
    llm = FakeLLM(default="Azithromycin 500 mg PO daily was started [1].", logprob_tables=[supported()] * 5)
    agent, _ = make_agent(kbs, llm=llm, role="clinician")
    answer = agent.ask("what medications were started for pt_0001?")
    assert not answer.refused, answer.trace
    assert {c.doc_id for c in answer.citations} == {"note_0001"}
    assert all(c.metadata["patient_id"] == "pt_0001" for c in answer.chunks)


def test_config_errors_name_the_fix() -> None:
    with pytest.raises(AgentError, match="role='nurse'"):
        AgentConfig(role="nurse")
    with pytest.raises(AgentError, match="k_catalog=0"):
        AgentConfig(k_catalog=0)


# -- answers --------------------------------------------------------------------------------------

def test_ask_answers_with_citations_trace_and_stage_timings(kbs) -> None:
    agent, _ = make_agent(kbs, role="user")
    pieces: list[str] = []
    answer = agent.ask("documentaries about the ocean from 2023", stream_callback=pieces.append)
    assert "".join(pieces) == answer.trace["raw_answer"]
    assert [c.doc_id for c in answer.citations] == ["d1"]
    assert answer.trace["tool"]["name"] == "search_catalog"
    assert answer.trace["plan"]["filters"] == {"type": "documentary", "year": 2023}
    for stage in ("route_s", "retrieve_s", "generate_s", "verify_s", "pipeline_ttft_s", "total_s"):
        assert answer.timings[stage] is not None and answer.timings[stage] >= 0, stage
    assert answer.timings["pipeline_ttft_s"] <= answer.timings["total_s"]


def test_similar_items_excludes_the_anchor_and_keeps_the_constraint(kbs) -> None:
    kb = kbs["catalog"]
    assert find_title(kb, "silicon valley!").doc_id == "s1"
    assert find_title(kb, "Silicon").exact is False
    with pytest.raises(ItemNotFoundError, match="no item titled 'Breaking Glass'"):
        find_title(kb, "Breaking Glass")
    from knowledge.filters import filters_from_dict

    hits = similar_items(kb, "s1", filters=filters_from_dict({"genres": "comedy"}, "catalog"), k=5)
    assert [h.doc_id for h in hits] == ["s2"]  # the only other comedy; never s1 itself
    anyone = similar_items(kb, "s1", k=10)
    assert "s1" not in [h.doc_id for h in anyone] and anyone[0].doc_id == "s2"
    assert [h.score for h in anyone] == sorted((h.score for h in anyone), reverse=True)


def test_planted_instructions_do_not_change_the_answer(kbs) -> None:
    # The model obeys the planted text; the verifier finds nothing supporting "PWNED".
    llm = FakeLLM(default="PWNED", logprob_tables=[supported(0.02)] * 10)
    agent, _ = make_agent(kbs, llm=llm, role="user")
    answer = agent.ask("podcasts about the ocean")
    assert "p1" in [c.doc_id for c in answer.chunks]
    assert answer.trace["injection_suspects"]
    assert answer.refused and answer.text == REFUSAL_TEXT and "PWNED" not in answer.text


def test_empty_collection_is_a_clear_error(tmp_path: Path) -> None:
    empty = KnowledgeBase("catalog", KnowledgeConfig(), embedder=HashEmbedder(), root=tmp_path)
    agent = Agent(FakeLLM(), AgentConfig(today=TODAY), open_kb=lambda c: empty)
    with pytest.raises(KnowledgeError, match="catalog collection is empty; ingest it first"):
        agent.ask("documentaries about the ocean")


# -- conversation memory ----------------------------------------------------------------------------

def test_follow_up_narrows_the_previous_sources(kbs) -> None:
    agent, _ = make_agent(kbs, role="user")
    conversation = Conversation()
    first = agent.ask("documentaries about the ocean", conversation=conversation)
    shown = {c.doc_id for c in first.chunks}
    assert {"d1", "d2"} <= shown
    step = agent.route("and which of those are from 2023?", conversation)
    assert step.resolution.kind == "refers_back"
    assert step.call.args["filters"]["year"] == 2023 and set(step.call.args["filters"]["doc_id"]) == shown
    assert step.call.args["query"] == first.trace["plan"]["query"]
    second = agent.ask("and which of those are from 2023?", conversation=conversation)
    assert {c.doc_id for c in second.chunks} == {"d1"}
    # The model saw the earlier exchange.
    answer_call = [c for c in agent.llm.calls if c.kind == "stream"][-1]
    contents = [m["content"] for m in answer_call.messages]
    assert "documentaries about the ocean" in contents


def test_history_turns_is_the_one_limit_on_what_the_model_sees(kbs) -> None:
    conversation = Conversation()
    for i in range(3):
        conversation.add(Turn(f"question {i}", understand(f"question {i}", today=TODAY), f"answer {i}"))
    assert [m["content"] for m in conversation.history(2)] == ["question 1", "answer 1", "question 2", "answer 2"]
    assert conversation.history(0) == []
    agent, _ = make_agent(kbs, role="user", history_turns=1)
    agent.ask("documentaries about the ocean", conversation=conversation)
    contents = [m["content"] for m in [c for c in agent.llm.calls if c.kind == "stream"][-1].messages]
    assert "question 2" in contents and "question 1" not in contents


def test_elliptical_follow_up_keeps_the_topic_and_changes_a_constraint(kbs) -> None:
    agent, _ = make_agent(kbs, role="user")
    conversation = Conversation()
    agent.ask("documentaries about the ocean from 2023", conversation=conversation)
    step = agent.route("what about in French?", conversation)
    assert step.resolution.kind == "elliptical"
    assert step.call.args["filters"] == {"type": "documentary", "year": 2023, "language": "fr"}
    assert step.call.args["query"] == "the ocean"


def test_ordinal_follow_up_fetches_that_source(kbs) -> None:
    agent, _ = make_agent(kbs, role="user")
    conversation = Conversation()
    first = agent.ask("documentaries about the ocean", conversation=conversation)
    second_id = list(dict.fromkeys(c.doc_id for c in first.chunks))[1]
    step = agent.route("tell me more about the second one", conversation)
    assert (step.call.name, step.call.args["doc_id"]) == ("get_item", second_id)
    # A time phrase is not an ordinal.
    assert agent.route("documentaries from the last year", conversation).resolution.kind != "ordinal"


def test_a_new_topic_is_not_a_follow_up(kbs) -> None:
    agent, _ = make_agent(kbs, role="user")
    conversation = Conversation()
    agent.ask("documentaries about the ocean", conversation=conversation)
    step = agent.route("comedy series about programmers", conversation)
    assert step.resolution.kind == "new" and "doc_id" not in step.call.args["filters"]


# -- LangChain tools and the CLI --------------------------------------------------------------------

def test_tools_are_langchain_tools_with_artifacts(kbs) -> None:
    agent, _ = make_agent(kbs, role="clinician")
    tools = agent.langchain_tools()
    assert {"search_catalog", "search_notes", "get_item", "similar_items"} <= set(tools)
    message = tools["search_catalog"].invoke({"name": "search_catalog", "id": "call_1", "type": "tool_call",
                                              "args": {"query": "ocean", "filters": {"type": "documentary"}, "k": 2}})
    assert message.tool_call_id == "call_1" and message.content.startswith("[1] ")
    assert len(message.artifact.hits) == 2
    assert all(h.chunk.metadata["type"] == "documentary" for h in message.artifact.hits)
    schema = tools["similar_items"].tool_call_schema.model_json_schema()
    assert schema["required"] == ["title"]


def test_cli_ask_json(kbs, monkeypatch, capsys) -> None:
    import assistant.agent as agent_module
    import assistant.llm.config as llm_config
    from cli import main

    monkeypatch.setattr(llm_config, "load_llm", lambda config: FakeLLM(
        default="Deep Blue is about the ocean [1].", logprob_tables=[supported()] * 5))
    monkeypatch.setattr(agent_module, "KnowledgeBase", lambda collection: kbs[collection])
    monkeypatch.setattr(kbs["catalog"], "close", lambda: None)
    monkeypatch.setattr(kbs["notes"], "close", lambda: None)
    assert main(["ask", "documentaries about the ocean from 2023", "--json", "--today", "2026-11-22",
                 "--role", "user"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["citations"][0]["doc_id"] == "d1" and "ocean" in out["citations"][0]["quote"]
    assert out["trace"]["tool"]["name"] == "search_catalog"


# -- the real model (slow) ---------------------------------------------------------------------------

@pytest.mark.slow
def test_real_model_answers_through_the_agent(kbs, real_model) -> None:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    from assistant.llm import LLMConfig, load_llm

    gguf = next(real_model("qwen2.5-coder-0.5b").glob("*.gguf"))
    llm = load_llm(LLMConfig(model=str(gguf), n_threads=1, n_ctx=2048))
    try:
        agent = Agent(llm, AgentConfig(role="clinician", today=TODAY, max_tokens=80), open_kb=lambda c: kbs[c])
        conversation = Conversation()
        answer = agent.ask("Which documentary about the ocean is from 2023?", conversation=conversation)
        assert answer.trace["tool"]["name"] == "search_catalog"
        assert [c.doc_id for c in answer.chunks] == ["d1"]  # the filters leave one source
        assert not answer.refused, answer.trace
        assert {c.doc_id for c in answer.citations} == {"d1"}
        for citation in answer.citations:
            text = kbs["catalog"].store.get_document(citation.doc_id).text
            assert text[citation.span[0]:citation.span[1]].strip()
        # The same question twice gives the same answer (greedy decoding).
        again = agent.ask("Which documentary about the ocean is from 2023?")
        assert again.text == answer.text
    finally:
        llm.close()


def test_extract_note_answers_with_evidence_cited_by_section(kbs) -> None:
    # The scripted model never returns valid JSON: extraction falls back to the rules, and says so.
    agent, _ = make_agent(kbs, llm=FakeLLM(default="not json"), role="clinician")
    answer = agent.ask("extract the symptoms, medications and follow-up from note_0001")
    assert answer.trace["tool"]["name"] == "extract_note" and answer.trace["tool"]["trace"]["fell_back"]
    assert not answer.refused and "Medications: azithromycin 500 mg PO daily" in answer.text
    note = kbs["notes"].store.get_document("note_0001").text
    quoted = [note[c.span[0]:c.span[1]] for c in answer.citations]
    assert any("azithromycin 500 mg PO daily" in q for q in quoted)
    assert "Negated findings: chest pain" in answer.text and "Symptoms: cough" in answer.text
    user, _ = make_agent(kbs, llm=FakeLLM(), role="user")
    denied = user.ask("extract the symptoms from note_0001")
    assert denied.refused and denied.chunks == []


def test_query_transforms_run_inside_the_search_tool(kbs) -> None:
    from assistant.transforms import TransformConfig

    llm = FakeLLM(["1. whales crossing the sea\n2. ocean giants", "Deep Blue is about the ocean [1]."],
                  logprob_tables=[supported()] * 5)
    agent, _ = make_agent(kbs, llm=llm, role="user",
                          transforms=TransformConfig(multi_query=True, hyde=False, gate="always", n_queries=2))
    shown: list[tuple[list[str], int]] = []
    answer = agent.ask("documentaries about the ocean from 2023",
                       on_sources=lambda chunks: shown.append(([c.doc_id for c in chunks], len(llm.calls))))
    transforms = answer.trace["tool"]["trace"]["transforms"]
    assert transforms["fired"] and transforms["queries"] == ["whales crossing the sea", "ocean giants"]
    # the first pass is shown before the rewrites are generated, the fused list before the answer
    assert [calls for _, calls in shown] == [0, 1] and shown[-1][0] == [c.doc_id for c in answer.chunks]
    assert 0 <= answer.timings["sources_s"] <= answer.timings["total_s"]
    assert {c.doc_id for c in answer.chunks} == {"d1"}  # the rewrites kept the filters
    assert answer.timings["transforms_s"] >= 0 and answer.timings["retrieve_s"] >= 0
