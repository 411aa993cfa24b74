"""Golden-set ablation of the query transforms (assistant/transforms.py): is each one worth its LLM call?

For every answerable catalog case the question is read by `assistant.query.understand` (with the
golden set's `today`, so the filters are those the chat would use) and retrieved through
`assistant.transforms.retrieve` under each configuration:

    baseline                 the first pass only
    +multi-query / +HyDE / +both   (always)   the transform on every query
    ... (gated)                                only where evidence_strength < threshold

Reported per configuration: NDCG@10 and recall@10, the mean paired delta of NDCG@10 against the
baseline with a seeded percentile-bootstrap 95% CI over cases (a transform "helps" only if the
CI is above 0), the gate's fire rate, and seconds per query (retrieval wall clock plus the LLM's
own measured generation time, so a re-run from the cache reports the original cost). Also: how
well the gate's signal separates good first passes (NDCG@10 >= 0.5) from bad ones (ROC AUC),
the Youden-optimal threshold, and a threshold sweep (exact, since a gated result is the
always-on result where the gate fires and the baseline elsewhere).

LLM replies are cached per (model, request) in `llm_cache.json` beside `--out`, so a re-run only
retrieves. A case the parser routes away from the catalog scores 0 in every configuration.

    python -m assistant.transforms_eval --model qwen2.5-coder-1.5b --threads 1 --out .cairn/evals/transforms/results.json
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from knowledge.errors import CairnError

from .llm.base import ChatLLM, Completion, Delta, GenerationRequest, Message
from .transforms import TransformConfig, retrieve

if TYPE_CHECKING:
    from evals.golden import GoldenCase
    from knowledge.index import KnowledgeBase

GOLDEN = "evals/golden/catalog_retrieval.jsonl"
TODAY = dt.date(2026, 11, 22)  # the demo golden set's "today" (evals/query_eval.py)
GOOD_NDCG = 0.5  # a first pass at or above this is "good" when scoring the gate's signal


# --- statistics (pure) -----------------------------------------------------------------------

def bootstrap_ci(deltas: Sequence[float], *, resamples: int = 10_000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of paired per-case deltas (Efron & Tibshirani 1993,
    ch. 13): resample cases with replacement, take the (1-level)/2 and (1+level)/2 quantiles."""
    if not deltas:
        return (math.nan, math.nan)
    values = np.asarray(deltas, dtype=np.float64)
    picks = np.random.default_rng(seed).integers(0, len(values), size=(resamples, len(values)))
    means = values[picks].mean(axis=1)  # (resamples,)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return (float(lo), float(hi))


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """P(score of a random positive > score of a random negative), ties counting 1/2
    (the Mann-Whitney form of the ROC AUC)."""
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    if not pos or not neg:
        return math.nan
    wins = sum(1.0 if p > q else 0.5 if p == q else 0.0 for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


def youden_threshold(scores: Sequence[float], labels: Sequence[bool]) -> tuple[float, float]:
    """(threshold, J): the cut t maximising J = TPR - FPR for "score < t means bad" (bad =
    label False), placed midway between adjacent distinct scores; the lowest t wins ties."""
    distinct = sorted(set(scores))
    cuts = [(a + b) / 2 for a, b in zip(distinct, distinct[1:])] + [distinct[-1] + 1e-9] if distinct else []
    n_bad, n_good = labels.count(False), labels.count(True)
    best = (math.nan, -math.inf)
    for t in cuts:
        tpr = sum(1 for s, y in zip(scores, labels) if s < t and not y) / n_bad if n_bad else 0.0
        fpr = sum(1 for s, y in zip(scores, labels) if s < t and y) / n_good if n_good else 0.0
        if tpr - fpr > best[1] + 1e-12:
            best = (t, tpr - fpr)
    return best


# --- a caching LLM: replies keyed by (model, request), loaded only on a miss -------------------

class CachedLLM(ChatLLM):
    """Wraps a model loader; `chat` answers from a JSON cache when the same model saw the same
    request (messages, max_tokens, temperature, stop, seed), else loads the model once, asks it,
    and writes the reply (with its measured timings) to the cache at once."""

    backend = "cache"

    def __init__(self, model: str, load: Callable[[], ChatLLM], path: Path) -> None:
        super().__init__(model_id=model, fingerprint=f"cache:{model}")
        self._load, self.path, self._inner = load, path, None
        self.entries: dict[str, dict[str, Any]] = json.loads(path.read_text()) if path.exists() else {}
        self.hits = self.misses = 0

    @property
    def inner(self) -> ChatLLM:
        if self._inner is None:
            self._inner = self._load()
            self.fingerprint = self._inner.fingerprint
        return self._inner

    def key(self, request: GenerationRequest) -> str:
        payload = {"model": self.model_id, "messages": [dict(m) for m in request.messages],
                   "max_tokens": request.max_tokens, "temperature": request.temperature,
                   "stop": list(request.stop), "seed": request.seed}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def _complete(self, request: GenerationRequest) -> Completion:
        key = self.key(request)
        if key in self.entries:
            self.hits += 1
            e = self.entries[key]
            return Completion(e["text"], e["finish_reason"], e["prompt_tokens"], e["completion_tokens"],
                              timings=e["timings"], model_id=self.model_id)
        self.misses += 1
        got = self.inner._complete(request)
        self.entries[key] = {"text": got.text, "finish_reason": got.finish_reason, "prompt_tokens": got.prompt_tokens,
                             "completion_tokens": got.completion_tokens, "timings": got.timings,
                             "prompt": request.messages[-1]["content"]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.entries, indent=1, sort_keys=True))
        os.replace(tmp, self.path)
        return got

    def _stream(self, request: GenerationRequest) -> Iterator[Delta]:
        completion = self._complete(request)
        return iter([Delta(completion.text), Delta("", completion=completion)])

    def token_logprob_of(self, messages: Sequence[Message], candidates: Sequence[str]) -> dict[str, float]:
        return self.inner.token_logprob_of(messages, candidates)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def apply_chat_template(self, messages: Sequence[Message]) -> str:
        return self.inner.apply_chat_template(messages)

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()


