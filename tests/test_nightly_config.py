"""NightlyConfig: the repository's nightly.toml loads (both profiles), precedence of the eval
settings, profiles deep-merge, and every bad value is an error naming it and the fix."""
from __future__ import annotations

from pathlib import Path

import pytest
from nightly_world import world_config, world_data

from evals.config import EvalConfigError
from evals.nightly.config import (MetricGate, NightlyConfig, NightlyConfigError, SuiteConfig, deep_merge,
                                  load_nightly)

ROOT = Path(__file__).resolve().parents[1]


def test_the_repository_nightly_toml_loads_in_both_profiles() -> None:
    full = load_nightly(ROOT / "nightly.toml")
    fast = load_nightly(ROOT / "nightly.toml", "fast")
    assert [s.name for s in full.suites] == [s.name for s in fast.suites]
    assert full.profile == "full" and fast.profile == "fast" and full.config_hash() != fast.config_hash()
    qa = {s.name: s for s in full.suites}["catalog-qa"]
    fast_qa = {s.name: s for s in fast.suites}["catalog-qa"]
    assert qa.eval.llm.model == "qwen2.5-coder-1.5b" and qa.eval.judge == "self" and qa.eval.llm.n_threads == 1
    assert fast_qa.eval.llm.model == "qwen2.5-coder-0.5b" and fast_qa.eval.judge == "off" and fast_qa.eval.limit == 5
    assert fast_qa.eval.llm.n_threads == 1  # [eval.model] kept under the profile's model change
    assert fast_qa.gate["rougeL_f"] == MetricGate("rougeL_f", min=0.20, regression=True)  # merged over full's
    unanswerable = {s.name: s for s in fast.suites}["catalog-unanswerable"]
    assert unanswerable.eval.tags == ("unanswerable",) and unanswerable.eval.limit == 3
    assert qa.gate["error_rate"].max == 0.0 and "error_rate" not in qa.required  # nightly-wide gate
    assert list(qa.gate)[-1] == "error_rate" and qa.primary_metric == "rougeL_f"  # the suite's own first
    assert all(p.is_file() for s in full.suites for p in s.golden)  # resolved against the file's folder
    kinds = {s.name: s.kind for s in full.suites}
    assert kinds["catalog-retrieval"] == "retrieval" and kinds["catalog-qa"] == "agent"


def test_precedence_eval_table_eval_config_file_suite_table_then_limit(tmp_path) -> None:
    (tmp_path / "eval.toml").write_text('k = 3\nmode = "bm25"\n[model]\nmodel = "smollm2-135m"\n')
    data = world_data(tmp_path)
    data["eval"] = {"judge": "off", "mode": "dense", "limit": 7, "model": {"n_threads": 1}}
    data["suites"]["world-qa"].update(eval_config="eval.toml", eval={"k": 4}, limit=2, tags=["factual"])
    qa = {s.name: s for s in world_config(tmp_path, data).suites}["world-qa"]
    assert (qa.eval.judge, qa.eval.mode, qa.eval.k, qa.eval.limit, qa.eval.tags) == ("off", "bm25", 4, 2, ("factual",))
    assert (qa.eval.llm.model, qa.eval.llm.n_threads) == ("smollm2-135m", 1)
    retrieval = {s.name: s for s in world_config(tmp_path, data).suites}["world-retrieval"]
    assert retrieval.eval.limit == 7  # the [eval] limit where the suite sets none


def test_profiles_merge_and_may_disable_a_suite(tmp_path) -> None:
    data = world_data(tmp_path)
    data["profiles"]["ci"] = {"worst_cases": 1, "suites": {"world-retrieval": {"enabled": False}}}
    config = world_config(tmp_path, data, profile="ci")
    assert [s.name for s in config.suites] == ["world-qa"] and config.worst_cases == 1
    assert deep_merge({"a": {"b": 1, "c": 2}, "d": [1]}, {"a": {"c": 3}, "d": [2]}) == {"a": {"b": 1, "c": 3}, "d": [2]}


def test_suite_signature_follows_the_cases_and_settings_only(tmp_path) -> None:
    def signature(change=lambda d: None):
        data = world_data(tmp_path)
        change(data)
        return {s.name: s for s in world_config(tmp_path, data).suites}["world-qa"].signature()

    base = signature()
    assert base == signature(lambda d: d["suites"]["world-qa"]["gate"].update(bleu={"min": 0.1}))  # gates: no
    assert base == signature(lambda d: d["eval"].update(bootstrap_b=500, workers=2))  # resampling, speed: no
    assert base != signature(lambda d: d["suites"]["world-qa"].update(limit=2))
    assert base != signature(lambda d: d["suites"]["world-qa"].update(tags=["factual"]))
    assert base != signature(lambda d: d["eval"].update(model={"model": "smollm2-135m"}))
    suite = world_config(tmp_path).suites[1]
    golden = tmp_path / "world_golden.jsonl"
    golden.write_text(golden.read_text().replace("Deep Blue is", "Deep Blue was"))  # an edited reference
    assert suite.signature() != base


