"""The nightly history database: a round trip of runs, suites, metrics and findings; baselines
per lineage and suite; acceptance rules; trends; crash safety (a suite is committed as soon as
it ends, and a second connection sees it); a damaged file is a clear error."""
from __future__ import annotations

import pytest

from evals.nightly.gate import Finding
from evals.nightly.history import History, HistoryError
from evals.nightly.values import MetricValue

SUMMARY = {"counts": {"cases": 10, "ok": 9, "errors": 1},
           "throughput": {"wall_s": 60.0, "cases_per_min": 10.0, "assistant_s": 50.0, "scoring_s": 5.0}}


def _run(history: History, run_id: str, *, value: float, name: str = "demo", profile: str = "full",
         suite: str = "qa", accept: bool = False) -> None:
    history.start_run(run_id, name=name, profile=profile, git_commit="abc", config_hash="h", config={"x": 1},
                      out_dir=f"/runs/{run_id}")
    history.record_suite(run_id, suite, kind="agent", status="ok", summary=SUMMARY,
                         values={"ndcg@10": MetricValue(value, value - 0.1, value + 0.1, 10)},
                         scoped={("tag:filter", "ndcg@10"): MetricValue(value / 2, None, None, 4)})
    history.record_findings(run_id, suite, [], passed=True)
    history.finish_run(run_id, passed=True, provenance={"git_commit": "abc"})
    if accept:
        history.accept(run_id)


def test_round_trip(tmp_path) -> None:
    with History(tmp_path / "h.sqlite") as history:
        _run(history, "r1", value=0.8)
        finding = Finding("qa", "ndcg@10", "regression", "fail", "ndcg@10 regressed", 0.6, 0.8)
        history.record_findings("r1", "qa", [finding], passed=False)
        run = history.get_run("r1")
        assert (run.name, run.profile, run.status, run.git_commit, run.out_dir) == ("demo", "full", "passed", "abc",
                                                                                   "/runs/r1")
        assert history.values("r1", "qa") == {"ndcg@10": MetricValue(0.8, pytest.approx(0.7), pytest.approx(0.9), 10)}
        assert history.values("r1", "qa", "tag:filter")["ndcg@10"] == MetricValue(0.4, None, None, 4)
        suite = history.suites_of("r1")["qa"]
        assert (suite["cases"], suite["errors"], suite["cases_per_min"], suite["passed"]) == (10, 1, 10.0, 0)
        assert history.findings("r1") == [finding]


def test_last_accepted_is_per_lineage_and_suite(tmp_path) -> None:
    with History(tmp_path / "h.sqlite") as history:
        assert history.last_accepted("demo", "full", "qa") is None
        _run(history, "r1", value=0.8, accept=True)
        _run(history, "r2", value=0.7)  # not accepted
        _run(history, "r3", value=0.9, profile="fast", accept=True)  # another profile
        _run(history, "r4", value=0.9, suite="other", accept=True)  # another suite
        assert history.last_accepted("demo", "full", "qa") == "r1"
        assert history.last_accepted("demo", "fast", "qa") == "r3"
        assert history.accept("r2") == ["qa"]
        assert history.last_accepted("demo", "full", "qa") == "r2"
        assert history.last_accepted("demo", "full", "qa", before="r2") == "r1"  # a run never is its own baseline
        assert history.get_run("r2").accepted_suites == ("qa",)


def test_last_accepted_can_require_the_same_suite_signature(tmp_path) -> None:
    with History(tmp_path / "h.sqlite") as history:
        for run_id, signature in (("r1", "aaa"), ("r2", "bbb")):
            history.start_run(run_id, name="demo", profile="full", git_commit="abc", config_hash="h", config={},
                              out_dir="/x")
            history.record_suite(run_id, "qa", kind="agent", status="ok", signature=signature,
                                 values={"m": MetricValue(0.5)})
            history.accept(run_id)
        assert history.last_accepted("demo", "full", "qa") == "r2"
        assert history.last_accepted("demo", "full", "qa", signature="aaa") == "r1"
        assert history.last_accepted("demo", "full", "qa", signature="ccc") is None


def test_accept_rules(tmp_path) -> None:
    with History(tmp_path / "h.sqlite") as history:
        _run(history, "r1", value=0.8)
        history.record_suite("r1", "broken", kind="agent", status="error", error="no model")
        assert history.accept("r1") == ["qa"]  # every suite that finished
        with pytest.raises(HistoryError, match="suite 'broken' of run r1 did not finish"):
            history.accept("r1", ["broken"])
        with pytest.raises(HistoryError, match="run r1 has no suite 'nope'; it ran: qa, broken"):
            history.accept("r1", ["nope"])
        with pytest.raises(HistoryError, match="no run 'r9'.*recent runs: r1.*cairn nightly history"):
            history.accept("r9")


def test_trend_is_oldest_first_within_the_limit(tmp_path) -> None:
    with History(tmp_path / "h.sqlite") as history:
        for i, value in enumerate([0.5, 0.6, 0.7, 0.8], 1):
            _run(history, f"r{i}", value=value, accept=i == 2)
        points = history.trend("demo", "full", "qa", "ndcg@10", limit=3)
        assert [p.run_id for p in points] == ["r2", "r3", "r4"]
        assert [p.value for p in points] == [0.6, 0.7, 0.8] and [p.accepted for p in points] == [True, False, False]
        assert history.trend("demo", "full", "qa", "ndcg@10", scope="tag:filter")[0].value == 0.25
        assert [r.id for r in history.runs(limit=2)] == ["r4", "r3"]


def test_a_suite_is_durable_before_the_run_ends(tmp_path) -> None:
    path = tmp_path / "h.sqlite"
    writer = History(path)
    writer.start_run("r1", name="demo", profile="full", git_commit="abc", config_hash="h", config={}, out_dir="/x")
    writer.record_suite("r1", "qa", kind="agent", status="ok", summary=SUMMARY,
                        values={"ndcg@10": MetricValue(0.8, 0.7, 0.9, 10)})
    with History(path) as reader:  # another process after a crash: the suite is there, the run still "running"
        assert reader.get_run("r1").status == "running" and reader.values("r1", "qa")["ndcg@10"].value == 0.8
    # a resumed suite replaces its rows instead of doubling them
    writer.record_suite("r1", "qa", kind="agent", status="ok", summary=SUMMARY,
                        values={"ndcg@10": MetricValue(0.85, 0.7, 0.9, 10)})
    assert writer.values("r1", "qa")["ndcg@10"].value == 0.85
    writer.close()


def test_a_damaged_file_is_a_clear_error(tmp_path) -> None:
    path = tmp_path / "h.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(HistoryError, match="not a usable history database.*move it away"):
        History(path)
