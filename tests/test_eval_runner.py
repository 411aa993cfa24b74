"""`cairn eval` end to end on a user's own tiny knowledge base and golden file (hash embedder,
scripted model): results.jsonl records, summary.json, resuming after a crash or a torn last
line, config mismatches, workers, pluggable metrics and judge logs, extraction with a fake
extractor, EvalConfig checks and TOML loading, and the command's --help and flag precedence."""
from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import pytest
from agent_world import GOLDEN_CASES as CASES
from agent_world import RAW, supported

from assistant.agent import Agent
from assistant.llm import FakeLLM
from evals import eval_cli, runner
from evals.config import EvalConfig, EvalConfigError, load_config
from evals.metrics.correctness import correctness
from evals.results import ResultsFile, ResumeError, sample_from_record
from evals.runner import agent_config, default_metrics, run_eval

EXTRACT = {"id": "x-1", "collection": "notes", "task": "extract", "note_id": "note_0001", "tags": ["progress"],
           "expected_fields": {"symptoms": ["cough"], "vitals": {}, "imaging": [],
                               "medications": [{"name": "azithromycin", "dose": "500 mg", "route": "PO",
                                                "frequency": "daily", "duration": None}],
                               "follow_up": None, "diagnoses": [], "negated_findings": ["chest pain"]}}
# The prompt holds the sources too, so the cues are tried in an order no source can confuse.
REPLIES = {"knitting": "I cannot find anything about knitting in the catalog.",
           "medications": "Azithromycin 500 mg PO daily was started [1].",
           "nurses": "Night Shift is a drama series about nurses in a city hospital [1].",
           "ocean": "Deep Blue is a documentary about the ocean [1]."}
# judge off: the answer metrics run judge-free (lexical variants), so the scripted model only
# has to answer questions.
CONFIG = EvalConfig(bootstrap_b=200, judge="off")


def reply(messages) -> str:
    question = messages[-1]["content"].lower()
    return next((text for cue, text in REPLIES.items() if cue in question), "I cannot answer that.")


class WorldAgent(Agent):
    """The agent over the shared tiny world; `close` leaves the module's indexes open, and
    `crash_after` simulates the process dying mid-run (a BaseException, not a case error)."""

    crash_after: int | None = None
    asked: list[str]

    def ask(self, question, **kwargs):
        if self.crash_after is not None and len(self.asked) >= self.crash_after:
            raise Crash(f"simulated crash before {question!r}")
        self.asked.append(question)
        return super().ask(question, **kwargs)

    def close(self) -> None:
        self._kbs.clear()


class Crash(BaseException):
    pass


def factory(kbs, *, crash_after=None, made=None, **overrides):
    def make(config: EvalConfig) -> Agent:
        llm = FakeLLM(default=reply, logprob_tables=[supported()] * 200)
        agent = WorldAgent(llm, agent_config(config, verifier=RAW, **overrides), open_kb=kbs.__getitem__)
        agent.asked, agent.crash_after = [], crash_after
        if made is not None:
            made.append(agent)
        return agent
    return make


def fake_extractor(text, *, llm=None, mode="hybrid"):
    assert "azithromycin" in text and mode == "hybrid"
    return {"symptoms": ["cough"], "vitals": {}, "imaging": [], "follow_up": None, "diagnoses": [],
            "medications": [{"name": "azithromycin", "dose": "500 mg", "route": "PO", "frequency": "daily",
                             "duration": None}], "negated_findings": []}


@pytest.fixture
def golden(tmp_path: Path) -> Path:
    path = tmp_path / "my_golden.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in [*CASES, EXTRACT]))
    return path


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


# -- a whole run -------------------------------------------------------------------------------------