# --- the ablation ------------------------------------------------------------------------------

ROWS = {"multi-query": ("+multi-query", True, False), "hyde": ("+HyDE", False, True), "both": ("+both", True, True)}


def configurations(threshold: float, n_queries: int, rows: Sequence[str] = tuple(ROWS), *,
                   max_tokens: int = TransformConfig().max_tokens) -> dict[str, TransformConfig]:
    """The ablation's configurations, in table order: the baseline, then each of `rows` always
    on, then each gated at `threshold`; every generation capped at `max_tokens`."""
    base = TransformConfig(multi_query=False, hyde=False, n_queries=n_queries, weak_threshold=threshold,
                           max_tokens=max_tokens)
    out = {"baseline": base}
    for gate in ("always", "weak"):
        for name, mq, hy in (ROWS[row] for row in rows):
            label = f"{name} ({'always' if gate == 'always' else f'gated <{threshold:.3g}'})"
            out[label] = replace(base, multi_query=mq, hyde=hy, gate=gate)
    return out


@dataclass
class CaseRun:
    case_id: str
    ndcg: float
    recall: float
    fired: bool
    seconds: float
    strength: float | None
    doc_ids: list[str]
    trace: dict[str, Any]


def run_ablation(kb: KnowledgeBase, cases: Sequence[GoldenCase], llm: ChatLLM | None, configs: dict[str, TransformConfig], *, today: dt.date = TODAY,
                 mode: str = "hybrid", k: int = 10, progress: bool = True) -> dict[str, list[CaseRun]]:
    """Every configuration over every answerable case of `kb`'s collection: per-case runs."""
    from tqdm import tqdm

    from assistant.query import Vocabulary, understand
    from evals.metrics import ndcg_at_k, recall_at_k

    vocabulary = Vocabulary.from_knowledge_base(kb)
    mine = [c for c in cases if c.collection == kb.collection and c.answerable and c.relevant]
    runs: dict[str, list[CaseRun]] = {name: [] for name in configs}
    if mine:  # load the embedder and the corpus view now, so the first case's timing is a query's
        plan = understand(mine[0].question, today=today, vocabulary=vocabulary)
        retrieve(kb, plan.query, plan.filter_list(), llm=None, config=configs["baseline"], k=k, mode=mode)
    for case in tqdm(mine, desc="cases", disable=not progress):
        plan = understand(case.question, today=today, vocabulary=vocabulary)
        for name, config in configs.items():
            if plan.route != kb.collection:  # the assistant would search elsewhere: scored 0
                runs[name].append(CaseRun(case.id, 0.0, 0.0, False, 0.0, None, [], {"misrouted": plan.route}))
                continue
            got = retrieve(kb, plan.query, plan.filter_list(), llm=llm, config=config, k=k, mode=mode,
                           question=case.question)
            t = got.timings
            llm_s = sum(v for v in got.trace["llm_s"].values() if v)
            seconds = (t["first_pass"] + t.get("transform_retrieve", 0.0)) / 1000.0 + llm_s
            runs[name].append(CaseRun(case.id, ndcg_at_k(got.doc_ids, case.relevant, k),
                                      recall_at_k(got.doc_ids, case.relevant, k), got.trace["fired"], seconds,
                                      got.trace["strength"], got.doc_ids, got.trace))
    return runs


