"""summary.json of a `cairn eval` run: per-metric means with percentile-bootstrap 95% CIs, the
same per golden tag and per golden file, counts, latency percentiles, throughput and the time
split between the assistant and the scoring, and full provenance (DESIGN.md §2: every artifact
carries the git commit, config, model id and file hash, adapter, index hash, chat template,
seed and time).

`summarise` is pure over results records (evals/results.py) and does not depend on their
order: every metric's values are sorted by case key before resampling. `collect_provenance`
is the one part that touches the model and the indexes.
"""
from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from evals.bootstrap import DEFAULT_CONFIDENCE, bootstrap_ci, finite
from evals.metrics import corpus_extraction_scores, refusal_accuracy
from knowledge.bench import percentile
from knowledge.provenance import stamp

SCHEMA = "cairn.eval.summary/1"
SUMMARY_NAME = "summary.json"
ABSTAINED_SUFFIX = "_abstained"  # evals/sample.py: a judge that cannot be parsed reports <name>_abstained
# A fixed conversation rendered through the model's chat template: its sha256 changes exactly
# when the template (or the special tokens around turns) changes.
TEMPLATE_PROBE = ({"role": "system", "content": "You answer from the sources."},
                  {"role": "user", "content": "Which film is about glaciers?"},
                  {"role": "assistant", "content": "Meltwater [1]."},
                  {"role": "user", "content": "And from 2025?"})
PACKAGES = ("cairn", "numpy", "llama_cpp_python", "transformers", "peft", "langchain-core", "chromadb",
            "sentence-transformers", "bm25s", "torch")


def metric_table(records: Sequence[Mapping[str, Any]], *, b: int, seed: int,
                 confidence: float = DEFAULT_CONFIDENCE) -> dict[str, dict[str, Any]]:
    """metric -> {"mean", "ci95": [low, high], "n"} over the finished records that have it
    (a metric leaves out cases it does not apply to); `undefined` counts NaN/None values."""
    values: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for record in records:
        if record.get("status") != "ok":
            continue
        for name, value in (record.get("metrics") or {}).items():
            if not name.endswith(ABSTAINED_SUFFIX):
                values[name].append((record["key"], value))
    table: dict[str, dict[str, Any]] = {}
    for name in sorted(values):
        ordered = [v for _, v in sorted(values[name], key=lambda kv: kv[0])]  # order-independent
        usable = finite([v for v in ordered if v is not None])
        entry = bootstrap_ci(usable, b=b, seed=seed, confidence=confidence).to_dict() if usable else \
            {"mean": None, "ci95": None, "n": 0}
        if len(usable) < len(ordered):
            entry["undefined"] = len(ordered) - len(usable)
        table[name] = entry
    return table


def latency_table(records: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, dict[str, float | int]]]:
    """task -> timing key -> {"p50", "p95", "n"} in seconds, over finished records
    (nearest-rank percentiles, as `cairn bench` reports them)."""
    out: dict[str, dict[str, dict[str, float | int]]] = {}
    by_task: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        if record.get("status") == "ok":
            for key, value in (record.get("latency") or {}).items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    by_task[record.get("task", "qa")][key].append(float(value))
    for task, timings in sorted(by_task.items()):
        out[task] = {key: {"p50": percentile(v, 0.5), "p95": percentile(v, 0.95), "n": len(v)}
                     for key, v in sorted(timings.items()) if v}
    return out


