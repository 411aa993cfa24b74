"""Query transforms for a weak first pass: multi-query rewriting and HyDE, fused with the first pass by RRF.

    query + filters ──▶ first pass (knowledge.retrieve.search, the chat's own retrieval)
                             │
                  evidence_strength(candidates): do dense and BM25 agree on the top 10 documents?
                             │
            strong (≥ weak_threshold) ──▶ the first pass, unchanged
            weak, or gate="always"    ──▶ multi-query: the LLM writes n rewrites ─▶ search each (SAME filters, mode)
                                          HyDE: the LLM writes a catalog-style passage ─▶ dense search on
                                                its embedding (SAME filters)
                                      ──▶ reciprocal-rank fusion of [first pass, rewrite_1..n, hyde]
                                          over documents ─▶ k hits, one per document

References (the ideas; the code is ours):
  - HyDE: Gao, Ma, Lin & Callan 2022, "Precise Zero-Shot Dense Retrieval without Relevance
    Labels": an instruction-following LM writes a *hypothetical* document answering the query; its
    embedding is searched instead of the query's, because document-to-document similarity is what
    an unsupervised dense encoder captures best. The paper averages several samples with the
    query vector; we take one greedy passage (temperature 0, reproducible) and keep the query in
    play by fusing with the first pass instead.
  - Multi-query: LangChain's MultiQueryRetriever (an LLM writes alternative phrasings, the union
    of their results is returned) and RAG-Fusion (Raudaschl 2023: the same, fused by RRF).
  - RRF: Cormack, Clarke & Büttcher 2009 (`knowledge.fusion`).

Why a gate at all: each transform costs one LLM call (seconds on CPU) and, on a good first pass,
mostly adds noise. The gate is a first-pass signal that costs nothing extra: the overlap of the
dense and the BM25 top-10 document sets (`evidence_strength`). When two retrievers that fail
in different ways agree, the first pass is usually right. Measured on the catalog golden set
(65 answerable cases, filters parsed by `assistant.query.understand`), this Jaccard overlap
separates first passes with NDCG@10 >= 0.5 from worse ones at ROC AUC 0.74; the top hit's
cosine (0.52), the top fused RRF score (0.47) and the mean top-5 cosine (0.67) separate worse.
Defaults follow the ablation (`python -m assistant.transforms_eval`, numbers in TransformConfig):
HyDE on behind the gate, multi-query off.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any, Literal, Sequence, get_args

from knowledge.errors import CairnError
from knowledge.filters import Filter
from knowledge.fusion import reciprocal_rank_fusion
from knowledge.index import KnowledgeBase
from knowledge.retrieve import search
from knowledge.types import Hit

from .llm.base import ChatLLM, LLMError, Message

Gate = Literal["weak", "always"]
GATES: tuple[str, ...] = get_args(Gate)
TRANSFORMS: tuple[str, ...] = ("multi_query", "hyde")


class TransformConfigError(CairnError):
    """A TransformConfig value that cannot work; the message names the value and the fix."""


@dataclass(frozen=True)
class TransformConfig:
    """Which query transforms run, and when.

    Fields:
        multi_query: ask the LLM for `n_queries` rewrites and search each. Default OFF: it did not
            help in the golden-set ablation (qwen2.5-coder-1.5b, 65 answerable catalog_retrieval
            cases): NDCG@10 0.795 -> 0.790 always on (mean paired delta -0.005, 95% bootstrap CI
            [-0.049, +0.034]) and 0.789 gated (-0.006, [-0.049, +0.033]); the small model often
            paraphrases the request, echoes the prompt's example, or invents a plot for a bare title.
        hyde: ask the LLM for a hypothetical catalog passage and dense-search its embedding.
            Default ON (gated): NDCG@10 0.795 -> 0.816 gated (+0.021, CI [-0.001, +0.046], 10 cases
            better, 3 worse; always on +0.017, [-0.010, +0.046]); on the held-out catalog_qa set
            (65 answerable, not used for any choice here) +0.011 gated, CI [+0.002, +0.024], 4
            better, 0 worse; pooled over both, 130 cases: +0.016, CI [+0.004, +0.029]. Cost: one
            LLM call (~64 tokens) where the gate fires.
        n_queries: how many rewrites multi-query asks for (1..10).
        gate: "weak" runs the enabled transforms only when `evidence_strength` of the first pass
            is below `weak_threshold`; "always" runs them on every query (for ablations).
        weak_threshold: the gate, in [0, 1]. 0.26 maximises Youden's J (TPR - FPR) for telling
            first passes with NDCG@10 < 0.5 apart on the golden set: it fires on 43% of queries,
            catching 9 of the 12 bad first passes and 19 of the 53 good ones.
        strength_depth: top-N documents per retriever compared by `evidence_strength` (10 measured
            best: AUC 0.74, vs 0.75 at 5 with a coarser scale and 0.62 at 20).
        fusion_depth: documents each ranking (first pass, each rewrite, HyDE) brings to the fusion.
        first_pass_weight: RRF weight of the first pass; each transformed ranking weighs 1. 1.0
            (RAG-Fusion's equal weights) was fixed before the ablation; 2 and 3 gave HyDE the same
            gain (+0.020 / +0.019 gated) and lifted multi-query to about +0.01, not significant.
        max_tokens: cap on each generated reply (the rewrites, the passage). 64: HyDE's passage
            is for an embedding, and its first 64 tokens find the same documents as 96 (the
            earlier cap; half the passages ran past 64): gated NDCG@10 0.826 either way, paired
            delta 64 - 96 +0.000, 95% CI [-0.005, +0.006], 1 case better and 2 worse of 65
            (qwen2.5-coder-1.5b, `python -m assistant.transforms_eval --max-tokens 64`,
            2026-12-08, Intel Xeon AVX-512), for at most two thirds of the decoding.
    """

    multi_query: bool = False
    hyde: bool = True
    n_queries: int = 3
    gate: Gate = "weak"
    weak_threshold: float = 0.26
    strength_depth: int = 10
    fusion_depth: int = 20
    first_pass_weight: float = 1.0
    max_tokens: int = 64

    def __post_init__(self) -> None:
        for name in ("multi_query", "hyde"):
            if not isinstance(getattr(self, name), bool):
                raise TransformConfigError(f"{name}={getattr(self, name)!r} must be True or False")
        if self.gate not in GATES:
            raise TransformConfigError(f"gate={self.gate!r} is unknown; use one of {', '.join(GATES)}")
        if not isinstance(self.n_queries, int) or not 1 <= self.n_queries <= 10:
            raise TransformConfigError(f"n_queries={self.n_queries!r} must be an integer in 1..10 (3 is usual)")
        if not isinstance(self.weak_threshold, (int, float)) or not 0.0 <= self.weak_threshold <= 1.0:
            raise TransformConfigError(f"weak_threshold={self.weak_threshold!r} must be in [0, 1] (the evidence "
                                       "strength is an overlap fraction); use gate='always' to run on every query")
        for name in ("strength_depth", "fusion_depth"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise TransformConfigError(f"{name}={value!r} must be a positive integer (documents)")
        if not isinstance(self.first_pass_weight, (int, float)) or not 0.0 < self.first_pass_weight <= 100.0:
            raise TransformConfigError(f"first_pass_weight={self.first_pass_weight!r} must be in (0, 100] "
                                       "(1 = the first pass counts as much as one rewrite)")
        if not isinstance(self.max_tokens, int) or not 8 <= self.max_tokens <= 1024:
            raise TransformConfigError(f"max_tokens={self.max_tokens!r} must be in 8..1024 "
                                       "(a rewrite list or a short passage needs ~30-100)")

    @property
    def enabled(self) -> tuple[str, ...]:
        return tuple(name for name in TRANSFORMS if getattr(self, name))


@dataclass
class TransformResult:
    hits: list[Hit]
    trace: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # ms per stage

    @property
    def doc_ids(self) -> list[str]:
        return [h.doc_id for h in self.hits]


# --- the gate: a first-pass signal -----------------------------------------------------------

def docs_by_stage(hits: Sequence[Hit], stage: str, depth: int) -> list[str]:
    """The best-first document ids of one retriever ("dense", "bm25") as recorded in the hits'
    per-stage chunk ranks: each document at its best chunk's rank, first `depth` documents."""
    ranked = sorted((h for h in hits if stage in h.ranks), key=lambda h: h.ranks[stage])
    out: list[str] = []
    for hit in ranked:
        if hit.doc_id not in out:
            out.append(hit.doc_id)
            if len(out) == depth:
                break
    return out


def jaccard(a: Sequence[str], b: Sequence[str]) -> float:
    """|A ∩ B| / |A ∪ B| of two id lists as sets; 1.0 when both are empty (nothing to disagree on)."""
    sa, sb = set(a), set(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


def evidence_strength(hits: Sequence[Hit], *, depth: int = 10) -> float:
    """How much the first pass can be trusted, in [0, 1]: the Jaccard overlap of the dense and the
    BM25 top-`depth` documents.

    `hits` are a hybrid search's chunk-level candidates (`search(..., per_doc=False)` deep enough
    to hold both retrievers' lists, as `retrieve` runs it), whose `ranks` say where each chunk stood
    in each retriever. NaN when the hits carry only one retriever's ranks (mode "dense" or "bm25",
    or BM25 matched no word): there is no second opinion, and the gate treats that as weak.
    A selective filter that leaves few documents makes both lists the same few: strength 1.0,
    and rightly so (those first passes were all perfect on the golden set).
    """
    if not hits:
        return 0.0
    if not any("dense" in h.ranks for h in hits) or not any("bm25" in h.ranks for h in hits):
        return math.nan
    return jaccard(docs_by_stage(hits, "dense", depth), docs_by_stage(hits, "bm25", depth))


def gate_fires(strength: float, config: TransformConfig) -> bool:
    """Whether the enabled transforms run: always, or when the strength is below the threshold
    (or unknown: NaN)."""
    return config.gate == "always" or math.isnan(strength) or strength < config.weak_threshold


# --- prompts and parsing ----------------------------------------------------------------------

# One fixed example shows the shape wanted (plain lines, new words, the item's own vocabulary):
# without it the 0.5B model numbered its lines, wrote questions or repeated the request (5 tried).
# The price, seen in the ablation: on a bare title ("Serial") the 1.5B model may echo the example.
_MULTI_QUERY = (
    "Write {n} different search queries that would find catalog items (films, series, documentaries, "
    "podcasts, articles) matching the request below. Use other words than the request: synonyms, related "
    "topics, and the words such an item's description would contain. One query per line, no numbering, "
    "no explanations.\n\n"
    "Example request: films about life in the ocean\n"
    "marine wildlife documentary about whales, sharks and coral reefs\n"
    "deep sea creatures and underwater ecosystems\n"
    "drama set on a fishing boat at sea\n\n"
    "Request: {question}"
)
_HYDE = (
    "Write a short catalog description (two or three sentences) of an item that matches the request below, "
    "the way a streaming catalog describes a title: its subject, story or themes. Invent plausible details. "
    "Reply with the description only.\n\n"
    "Request: {question}"
)


def transform_head(name: str, n: int = 3) -> list[Message]:
    """The fixed opening of a transform's prompt ("multi_query" or "hyde"): its instruction up
    to "Request:", the question follows. Pinned by the backend (`pin_prefix(open_last=True)`),
    so a fired gate pays only for the question and the reply."""
    template = _MULTI_QUERY.format(n=n, question="{question}") if name == "multi_query" else _HYDE
    return [{"role": "user", "content": template[: template.rindex("Request:") + len("Request:")]}]


def multi_query_messages(question: str, n: int) -> list[Message]:
    """The chat messages asking for `n` rewrites of `question` (run at temperature 0)."""
    return [{"role": "user", "content": _MULTI_QUERY.format(n=n, question=question.strip())}]


def hyde_messages(question: str) -> list[Message]:
    """The chat messages asking for one hypothetical catalog passage (run at temperature 0)."""
    return [{"role": "user", "content": _HYDE.format(question=question.strip())}]


# A list marker at the start of a line: "1.", "2)", "(3)", "-", "*", "•", "Query 2:", "Q1 -".
_MARKER = re.compile(r"^\s*(?:(?:query|q)\s*\d*\s*[:.)-]|\(?\d{1,2}[.):\]]|\(\d{1,2}\)|[-*•·–—+>]+)\s*", re.I)
_QUOTES = "\"'`“”‘’«»"


def _norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


def parse_queries(text: str, n: int, *, original: Sequence[str] = ()) -> list[str]:
    """The first `n` usable rewrites in an LLM reply: one per line, list markers, quotes and
    bold marks stripped, preambles ("Here are 3 queries:") and echoes of the request dropped,
    duplicates (ignoring case and punctuation) kept once, the `original` wording(s) dropped."""
    if n < 1:
        return []
    seen = {_norm(o) for o in original if o}
    out: list[str] = []
    for line in text.splitlines():
        line = line.replace("**", "").strip()
        while True:  # "1. - query" carries two markers
            stripped = _MARKER.sub("", line, count=1)
            if stripped == line:
                break
            line = stripped
        line = line.strip().strip(_QUOTES).strip().rstrip(",;").strip(_QUOTES).strip()
        if not line or line.endswith(":") or re.match(r"(example )?request\s*:", line, re.I):
            continue
        key = _norm(line)
        if not key or key in seen:
            continue
        seen.add(key)
        out.append(line)
        if len(out) == n:
            break
    return out


def clean_passage(text: str) -> str:
    """The generated passage as one searchable string: quotes around it and a "Description:"
    label dropped, whitespace collapsed."""
    label = re.compile(r"^(?:\*\*)?(?:catalog )?description(?:\*\*)?\s*:\s*", re.I)
    text = label.sub("", text.strip().strip(_QUOTES).strip())
    return " ".join(text.strip().strip(_QUOTES).split())


# --- retrieval with the transforms --------------------------------------------------------------

def retrieve(kb: KnowledgeBase, query: str, filters: Sequence[Filter] = (), *, llm: ChatLLM | None,
             config: TransformConfig, k: int = 10, mode: str = "hybrid", question: str | None = None,
             on_first_pass: Callable[[list[Hit]], None] | None = None) -> TransformResult:
    """First pass; if the gate fires, the enabled transforms; RRF over documents; k hits.

    `query` is the search text (e.g. `QueryPlan.query`), `filters` apply to every search,
    `question` is the user's full wording shown to the LLM (default: `query`). With `llm=None` or
    no transform enabled the result is exactly the first pass (`search(kb, query, ...)`).
    An LLM error does not fail retrieval: the first pass is returned and the error traced.
    `on_first_pass` receives the first pass's k hits when the gate fires, before any generation."""
    cfg = kb.config
    start = time.perf_counter()
    # Deep and chunk-level: every candidate of both retrievers with its ranks (for the gate),
    # and the per-document first pass is its first-seen documents, as `search` would return.
    candidates = search(kb, query, mode=mode, filters=filters, k=cfg.dense_k + cfg.bm25_k, per_doc=False).hits
    first = _one_per_doc(candidates)
    timings = {"first_pass": _ms(start)}
    strength = evidence_strength(candidates, depth=config.strength_depth)
    wanted = config.enabled if llm is not None else ()
    fired = bool(wanted) and gate_fires(strength, config)
    trace: dict[str, Any] = {
        "strength": None if math.isnan(strength) else round(strength, 4),
        "signal": f"jaccard(dense top-{config.strength_depth}, bm25 top-{config.strength_depth})",
        "gate": config.gate, "threshold": config.weak_threshold, "fired": fired,
        "transforms": list(wanted) if fired else [], "queries": [], "passage": None,
        "llm": llm.model_id if llm is not None and fired else None, "llm_s": {}, "rankings": {},
    }
    result = TransformResult(first[:k], trace, timings)
    if not fired:
        timings["total"] = _ms(start)
        trace["timings_ms"] = dict(timings)
        return result

    if on_first_pass is not None:
        on_first_pass(first[:k])
    asked = question or query
    t = time.perf_counter()
    try:
        if config.multi_query:
            reply = _generate(llm, multi_query_messages(asked, config.n_queries), config, trace, "multi_query")
            trace["queries"] = parse_queries(reply, config.n_queries, original=(query, asked))
        if config.hyde:
            reply = _generate(llm, hyde_messages(asked), config, trace, "hyde")
            trace["passage"] = clean_passage(reply) or None
    except LLMError as exc:  # a transform is an improvement, not a requirement
        trace["error"] = f"{type(exc).__name__}: {exc}"
    timings["transform_generate"] = _ms(t)

    t = time.perf_counter()
    rankings: dict[str, list[Hit]] = {"first_pass": first[:config.fusion_depth]}
    for i, rewrite in enumerate(trace["queries"], start=1):
        rankings[f"multi_query_{i}"] = search(kb, rewrite, mode=mode, filters=filters, k=config.fusion_depth).hits
    if trace["passage"]:
        # HyDE searches the passage's embedding: dense only (its invented words would only mislead BM25).
        rankings["hyde"] = search(kb, trace["passage"], mode="dense", filters=filters, k=config.fusion_depth).hits
    result.hits = fuse(rankings, k=k, rrf_k=cfg.rrf_k, first_weight=config.first_pass_weight)
    timings["transform_retrieve"] = _ms(t)
    timings["total"] = _ms(start)
    trace["rankings"] = {name: [h.doc_id for h in hits] for name, hits in rankings.items()}
    trace["timings_ms"] = dict(timings)
    return result


def fuse(rankings: dict[str, Sequence[Hit]], *, k: int, rrf_k: int = 60, first_weight: float = 1.0) -> list[Hit]:
    """RRF over per-document rankings (the first one weighted `first_weight`, the others 1: equal
    weights are RAG-Fusion's) → the top k documents, each
    as the hit of the first ranking that holds it (the first pass's chunk when it has one), scored
    by the fused value, its ranks extended with its rank in every ranking."""
    doc_lists = [[h.doc_id for h in hits] for hits in rankings.values()]
    weights = [first_weight] + [1.0] * (len(doc_lists) - 1)
    fused = reciprocal_rank_fusion(doc_lists, k=rrf_k, weights=weights)
    source: dict[str, Hit] = {}
    for hits in rankings.values():
        for hit in hits:
            source.setdefault(hit.doc_id, hit)
    positions = {name: {d: i + 1 for i, d in enumerate(dict.fromkeys(docs))}
                 for name, docs in zip(rankings, doc_lists)}
    out = []
    for doc_id, score in fused[:k]:
        hit = source[doc_id]
        ranks = dict(hit.ranks)
        ranks.update({name: pos[doc_id] for name, pos in positions.items() if doc_id in pos})
        out.append(Hit(chunk=hit.chunk, score=score, ranks=ranks))
    return out


def _generate(llm: ChatLLM, messages: list[Message], config: TransformConfig, trace: dict[str, Any],
              name: str) -> str:
    llm.pin_prefix(transform_head(name, config.n_queries), open_last=True)
    completion = llm.chat(messages, max_tokens=config.max_tokens, temperature=0.0)
    trace["llm_s"][name] = completion.timings.get("total_s")
    trace.setdefault("raw", {})[name] = completion.text
    return completion.text


def _one_per_doc(hits: Sequence[Hit]) -> list[Hit]:
    seen: set[str] = set()
    out = []
    for hit in hits:
        if hit.doc_id not in seen:
            seen.add(hit.doc_id)
            out.append(hit)
    return out


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0
