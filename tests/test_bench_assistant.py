"""`cairn bench assistant`'s pure parts: question picking, the stream decode rate, the summary
(stage shares, ratios), and a scripted run of the measuring loop without a real engine."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.bench import BenchError, measure, pick_questions, stream_rate, summarise
from agent_world import make_agent


def _golden(path: Path, n: int, collection: str = "catalog") -> Path:
    rows = [{"id": f"{collection}-{i}", "collection": collection, "question": f"question {i}", "relevant_ids": [],
             "answerable": i % 5 != 0, "reference_answer": "x"} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_pick_questions_spreads_over_files_and_skips_unanswerable(tmp_path: Path) -> None:
    a, b = _golden(tmp_path / "a.jsonl", 20), _golden(tmp_path / "b.jsonl", 10, "notes")
    picked = pick_questions([a, b, tmp_path / "missing.jsonl"], 5)
    assert [c for c, _ in picked] == ["catalog", "catalog", "catalog", "notes", "notes"]
    assert all(int(q.split()[1]) % 5 for _, q in picked)  # unanswerable ones (i % 5 == 0) left out
    assert pick_questions([a, b], 5) == picked  # deterministic
    with pytest.raises(BenchError, match="no golden questions"):
        pick_questions([tmp_path / "missing.jsonl"], 3)


def test_stream_rate_counts_intervals_between_pieces() -> None:
    assert stream_rate([1.0, 1.5, 2.0], 11) == pytest.approx(10.0)  # 10 tokens after the first in 1 s
    assert stream_rate([1.0], 5) is None and stream_rate([1.0, 2.0], 1) is None


def _row(total: float, verified: float, evaluated: int) -> dict:
    return {"refused": False, "ttft_s": 2.0, "total_s": total, "first_verified_s": verified, "decode_tok_s": 9.0,
            "sources_s": 0.5, "verify_s": 1.0, "prompt_tokens": 900, "prompt_tokens_evaluated": evaluated,
            "judge_calls": 2, "judge_tokens": 800, "judge_tokens_evaluated": evaluated // 2,
            "stages": {"route_s": 0.0, "retrieve_s": 1.0, "transforms_s": 0.0, "generate_s": total * 0.6,
                       "verify_s": total * 0.2}}


def test_summary_has_per_question_ratios_stage_shares_and_raw() -> None:
    records = [{"question": "q", "before": _row(20.0, 20.0, 900), "after": _row(10.0, 4.0, 300),
                "raw": {"ttft_s": 1.0, "decode_tok_s": 10.0}}] * 3
    s = summarise(records, ["before", "after"])
    ratios = s["ratios"]["after"]
    assert ratios["total_s"]["p50"] == pytest.approx(0.5) and ratios["first_verified_s"]["p50"] == pytest.approx(0.2)
    assert ratios["prompt_tokens_evaluated"]["p50"] == pytest.approx(1 / 3)
    assert s["systems"]["after"]["stage_share"]["generate_s"] == pytest.approx(0.6)
    assert s["systems"]["after"]["stage_share"]["other"] == pytest.approx(0.1)
    assert s["raw"]["decode_ratio"]["p50"] == pytest.approx(0.9) and s["raw"]["ttft_ratio"]["p50"] == pytest.approx(2.0)


def test_measure_runs_every_system_per_question(kbs) -> None:
    first, _ = make_agent(kbs, role="clinician")
    second, _ = make_agent(kbs, role="clinician")
    records = measure({"before": first, "after": second},
                      None, [("catalog", "documentaries about the ocean"), ("notes", "what was started for pt_0001?")],
                      progress=False, shows_only_at_end=("before",))
    assert [r["after"]["tool"] for r in records] == ["search_catalog", "search_notes"]
    for record in records:
        after, before = record["after"], record["before"]
        assert after["sources_s"] is not None and after["sources_s"] <= after["total_s"]
        assert after["first_verified_s"] <= after["total_s"]
        assert before["first_verified_s"] == before["sources_s"] == before["total_s"]
        assert after["text"] == before["text"]  # scripted alike: the same answer through both
    assert "raw" not in records[0]
