"""The router evaluation: expected tools per golden case, and the counts on a tiny world."""
from __future__ import annotations

from agent_world import make_agent
from assistant.router_eval import evaluate, expected_tool
from evals.golden import GoldenCase


def case(**raw) -> GoldenCase:
    raw.setdefault("collection", "catalog")
    return GoldenCase(id=raw.get("id", "c"), collection=raw["collection"], question=raw.get("question", ""),
                      tags=tuple(raw.get("tags", ())), filters=raw.get("filters", {}), raw=raw)


def test_expected_tools() -> None:
    assert expected_tool(case(question="comedies like X", tags=["similar"])) == "similar_items"
    assert expected_tool(case(question="q", collection="notes")) == "search_notes"
    assert expected_tool(case(collection="notes", task="extract", note_id="note_0001")) == "extract_note"
    assert expected_tool(case(question="films about bees")) == "search_catalog"


def test_router_counts_on_the_tiny_world(kbs) -> None:
    agent, _ = make_agent(kbs, role="clinician")
    cases = [case(id="a", question="comedies like Silicon Valley", tags=["similar"], filters={"genres": "comedy", "type": "series"}),
             case(id="b", question="what was started for pt_0001?", collection="notes", filters={"patient_id": "pt_0001"}),
             case(id="c", collection="notes", task="extract", note_id="note_0001"),
             case(id="d", question="documentaries about the ocean", filters={})]
    result = evaluate(agent, cases)
    assert (result["tool"], result["route"], result["filters"], result["with_filters"]) == (4, 4, 2, 3)
    assert result["wrong"] == []
    user, _ = make_agent(kbs, role="user")
    assert evaluate(user, cases[2:3])["confusion"] == {("extract_note", "none"): 1}  # denied, never run
