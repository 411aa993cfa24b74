"""The llama.cpp backend and the LLM config/factory. Fast tests check `LLMConfig` and
`load_llm`'s errors; slow ones run the real SmolLM2-135M GGUF (provisioned by `make test` into
the repo's .cairn): greedy determinism, stop sequences, streaming == non-streaming, logprobs,
token scoring, JSON-schema and grammar constrained output, the context limit, thread safety,
and a decode-speed comparison with transformers (printed, not asserted)."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from assistant.llm import DEFAULT_MODEL, LLMConfig, LLMConfigError, LLMContextError, LLMError, load_llm
from assistant.llm.config import default_batch_threads, default_threads
from assistant.llm.llamacpp import find_gguf
from knowledge.errors import CairnError

QUESTION = [{"role": "user", "content": "Name a famous science fiction film about an alien on a spaceship."}]


# -- config and factory (fast) ----------------------------------------------------------------------

def test_defaults_follow_the_design() -> None:
    config = LLMConfig()
    assert (config.backend, config.model, config.temperature) == ("llamacpp", DEFAULT_MODEL, 0.0)
    assert DEFAULT_MODEL == "qwen2.5-coder-1.5b"
    assert config.threads == default_threads() >= 1
    assert LLMConfig(n_threads=2).threads == 2
    assert config.sampling.max_tokens == config.max_tokens
    assert "api_key" not in json.dumps(config.to_dict()).replace("api_key_env", "")
    # provenance records the thread counts used, not None
    assert (config.to_dict()["n_threads"], config.to_dict()["n_threads_batch"]) == (
        default_threads(), default_batch_threads())
    assert default_batch_threads() >= default_threads() and LLMConfig(n_threads_batch=3).batch_threads == 3
    assert config.prompt_cache and config.pin_prefixes  # evaluated prompt states are reused by default


@pytest.mark.parametrize(("fields", "match"), [
    ({"backend": "vllm"}, "backend='vllm' is unknown"),
    ({"model": " "}, "model is empty"),
    ({"n_threads": 0}, "n_threads=0"),
    ({"n_threads_batch": 0}, "n_threads_batch=0"),
    ({"n_ctx": 64}, "n_ctx=64"),
    ({"max_tokens": 4096, "n_ctx": 4096}, "below n_ctx=4096"),
    ({"temperature": -0.1}, r"temperature=-0.1 must be in \[0, 2\]"),
    ({"dtype": "fp8"}, "dtype='fp8'"),
    ({"prompt_cache_mb": 0}, "prompt_cache_mb=0"),
    ({"prompt_block": 24}, "prompt_block=24 must be a multiple of 16"),
    ({"prompt_block": 256, "n_ctx": 128, "max_tokens": 64}, r"in 16..n_ctx \(128\)"),
])
def test_config_rejects_bad_values_naming_them(fields: dict, match: str) -> None:
    with pytest.raises(LLMConfigError, match=match):
        LLMConfig(**fields)


def test_unprovisioned_catalogue_model_says_how_to_pull_it() -> None:
    # conftest points CAIRN_HOME at an empty temp dir: nothing is provisioned there.
    with pytest.raises(CairnError, match=r"not provisioned.*cairn models pull qwen2.5-coder-1.5b"):
        load_llm(LLMConfig())


def test_find_gguf(tmp_path: Path) -> None:
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    assert find_gguf(tmp_path) == tmp_path / "m.gguf" == find_gguf(tmp_path / "m.gguf")
    (tmp_path / "n.gguf").write_bytes(b"GGUF")
    with pytest.raises(LLMConfigError, match="holds 2; pass the file path"):
        find_gguf(tmp_path)


# -- the real 135M model (slow) ---------------------------------------------------------------------

@pytest.fixture
def smollm_path(real_model, real_models_home: Path | None, monkeypatch: pytest.MonkeyPatch) -> Path:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install llama-cpp-python)")
    gguf = next(real_model("smollm2-135m").glob("*.gguf"))
    monkeypatch.setenv("CAIRN_HOME", str(real_models_home))  # so load_llm resolves the catalogue name
    return gguf


@pytest.fixture
def smollm(smollm_path: Path):
    llm = load_llm(LLMConfig(model="smollm2-135m", n_threads=1, n_ctx=2048, max_tokens=32))
    yield llm
    llm.close()


@pytest.mark.slow
def test_greedy_is_deterministic_across_calls_and_loads(smollm, smollm_path: Path) -> None:
    first = smollm.chat(QUESTION)
    assert first.text and first.text == smollm.chat(QUESTION).text
    assert (first.completion_tokens, first.finish_reason) == (32, "length")
    assert smollm.model_id == "smollm2-135m" and smollm.fingerprint.startswith("sha256:")
    again = load_llm(LLMConfig(model=str(smollm_path), n_threads=1, n_ctx=2048, max_tokens=32))
    assert again.chat(QUESTION).text == first.text
    assert first.prompt_tokens == again.chat(QUESTION).prompt_tokens > 10


@pytest.mark.slow
def test_stop_sequences_cut_the_reply(smollm) -> None:
    full = smollm.chat(QUESTION).text
    stop = full.split()[4]
    done = smollm.chat(QUESTION, stop=[stop])
    assert (done.text, done.finish_reason) == (full[: full.find(stop)], "stop")
    assert stop not in done.text


@pytest.mark.slow
def test_streaming_equals_non_streaming(smollm) -> None:
    done = smollm.chat(QUESTION)
    deltas = list(smollm.stream(QUESTION))
    final = deltas[-1].completion
    assert final is not None and len(deltas) > 5
    assert "".join(d.text for d in deltas) == final.text == done.text
    assert final.prompt_tokens == done.prompt_tokens
    assert abs(final.completion_tokens - done.completion_tokens) <= 1  # re-tokenized count
    assert final.timings["ttft_s"] is not None and final.timings["decode_tok_s"]
    with_stop = "".join(d.text for d in smollm.stream(QUESTION, stop=[done.text.split()[4]]))
    assert with_stop == smollm.chat(QUESTION, stop=[done.text.split()[4]]).text


@pytest.mark.slow
def test_logprobs_are_present_and_agree_with_token_scoring(smollm) -> None:
    done = smollm.chat(QUESTION, max_tokens=6, logprobs=3)
    rows = done.token_logprobs
    assert rows is not None and len(rows) == done.completion_tokens == 6
    assert "".join(token for token, _, _ in rows) == done.text
    for token, logprob, top in rows:
        assert len(top) >= 3 and logprob <= 0
        assert logprob == pytest.approx(max(top.values()), abs=1e-4)  # greedy = argmax
    assert done.text == smollm.chat(QUESTION, max_tokens=6).text  # the logits_all twin agrees
    (t1, lp1, _), (t2, lp2, _) = rows[:2]
    scores = smollm.token_logprob_of(QUESTION, [t1, t1 + t2, "UNSUPPORTED"])
    assert scores[t1] == pytest.approx(lp1, abs=1e-3)
    assert scores[t1 + t2] == pytest.approx(lp1 + lp2, abs=1e-3)  # chain rule over two tokens
    assert scores["UNSUPPORTED"] < scores[t1]
    streamed = [d for d in smollm.stream(QUESTION, max_tokens=3, logprobs=0) if d.token_logprobs]
    assert [d.token_logprobs[0].token for d in streamed] == [t for t, _, _ in rows[:3]]


@pytest.mark.slow
def test_json_schema_and_grammar_constrain_the_output(smollm) -> None:
    schema = {"type": "object", "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
              "required": ["title", "year"]}
    done = smollm.chat(QUESTION, json_schema=schema, max_tokens=80)
    parsed = json.loads(done.text)
    assert isinstance(parsed["title"], str) and isinstance(parsed["year"], int)
    answer = smollm.chat([{"role": "user", "content": "Is Alien a film? Answer yes or no."}],
                         grammar='root ::= "yes" | "no"', max_tokens=4)
    assert answer.text in {"yes", "no"}


@pytest.mark.slow
def test_prompt_beyond_the_context_window_is_a_clear_error(smollm_path: Path) -> None:
    llm = load_llm(LLMConfig(model=str(smollm_path), n_ctx=128, max_tokens=16, n_threads=1))
    long = [{"role": "user", "content": "alien " * 300}]
    with pytest.raises(LLMContextError, match="raise n_ctx"):
        llm.chat(long)
    with pytest.raises(LLMContextError, match="n_ctx=128"):
        llm.token_logprob_of(long, ["yes"])
    llm.close()
    with pytest.raises(LLMError, match="was closed; load it again"):
        llm.chat(QUESTION)


@pytest.mark.slow
def test_prompt_cache_gives_the_same_answers(smollm, smollm_path: Path) -> None:
    cached = load_llm(LLMConfig(model=str(smollm_path), n_threads=1, n_ctx=2048, max_tokens=32,
                                prompt_cache=True, prompt_cache_mb=64, prompt_block=16))
    other = [{"role": "user", "content": "What is a xenomorph?"}]
    answers = [cached.chat(q).text for q in (QUESTION, other, QUESTION)]  # the 3rd restores a cached state
    assert cached._states is not None and len(cached._states) == 2
    assert answers == [smollm.chat(QUESTION).text, smollm.chat(other).text, smollm.chat(QUESTION).text]


@pytest.mark.slow
def test_answers_and_scores_do_not_depend_on_what_ran_before(smollm_path: Path) -> None:
    """Bit-identical, not approximately equal: prompts are evaluated in aligned blocks and only
    whole blocks are reused (prefix_cache.py), so any history gives the same floats on any CPU.
    A small block makes the shared system-prompt head span several reused blocks."""
    from assistant.prompts import judge_messages

    def fresh():
        return load_llm(LLMConfig(model=str(smollm_path), n_threads=1, n_ctx=2048, max_tokens=24, prompt_block=16))

    claim = judge_messages("Alien is a film about a creature on a spaceship.", [(1, "Alien (film, 1979): a "
                           "crew meets a deadly creature aboard the spaceship Nostromo.")])
    other_claim = judge_messages("Alien is a comedy.", [(1, "Alien (film, 1979): a crew meets a deadly creature "
                                 "aboard the spaceship Nostromo.")])
    labels = ["SUPPORTED", "UNSUPPORTED"]
    first = fresh()
    alone = (first.chat(QUESTION).text, first.token_logprob_of(claim, labels))
    first.close()
    busy = fresh()  # a reload, then other work that leaves a shared prefix in the KV cache
    busy.chat([{"role": "user", "content": "Name a famous science fiction film about a robot."}])
    busy.token_logprob_of(other_claim, labels)
    busy.chat(claim)  # the very prompt about to be scored: all but its last token are in the cache
    assert busy.token_logprob_of(claim, labels) == alone[1]
    assert busy.chat(QUESTION).text == alone[0]
    busy.close()


@pytest.mark.slow
def test_pinned_heads_skip_their_tokens_and_change_nothing(smollm_path: Path) -> None:
    """The answer and judge heads are pinned once per loaded model: a later prompt starting
    with them evaluates only what follows, and the reply and the score are bit-identical to
    those of a model that pinned nothing, asked alone, after other work, and after a reload."""
    from assistant.prompts import DEMO_SOURCES, answer_head, build_messages, judge_head, judge_messages
    from assistant.transforms import hyde_messages, transform_head

    def fresh():
        return load_llm(LLMConfig(model=str(smollm_path), n_threads=1, n_ctx=2048, max_tokens=24, prompt_block=16))

    question = build_messages("Which podcast is about salt?", DEMO_SOURCES)
    claim = judge_messages("Salt Roads is a podcast about the salt trade.", [(2, DEMO_SOURCES[1].text)])
    hyde = hyde_messages("documentaries about glaciers melting")
    labels = ["SUPPORTED", "UNSUPPORTED"]
    plain = fresh()  # nothing pinned: the reference
    reference = (plain.chat(question).text, plain.token_logprob_of(claim, labels), plain.chat(hyde).text)
    plain.close()
    for _ in range(2):  # the second round is the reload
        llm = fresh()
        kept = llm.pin_prefix(answer_head())
        assert kept > 0 and kept % 16 == 0 and llm.pin_prefix(answer_head()) == kept  # once per model
        assert llm.pin_prefix(judge_head()) > 0
        assert llm.pin_prefix(transform_head("hyde"), open_last=True) > 0  # an instruction the question follows
        llm.chat([{"role": "user", "content": "Name a famous science fiction film about a robot."}])
        before = llm.prompt_tokens_evaluated
        assert llm.chat(question).text == reference[0]
        evaluated = llm.prompt_tokens_evaluated - before
        assert evaluated <= len(llm._prompt_ids(llm._llama, llm.apply_chat_template(question))) - kept
        assert llm.token_logprob_of(claim, labels) == reference[1]
        assert llm.chat(question).text == reference[0]  # right after itself, too
        before = llm.prompt_tokens_evaluated
        assert llm.chat(hyde).text == reference[2]
        assert llm.prompt_tokens_evaluated - before < len(llm._prompt_ids(llm._llama, llm.apply_chat_template(hyde))) - 32
        llm.close()


@pytest.mark.slow
def test_concurrent_calls_are_serialized(smollm) -> None:
    expected = smollm.chat(QUESTION, max_tokens=12).text
    results: list[str] = []

    def ask() -> None:
        results.append(smollm.chat(QUESTION, max_tokens=12).text)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 3


@pytest.mark.slow
def test_prompt_threads_change_no_reply_and_no_score(smollm_path: Path) -> None:
    """Prompt evaluation uses every CPU by default; llama.cpp gives each output row of a
    batch to one thread, so the thread count must not change a single float."""
    from assistant.prompts import judge_messages

    claim = judge_messages("Alien is a film about a creature.", [(1, "Alien (film, 1979): a crew meets a creature.")])
    results = []
    for threads in (1, 2):
        llm = load_llm(LLMConfig(model=str(smollm_path), n_threads=1, n_threads_batch=threads, n_ctx=2048,
                                 max_tokens=24))
        results.append((llm.chat(QUESTION).text, llm.token_logprob_of(claim, ["SUPPORTED", "UNSUPPORTED"])))
        llm.close()
    assert results[0] == results[1]
