"""CairnChatModel: a cairn ChatLLM (here the scripted FakeLLM) used as a plain LangChain chat
model — invoke, stream, stop, usage metadata, options, bind_tools, callbacks, chains."""
from __future__ import annotations

from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, ChatMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.messages.function import FunctionMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool

from assistant.llm import FakeLLM, LLMConfigError
from assistant.llm.langchain import CairnChatModel, to_chat_messages

QUESTION = [SystemMessage("Answer with citations."), HumanMessage("Which film has a xenomorph?")]


def test_invoke_returns_text_usage_and_metadata() -> None:
    fake = FakeLLM(["Alien [1]."], model_id="fake-tiny")
    reply = CairnChatModel(llm=fake).invoke(QUESTION)
    assert isinstance(reply, AIMessage) and reply.content == "Alien [1]."
    assert fake.last_messages == [{"role": "system", "content": "Answer with citations."},
                                  {"role": "user", "content": "Which film has a xenomorph?"}]
    prompt_tokens = fake.count_tokens(fake.prompts[0])
    assert reply.usage_metadata == {"input_tokens": prompt_tokens, "output_tokens": 5,
                                    "total_tokens": prompt_tokens + 5}
    meta = reply.response_metadata
    assert (meta["finish_reason"], meta["model_name"], meta["fingerprint"]) == ("stop", "fake-tiny", "fake:fake-tiny")
    assert set(meta["timings"]) == {"ttft_s", "total_s", "decode_tok_s"}


def test_stop_and_options_reach_the_backend() -> None:
    fake = FakeLLM(["first line\n\nsecond"])
    model = CairnChatModel(llm=fake, max_tokens=64, temperature=0.2, seed=7)
    assert model.invoke(QUESTION, stop=["\n\n"]).content == "first line"
    request = fake.last_request
    assert request is not None
    assert (request.stop, request.max_tokens, request.temperature, request.seed) == (("\n\n",), 64, 0.2, 7)
    fake.queue('{"a": 1}')
    model.bind(json_schema={"type": "object"}, max_tokens=9).invoke(QUESTION)
    assert fake.last_request.json_schema == {"type": "object"} and fake.last_request.max_tokens == 9


def test_logprobs_surface_in_response_metadata() -> None:
    reply = CairnChatModel(llm=FakeLLM(["Yes"])).invoke(QUESTION, logprobs=1)
    assert reply.response_metadata["logprobs"] == [("Yes", 0.0, {"Yes": 0.0})]


def test_unknown_option_fails_loudly() -> None:
    with pytest.raises(LLMConfigError, match="top_k"):
        CairnChatModel(llm=FakeLLM(["x"])).invoke(QUESTION, top_k=3)


def test_stream_yields_tokens_and_aggregates_to_the_invoke_result() -> None:
    fake = FakeLLM(["The film is Alien [1]."] * 2)
    model = CairnChatModel(llm=fake)
    chunks = list(model.stream(QUESTION))
    assert [c.content for c in chunks[:3]] == ["The", " film", " is"]
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    invoked = model.invoke(QUESTION)
    assert total.content == invoked.content == "The film is Alien [1]."
    assert total.usage_metadata == invoked.usage_metadata  # counted once, from the summary chunk
    assert total.response_metadata["finish_reason"] == "stop"
    assert chunks[-1].chunk_position == "last"


def test_stream_reports_tokens_to_callbacks() -> None:
    seen: list[str] = []

    class Tokens(BaseCallbackHandler):
        def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
            seen.append(token)

    list(CairnChatModel(llm=FakeLLM(["a b c"])).stream(QUESTION, config={"callbacks": [Tokens()]}))
    assert seen == ["a", " b", " c", ""]  # each token once, then the summary chunk


def test_stream_with_stop() -> None:
    chunks = CairnChatModel(llm=FakeLLM(["Alien. Aliens."])).stream(QUESTION, stop=["."])
    assert "".join(str(c.content) for c in chunks) == "Alien"


def test_bind_tools_returns_the_model_itself() -> None:
    @tool
    def search(query: str) -> str:
        """Search the catalog."""
        return query

    model = CairnChatModel(llm=FakeLLM(["plain answer"]))
    assert model.bind_tools([search], tool_choice="any") is model
    assert model.bind_tools([search]).invoke(QUESTION).content == "plain answer"


def test_works_in_an_lcel_chain_and_batch() -> None:
    prompt = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{question}")])
    fake = FakeLLM(default=lambda messages: messages[-1]["content"].upper())
    chain = prompt | CairnChatModel(llm=fake) | StrOutputParser()
    assert chain.invoke({"question": "alien?"}) == "ALIEN?"
    assert chain.batch([{"question": "a"}, {"question": "b"}]) == ["A", "B"]


def test_message_conversion() -> None:
    messages = [SystemMessage("s"), HumanMessage(content=[{"type": "text", "text": "h"}, {"type": "text", "text": "i"}]),
                AIMessage("a"), ToolMessage("t", tool_call_id="1"), ChatMessage(role="user", content="c")]
    assert to_chat_messages(messages) == [
        {"role": "system", "content": "s"}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "a"},
        {"role": "tool", "content": "t"}, {"role": "user", "content": "c"}]
    with pytest.raises(LLMConfigError, match="FunctionMessage"):
        to_chat_messages([FunctionMessage(name="f", content="x")])


def test_identity() -> None:
    model = CairnChatModel(llm=FakeLLM(model_id="m"))
    assert model._llm_type == "cairn-fake"
    assert model._identifying_params["model_id"] == "m"