def test_run_writes_results_and_summary(kbs, golden, tmp_path) -> None:
    out = tmp_path / "run"
    run = run_eval([golden], CONFIG, out, agent_factory=factory(kbs), extractor=fake_extractor, progress=False)
    rows = {r["case_id"]: r for r in records(out)}
    assert list(rows) == ["t-1", "t-2", "t-3", "t-4", "x-1"] and all(r["status"] == "ok" for r in rows.values())
    first = rows["t-1"]
    assert first["inputs"] == {"question": CASES[0]["question"], "collection": "catalog",
                               "filters": {"type": "documentary"}}
    assert first["answer"].startswith("Deep Blue") and not first["refused"]
    assert first["contexts"][0]["doc_id"] == first["citations"][0]["doc_id"] and first["contexts"][0]["text"]
    assert first["sentences"][0]["supported"] is True and first["trace"]["tool"]["name"] == "search_catalog"
    assert first["trace"]["plan"]["filters"] == {"type": "documentary"}
    assert {"total_s", "route_s"} <= set(first["latency"]) and first["config_hash"] == CONFIG.config_hash()
    assert first["metrics"]["filter_accuracy"] == 1.0 and first["metrics"]["refusal_correct"] == 1.0
    assert {"ndcg@10", "recall@10", "mrr@10", "rougeL_f"} <= set(first["metrics"])
    assert 0.0 < first["metrics"]["ndcg@10"] <= 1.0 and first["metrics"]["rougeL_f"] > 0.5
    # The default set is evals.metrics.ANSWER_METRICS (judge-free variants with judge off) + the builtins.
    assert {"context_recall", "token_f1", "faithfulness_lexical", "cited_relevant"} <= set(first["metrics"])
    for row in rows.values():  # builtins agree with correctness where their keys meet
        if row["task"] == "qa":
            sample = sample_from_record(row)
            assert {**runner.rouge_metric(sample), **runner.refusal_metric(sample)}.items() >= \
                {k: v for k, v in correctness(sample).items() if k != "token_f1"}.items()
    assert rows["t-3"]["refused"] and rows["t-3"]["metrics"]["refusal_correct"] == 1.0
    assert "ndcg@10" not in rows["t-3"]["metrics"]  # nothing relevant: the metric does not apply
    assert "filter_accuracy" not in rows["t-3"]["metrics"]  # the case has no `filters`
    assert rows["t-4"]["trace"]["tool"]["name"] == "search_notes" and rows["t-4"]["contexts"][0]["doc_id"] == "note_0001"
    assert rows["x-1"]["task"] == "extract" and rows["x-1"]["metrics"]["medications_f1"] == 1.0
    assert rows["x-1"]["metrics"]["negated_findings_recall"] == 0.0
    # The stored record rebuilds the AnswerSample the metrics read.
    assert sample_from_record(first).context_ids[0] == first["contexts"][0]["doc_id"]

    summary = json.loads((out / "summary.json").read_text())
    assert summary == json.loads(json.dumps(run.summary))
    assert summary["counts"] == {
        "cases": 5, "ok": 5, "errors": 0, "skipped": {}, "by_task": {"qa": 4, "extract": 1}, "refused": 1,
        "abstentions": 0, "abstentions_by_metric": {}, "metric_errors": {}, "reused": 0, "run_now": 5}
    refusal = summary["metrics"]["refusal_correct"]
    assert refusal == {"mean": 1.0, "ci95": [1.0, 1.0], "n": 4}
    assert summary["refusal"]["accuracy"] == 1.0 and summary["extraction"]["notes"] == 1
    assert summary["extraction"]["corpus"]["medications_f1"] == 1.0
    assert set(summary["by_tag"]) == {"semantic", "filter", "factual", "unanswerable", "medications", "progress"}
    assert summary["by_tag"]["unanswerable"]["metrics"]["refused"]["mean"] == 1.0
    assert summary["by_file"]["my_golden.jsonl"]["cases"] == 5
    assert summary["latency"]["qa"]["total_s"]["n"] == 4 and "p95" in summary["latency"]["qa"]["total_s"]
    throughput = summary["throughput"]
    assert throughput["cases_run"] == 5 and throughput["cases_per_min"] > 0
    assert throughput["assistant_share"] + throughput["scoring_share"] == pytest.approx(1.0)
    prov = summary["provenance"]
    assert {"git_commit", "time", "versions", "packages", "machine", "config", "config_hash", "seed"} <= set(prov)
    assert prov["model"]["id"] == "fake-llm" and prov["model"]["fingerprint"] == "fake:fake-llm"
    assert prov["model"]["chat_template"].startswith("sha256:") and prov["adapter"] is None
    assert set(prov["indexes"]) == {"catalog", "notes"} and prov["indexes"]["catalog"]["counts"]["documents"] == 7
    assert prov["indexes"]["notes"]["index_id"] and prov["golden"][str(golden)]["cases"] == 5
    assert summary["bootstrap"]["b"] == 200


