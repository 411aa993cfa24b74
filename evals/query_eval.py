"""Query-understanding quality on a golden set: how often `assistant.query.understand` produces
the filters a perfect parser would (each golden case's `filters`), and what its mistakes cost
in retrieval — NDCG@10 with parsed filters against gold filters and against none.

Filter agreement is scored on (field, op, value) triples, one per value: {"type": ["film",
"series"]} is two triples, so an any-of list that is half right earns half credit. A case is an
exact match when the route is right and the triple sets are equal. Retrieval runs through
`evals.search_eval.evaluate` — the same `knowledge.retrieve.search` the assistant calls — with
the parsed filters (and, as a further variant, the parsed search text) swapped into the cases.
A case the parser routes away from the knowledge base's collection would be searched elsewhere
by the assistant, so it scores 0.

    python -m evals.query_eval --golden evals/golden/catalog_retrieval.jsonl --today 2026-11-22
"""
from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

from assistant.query import QueryPlan, Vocabulary, understand
from knowledge.filters import filters_from_dict
from knowledge.index import KnowledgeBase

from .golden import GoldenCase, load_golden
from .search_eval import Variant, evaluate

Triple = tuple[str, str, Any]
# Variants of retrieval_with_parsed_filters, in table order.
VARIANTS = ("none", "gold", "parsed", "parsed+text")