def counts(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    status = Counter(r.get("status") for r in records)
    ok = [r for r in records if r.get("status") == "ok"]
    abstained = Counter(name[: -len(ABSTAINED_SUFFIX)] for r in ok for name, value in (r.get("metrics") or {}).items()
                        if name.endswith(ABSTAINED_SUFFIX) and value)
    return {"cases": len(records), "ok": status["ok"], "errors": status["error"],
            "skipped": dict(Counter(r.get("skip_reason") or "skipped" for r in records if r.get("status") == "skipped")),
            "by_task": dict(Counter(r.get("task", "qa") for r in records)),
            "refused": sum(1 for r in ok if r.get("task") == "qa" and _refused(r)),
            "abstentions": sum(abstained.values()), "abstentions_by_metric": dict(sorted(abstained.items())),
            "metric_errors": dict(sorted(Counter(n for r in ok for n in (r.get("metric_errors") or {})).items()))}


def _refused(record: Mapping[str, Any]) -> bool:
    # The refusal metric's reading (pipeline refusal, or an uncited refusal phrase) when computed.
    metrics = record.get("metrics") or {}
    return bool(metrics["refused"]) if metrics.get("refused") is not None else bool(record.get("refused"))


def refusal_section(records: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Refusal accuracy, precision and recall over the finished QA cases (evals.metrics.refusal)."""
    pairs = [{"answerable": bool(r.get("answerable", True)), "refused": _refused(r)}
             for r in records if r.get("status") == "ok" and r.get("task") == "qa"]
    return refusal_accuracy(pairs) if pairs else None


def extraction_section(records: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Field scores pooled over notes (counts summed first: micro over notes), beside the per-note
    means in `metrics`."""
    pairs = [(r["predicted"], r["expected"]) for r in records
             if r.get("status") == "ok" and r.get("task") == "extract"]
    return {"notes": len(pairs), "corpus": corpus_extraction_scores(pairs)} if pairs else None


def breakdown(records: Sequence[Mapping[str, Any]], group_of, *, b: int, seed: int) -> dict[str, Any]:
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for record in records:
        for group in group_of(record):
            groups[group].append(record)
    return {name: {"cases": len(rows), "ok": sum(r.get("status") == "ok" for r in rows),
                   "metrics": metric_table(rows, b=b, seed=seed)} for name, rows in sorted(groups.items())}


def summarise(records: Sequence[Mapping[str, Any]], *, b: int, seed: int, provenance: Mapping[str, Any],
              run: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The summary.json dict for the latest record of every selected case.

    run: what the runner measured for this invocation (wall_s, cases_run, reused, setup_s).
    """
    run = dict(run or {})
    ok = [r for r in records if r.get("status") == "ok"]
    assistant_s = sum(float(r.get("assistant_s") or 0.0) for r in ok)
    scoring_s = sum(float(r.get("scoring_s") or 0.0) for r in ok)
    wall_s = float(run.get("wall_s") or 0.0)
    cases_run = int(run.get("cases_run") or 0)
    return {
        "schema": SCHEMA,
        "config_hash": provenance.get("config_hash"),
        "counts": {**counts(records), "reused": int(run.get("reused") or 0), "run_now": cases_run},
        "metrics": metric_table(records, b=b, seed=seed),
        "by_tag": breakdown(records, lambda r: r.get("tags") or ["(untagged)"], b=b, seed=seed),
        "by_file": breakdown(records, lambda r: [r.get("file", "?")], b=b, seed=seed),
        "refusal": refusal_section(records),
        "extraction": extraction_section(records),
        "latency": latency_table(records),
        "throughput": {
            # workers > 1: per-case latencies include waits for the model lock (evals/runner.py)
            "wall_s": wall_s, "setup_s": run.get("setup_s"), "cases_run": cases_run, "workers": run.get("workers"),
            "cases_per_min": cases_run / wall_s * 60.0 if wall_s > 0 and cases_run else None,
            # Over every finished case the summary covers (resumed ones included):
            "assistant_s": assistant_s, "scoring_s": scoring_s,
            "assistant_share": assistant_s / (assistant_s + scoring_s) if assistant_s + scoring_s else None,
            "scoring_share": scoring_s / (assistant_s + scoring_s) if assistant_s + scoring_s else None,
        },
        "bootstrap": {"method": "percentile (Efron & Tibshirani 1993)", "b": b, "seed": seed,
                      "confidence": DEFAULT_CONFIDENCE},
        "provenance": dict(provenance),
    }


def write_summary(out_dir: str | Path, summary: Mapping[str, Any]) -> Path:
    """Write summary.json atomically (a reader never sees half a file)."""
    from evals.results import to_jsonable

    path = Path(out_dir) / SUMMARY_NAME
    tmp = path.with_name(SUMMARY_NAME + ".tmp")
    tmp.write_text(json.dumps(to_jsonable(summary), indent=1, ensure_ascii=False, allow_nan=False))
    os.replace(tmp, path)
    return path


# --- provenance ---------------------------------------------------------------------------------

def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def chat_template_hash(llm: Any) -> str | None:
    """sha256 of TEMPLATE_PROBE rendered by the model's chat template (None: not available)."""
    try:
        return "sha256:" + hashlib.sha256(llm.apply_chat_template(list(TEMPLATE_PROBE)).encode()).hexdigest()
    except Exception:  # a server backend may not expose its template; provenance says so
        return None


def _model(llm: Any, config_llm: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    if llm is None:
        return None
    return {"id": llm.model_id, "fingerprint": getattr(llm, "fingerprint", None),
            "backend": getattr(llm, "backend", None), "chat_template": chat_template_hash(llm),
            **({"config": dict(config_llm)} if config_llm is not None else {})}


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str]:
    versions = {}
    for name in names:
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return versions


def collect_provenance(config: Any, llm: Any, judge: Any, kbs: Mapping[str, Any],
                       golden: Mapping[str, int]) -> dict[str, Any]:
    """git commit, time, machine and package versions (knowledge.provenance.stamp), the answer
    and judge models (id, file fingerprint, chat-template hash), the adapter, each index's id,
    generation, counts and embedder, the golden files' sha256, the seed and the whole config."""
    indexes = {}
    for collection, kb in sorted(kbs.items()):
        index_id, generation = kb.store.version
        indexes[collection] = {"index_id": index_id, "generation": generation, "counts": kb.store.counts(),
                               "embedder": kb.store.get_meta("embedder")}
    return stamp(
        config_hash=config.config_hash(), config=config.to_dict(), seed=config.seed,
        model=_model(llm, config.llm.to_dict()), adapter=config.llm.adapter,
        judge={"setting": config.judge, "model": _model(judge) if judge is not None and judge is not llm else None},
        indexes=indexes, packages=package_versions(),
        golden={str(path): {"sha256": file_sha256(path), "cases": n} for path, n in golden.items()},
    )