def test_resume_after_a_crash_redoes_no_case(kbs, golden, tmp_path) -> None:
    out = tmp_path / "run"
    with pytest.raises(Crash):
        run_eval([golden], CONFIG, out, agent_factory=factory(kbs, crash_after=2), extractor=fake_extractor,
                 progress=False)
    assert [r["case_id"] for r in records(out)] == ["t-1", "t-2"]
    assert not (out / "summary.json").exists()
    made: list[WorldAgent] = []
    run = run_eval([golden], CONFIG, out, agent_factory=factory(kbs, made=made), extractor=fake_extractor,
                   progress=False)
    assert made[0].asked == [CASES[2]["question"], CASES[3]["question"]]  # t-1 and t-2 were kept
    assert [r["case_id"] for r in records(out)] == ["t-1", "t-2", "t-3", "t-4", "x-1"]
    counts = run.summary["counts"]
    assert (counts["cases"], counts["ok"], counts["reused"], counts["run_now"]) == (5, 5, 2, 3)
    assert run.summary["metrics"]["refusal_correct"]["n"] == 4


def test_torn_last_line_is_cut_and_redone(kbs, golden, tmp_path) -> None:
    out = tmp_path / "run"
    run_eval([golden], CONFIG, out, agent_factory=factory(kbs), extractor=fake_extractor, progress=False)
    lines = (out / "results.jsonl").read_text().splitlines(keepends=True)
    # The crash hit while t-4 was being written: x-1 never started, t-4 is half a line.
    (out / "results.jsonl").write_text("".join(lines[:3]) + lines[3][: len(lines[3]) // 2])
    made: list[WorldAgent] = []
    run = run_eval([golden], CONFIG, out, agent_factory=factory(kbs, made=made), extractor=fake_extractor,
                   progress=False)
    assert made[0].asked == [CASES[3]["question"]]
    assert [r["case_id"] for r in records(out)] == ["t-1", "t-2", "t-3", "t-4", "x-1"]  # the torn bytes are gone
    assert (run.summary["counts"]["reused"], run.summary["counts"]["run_now"]) == (3, 2)


def test_whole_last_record_without_its_newline_is_kept(kbs, golden, tmp_path) -> None:
    out = tmp_path / "run"
    run_eval([golden], EvalConfig(bootstrap_b=200, judge="off", limit=2), out, agent_factory=factory(kbs),
             progress=False)
    (out / "results.jsonl").write_text((out / "results.jsonl").read_text().rstrip("\n"))
    run = run_eval([golden], EvalConfig(bootstrap_b=200, judge="off", limit=3), out, agent_factory=factory(kbs),
                   progress=False)
    assert [r["case_id"] for r in records(out)] == ["t-1", "t-2", "t-3"] and run.summary["counts"]["reused"] == 2


def test_damaged_middle_line_is_an_error(kbs, golden, tmp_path) -> None:
    out = tmp_path / "run"
    run_eval([golden], CONFIG, out, agent_factory=factory(kbs), extractor=fake_extractor, progress=False)
    lines = (out / "results.jsonl").read_text().splitlines(keepends=True)
    (out / "results.jsonl").write_text(lines[0] + "{oops\n" + "".join(lines[1:]))
    with pytest.raises(ResumeError, match=r"results.jsonl:2 .*--no-resume"):
        ResultsFile(out).open(CONFIG)


def test_config_mismatch_names_the_difference_and_the_fix(kbs, golden, tmp_path) -> None:
    out = tmp_path / "run"
    run_eval([golden], CONFIG, out, agent_factory=factory(kbs), extractor=fake_extractor, progress=False)
    changed = EvalConfig(bootstrap_b=200, judge="off", verify=False)
    with pytest.raises(ResumeError, match=r"verify: True -> False.*--out DIR.*--no-resume"):
        run_eval([golden], changed, out, agent_factory=factory(kbs), extractor=fake_extractor, progress=False)
    run = run_eval([golden], changed, out, agent_factory=factory(kbs), extractor=fake_extractor, resume=False,
                   progress=False)
    assert run.summary["counts"]["run_now"] == 5 and (out / "results.jsonl.prev").exists()


def test_result_neutral_settings_keep_the_finished_cases(kbs, golden, tmp_path) -> None:
    out = tmp_path / "run"
    run_eval([golden], EvalConfig(bootstrap_b=200, judge="off", limit=2), out, agent_factory=factory(kbs), progress=False)
    made: list[WorldAgent] = []
    run = run_eval([golden], EvalConfig(bootstrap_b=500, judge="off", limit=4, workers=2, seed=5), out,
                   agent_factory=factory(kbs, made=made), progress=False)
    assert sorted(made[0].asked) == sorted(c["question"] for c in CASES[2:4])
    assert run.summary["counts"]["cases"] == 4 and run.summary["bootstrap"] == {
        "method": "percentile (Efron & Tibshirani 1993)", "b": 500, "seed": 5, "confidence": 0.95}


def test_workers_change_nothing_but_the_order(kbs, golden, tmp_path) -> None:
    one = run_eval([golden], CONFIG, tmp_path / "one", agent_factory=factory(kbs), extractor=fake_extractor,
                   progress=False)
    three = run_eval([golden], EvalConfig(bootstrap_b=200, judge="off", workers=3), tmp_path / "three",
                     agent_factory=factory(kbs), extractor=fake_extractor, progress=False)
    assert one.summary["metrics"] == three.summary["metrics"]
    assert one.summary["by_tag"] == three.summary["by_tag"]
    assert sorted(r["case_id"] for r in records(tmp_path / "three")) == ["t-1", "t-2", "t-3", "t-4", "x-1"]


def test_extraction_is_skipped_when_not_available_then_run(kbs, golden, tmp_path) -> None:
    out = tmp_path / "run"
    run = run_eval([golden], CONFIG, out, agent_factory=factory(kbs), extractor=None, progress=False)
    assert run.summary["counts"]["skipped"] == {"extraction not available": 1}
    assert run.summary["extraction"] is None
    made: list[WorldAgent] = []
    run = run_eval([golden], CONFIG, out, agent_factory=factory(kbs, made=made), extractor=fake_extractor,
                   progress=False)
    assert made[0].asked == [] and run.summary["counts"]["skipped"] == {}  # only the skipped case ran
    assert run.summary["extraction"]["corpus"]["micro_f1"] > 0.8


def test_pluggable_metrics_judge_log_and_broken_metric(kbs, golden, tmp_path) -> None:
    def judged(sample, *, judge=None):
        verdict = judge.chat([{"role": "user", "content": f"Grade: {sample.answer}"}]).text
        return {"judged": 1.0 if verdict else 0.0, **({"judged_abstained": 1.0} if sample.refused else {})}

    def broken(sample):
        raise RuntimeError("metric bug")

    out = tmp_path / "run"
    run = run_eval([golden], EvalConfig(bootstrap_b=200, limit=3), out, agent_factory=factory(kbs),
                   metrics={"judged": judged, "broken": broken}, progress=False)
    row = records(out)[0]
    assert row["metrics"]["judged"] == 1.0 and row["metric_errors"] == {"broken": "RuntimeError: metric bug"}
    # The scripted model, asked as the judge, replies by its cues ("ocean"): the raw reply is kept.
    assert row["judge"] == [{"metric": "judged", "call": "chat", "text": REPLIES["ocean"]}]
    assert "refusal_correct" not in row["metrics"]  # only the metrics passed in (filter accuracy is the runner's)
    assert run.summary["counts"]["abstentions_by_metric"] == {"judged": 1}
    assert run.summary["counts"]["metric_errors"] == {"broken": 3}
    assert "judged_abstained" not in run.summary["metrics"]


def test_default_metric_set_follows_the_judge_setting(monkeypatch) -> None:
    import evals.metrics as registry

    def faithfulness(sample, *, judge=None, embedder=None):
        return {}
    faithfulness.needs_judge = True
    monkeypatch.setattr(registry, "ANSWER_METRICS", {"faithfulness": faithfulness}, raising=False)
    assert set(default_metrics(EvalConfig())) == {"faithfulness", "refusal", "rouge", "retrieval"}
    assert set(default_metrics(EvalConfig(judge="off"))) == {"refusal", "rouge", "retrieval"}
    assert set(default_metrics(EvalConfig(metrics=("rouge",)))) == {"rouge"}
    with pytest.raises(EvalConfigError, match="'bleu'.*available: faithfulness, refusal"):
        default_metrics(EvalConfig(metrics=("bleu",)))
    with pytest.raises(EvalConfigError, match="need a judge but judge='off'"):
        default_metrics(EvalConfig(metrics=("faithfulness",), judge="off"))


def test_a_failing_case_is_recorded_and_retried(kbs, golden, tmp_path) -> None:
    bad = golden.with_name("bad.jsonl")
    bad.write_text(json.dumps({"id": "x-9", "collection": "notes", "task": "extract", "note_id": "note_9999",
                               "expected_fields": {}}) + "\n")
    run = run_eval([bad], CONFIG, tmp_path / "run", agent_factory=factory(kbs), extractor=fake_extractor,
                   progress=False)
    row = records(tmp_path / "run")[0]
    assert row["status"] == "error" and "note_9999" in row["error"] and "cairn ingest" in row["error"]
    assert run.summary["counts"]["errors"] == 1


# -- EvalConfig ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "vector"}, "mode='vector' is unknown; use one of dense, bm25, hybrid"),
    ({"k": 0}, "k=0 must be an integer in 1..20"),
    ({"workers": 0}, "workers=0 must be"),
    ({"bootstrap_b": 10}, "bootstrap_b=10 must be an integer in 100"),
    ({"role": "nurse"}, "role='nurse' is unknown"),
    ({"transforms": ("rerank",)}, r"transforms: \['rerank'\] unknown; use any of multi_query, hyde"),
    ({"metrics": ()}, "metrics=\\[\\] computes nothing"),
    ({"verify": "yes"}, "verify='yes' must be true or false"),
    ({"today": "2026-11-22"}, "today='2026-11-22' must be a date"),
    ({"judge": " "}, "judge=' ' must be 'self', 'off'"),
])
def test_config_errors_name_the_value_and_the_fix(kwargs, message) -> None:
    with pytest.raises(EvalConfigError, match=message):
        EvalConfig(**kwargs)


