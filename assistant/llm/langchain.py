"""`CairnChatModel`: any cairn `ChatLLM` as a LangChain chat model, so the agent and chains
stay plain LangChain 1.x (invoke, stream, batch, callbacks, `.bind(...)`).

    CairnChatModel(llm=load_llm(config)).invoke([SystemMessage(...), HumanMessage(...)], stop=["\\n\\n"])
        -> AIMessage(content, usage_metadata={input_tokens, output_tokens, total_tokens},
                     response_metadata={finish_reason, model_name, fingerprint, timings, logprobs})

`bind_tools` returns the model itself: the small local models cairn runs neither choose tools
nor write tool arguments reliably, so the agent forces its first retrieval or routes with
constrained output instead (DESIGN.md §6), and LangChain code that binds tools still runs.
Generation options (`max_tokens`, `temperature`, `seed`, `logprobs`, `json_schema`, `grammar`)
pass through `invoke(..., **options)` or `.bind(**options)`; unknown ones fail loudly.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.tools import BaseTool
from pydantic import ConfigDict

from assistant.llm.base import ChatLLM, Completion, LLMConfigError

_ROLE_OF: dict[type[BaseMessage], str] = {
    SystemMessage: "system", HumanMessage: "user", AIMessage: "assistant", ToolMessage: "tool",
}


def to_chat_messages(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """LangChain messages -> [{"role", "content"}] (text blocks only; images etc. dropped)."""
    out = []
    for message in messages:
        if isinstance(message, ChatMessage):
            role = message.role
        else:
            role = next((r for cls, r in _ROLE_OF.items() if isinstance(message, cls)), "")
        if not role:
            raise LLMConfigError(f"cannot send a {type(message).__name__} to a cairn LLM; use System/Human/AI/"
                                 "ToolMessage")
        out.append({"role": role, "content": str(message.text)})
    return out


def usage_of(completion: Completion) -> UsageMetadata:
    return UsageMetadata(input_tokens=completion.prompt_tokens, output_tokens=completion.completion_tokens,
                         total_tokens=completion.prompt_tokens + completion.completion_tokens)


def metadata_of(llm: ChatLLM, completion: Completion) -> dict[str, Any]:
    meta: dict[str, Any] = {"finish_reason": completion.finish_reason, "model_name": llm.model_id,
                            "model_provider": f"cairn-{llm.backend}", "fingerprint": llm.fingerprint,
                            "timings": completion.timings}
    if completion.token_logprobs is not None:
        meta["logprobs"] = [tuple(t) for t in completion.token_logprobs]
    return meta


class CairnChatModel(BaseChatModel):
    """A LangChain chat model over a cairn `ChatLLM` (llama.cpp, transformers, a server, or
    the `FakeLLM` in tests). Fields left None use the backend's configured defaults."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    llm: ChatLLM
    max_tokens: int | None = None
    temperature: float | None = None
    seed: int | None = None

    @property
    def _llm_type(self) -> str:
        return f"cairn-{self.llm.backend}"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_id": self.llm.model_id, "fingerprint": self.llm.fingerprint,
                "max_tokens": self.max_tokens, "temperature": self.temperature, "seed": self.seed}

    def _options(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        options = {"max_tokens": self.max_tokens, "temperature": self.temperature, "seed": self.seed}
        options.update(kwargs)
        if stop:
            options["stop"] = stop
        return options

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        completion = self.llm.chat(to_chat_messages(messages), **self._options(stop, kwargs))
        message = AIMessage(content=completion.text, usage_metadata=usage_of(completion),
                            response_metadata=metadata_of(self.llm, completion))
        return ChatResult(generations=[ChatGeneration(message=message,
                                                      generation_info={"finish_reason": completion.finish_reason})])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        deltas = self.llm.stream(to_chat_messages(messages), **self._options(stop, kwargs))
        try:
            for delta in deltas:
                if delta.completion is not None:
                    # The summary chunk: usage and metadata once, marked last so an aggregated
                    # message carries them exactly once.
                    yield ChatGenerationChunk(
                        message=AIMessageChunk(content="", usage_metadata=usage_of(delta.completion),
                                               response_metadata=metadata_of(self.llm, delta.completion),
                                               chunk_position="last"),
                        generation_info={"finish_reason": delta.completion.finish_reason})
                    continue
                # BaseChatModel reports each chunk to on_llm_new_token itself (langchain-core 1.x).
                yield ChatGenerationChunk(message=AIMessageChunk(content=delta.text))
        finally:
            close = getattr(deltas, "close", None)
            if close is not None:
                close()  # release the backend (llama.cpp's lock) when the caller stops early

    def bind_tools(self, tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool], *,
                   tool_choice: str | None = None, **kwargs: Any) -> CairnChatModel:
        """Returns self: tool calling is not offered to small local models (module docstring)."""
        return self