@dataclass(frozen=True)
class FieldScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        """1.0 when nothing was predicted: no filter invented is the right answer then."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def __add__(self, other: "FieldScore") -> "FieldScore":
        return FieldScore(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)


@dataclass(frozen=True)
class Disagreement:
    case_id: str
    question: str
    expected_route: str
    route: str
    gold: Mapping[str, Any]
    parsed: Mapping[str, Any]
    missing: tuple[Triple, ...]  # in gold, not parsed
    extra: tuple[Triple, ...]  # parsed, not in gold


@dataclass(frozen=True)
class FilterAccuracy:
    cases: int
    exact: int
    routed: int  # cases sent to their golden collection
    per_field: Mapping[str, FieldScore]
    disagreements: tuple[Disagreement, ...]

    @property
    def exact_rate(self) -> float:
        return self.exact / self.cases if self.cases else float("nan")

    @property
    def overall(self) -> FieldScore:
        return sum(self.per_field.values(), FieldScore())


def triples(spec: Mapping[str, Any], collection: str) -> set[Triple]:
    """A filter dict → its (field, op, value) triples, values normalised by knowledge.filters
    (so "Akira Kurosawa" == "akira kurosawa", 9 == 9.0, "2025-11-22" == 20251122)."""
    return {(f.field, f.op, v) for f in filters_from_dict(spec, collection) for v in f.values}


def _plan(case: GoldenCase, today: dt.date, vocabulary: Vocabulary | None) -> QueryPlan:
    return understand(case.question, today=today, vocabulary=vocabulary)


def _questions(cases: Sequence[GoldenCase]) -> list[GoldenCase]:
    return [c for c in cases if c.question.strip()]  # extraction cases have no question


def filter_accuracy(cases: Sequence[GoldenCase], today: dt.date, *,
                    vocabulary: Vocabulary | None = None) -> FilterAccuracy:
    """Exact-match rate, per-field precision/recall of triples, and every disagreement."""
    scored = _questions(cases)
    per_field: dict[str, FieldScore] = {}
    disagreements: list[Disagreement] = []
    exact = routed = 0
    for case in scored:
        plan = _plan(case, today, vocabulary)
        gold = triples(case.filters, case.collection)
        got = triples(plan.filters, plan.route) if plan.route != "chitchat" else set()
        for fld in {t[0] for t in gold | got}:
            g, p = {t for t in gold if t[0] == fld}, {t for t in got if t[0] == fld}
            per_field[fld] = per_field.get(fld, FieldScore()) + FieldScore(len(g & p), len(p - g), len(g - p))
        routed += plan.route == case.collection
        if plan.route == case.collection and gold == got:
            exact += 1
        else:
            disagreements.append(Disagreement(case.id, case.question, case.collection, plan.route, case.filters,
                                              plan.filters, tuple(sorted(gold - got, key=repr)),
                                              tuple(sorted(got - gold, key=repr))))
    return FilterAccuracy(len(scored), exact, routed, dict(sorted(per_field.items())), tuple(disagreements))


@dataclass(frozen=True)
class RetrievalComparison:
    ndcg: Mapping[str, Mapping[str, float]]  # mode → variant (VARIANTS) → mean NDCG@10
    cases: int  # answerable cases scored
    misrouted: tuple[str, ...]  # case ids the parser sent to another collection (scored 0)


def retrieval_with_parsed_filters(kb: KnowledgeBase, cases: Sequence[GoldenCase], today: dt.date, *,
                                  modes: Sequence[str] = ("dense", "hybrid"), vocabulary: Vocabulary | None = None,
                                  progress: bool = False) -> RetrievalComparison:
    """NDCG@10 per mode for four variants: the question with no filters, with the gold filters,
    with the parsed filters, and the parsed search text with the parsed filters."""
    vocabulary = vocabulary if vocabulary is not None else Vocabulary.from_knowledge_base(kb)
    mine = [c for c in _questions(cases) if c.collection == kb.collection]
    plans = {c.id: _plan(c, today, vocabulary) for c in mine}
    misrouted = tuple(cid for cid, p in plans.items() if p.route != kb.collection)

    def parsed(case: GoldenCase, text: bool) -> GoldenCase:
        plan = plans[case.id]
        if plan.route != kb.collection:
            return replace(case, filters={})  # scored 0 below; searched here only to keep shapes equal
        return replace(case, filters=plan.filters, question=plan.query if text else case.question)

    variants = {
        "none": (mine, lambda m: Variant(m, use_filters=False)),
        "gold": (mine, lambda m: Variant(m)),
        "parsed": ([parsed(c, False) for c in mine], lambda m: Variant(m)),
        "parsed+text": ([parsed(c, True) for c in mine], lambda m: Variant(m)),
    }
    ndcg: dict[str, dict[str, float]] = {}
    scored = 0
    for mode in modes:
        ndcg[mode] = {}
        for name, (variant_cases, make) in variants.items():
            (result,) = evaluate(kb, variant_cases, [make(mode)], progress=progress)
            if name.startswith("parsed"):
                for cid in misrouted:
                    if cid in result.per_case:
                        result.per_case[cid] = {metric: 0.0 for metric in result.per_case[cid]}
            ndcg[mode][name] = result.mean("NDCG@10")
            scored = len(result.per_case)
    return RetrievalComparison(ndcg, scored, misrouted)


# --- reports --------------------------------------------------------------------------------

def format_accuracy(acc: FilterAccuracy) -> str:
    lines = [f"filter exact match {acc.exact}/{acc.cases} = {acc.exact_rate:.3f}; routed {acc.routed}/{acc.cases}",
             f"{'field':<14}{'P':>7}{'R':>7}{'tp':>5}{'fp':>5}{'fn':>5}"]
    for name, s in [*acc.per_field.items(), ("(all)", acc.overall)]:
        lines.append(f"{name:<14}{s.precision:>7.3f}{s.recall:>7.3f}{s.tp:>5}{s.fp:>5}{s.fn:>5}")
    for d in acc.disagreements:
        lines.append(f"  {d.case_id} {d.question!r}: route {d.route} (want {d.expected_route}); "
                     f"missing {list(d.missing)} extra {list(d.extra)}")
    return "\n".join(lines)


def format_comparison(cmp: RetrievalComparison) -> str:
    lines = [f"NDCG@10 over {cmp.cases} answerable cases" + "".join(f"{v:>13}" for v in VARIANTS)]
    lines += [f"  {mode:<32}" + "".join(f"{row[v]:>13.3f}" for v in VARIANTS) for mode, row in cmp.ndcg.items()]
    if cmp.misrouted:
        lines.append(f"misrouted (scored 0): {', '.join(cmp.misrouted)}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--golden", default="evals/golden/catalog_retrieval.jsonl")
    parser.add_argument("--today", type=dt.date.fromisoformat, default=dt.date(2026, 11, 22),
                        help="the date relative phrases resolve against (the demo golden set's is 2026-11-22)")
    parser.add_argument("--collection", default="catalog")
    parser.add_argument("--modes", nargs="+", default=["dense", "hybrid"])
    parser.add_argument("--no-retrieval", action="store_true", help="score filters only (no index needed)")
    args = parser.parse_args(argv)
    cases = load_golden(args.golden)
    kb = KnowledgeBase(args.collection)
    try:
        vocabulary = Vocabulary.from_knowledge_base(kb)
        print(format_accuracy(filter_accuracy(cases, args.today, vocabulary=vocabulary)))
        if not args.no_retrieval:
            print(format_comparison(retrieval_with_parsed_filters(kb, cases, args.today, modes=args.modes,
                                                                  vocabulary=vocabulary, progress=True)))
    finally:
        kb.close()


if __name__ == "__main__":
    main()