def test_toml_loading_and_unknown_keys(tmp_path) -> None:
    path = tmp_path / "eval.toml"
    path.write_text('judge = "off"\nmetrics = ["rouge"]\nlimit = 20\ntoday = 2026-01-31\ntransforms = ["hyde"]\n'
                    'seed = 3\n[model]\nmodel = "smollm2-135m"\nn_threads = 1\n')
    config = load_config(path)
    assert (config.judge, config.metrics, config.limit, config.today) == ("off", ("rouge",), 20, dt.date(2026, 1, 31))
    assert (config.llm.model, config.llm.n_threads, config.llm.seed, config.transforms) == ("smollm2-135m", 1, 3,
                                                                                            ("hyde",))
    assert agent_config(config).transforms.hyde and agent_config(config).role == "clinician"
    path.write_text('limt = 20\n')
    with pytest.raises(EvalConfigError, match="unknown key 'limt'; known keys: .*limit"):
        load_config(path)
    path.write_text('[model]\nthreads = 2\n')
    with pytest.raises(EvalConfigError, match=r"unknown key model.'threads'; known \[model\] keys: .*n_threads"):
        load_config(path)
    path.write_text('[model]\nbackend = "openai"\n')
    with pytest.raises(EvalConfigError, match=r"\[model\] backend=openai needs base_url"):
        load_config(path)
    path.write_text('limit = [\n')
    with pytest.raises(EvalConfigError, match="not valid TOML"):
        load_config(path)


