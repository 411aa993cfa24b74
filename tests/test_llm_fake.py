"""The scripted FakeLLM (every ChatLLM method) and the shared pieces of assistant/llm/base.py
it runs through: request checks, stop handling, candidate tokenization."""
from __future__ import annotations

import math

import pytest

from assistant.llm import (
    ChatLLM,
    Completion,
    FakeLLM,
    FakeReply,
    LLMConfigError,
    LLMError,
    Sampling,
    TokenLogprob,
)
from assistant.llm.base import StopScanner, candidate_token_ids, collect, truncate_at_stop
from assistant.llm.fake import fake_tokens

USER = [{"role": "user", "content": "Which film has a xenomorph?"}]


def test_replies_are_served_in_order_and_calls_recorded() -> None:
    llm = FakeLLM(["Alien [1].", "Aliens [2]."])
    assert llm.chat(USER).text == "Alien [1]."
    second = llm.chat([{"role": "system", "content": "Cite."}, *USER], max_tokens=50, temperature=0.3)
    assert second.text == "Aliens [2]."
    assert [c.kind for c in llm.calls] == ["chat", "chat"]
    assert llm.last_messages[0] == {"role": "system", "content": "Cite."}
    assert llm.last_request is not None and llm.last_request.max_tokens == 50
    assert llm.last_request.temperature == 0.3
    assert llm.prompts[1].startswith("<|system|>\nCite.\n<|user|>\n")
    assert isinstance(llm, ChatLLM)


def test_exhausted_queue_fails_naming_the_prompt_unless_default() -> None:
    llm = FakeLLM()
    with pytest.raises(LLMError, match="no scripted reply left.*xenomorph"):
        llm.chat(USER)
    llm.default = "I don't know."
    assert llm.chat(USER).text == "I don't know."
    assert llm.queue("a", "b").chat(USER).text == "a"  # queue() chains and goes first


def test_callable_reply_sees_the_messages() -> None:
    llm = FakeLLM(default=lambda messages: f"echo: {messages[-1]['content']}")
    assert llm.chat(USER).text == "echo: Which film has a xenomorph?"


def test_stop_sequences_cut_the_reply() -> None:
    llm = FakeLLM(["Answer: Alien.\n\nQuestion: next?"] * 2)
    done = llm.chat(USER, stop=["\n\n"])
    assert (done.text, done.finish_reason) == ("Answer: Alien.", "stop")
    streamed = "".join(d.text for d in llm.stream(USER, stop="\n\n"))
    assert streamed == "Answer: Alien."


def test_max_tokens_truncates_with_finish_reason_length() -> None:
    llm = FakeLLM(["one two three four five"])
    done = llm.chat(USER, max_tokens=3)
    assert (done.text, done.finish_reason, done.completion_tokens) == ("one two three", "length", 3)


def test_stream_yields_text_then_one_summary_equal_to_chat() -> None:
    llm = FakeLLM(["The film is Alien [1]."] * 2)
    deltas = list(llm.stream(USER))
    assert all(d.text and d.completion is None for d in deltas[:-1])
    assert deltas[-1].done and deltas[-1].text == ""
    summary = deltas[-1].completion
    assert summary is not None
    assert "".join(d.text for d in deltas) == summary.text == llm.chat(USER).text
    assert summary.completion_tokens == len(deltas) - 1 == 8  # The film is Alien [ 1 ] .
    assert summary.prompt_tokens == llm.count_tokens(llm.prompts[0])
    assert set(summary.timings) == {"ttft_s", "total_s", "decode_tok_s"}
    assert collect(llm.queue("x").stream(USER)).text == "x"


def test_stream_is_recorded_when_created_and_options_checked_eagerly() -> None:
    llm = FakeLLM(["a"])
    llm.stream(USER)  # never consumed: still a call, like a request sent to a server
    assert [c.kind for c in llm.calls] == ["stream"]
    with pytest.raises(LLMConfigError, match="temperature=3"):
        llm.stream(USER, temperature=3)


def test_logprobs_default_to_certain_tokens_or_come_from_the_script() -> None:
    llm = FakeLLM(["Yes it is", FakeReply("No", token_logprobs=[TokenLogprob("No", -0.2, {"No": -0.2, "Yes": -1.8})])])
    certain = llm.chat(USER, logprobs=2)
    assert certain.token_logprobs == [TokenLogprob(t, 0.0, {t: 0.0}) for t in ["Yes", " it", " is"]]
    scripted = list(llm.stream(USER, logprobs=1))
    assert scripted[0].token_logprobs == [TokenLogprob("No", -0.2, {"No": -0.2, "Yes": -1.8})]
    assert llm.queue("z").chat(USER).token_logprobs is None  # not asked for


def test_scripted_finish_reason_wins() -> None:
    assert FakeLLM([FakeReply("cut", finish_reason="length")]).chat(USER).finish_reason == "length"


