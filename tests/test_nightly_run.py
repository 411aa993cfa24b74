"""`cairn nightly` end to end on the tiny world (scripted model, hash embedder): a first run
passes and becomes the baseline, a forced regression exits 1 without moving the baseline, a
good run after it passes again; --no-gate, --accept, a suite that cannot run, resuming a run
that died, profiles, and the command line (exit codes, accept, history)."""
from __future__ import annotations

import argparse
import json
import sqlite3

import pytest
from nightly_world import bad_reply, run_world, world_config, world_data

from evals import nightly_cli
from evals.nightly import run as nightly_run
from evals.nightly.history import History
from knowledge.errors import CairnError


def test_first_run_passes_writes_everything_and_becomes_the_baseline(kbs, tmp_path) -> None:
    config = world_config(tmp_path)
    outcome = run_world(kbs, config)
    assert outcome.exit_code == 0 and outcome.passed
    root = outcome.out_dir
    assert root.parent == tmp_path / "runs" and root.name == outcome.run_id
    for name in ("report.html", "summary.md", "findings.json", "nightly.json"):
        assert (root / name).is_file()
    for suite in ("world-retrieval", "world-qa"):
        assert (root / "suites" / suite / "results.jsonl").is_file() and (root / "suites" / suite / "summary.json").is_file()
    retrieval, qa = outcome.suites
    assert retrieval.summary["counts"]["cases"] == 4 and retrieval.records[0]["task"] == "retrieval"
    assert retrieval.values["route_correct"].value == 1.0 and retrieval.values["ndcg@10"].n == 3
    assert retrieval.values["filter_accuracy"].value == 1.0  # the router parses the world's filters exactly
    assert qa.values["refusal_correct"].value == 1.0 and qa.values["error_rate"].value == 0.0
    assert {"latency.qa.total_s.p50", "latency.qa.total_s.p95", "cases_per_min"} <= set(qa.values)
    assert [f.kind for f in outcome.findings] == ["no-baseline", "no-baseline"]  # nothing to compare with yet
    assert retrieval.accepted and qa.accepted  # auto_accept = "first"
    findings = json.loads((root / "findings.json").read_text())
    assert findings["passed"] and findings["exit_code"] == 0
    with History(tmp_path / "history.sqlite") as history:
        run = history.get_run(outcome.run_id)
        assert run.status == "passed" and set(run.accepted_suites) == {"world-retrieval", "world-qa"}
        assert history.last_accepted("world", "full", "world-qa") == outcome.run_id
        assert history.values(outcome.run_id, "world-qa")["refusal_correct"].value == 1.0
        assert history.values(outcome.run_id, "world-qa", "tag:unanswerable")["refused"].value == 1.0
    summary = (root / "summary.md").read_text()
    assert "| world-qa | refusal_correct | 1.000 |" in summary and "PASS" in summary


def test_forced_regression_exits_1_and_keeps_the_baseline(kbs, tmp_path) -> None:
    config = world_config(tmp_path)
    first = run_world(kbs, config)
    bad = run_world(kbs, config, reply=bad_reply)
    assert bad.exit_code == 1 and not bad.passed
    qa = bad.suites[1]
    assert qa.baseline_run == first.run_id
    regressions = {f.metric: f for f in qa.findings if f.kind == "regression"}
    assert set(regressions) == {"refusal_correct", "rougeL_f"}
    # 3 of 4 cases now wrong: 0.25 [0, 0.75] lies wholly below the baseline 1.0
    assert regressions["refusal_correct"].value == 0.25 and regressions["refusal_correct"].reference == 1.0
    assert "regressed" in regressions["refusal_correct"].message and first.run_id in regressions["refusal_correct"].message
    assert bad.suites[0].passed  # retrieval needs no model: unaffected
    assert not qa.accepted
    with History(tmp_path / "history.sqlite") as history:
        assert history.get_run(bad.run_id).status == "failed"
        assert history.last_accepted("world", "full", "world-qa") == first.run_id  # not moved by a failure
        kinds = {(f.metric, f.kind) for f in history.findings(bad.run_id)}
        assert ("refusal_correct", "regression") in kinds
    assert "**FAIL**" in (bad.out_dir / "summary.md").read_text()
    # a good run afterwards compares with the first run again, and passes
    again = run_world(kbs, config)
    assert again.exit_code == 0 and again.suites[1].baseline_run == first.run_id
    assert not [f for f in again.findings if f.kind in ("regression", "improvement")]
    assert len(again.suites[1].trends["refusal_correct"]) == 3  # the trend holds all three runs


def test_no_gate_reports_but_exits_0_and_accept_moves_the_baseline(kbs, tmp_path) -> None:
    config = world_config(tmp_path)
    run_world(kbs, config)
    bad = run_world(kbs, config, reply=bad_reply, gate=False, accept=True)
    assert bad.exit_code == 0 and not bad.passed and "FAIL (not gated)" in (bad.out_dir / "summary.md").read_text()
    assert bad.suites[0].accepted and not bad.suites[1].accepted  # --accept takes the passing suites only
    with History(tmp_path / "history.sqlite") as history:
        assert history.last_accepted("world", "full", "world-retrieval") == bad.run_id


def test_a_suite_that_cannot_run_fails_the_run_and_the_others_still_run(kbs, tmp_path) -> None:
    def no_model(config):
        raise CairnError("model qwen-x is not provisioned; run `cairn models pull qwen-x`")

    outcome = run_world(kbs, world_config(tmp_path), factory=no_model)
    assert outcome.exit_code == 1
    retrieval, qa = outcome.suites
    assert retrieval.passed and qa.status == "error" and "cairn models pull" in qa.error
    assert [(f.kind, f.severity) for f in qa.findings] == [("error", "fail")]
    assert "did not run" in (outcome.out_dir / "report.html").read_text()
    with History(tmp_path / "history.sqlite") as history:
        assert history.suites_of(outcome.run_id)["world-qa"]["status"] == "error"
        with pytest.raises(CairnError, match="did not finish"):
            history.accept(outcome.run_id, ["world-qa"])


