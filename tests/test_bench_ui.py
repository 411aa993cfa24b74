"""`cairn bench ui` runs end to end in chromium with a scripted model (a smoke test: the numbers
are measured, never asserted), and its summary is the median and spread of per-question ratios."""
from __future__ import annotations

import pytest

import app
from agent_world import supported
from assistant.bench_ui import run, summarise
from test_ui_browser import SlowFake


def test_summary_is_per_question_ratios():
    summary = summarise([{"browser_s": 1.1, "cli_s": 1.0}, {"browser_s": 3.0, "cli_s": 2.0},
                         {"browser_s": 2.0, "cli_s": 2.0}])
    assert summary["ratio"]["median"] == pytest.approx(1.1) and summary["ratio"]["max"] == pytest.approx(1.5)
    assert summary["cli_s"]["median"] == 2.0 and summary["n"] == 3 and summary["target_met"] is True


@pytest.mark.slow
def test_runs_both_ways_in_a_browser(kbs):
    services = app.Services(app.AppConfig(), llm=SlowFake(default="Deep Blue is about the ocean [1].",
                                                          logprob_tables=[supported()] * 400),
                            open_kb=kbs.__getitem__)
    records = run(services, [("catalog", "documentaries about the ocean"), ("notes", "what was started for the cough?")])
    assert [r["first"] for r in records] == ["cli", "browser"]
    assert all(r["browser_s"] > 0 and r["cli_s"] > 0 for r in records)