def test_token_logprob_of_uses_tables_then_uniform() -> None:
    llm = FakeLLM(logprob_tables=[{"SUPPORTED": -0.1, "UNSUPPORTED": -2.4}])
    assert llm.token_logprob_of(USER, ["SUPPORTED", "UNSUPPORTED", "MAYBE"]) == {
        "SUPPORTED": -0.1, "UNSUPPORTED": -2.4, "MAYBE": -math.inf}
    assert llm.token_logprob_of(USER, ["Yes", "No"]) == {"Yes": -math.log(2), "No": -math.log(2)}
    assert llm.calls[0].kind == "token_logprob_of" and llm.calls[0].candidates[0] == "SUPPORTED"
    assert llm.queue_logprobs({"Yes": -3.0}).token_logprob_of(USER, ["Yes"]) == {"Yes": -3.0}


def test_count_tokens_template_and_identity() -> None:
    llm = FakeLLM(model_id="fake-small", defaults=Sampling(max_tokens=7, temperature=0.0, seed=3))
    assert llm.count_tokens("Alien (1979), dir. Scott") == 8
    assert llm.count_tokens("") == 0
    assert "".join(fake_tokens("a  b,\nc")) == "a  b,\nc"
    assert llm.apply_chat_template(USER) == "<|user|>\nWhich film has a xenomorph?\n<|assistant|>\n"
    assert (llm.model_id, llm.fingerprint) == ("fake-small", "fake:fake-small")
    request = llm.request(USER)
    assert (request.max_tokens, request.seed, request.stop) == (7, 3, ())


@pytest.mark.parametrize(("options", "match"), [
    ({"max_tokens": 0}, "max_tokens=0"),
    ({"logprobs": 21}, "logprobs=21"),
    ({"stop": [""]}, "stop="),
    ({"json_schema": {"type": "object"}, "grammar": "root ::= \"a\""}, "not both"),
    ({"top_k": 5}, r"unknown generation option\(s\) \['top_k'\]"),
])
def test_bad_options_are_rejected_naming_the_value(options: dict, match: str) -> None:
    with pytest.raises(LLMConfigError, match=match):
        FakeLLM(["x"]).chat(USER, **options)


@pytest.mark.parametrize(("messages", "match"), [
    ([], "messages is empty"),
    ([{"role": "robot", "content": "x"}], "role 'robot'"),
    ([{"role": "user", "content": None}], "content must be a string"),
])
def test_bad_messages_are_rejected(messages: list, match: str) -> None:
    with pytest.raises(LLMConfigError, match=match):
        FakeLLM(["x"]).chat(messages)


@pytest.mark.parametrize(("pieces", "stops", "released", "stopped"), [
    (["Ans", "wer:\n", "\nQ: more"], ["\n\n"], "Answer:", True),  # stop split across pieces
    (["a<", "/s", "> tail"], ["</s>"], "a", True),
    (["a<", "b"], ["</s>"], "a<b", False),  # a false start is released later
    (["xy"], ["END", "y"], "x", True),  # the earliest of several stops wins
])
def test_stop_scanner_never_releases_part_of_a_stop(pieces, stops, released, stopped) -> None:
    scanner = StopScanner(stops)
    out = "".join(scanner.feed(p) for p in pieces) + scanner.flush()
    assert (out, scanner.stopped) == (released, stopped)
    assert all("\n\n" not in scanner.feed(p) for p in ["\n"])  # after a stop nothing more comes out


def test_truncate_at_stop() -> None:
    assert truncate_at_stop("a. b. c", [". "]) == ("a", True)
    assert truncate_at_stop("abc", ["x"]) == ("abc", False)


def test_candidate_token_ids_tokenizes_in_context() -> None:
    # A toy tokenizer that merges " Yes" into one token only after a space, as BPE does.
    vocab = {":": 1, " Yes": 2, "Yes": 3, " ": 4, "No": 5, "x": 6}

    def tokenize(text: str) -> list[int]:
        ids, i = [], 0
        while i < len(text):
            piece = next(p for p in sorted(vocab, key=len, reverse=True) if text.startswith(p, i))
            ids.append(vocab[piece])
            i += len(piece)
        return ids

    assert candidate_token_ids(tokenize, "x: ", "Yes") == [3]  # "x: " + "Yes" keeps the space token
    assert candidate_token_ids(tokenize, "x:", " Yes") == [2]
    assert candidate_token_ids(tokenize, "x:", "NoYes") == [5, 3]
    with pytest.raises(LLMConfigError, match="empty candidate"):
        candidate_token_ids(tokenize, "x", "")


def test_collect_without_summary_is_a_backend_bug() -> None:
    with pytest.raises(LLMError, match="without a final summary"):
        collect(iter([]))
    assert isinstance(collect(iter([*FakeLLM(["q"]).stream(USER)])), Completion)