def summarise(runs: dict[str, list[CaseRun]], *, resamples: int = 10_000, seed: int = 0) -> dict[str, dict[str, Any]]:
    """Per configuration: mean NDCG@10 and recall@10, the mean paired NDCG@10 delta vs the
    baseline with its bootstrap CI, cases better/worse, fire rate, seconds per query."""
    base = {r.case_id: r for r in runs["baseline"]}
    table = {}
    for name, rs in runs.items():
        deltas = [r.ndcg - base[r.case_id].ndcg for r in rs]
        lo, hi = bootstrap_ci(deltas, resamples=resamples, seed=seed)
        table[name] = {"ndcg@10": statistics.fmean(r.ndcg for r in rs), "recall@10": statistics.fmean(r.recall for r in rs),
                       "delta": statistics.fmean(deltas), "ci95": [lo, hi],
                       "fire_rate": statistics.fmean(r.fired for r in rs),
                       "s_per_query": statistics.fmean(r.seconds for r in rs),
                       "better": sum(d > 1e-9 for d in deltas), "worse": sum(d < -1e-9 for d in deltas)}
    return table


def gate_analysis(runs: dict[str, list[CaseRun]], thresholds: Sequence[float], *, resamples: int = 10_000,
                  seed: int = 0) -> dict[str, Any]:
    """The signal's separation of good/bad first passes, and the gated NDCG@10 delta of each
    always-on configuration at each threshold (gated = always where strength < t, else baseline)."""
    base = runs["baseline"]
    scored = [(r.strength if r.strength is not None else -1.0, r.ndcg >= GOOD_NDCG) for r in base]
    scores, labels = [s for s, _ in scored], [y for _, y in scored]
    cut, j = youden_threshold(scores, labels)
    sweep = {}
    for name, rs in runs.items():
        if "always" not in name:
            continue
        rows = []
        for t in thresholds:
            deltas = [(a.ndcg if b.strength is None or b.strength < t else b.ndcg) - b.ndcg for a, b in zip(rs, base)]
            lo, hi = bootstrap_ci(deltas, resamples=resamples, seed=seed)
            rows.append({"threshold": t, "fire_rate": statistics.fmean(b.strength is None or b.strength < t for b in base),
                         "delta": statistics.fmean(deltas), "ci95": [lo, hi]})
        sweep[name] = rows
    bad = labels.count(False)
    fired_bad = sum(1 for s, y in scored if s < cut and not y)
    fired_good = sum(1 for s, y in scored if s < cut and y)
    return {"auc": roc_auc(scores, labels), "good_cut_ndcg": GOOD_NDCG, "good": labels.count(True), "bad": bad,
            "youden_threshold": cut, "youden_j": j, "fired_bad": fired_bad, "fired_good": fired_good, "sweep": sweep}


def format_report(table: dict[str, dict[str, Any]], gate: dict[str, Any], n_cases: int, model: str) -> str:
    lines = [f"query transforms on {n_cases} answerable catalog cases, LLM {model}",
             f"{'config':<30}{'NDCG@10':>9}{'R@10':>8}{'dNDCG':>9}{'95% CI':>19}{'+/-':>7}{'fires':>7}{'s/q':>7}"]
    for name, row in table.items():
        lo, hi = row["ci95"]
        lines.append(f"{name:<30}{row['ndcg@10']:>9.3f}{row['recall@10']:>8.3f}{row['delta']:>+9.3f}"
                     f"{f'[{lo:+.3f}, {hi:+.3f}]':>19}{str(row['better']) + '/' + str(row['worse']):>7}"
                     f"{row['fire_rate']:>7.2f}{row['s_per_query']:>7.2f}")
    lines += ["", f"gate signal (dense/BM25 top-10 Jaccard) vs first-pass NDCG@10 >= {gate['good_cut_ndcg']}: "
              f"ROC AUC {gate['auc']:.3f} ({gate['good']} good, {gate['bad']} bad); Youden threshold "
              f"{gate['youden_threshold']:.3f} (J {gate['youden_j']:.3f}) fires on {gate['fired_bad']}/{gate['bad']} bad "
              f"and {gate['fired_good']}/{gate['good']} good first passes", "",
              "threshold sweep (gated = always-on where strength < t, else baseline): NDCG@10 delta [95% CI]"]
    sweep = gate["sweep"]
    if sweep:
        first = next(iter(sweep.values()))
        lines.append(f"{'t':<14}" + "".join(f"{'<' + format(r['threshold'], '.2f'):>24}" for r in first))
        lines.append(f"{'fire rate':<14}" + "".join(f"{r['fire_rate']:>24.2f}" for r in first))
        for name, rows in sweep.items():
            lines.append(f"{name.split(' (')[0]:<14}" + "".join(f"{_delta_cell(r):>24}" for r in rows))
    return "\n".join(lines)


