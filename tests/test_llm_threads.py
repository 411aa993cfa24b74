"""Decode threads chosen by measurement (assistant/llm/threads.py): the choice worked by hand,
the record per machine and model, and LLMConfig reading it; (slow) `cairn bench threads` on the
tiny model, and the thread count changing no reply."""
from __future__ import annotations

import json
import pytest

from assistant.llm.config import LLMConfig, default_threads, load_llm
from assistant.llm.threads import best_threads, machine_key, read_records, record_path, recorded_threads, save_record


def test_best_is_the_highest_median_and_a_tie_goes_to_fewer_threads() -> None:
    # medians: 1 -> 7.2, 2 -> 11.9 (one slow outlier does not decide), 3 -> 11.9: a tie, fewer threads win
    assert best_threads({1: [7.1, 7.3, 7.2], 2: [11.8, 3.0, 12.0, 12.1], 3: [11.9, 11.9, 11.9]}) == 2
    assert best_threads({1: [9.0], 2: []}) == 1
    with pytest.raises(ValueError, match="at least one measured rate"):
        best_threads({1: [], 2: []})


def test_record_is_per_machine_and_model_and_config_uses_it() -> None:
    assert recorded_threads("qwen2.5-coder-1.5b") is None and not record_path().exists()
    assert LLMConfig().threads == default_threads()  # nothing measured: the rule of thumb
    best = save_record("qwen2.5-coder-1.5b", {1: [7.0, 7.2], 2: [11.0, 12.0]}, {"git_commit": "abc"})
    assert best == 2 and recorded_threads("qwen2.5-coder-1.5b") == 2 and recorded_threads("other") is None
    entry = read_records()[machine_key("qwen2.5-coder-1.5b")]
    assert entry["tok_s"] == {"1": [7.0, 7.2], "2": [11.0, 12.0]} and entry["provenance"] == {"git_commit": "abc"}
    assert LLMConfig().threads == 2 and LLMConfig(n_threads=1).threads == 1  # --threads still wins
    assert LLMConfig(backend="openai", base_url="http://127.0.0.1:8080/v1").threads == default_threads()
    assert LLMConfig().to_dict()["n_threads"] == 2  # provenance records the count used
    other = {"Some Other CPU, AVX2 | 64 CPUs | qwen2.5-coder-1.5b": {"threads": 16}}
    record_path().write_text(json.dumps({**read_records(), **other}))
    assert recorded_threads("qwen2.5-coder-1.5b") == 2  # another machine's choice is not ours
    record_path().write_text("{not json")
    assert recorded_threads("qwen2.5-coder-1.5b") is None  # damaged: the rule of thumb again


@pytest.mark.slow
def test_bench_threads_records_a_choice_and_threads_change_no_reply(real_model, capsys) -> None:
    import cli

    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    smollm_path = next(real_model("smollm2-135m").glob("*.gguf"))  # by path: the record goes to this test's home

    args = cli.build_parser().parse_args(["bench", "threads", "--model", str(smollm_path), "--max-threads", "2",
                                          "--tokens", "8", "--repeats", "1"])
    assert args.func(args) == 0
    assert recorded_threads(str(smollm_path)) in (1, 2) and "decode thread(s) recorded" in capsys.readouterr().out
    assert args.func(cli.build_parser().parse_args(["bench", "threads", "--model", str(smollm_path),
                                                    "--if-missing"])) == 0
    assert "measured earlier" in capsys.readouterr().out
    llm = load_llm(LLMConfig(model=str(smollm_path), n_threads=1, n_ctx=2048, max_tokens=24))
    question = [{"role": "user", "content": "What is the film Alien about?"}]
    replies = []
    for threads in (1, 2, 1):
        llm.set_threads(threads)
        replies.append(llm.chat(question).text)
    llm.close()
    assert replies[0] == replies[1] == replies[2]
