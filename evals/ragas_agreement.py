"""How far our faithfulness agrees with ragas' on the same samples and the same local model:
Pearson's r, Spearman's ρ, the agreement rate of the scores binarised at 0.5, and the mean
absolute difference (the agreement statistics of LLM-judge validation, e.g. Zheng et al. 2023,
"Judging LLM-as-a-Judge", §4, applied to two automatic metrics instead of judge vs human).

    python -m evals.ragas_agreement --results results.jsonl [--model qwen2.5-coder-0.5b] [--limit 8]

results.jsonl: one JSON object a line with `sample` = AnswerSample.to_dict(). Both metrics are
computed here with one local model (llama.cpp, n_threads=1 by default): ours through
evals.metrics.faithfulness (claims by rule, log-prob judge) and ragas' through
evals/ragas_bridge.py (LLM statements, JSON verdicts). Pairs where either side is omitted or
abstained are left out and counted. A statistic that is undefined (fewer than 2 pairs, or a
constant side) prints as "n/a", never NaN.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evals.calibration import pearson_r, spearman_rho

# (our key, ragas' key) per compared quantity
PAIRS = {"faithfulness": ("faithfulness", "ragas_faithfulness"),
         "faithfulness_raw": ("faithfulness_raw", "ragas_faithfulness_raw"),
         "answer_relevancy": ("answer_relevancy", "ragas_answer_relevancy")}


# -- statistics (pure) -------------------------------------------------------------------------------

def _check(xs: Sequence[float], ys: Sequence[float]) -> None:
    if len(xs) != len(ys):
        raise ValueError(f"paired scores need equal lengths, got {len(xs)} and {len(ys)}")


def binary_agreement(xs: Sequence[float], ys: Sequence[float], threshold: float = 0.5) -> float | None:
    """Share of pairs on the same side of `threshold` (x >= t iff y >= t); None when empty."""
    _check(xs, ys)
    return sum((x >= threshold) == (y >= threshold) for x, y in zip(xs, ys)) / len(xs) if xs else None


def mean_abs_diff(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """(1/n) Σ |x - y|; None when empty."""
    _check(xs, ys)
    return math.fsum(abs(x - y) for x, y in zip(xs, ys)) / len(xs) if xs else None


def agreement(xs: Sequence[float], ys: Sequence[float], threshold: float = 0.5) -> dict[str, float | None]:
    """n, pearson, spearman (evals.calibration's), agreement (binarised at `threshold`), mad."""
    _check(xs, ys)
    return {"n": float(len(xs)), "pearson": pearson_r(xs, ys), "spearman": spearman_rho(xs, ys),
            "agreement": binary_agreement(xs, ys, threshold), "mad": mean_abs_diff(xs, ys)}


def paired(ours: Sequence[Mapping[str, float]], theirs: Sequence[Mapping[str, float]], our_key: str,
           their_key: str) -> tuple[list[float], list[float], int]:
    """The scores both sides gave, in sample order, and how many samples had only one or none."""
    if len(ours) != len(theirs):
        raise ValueError(f"{len(ours)} rows of ours and {len(theirs)} of ragas': score the same samples")
    xs, ys = [], []
    for a, b in zip(ours, theirs):
        if our_key in a and their_key in b:
            xs.append(a[our_key])
            ys.append(b[their_key])
    return xs, ys, len(ours) - len(xs)


def format_table(rows: Mapping[str, tuple[dict[str, float | None], int]]) -> str:
    """One line per compared quantity: n, Pearson, Spearman, agreement@0.5, MAD, skipped."""
    def cell(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    lines = [f"{'metric':<18} {'n':>3} {'pearson':>8} {'spearman':>9} {'agree@0.5':>10} {'MAD':>6} {'skipped':>8}"]
    for name, (stats, skipped) in rows.items():
        lines.append(f"{name:<18} {int(stats['n'] or 0):>3} {cell(stats['pearson']):>8} {cell(stats['spearman']):>9} "
                     f"{cell(stats['agreement']):>10} {cell(stats['mad']):>6} {skipped:>8}")
    return "\n".join(lines)


# -- the command -------------------------------------------------------------------------------------

def load_samples(path: Path, limit: int | None = None) -> list[Any]:
    """AnswerSamples from rows with a `sample` (AnswerSample.to_dict()), or from `cairn eval`
    records (evals/results.py: QA records with status "ok"; others are skipped)."""
    from evals.sample import AnswerSample

    samples = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        if "sample" in row:
            samples.append(AnswerSample.from_dict(row["sample"]))
        elif "inputs" in row and "status" in row:
            if row["status"] == "ok" and row.get("task", "qa") == "qa":
                from evals.results import sample_from_record

                samples.append(sample_from_record(row))
        else:
            raise SystemExit(f"{path}:{number}: neither a 'sample' (AnswerSample.to_dict()) nor a cairn eval record")
    return samples[:limit]


def main(argv: Sequence[str] | None = None) -> int:
    from assistant.llm.config import DEFAULT_MODEL

    parser = argparse.ArgumentParser(prog="python -m evals.ragas_agreement", description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, required=True, help="results.jsonl with a 'sample' per row")
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"judge model for both metrics (default {DEFAULT_MODEL})")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads (default 1: 2 shared cores)")
    parser.add_argument("--embedder", default="minilm", help="embedder for answer relevancy (default minilm)")
    parser.add_argument("--relevancy", action="store_true", help="also compare answer relevancy (slower)")
    parser.add_argument("--limit", type=int, help="only the first N samples")
    parser.add_argument("--out", type=Path, help="append per-sample scores of both sides here (jsonl)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log why a score abstained")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s")

    from assistant.llm.config import LLMConfig, load_llm
    from evals.metrics.answer_relevancy import answer_relevancy
    from evals.metrics.faithfulness import faithfulness
    from evals.ragas_bridge import ragas_scores

    samples = load_samples(args.results, args.limit)
    llm = load_llm(LLMConfig(model=args.model, n_threads=args.threads))
    embedder = None
    if args.relevancy:
        from knowledge.embedder import load_embedder

        embedder = load_embedder(args.embedder, torch_threads=1)
    ours, theirs, seconds = [], [], {"ours": 0.0, "ragas": 0.0}
    for i, sample in enumerate(samples, start=1):
        started = time.perf_counter()
        mine = faithfulness(sample, judge=llm)
        if embedder is not None:
            mine.update(answer_relevancy(sample, judge=llm, embedder=embedder))
        middle = time.perf_counter()
        other = ragas_scores([sample], llm, embedder, relevancy=args.relevancy)[0]
        seconds["ours"] += middle - started
        seconds["ragas"] += time.perf_counter() - middle
        ours.append(mine)
        theirs.append(other)
        print(f"[{i}/{len(samples)}] {sample.case_id}: ours {_short(mine)} | ragas {_short(other)} "
              f"({middle - started:.0f}s / {time.perf_counter() - middle:.0f}s)", file=sys.stderr, flush=True)
        if args.out:
            with args.out.open("a") as f:
                f.write(json.dumps({"case_id": sample.case_id, "ours": mine, "ragas": other}) + "\n")
    table = {}
    for name, (our_key, their_key) in PAIRS.items():
        if name == "answer_relevancy" and not args.relevancy:
            continue
        xs, ys, skipped = paired(ours, theirs, our_key, their_key)
        table[name] = (agreement(xs, ys), skipped)
    print(f"model {args.model}, {len(samples)} samples from {args.results}; "
          f"seconds per sample: ours {seconds['ours'] / max(1, len(samples)):.1f}, "
          f"ragas {seconds['ragas'] / max(1, len(samples)):.1f}")
    print(format_table(table))
    return 0


def _short(scores: Mapping[str, float]) -> str:
    return ", ".join(f"{k}={v:.2f}" for k, v in scores.items()) or "-"


if __name__ == "__main__":
    sys.exit(main())