def _delta_cell(row: dict[str, Any]) -> str:
    lo, hi = row["ci95"]
    return f"{row['delta']:+.3f} [{lo:+.3f},{hi:+.3f}]"


def main(argv: Sequence[str] | None = None) -> None:
    from assistant.llm.config import LLMConfig, load_llm
    from evals.golden import load_golden
    from knowledge.home import cairn_home
    from knowledge.index import KnowledgeBase
    from knowledge.provenance import stamp

    parser = argparse.ArgumentParser(prog="python -m assistant.transforms_eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="qwen2.5-coder-1.5b", help="catalogue name or GGUF path of the LLM")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads (1 is often fastest on 2 shared cores)")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N answerable cases")
    parser.add_argument("--out", type=Path, default=None,
                        help="results JSON (default CAIRN_HOME/evals/transforms/results.json); llm_cache.json goes beside it")
    parser.add_argument("--golden", default=GOLDEN)
    parser.add_argument("--today", type=dt.date.fromisoformat, default=TODAY,
                        help="the date relative phrases resolve against (the demo golden set's is 2026-11-22)")
    parser.add_argument("--threshold", type=float, default=TransformConfig().weak_threshold,
                        help="gate threshold for the gated rows (default: TransformConfig's)")
    parser.add_argument("--n-queries", type=int, default=TransformConfig().n_queries)
    parser.add_argument("--max-tokens", type=int, default=TransformConfig().max_tokens,
                        help="cap on each generated rewrite list or passage (default: TransformConfig's)")
    parser.add_argument("--transforms", nargs="+", default=list(ROWS), choices=list(ROWS),
                        help="which transform rows to run (each always on and gated)")
    parser.add_argument("--mode", default="hybrid", choices=("dense", "bm25", "hybrid"))
    parser.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    args = parser.parse_args(argv)

    out = args.out or cairn_home() / "evals" / "transforms" / "results.json"
    try:
        cases = load_golden(args.golden)
        answerable = [c for c in cases if c.collection == "catalog" and c.answerable and c.relevant]
        cases = answerable[:args.limit] if args.limit else answerable
        llm = CachedLLM(args.model, lambda: load_llm(LLMConfig(model=args.model, n_threads=args.threads,
                                                               n_ctx=2048, temperature=0.0)),
                        out.parent / "llm_cache.json")
        configs = configurations(args.threshold, args.n_queries, args.transforms, max_tokens=args.max_tokens)
        kb = KnowledgeBase("catalog")
        start = time.perf_counter()
        try:
            runs = run_ablation(kb, cases, llm, configs, today=args.today, mode=args.mode)
        finally:
            kb.close()
            llm.close()
    except CairnError as exc:
        raise SystemExit(f"error: {exc}") from None
    table = summarise(runs, resamples=args.resamples, seed=args.seed)
    gate = gate_analysis(runs, [0.1, 0.2, args.threshold, 0.35, 0.5, 0.75, 1.01], resamples=args.resamples,
                         seed=args.seed)
    print(format_report(table, gate, len(cases), args.model))
    print(f"\nLLM cache: {llm.hits} hits, {llm.misses} misses ({out.parent / 'llm_cache.json'}); "
          f"wall {time.perf_counter() - start:.0f} s")
    golden_hash = hashlib.sha256(Path(args.golden).read_bytes()).hexdigest()
    record = {"provenance": stamp(model=args.model, model_fingerprint=llm.fingerprint, golden=args.golden,
                                  golden_sha256=golden_hash, today=args.today.isoformat(), mode=args.mode,
                                  seed=args.seed, resamples=args.resamples, threads=args.threads,
                                  max_tokens=args.max_tokens),
              "configs": {name: asdict(c) for name, c in configs.items()}, "table": table, "gate": gate,
              "per_case": {name: [asdict(r) for r in rs] for name, rs in runs.items()}}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1, default=str))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
