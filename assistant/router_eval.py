"""Does the router pick the right tool? Tool-choice, route and filter accuracy of the agent's
deterministic protocol on the golden sets — no model is called (`python -m assistant.router_eval`).

Expected tool per golden case: `similar_items` for the "like X" cases (tag `similar`),
`search_notes` for notes questions, `extract_note` for extraction cases (asked as "extract the
fields of <note id>"), `search_catalog` for every other catalog question. Filters are compared
with the case's `filters` as a dict (what a perfect parser would produce).
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections import Counter
from pathlib import Path
from typing import Sequence

from assistant.agent import Agent, AgentConfig
from assistant.llm.fake import FakeLLM
from evals.golden import GoldenCase, load_golden
from knowledge.provenance import ROOT

GOLDEN = ("catalog_retrieval.jsonl", "catalog_qa.jsonl", "notes_qa.jsonl", "notes_extraction.jsonl")
TODAY = dt.date(2026, 11, 22)  # the demo golden sets' today


def expected_tool(case: GoldenCase) -> str:
    if case.raw.get("task") == "extract":
        return "extract_note"
    if case.collection == "notes":
        return "search_notes"
    return "similar_items" if "similar" in case.tags else "search_catalog"


def question_of(case: GoldenCase) -> str:
    return case.question or f"extract the fields of {case.raw['note_id']}"


def evaluate(agent: Agent, cases: Sequence[GoldenCase]) -> dict[str, object]:
    """Counts of right tool / route / filters, and the cases the router got wrong."""
    tools = routes = filters = with_filters = 0
    wrong: list[str] = []
    confusion: Counter[tuple[str, str]] = Counter()
    for case in cases:
        step = agent.route(question_of(case))
        got = step.call.name if step.call else "none"
        want = expected_tool(case)
        confusion[(want, got)] += 1
        tools += got == want
        routes += step.plan.route == case.collection
        if "filters" in case.raw and case.raw.get("task") != "extract":
            with_filters += 1
            filters += step.plan.filters == case.filters
        if got != want:
            wrong.append(f"{case.id}: {question_of(case)!r} -> {got} (want {want})")
    return {"cases": len(cases), "tool": tools, "route": routes, "filters": filters, "with_filters": with_filters,
            "confusion": dict(confusion), "wrong": wrong}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assistant.router_eval", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("golden", nargs="*", type=Path, help="golden files (default: the four demo sets)")
    args = parser.parse_args(argv)
    paths = args.golden or [ROOT / "evals" / "golden" / name for name in GOLDEN]
    agent = Agent(FakeLLM(), AgentConfig(role="clinician", today=TODAY))
    print(f"{'golden set':28s} {'cases':>5s} {'tool':>7s} {'route':>7s} {'filters':>9s}")
    for path in paths:
        r = evaluate(agent, load_golden(path))
        n = r["cases"]
        filt = f"{r['filters']}/{r['with_filters']}" if r["with_filters"] else "-"
        print(f"{path.name:28s} {n:5d} {r['tool']:3d}/{n:<3d} {r['route']:3d}/{n:<3d} {filt:>9s}")
        for line in r["wrong"]:
            print(f"    {line}")
    agent.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