def test_a_missing_required_metric_fails(kbs, tmp_path) -> None:
    data = world_data(tmp_path)
    data["suites"]["world-retrieval"]["gate"]["ndcg@100"] = {"min": 0.1}
    outcome = run_world(kbs, world_config(tmp_path, data))
    missing = [f for f in outcome.findings if f.kind == "missing"]
    assert outcome.exit_code == 1 and [f.metric for f in missing] == ["ndcg@100"] and "ndcg@10" in missing[0].message


class Died(BaseException):
    """The process dying mid-run (not an error a suite could record)."""


def test_resume_finishes_a_run_that_died(kbs, tmp_path) -> None:
    from nightly_world import agent_factory

    config = world_config(tmp_path)

    def dying(config):
        raise Died()

    with pytest.raises(Died):
        run_world(kbs, config, factory=dying)
    with History(tmp_path / "history.sqlite") as history:
        (row,) = history.runs()
        assert row.status == "running" and list(history.suites_of(row.id)) == ["world-retrieval"]
    made = []

    def counting(config):
        made.append(config)
        return agent_factory(kbs)(config)

    outcome = run_world(kbs, config, factory=counting, resume=row.id)
    assert outcome.run_id == row.id and outcome.exit_code == 0 and len(made) == 1
    assert outcome.suites[0].values["ndcg@10"].value > 0  # read back from the history, not rerun
    with History(tmp_path / "history.sqlite") as history:
        assert history.get_run(row.id).status == "passed"


def test_changed_cases_are_not_compared_with_the_old_baseline(kbs, tmp_path) -> None:
    first = run_world(kbs, world_config(tmp_path))
    data = world_data(tmp_path)
    data["suites"]["world-qa"]["limit"] = 3
    smaller = run_world(kbs, world_config(tmp_path, data), reply=bad_reply)
    qa = smaller.suites[1]
    assert qa.baseline_run is None and not [f for f in qa.findings if f.kind == "regression"]
    changed = [f for f in qa.findings if f.kind == "settings-changed"]
    assert len(changed) == 1 and first.run_id in changed[0].message and "accept a run" in changed[0].message
    assert "settings-changed" in (smaller.out_dir / "summary.md").read_text() or \
        "cases or settings changed" in (smaller.out_dir / "summary.md").read_text()
    assert smaller.suites[0].baseline_run == first.run_id  # the retrieval suite did not change


def test_profiles_have_their_own_baselines(kbs, tmp_path) -> None:
    full = run_world(kbs, world_config(tmp_path))
    fast = run_world(kbs, world_config(tmp_path, profile="fast"))
    assert fast.config.profile == "fast" and fast.suites[1].summary["counts"]["cases"] == 2
    assert fast.suites[1].baseline_run is None and full.suites[1].accepted  # a fast run is not compared with full


# -- the command -----------------------------------------------------------------------------------

def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cairn")
    nightly_cli.register(p.add_subparsers(dest="command"))
    return p


def test_help_names_the_exit_codes_and_subcommands(capsys) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["nightly", "--help"])
    text = capsys.readouterr().out
    assert "--fast" in text and "--no-gate" in text and "accept" in text and "Exit status" in text


WORLD_TOML = """
name = "world"
history = "history.sqlite"
out = "runs"
[eval]
judge = "off"
bootstrap_b = 200
[gate]
error_rate = { max = 0.0 }
[suites.world-qa]
golden = ["world_golden.jsonl"]
[suites.world-qa.gate]
refusal_correct = { regression = true }
rougeL_f = { regression = true }
"""


def test_command_exit_codes_accept_and_history(kbs, tmp_path, monkeypatch, capsys) -> None:
    from nightly_world import agent_factory, write_golden

    write_golden(tmp_path)
    toml = tmp_path / "nightly.toml"
    toml.write_text(WORLD_TOML)
    replies = {}

    class FakeModels:  # what the command loads instead of real models
        def __call__(self, config):
            return agent_factory(kbs, **replies)(config)

        def close(self):
            pass

    monkeypatch.setattr(nightly_run, "SharedModels", FakeModels)
    args = parser().parse_args(["nightly", "--config", str(toml), "--quiet"])
    assert args.func(args) == 0
    first_out = capsys.readouterr()
    assert "| world-qa | refusal_correct |" in first_out.out and "report:" in first_out.out
    replies["reply"] = bad_reply
    args = parser().parse_args(["nightly", "--config", str(toml), "--quiet"])
    assert args.func(args) == 1
    assert "regressed" in capsys.readouterr().err
    with History(tmp_path / "history.sqlite") as history:
        newest, oldest = history.runs()
    args = parser().parse_args(["nightly", "accept", newest.id, "--config", str(toml), "--suite", "world-qa"])
    assert args.func(args) == 0
    assert "gate status is failed" in capsys.readouterr().out
    with History(tmp_path / "history.sqlite") as history:
        assert history.last_accepted("world", "full", "world-qa") == newest.id
    args = parser().parse_args(["nightly", "--config", str(toml), "history"])
    assert args.func(args) == 0
    listing = capsys.readouterr().out
    assert newest.id in listing and oldest.id in listing and "world/full" in listing
    db = sqlite3.connect(tmp_path / "history.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