def test_config_hash_ignores_only_result_neutral_settings() -> None:
    base = EvalConfig()
    assert base.config_hash() == EvalConfig(limit=3, workers=4, bootstrap_b=2000).config_hash()
    assert base.config_hash() != EvalConfig(k=3).config_hash()
    assert base.config_hash() != base.with_llm(model="smollm2-135m").config_hash()


# -- the command -----------------------------------------------------------------------------------

def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cairn")
    eval_cli.register(p.add_subparsers(dest="command"))
    return p


def test_help_works_on_a_fresh_parser(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        parser().parse_args(["eval", "--help"])
    text = capsys.readouterr().out
    assert exit_.value.code == 0 and "--fast" in text and "qwen2.5-coder-0.5b" in text and "--no-resume" in text
    assert "default: $CAIRN_MODEL or qwen2.5-coder-1.5b" in text.replace("\n", " ").replace("  ", " ") or \
        "qwen2.5-coder-1.5b" in text


def test_flag_precedence_defaults_toml_fast_flags(tmp_path) -> None:
    toml = tmp_path / "eval.toml"
    toml.write_text('limit = 5\nworkers = 2\n[model]\nmodel = "smollm2-135m"\nn_threads = 1\n')
    config = eval_cli.config_from_args(parser().parse_args(["eval", "g.jsonl", "--config", str(toml)]))
    assert (config.llm.model, config.limit, config.workers, config.llm.n_threads) == ("smollm2-135m", 5, 2, 1)
    config = eval_cli.config_from_args(parser().parse_args(["eval", "g.jsonl", "--config", str(toml), "--fast"]))
    assert (config.llm.model, config.limit, config.judge, config.verify) == ("qwen2.5-coder-0.5b", 10, "off", True)
    config = eval_cli.config_from_args(parser().parse_args(
        ["eval", "g.jsonl", "--fast", "--limit", "3", "--model", "smollm2-135m", "--threads", "2"]))
    assert (config.llm.model, config.limit, config.llm.n_threads) == ("smollm2-135m", 3, 2)
    with pytest.raises(EvalConfigError, match="limit=0"):
        eval_cli.config_from_args(parser().parse_args(["eval", "g.jsonl", "--limit", "0"]))


def test_command_runs_and_resumes_in_cairn_home(kbs, golden, monkeypatch, capsys, cairn_home) -> None:
    monkeypatch.setattr(runner, "default_agent_factory", factory(kbs))
    monkeypatch.setattr(runner, "load_extractor", lambda: fake_extractor)
    args = parser().parse_args(["eval", str(golden), "--limit", "3", "--quiet"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "refusal_correct" in out and "cases/min" in out and "wrote" in out
    run_dir = cairn_home / "evals" / "runs" / EvalConfig().config_hash()
    assert len(records(run_dir)) == 3
    args = parser().parse_args(["eval", str(golden), "--quiet"])  # same settings, more cases: resumes
    assert args.func(args) == 0
    assert "3 reused, 2 run now" in capsys.readouterr().out


def test_collection_hint_routes_by_the_case_collection(kbs, golden, tmp_path) -> None:
    made: list[WorldAgent] = []
    run = run_eval([golden], EvalConfig(bootstrap_b=200, judge="off", collection_hint=True, limit=4), tmp_path / "r",
                   agent_factory=factory(kbs, made=made), progress=False)
    assert run.summary["counts"]["ok"] == 4 and made[0].asked == []  # hinted agents share the model and indexes
    assert [r["trace"]["tool"]["name"] for r in run.records] == ["search_catalog"] * 3 + ["search_notes"]


def test_select_cases_by_tag_before_limit(tmp_path: Path) -> None:
    from evals.results import select_cases

    rows = [{"id": f"c{i}", "collection": "catalog", "question": f"q{i}", "relevant_ids": [],
             "answerable": False, "tags": ["unanswerable"] if i % 2 else ["factual"]} for i in range(6)]
    golden = tmp_path / "g.jsonl"
    golden.write_text("".join(json.dumps(r) + "\n" for r in rows))
    picked = select_cases([golden], 2, ("unanswerable",))
    assert [case.id for _, case in picked] == ["c1", "c3"]
    assert len(select_cases([golden], None)) == 6
