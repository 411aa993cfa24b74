"""cairn's LLM layer: one `ChatLLM` interface (base.py) over llama.cpp (the serving default),
transformers + peft, any OpenAI-compatible server, and a scripted fake for tests; a LangChain
wrapper (langchain.py); and `load_llm(LLMConfig(...))` to pick one.

Heavy runtimes (llama_cpp, torch/transformers, httpx) are imported by their backend modules
only, so importing this package is cheap.
"""
from __future__ import annotations

from assistant.llm.base import (
    ChatLLM,
    Completion,
    Delta,
    GenerateOptions,
    GenerationRequest,
    LLMConfigError,
    LLMConnectionError,
    LLMContextError,
    LLMError,
    LLMUnsupportedError,
    Message,
    Sampling,
    TokenLogprob,
)
from assistant.llm.config import DEFAULT_MODEL, LLMConfig, load_llm
from assistant.llm.fake import FakeLLM, FakeReply

__all__ = [
    "DEFAULT_MODEL", "ChatLLM", "Completion", "Delta", "FakeLLM", "FakeReply", "GenerateOptions",
    "GenerationRequest", "LLMConfig", "LLMConfigError", "LLMConnectionError", "LLMContextError", "LLMError",
    "LLMUnsupportedError", "Message", "Sampling", "TokenLogprob", "load_llm",
]