def test_history_and_out_default_to_cairn_home(tmp_path, cairn_home) -> None:
    data = world_data(tmp_path)
    del data["history"], data["out"]
    config = world_config(tmp_path, data)
    assert config.history_path() == cairn_home.resolve() / "evals" / "history.sqlite"
    assert config.run_root() == cairn_home.resolve() / "evals" / "nightly"
    assert world_config(tmp_path).history_path() == tmp_path / "history.sqlite"


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(colour="red"), "unknown key 'colour'; known keys: auto_accept"),
    (lambda d: d["suites"]["world-qa"].update(kind="rag"), "kind='rag' is unknown; use 'agent' or 'retrieval'"),
    (lambda d: d["suites"]["world-qa"].update(golden=["nope.jsonl"]), "golden file .*nope.jsonl does not exist"),
    (lambda d: d["suites"]["world-qa"].update(golden=[]), "golden = \\[\\] names no file"),
    (lambda d: d["suites"]["world-qa"].update(limt=3), "unknown key 'limt'.*limit"),
    (lambda d: d["suites"]["world-qa"]["gate"].update(bleu={"min": 0.9, "max": 0.1}), "min=0.9 > max=0.1"),
    (lambda d: d["suites"]["world-qa"]["gate"].update(bleu={}), "gate 'bleu' checks nothing"),
    (lambda d: d["suites"]["world-qa"]["gate"].update(bleu={"minimum": 0.3}), "unknown key 'minimum'"),
    (lambda d: d["suites"]["world-qa"]["gate"].update(bleu=0.3), "bleu = 0.3 must be a table"),
    (lambda d: d["suites"]["world-qa"]["gate"].update(bleu={"min": "high"}), "min='high' must be a finite number"),
    (lambda d: d["suites"]["world-qa"]["gate"].update(bleu={"min": 0.1, "direction": "up"}), "direction='up'"),
    (lambda d: d["suites"]["world-qa"]["gate"].update(bleu={"regression": True, "tolerance": -1}), "tolerance=-1"),
    (lambda d: d.update(auto_accept="sometimes"), "auto_accept='sometimes' is unknown; use one of first, never, always"),
    (lambda d: d.update(worst_cases=-1), "worst_cases=-1 must be an integer in 0..100"),
    (lambda d: d["suites"].update({"bad name!": {"golden": ["world_golden.jsonl"]}}), "suite name 'bad name!'"),
    (lambda d: d["suites"]["world-qa"].update(k=50), "k=50 must be an integer in 1..20"),
    (lambda d: d.update(suites={}), "no enabled suite"),
])
def test_config_errors_name_the_value_and_the_fix(tmp_path, change, message) -> None:
    data = world_data(tmp_path)
    change(data)
    with pytest.raises(NightlyConfigError, match=message):
        world_config(tmp_path, data)


def test_eval_errors_name_the_suite_and_profiles_are_checked(tmp_path) -> None:
    data = world_data(tmp_path)
    data["suites"]["world-qa"]["eval"] = {"mode": "vector"}
    with pytest.raises(EvalConfigError, match=r"mode='vector' is unknown"):
        world_config(tmp_path, data)
    data = world_data(tmp_path)
    data["suites"]["world-qa"]["eval"] = {"modle": "x"}
    with pytest.raises(EvalConfigError, match=r"\[suites.world-qa\]: unknown key 'modle'"):
        world_config(tmp_path, data)
    with pytest.raises(NightlyConfigError, match="no profile 'nightly'; defined: fast"):
        world_config(tmp_path, profile="nightly")
    data = world_data(tmp_path)
    data["profiles"]["fast"]["suites"]["world-q"] = {"limit": 1}
    with pytest.raises(NightlyConfigError, match=r"\[profiles.fast.suites.world-q\] names no suite"):
        world_config(tmp_path, data, profile="fast")


def test_loading_errors(tmp_path) -> None:
    with pytest.raises(NightlyConfigError, match="does not exist; pass --config FILE"):
        load_nightly(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("[suites\n")
    with pytest.raises(NightlyConfigError, match="not valid TOML"):
        load_nightly(tmp_path / "bad.toml")


def test_dataclasses_check_themselves(tmp_path) -> None:
    golden = world_data(tmp_path) and tmp_path / "world_golden.jsonl"
    suite = SuiteConfig("s", (golden,))
    with pytest.raises(NightlyConfigError, match="suite names .* repeat"):
        NightlyConfig(suites=(suite, suite))
    with pytest.raises(NightlyConfigError, match="profile='fast mode'"):
        NightlyConfig(suites=(suite,), profile="fast mode")
    gates = {"error_rate": MetricGate("error_rate", max=0.0), "a": MetricGate("a", regression=True),
             "b": MetricGate("b", min=0.5)}
    assert SuiteConfig("s", (golden,), gate=gates, required=frozenset(gates)).primary_metric == "b"
    assert SuiteConfig("s", (golden,), gate=gates, required=frozenset({"error_rate", "a"})).primary_metric == "a"
    assert SuiteConfig("s", (golden,), gate=gates).primary_metric is None  # nightly-wide gates only
    assert SuiteConfig("s", (golden,), gate=gates, primary="c").primary_metric == "c"
