"""The llama.cpp backend (`llama-cpp-python`), cairn's default for serving: it decodes the
packaged GGUF models 6-10x faster than transformers on CPU at a fifth of the memory
(DESIGN.md §4).

    Llama(model.gguf, n_ctx, n_threads, seed, logits_all=False) ── create_chat_completion ──▶ text
                       │  (stop, seed, response_format json schema / GBNF grammar, stream)
                       └─ a twin with logits_all=True, loaded on the first request that
                          asks for logprobs (it keeps n_ctx × vocab floats of logits)

One `Llama` is not thread-safe (DESIGN.md §6), so every call holds `self._lock`; a stream
holds it until it is exhausted or closed. Prompts are evaluated in aligned blocks and only
whole blocks of an earlier prompt are reused, from the live KV cache or (prompt_cache) a RAM
cache of saved states, so a reply never depends on what ran before (prefix_cache.py). Every
message is defused of the vocabulary's special tokens before rendering (base.py). The prompt is rendered by our own
`Jinja2ChatFormatter` over the GGUF's chat template (ChatML when the file has none), used
both for generation and for `apply_chat_template`/`token_logprob_of`, so the three always
agree. `token_logprob_of` needs no logits_all: it evaluates the prompt once, reads the last
position's logits, and feeds multi-token candidates one token at a time.

AMX: pip builds llama.cpp with -march=native, so on a Xeon with AMX the wheel puts weights in
ggml's AMX buffer type. Under our Firecracker VMs the CPU advertises AMX but the first
`ldtilecfg` faults: any prompt longer than one token SEGFAULTS the process. So when the
build has AMX compiled in, the model loads with `use_extra_bufts=False` (no AMX, and no
weight repacking either — slower prompt evaluation). A wheel built without AMX
(CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON
-DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON") keeps the repacked fast paths.
"""
from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from assistant.llm.base import (
    ChatLLM,
    Completion,
    Delta,
    GenerationRequest,
    LLMConfigError,
    LLMContextError,
    LLMError,
    Message,
    Sampling,
    Stopwatch,
    TokenLogprob,
    candidate_token_ids,
    check_messages,
    parse_logprobs,
    special_token_pattern,
)
from assistant.llm.config import LLMConfig, local_model_path, model_fingerprint
from assistant.llm.prefix_cache import StateCache, reusable_prefix

_PARAMS_PATCH_LOCK = threading.Lock()
_OPEN_END = "\u2063\u2063"  # INVISIBLE SEPARATOR x2: marks where an open head's content stops (pin_prefix)


def amx_compiled_in() -> bool:
    """Whether this llama-cpp-python wheel was built with ggml's AMX kernels."""
    import llama_cpp

    return "AMX_INT8 = 1" in llama_cpp.llama_print_system_info().decode("utf-8", "replace")


@contextmanager
def _without_extra_buffer_types() -> Iterator[None]:
    """Load models with `use_extra_bufts=False` (see the module docstring). `Llama` exposes no
    such argument, so swap the default-params factory it calls, for this load only."""
    import llama_cpp.llama as module

    original = module.llama_cpp.llama_model_default_params

    def params() -> Any:
        value = original()
        value.use_extra_bufts = False
        return value

    with _PARAMS_PATCH_LOCK:
        module.llama_cpp.llama_model_default_params = params
        try:
            yield
        finally:
            module.llama_cpp.llama_model_default_params = original


def vocabulary_special_tokens(llama: Any) -> list[str]:
    """The text of every control and user-defined token in the model's vocabulary: what the
    tokenizer turns into a single special token when it meets the text in a prompt
    (<|im_start|>, <|endoftext|>, <tool_call>, …). One pass over the vocabulary at load."""
    import llama_cpp

    special = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL | llama_cpp.LLAMA_TOKEN_ATTR_USER_DEFINED
    model = llama._model
    return [model.token_get_text(i) for i in range(llama.n_vocab()) if model.token_get_attr(i) & special]


# Used when a GGUF carries no chat template; every model in our catalogue has one.
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def find_gguf(path: Path) -> Path:
    """The .gguf file at `path` (a file, or a folder holding exactly one)."""
    if path.is_file() and path.suffix == ".gguf":
        return path
    found = sorted(path.glob("*.gguf")) if path.is_dir() else []
    if len(found) != 1:
        raise LLMConfigError(
            f"backend=llamacpp needs one .gguf file, but {path} holds {len(found)}; pass the file path, "
            "or use backend=hf for a transformers folder"
        )
    return found[0]


class LlamaCppLLM(ChatLLM):
    """A GGUF model run in-process by llama.cpp."""

    backend = "llamacpp"

    def __init__(self, model_path: str | Path, *, n_ctx: int = 4096, n_threads: int = 1,
                 n_threads_batch: int | None = None, seed: int | None = 0,
                 adapter: str | Path | None = None, prompt_cache_mb: int | None = None, prompt_block: int = 64,
                 pin_prefixes: bool = True, extra_buffers: bool | None = None, model_id: str | None = None,
                 fingerprint: str | None = None, defaults: Sampling | None = None) -> None:
        path = find_gguf(Path(model_path))
        super().__init__(model_id=model_id or path.stem, fingerprint=fingerprint or model_fingerprint(path),
                         defaults=defaults)
        if adapter is not None:
            self.fingerprint += f"+lora:{model_fingerprint(Path(adapter))}"
        self.path, self.n_ctx, self.n_threads, self.prompt_block = path, n_ctx, n_threads, prompt_block
        # Prompts are evaluated in blocks of prompt_block tokens at aligned positions, so that a
        # reused prefix never changes the result (prefix_cache.py says why).
        self._options: dict[str, Any] = {
            "model_path": str(path), "n_ctx": n_ctx, "n_threads": n_threads,
            "n_threads_batch": n_threads_batch or n_threads,
            "n_batch": prompt_block, "n_ubatch": prompt_block,
            "seed": 0 if seed is None else seed, "verbose": False,
            **({"lora_path": str(adapter)} if adapter is not None else {}),
        }
        self._states = StateCache(prompt_cache_mb << 20, prompt_block) if prompt_cache_mb else None
        # States of the pinned prompt heads (pin_prefix): a handful, never evicted.
        self._heads = StateCache(1 << 62, prompt_block)
        self._pinned: dict[tuple[Any, ...], int] = {}  # (open_last, *head messages) -> tokens kept
        self.pin_prefixes = pin_prefixes
        self._evaluated: dict[int, list[int]] = {}  # id(Llama) -> the prompt its KV cache holds
        self._extra_buffers = extra_buffers  # None: off when the wheel has AMX (module docstring)
        self._lock = threading.Lock()
        self._llama: Any = self._load(logits_all=False)
        self._llama_logits: Any = None  # the logits_all twin, loaded on demand
        self._formatter = self._make_formatter()
        self._head_formatter = self._make_formatter(add_generation_prompt=False)
        self._llama.chat_handler = self._formatter.to_chat_handler()
        self.special_tokens = special_token_pattern(vocabulary_special_tokens(self._llama))

    @classmethod
    def from_config(cls, config: LLMConfig) -> LlamaCppLLM:
        model_id, path = local_model_path(config.model)
        return cls(path, n_ctx=config.n_ctx, n_threads=config.threads, n_threads_batch=config.batch_threads,
                   seed=config.seed, adapter=config.adapter,
                   prompt_cache_mb=config.prompt_cache_mb if config.prompt_cache else None,
                   prompt_block=config.prompt_block, pin_prefixes=config.pin_prefixes,
                   model_id=model_id, defaults=config.sampling)

    def _load(self, *, logits_all: bool) -> Any:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise LLMError(
                "backend=llamacpp needs llama-cpp-python: `pip install -c constraints.txt llama-cpp-python==0.3.36` "
                f"(a ~8 min source build; pip caches the wheel), or use backend=hf ({exc})"
            ) from exc
        # OpenMP spin-waiting collapses decode 3-10x on shared cores (DESIGN.md §6); this only
        # helps if set before llama.cpp's first parallel region, hence here as well as at entry.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        if self._extra_buffers is None:
            self._extra_buffers = not amx_compiled_in()
        try:
            if self._extra_buffers:
                llama = Llama(**self._options, logits_all=logits_all)
            else:
                with _without_extra_buffer_types():
                    llama = Llama(**self._options, logits_all=logits_all)
        except (ValueError, RuntimeError) as exc:
            raise LLMError(f"llama.cpp could not load {self.path}: {exc}; check the file "
                           f"(`cairn models pull {self.model_id} --verify`) and n_ctx={self.n_ctx}") from exc
        return llama

    def _make_formatter(self, *, add_generation_prompt: bool = True) -> Any:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        llama = self._llama
        template = llama.metadata.get("tokenizer.chat_template") or CHATML_TEMPLATE

        def text_of(token_id: int) -> str:
            return llama.detokenize([token_id], special=True).decode("utf-8", "replace") if token_id >= 0 else ""

        return Jinja2ChatFormatter(template=template, eos_token=text_of(llama.token_eos()),
                                   bos_token=text_of(llama.token_bos()), stop_token_ids=[llama.token_eos()],
                                   add_generation_prompt=add_generation_prompt)

    def _llama_for(self, request: GenerationRequest | None) -> Any:
        """The instance to run `request` on; logprobs need every position's logits."""
        if self._llama is None:  # a freed llama.cpp context would segfault, not raise
            raise LLMError(f"{self.model_id} was closed; load it again with load_llm(config)")
        if request is None or request.logprobs is None:
            return self._llama
        if self._llama_logits is None:
            self._llama_logits = self._load(logits_all=True)
            self._llama_logits.chat_handler = self._llama.chat_handler
        return self._llama_logits

    # -- generation -----------------------------------------------------------------------------
    def _arguments(self, request: GenerationRequest, *, stream: bool,
                   messages: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """`create_chat_completion`'s arguments; `messages`: the request's, already defused."""
        args: dict[str, Any] = {
            "messages": messages if messages is not None else self.safe_messages(request.messages),
            "max_tokens": request.max_tokens,
            "temperature": request.temperature, "stop": list(request.stop), "seed": request.seed,
            # No repetition penalty: the handler's default (1.1) would make llama.cpp answers
            # differ from the same model on transformers or a server.
            "repeat_penalty": 1.0, "stream": stream,
        }
        if request.logprobs is not None:
            args.update(logprobs=True, top_logprobs=request.logprobs)
        if request.json_schema is not None:
            args["response_format"] = {"type": "json_object", "schema": request.json_schema}
        if request.grammar is not None:
            from llama_cpp import LlamaGrammar

            args["grammar"] = LlamaGrammar.from_string(request.grammar, verbose=False)
        return args

    def _complete(self, request: GenerationRequest) -> Completion:
        with self._lock:
            llama = self._llama_for(request)
            clock = Stopwatch()
            self._reset_perf(llama)
            with self._evaluation(llama):
                response = self._call(llama, request, stream=False)
            perf = self._perf(llama)
        choice, usage = response["choices"][0], response["usage"]
        n_out = int(usage["completion_tokens"])
        timings = clock.timings(n_out, decode_tok_s=perf["decode_tok_s"])
        timings["ttft_s"] = perf["prompt_s"]  # prompt evaluation + first sample, as llama.cpp timed it
        return Completion(
            text=choice["message"]["content"] or "", finish_reason=_finish(choice["finish_reason"]),
            prompt_tokens=int(usage["prompt_tokens"]), completion_tokens=n_out,
            token_logprobs=parse_logprobs(choice.get("logprobs")) if request.logprobs is not None else None,
            timings=timings, model_id=self.model_id,
        )

    def _stream(self, request: GenerationRequest) -> Iterator[Delta]:
        self._arguments(request, stream=True)  # fail on a bad grammar now, not at the first next()
        return self._stream_locked(request)

    def _stream_locked(self, request: GenerationRequest) -> Iterator[Delta]:
        with self._lock:
            llama = self._llama_for(request)
            clock = Stopwatch()
            self._reset_perf(llama)
            pieces: list[str] = []
            logprobs: list[TokenLogprob] = []
            finish = "length"
            with self._evaluation(llama):  # the stream evaluates the prompt at its first chunk
                for chunk in self._call(llama, request, stream=True):
                    choice = chunk["choices"][0]
                    text = choice["delta"].get("content") or ""
                    step = parse_logprobs(choice.get("logprobs")) if request.logprobs is not None else None
                    finish = choice.get("finish_reason") or finish
                    if text:
                        clock.tick()
                        pieces.append(text)
                        logprobs.extend(step or [])
                        yield Delta(text, token_logprobs=step)
            perf = self._perf(llama)
            text = "".join(pieces)
            # The stream carries no usage; the prompt is what _call tokenized, as the handler does.
            prompt = self._evaluated.get(id(llama), [])
            n_out = len(logprobs) if request.logprobs is not None else self.count_tokens(text)
        completion = Completion(
            text=text, finish_reason=_finish(finish), prompt_tokens=len(prompt), completion_tokens=n_out,
            token_logprobs=logprobs if request.logprobs is not None else None,
            timings=clock.timings(n_out, decode_tok_s=perf["decode_tok_s"]), model_id=self.model_id,
        )
        yield Delta("", completion=completion)

    def _call(self, llama: Any, request: GenerationRequest, *, stream: bool) -> Any:
        # Only whole aligned blocks of an earlier prompt are reused (prefix_cache.py): the same
        # request gives the same reply whatever ran before, so evals do not depend on case order.
        messages = self.safe_messages(request.messages)  # defused once, rendered here and by the handler
        prompt = self._prompt_ids(llama, self._formatter(messages=messages).prompt)
        self._keep_reusable_prefix(llama, prompt)
        return llama.create_chat_completion(**self._arguments(request, stream=stream, messages=messages))

    @contextmanager
    def _evaluation(self, llama: Any, *, save: bool = True) -> Iterator[None]:
        """Around one request on `llama`: llama.cpp's errors as ours; after a failure (or a
        stream closed early) its KV cache is no longer known to hold the prompt, so it is
        forgotten; after a success the state goes to the RAM cache (prompt_cache only)."""
        try:
            yield
        except BaseException as exc:
            self._evaluated.pop(id(llama), None)
            if isinstance(exc, ValueError) and "context window" in str(exc):
                raise LLMContextError(f"{exc} (n_ctx={self.n_ctx}); raise n_ctx in the LLM config or send less "
                                      "context (fewer retrieved chunks, shorter history)") from exc
            if isinstance(exc, ValueError):
                raise LLMError(f"llama.cpp rejected the request to {self.model_id}: {exc}") from exc
            raise
        if save:
            self._save_state(llama)

    def _keep_reusable_prefix(self, llama: Any, prompt: list[int]) -> None:
        """Cut `llama`'s KV cache to the whole blocks it shares with `prompt`, first restoring a
        saved state (a pinned head, or one from the RAM cache) when that covers more; the
        caller evaluates the rest. From here on the cache is taken to hold `prompt` (a failed
        call forgets it)."""
        reuse = reusable_prefix(self._evaluated.get(id(llama), ()), prompt, self.prompt_block)
        if llama is self._llama:
            for cache in (self._heads, self._states):
                state, cached = cache.best(prompt) if cache is not None else (None, 0)
                if cached > reuse:
                    llama.load_state(state)
                    reuse = cached
        llama.n_tokens = reuse  # llama-cpp-python reuses exactly the n_tokens that still match
        self._evaluated[id(llama)] = prompt
        self.prompt_tokens_seen += len(prompt)
        self.prompt_tokens_evaluated += len(prompt) - reuse

    def pin_prefix(self, head: Sequence[Message], *, open_last: bool = False) -> int:
        """Evaluate the whole blocks of `head` (rendered without an assistant turn; with
        `open_last`, cut where the last message's content ends) once and keep that state;
        `_keep_reusable_prefix` restores it for every prompt that starts with those tokens.
        The same aligned blocks a prompt evaluated from scratch would compute, so a reply with
        or without the pinned state is bit-identical (prefix_cache.py)."""
        check_messages(head)
        key = (open_last, *((str(m["role"]), str(m["content"])) for m in head))
        if not self.pin_prefixes or key in self._pinned:  # every later call: one dictionary lookup
            return self._pinned.get(key, 0)
        messages = self.safe_messages(head)
        if open_last:  # render with a marker after the open content, and cut the text there
            messages[-1] = {**messages[-1], "content": messages[-1]["content"] + _OPEN_END}
        text = self._head_formatter(messages=messages).prompt
        text = text[: text.index(_OPEN_END)] if open_last else text
        with self._lock:
            llama = self._llama_for(None)
            tokens = self._prompt_ids(llama, text)
            blocks = tokens[: len(tokens) // self.prompt_block * self.prompt_block]
            if blocks and self._heads.best(blocks + [-1])[1] < len(blocks):
                # As any prompt is evaluated: whole blocks the live KV cache shares with the
                # head are kept, the rest evaluated in aligned blocks from there.
                reuse = reusable_prefix(self._evaluated.get(id(llama), ()), blocks + [-1], self.prompt_block)
                llama.n_tokens = reuse
                self._evaluated[id(llama)] = blocks
                with self._evaluation(llama, save=False):
                    llama.eval(blocks[reuse:])
                state = _saved_state(llama)
                self._heads.put(blocks, state, _state_bytes(state))
            self._pinned[key] = len(blocks)
        return len(blocks)

    def _save_state(self, llama: Any) -> None:
        """Keep the state after a finished request in the RAM cache (prompt_cache only)."""
        prompt = self._evaluated.get(id(llama))
        if self._states is not None and llama is self._llama and prompt:
            state = _saved_state(llama)
            self._states.put(prompt, state, _state_bytes(state))

    @staticmethod
    def _reset_perf(llama: Any) -> None:
        import llama_cpp

        llama_cpp.llama_perf_context_reset(llama.ctx)

    @staticmethod
    def _perf(llama: Any) -> dict[str, float | None]:
        """llama.cpp's own counters: prompt-eval seconds and decode tokens/s since the reset."""
        import llama_cpp

        data = llama_cpp.llama_perf_context(llama.ctx)
        rate = data.n_eval / (data.t_eval_ms / 1000) if data.n_eval > 0 and data.t_eval_ms > 0 else None
        return {"prompt_s": data.t_p_eval_ms / 1000, "decode_tok_s": rate}

    def set_threads(self, n_threads: int, n_threads_batch: int | None = None) -> None:
        """Change the decode (and optionally prompt) thread counts of the loaded model: no reply
        changes (each output row goes to one thread), only the speed (bench_threads.py)."""
        import llama_cpp

        if n_threads < 1 or (n_threads_batch is not None and n_threads_batch < 1):
            raise LLMConfigError(f"n_threads={n_threads} and n_threads_batch={n_threads_batch} must be >= 1")
        with self._lock:
            batch = n_threads_batch or self._options["n_threads_batch"]
            for llama in (self._llama, self._llama_logits):
                if llama is not None:
                    llama_cpp.llama_set_n_threads(llama.ctx, n_threads, batch)
            self.n_threads, self._options["n_threads"], self._options["n_threads_batch"] = n_threads, n_threads, batch

    # -- scoring, tokens, template ---------------------------------------------------------------
    def token_logprob_of(self, messages: Sequence[Message], candidates: Sequence[str]) -> dict[str, float]:
        prompt_text = self.apply_chat_template(messages)
        with self._lock:
            llama = self._llama_for(None)
            prompt = self._prompt_ids(llama, prompt_text)
            if len(prompt) >= self.n_ctx:
                raise LLMContextError(f"the scoring prompt has {len(prompt)} tokens but n_ctx={self.n_ctx}; "
                                      "raise n_ctx or shorten the claim/evidence")
            first = self._eval_prompt(llama, prompt)  # (vocab,) log-probs after the prompt
            scores: dict[str, float] = {}
            for candidate in candidates:
                ids = candidate_token_ids(self._tokenize_plain, prompt_text, candidate)
                total = float(first[ids[0]])
                if len(ids) > 1:
                    llama.n_tokens = len(prompt)  # drop the previous candidate from the KV cache
                    for prev, nxt in zip(ids, ids[1:]):
                        llama.eval([prev])
                        total += float(self._last_logprobs(llama)[nxt])
                scores[candidate] = total
        return scores

    def _eval_prompt(self, llama: Any, prompt: list[int]) -> np.ndarray:
        """Evaluate `prompt`, reusing the whole blocks already evaluated (a verifier scores many
        claims behind one instruction), and return the next-token log-probs."""
        self._keep_reusable_prefix(llama, prompt)
        with self._evaluation(llama):
            llama.eval(prompt[llama.n_tokens:])
        return self._last_logprobs(llama)

    @staticmethod
    def _last_logprobs(llama: Any) -> np.ndarray:
        import llama_cpp

        pointer = llama_cpp.llama_get_logits_ith(llama.ctx, -1)
        logits = np.ctypeslib.as_array(ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float)),
                                       shape=(llama.n_vocab(),))
        return llama.logits_to_logprobs(logits.copy())

    @staticmethod
    def _prompt_ids(llama: Any, prompt: str) -> list[int]:
        # Exactly as llama_cpp's chat handler tokenizes a rendered prompt.
        return llama.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)

    def _tokenize_plain(self, text: str) -> list[int]:
        return self._llama_for(None).tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def count_tokens(self, text: str) -> int:
        return len(self._llama_for(None).tokenize(text.encode("utf-8"), add_bos=False, special=False)) if text else 0

    def apply_chat_template(self, messages: Sequence[Message]) -> str:
        return self._formatter(messages=self.safe_messages(messages)).prompt

    def close(self) -> None:
        with self._lock:
            for llama in (self._llama, self._llama_logits):
                if llama is not None:
                    llama.close()
            self._llama = self._llama_logits = None


def _saved_state(llama: Any) -> Any:
    """`llama.save_state()` without its copy of the score rows: llama-cpp-python keeps
    (n_batch, vocab) floats of them even when only the sampler reads logits (39 MB per state for
    a 152k vocabulary), and a restored state is never sampled from before at least one more
    token is evaluated. One zero row stands in; `load_state` broadcasts it over its rows."""
    state = llama.save_state()
    state.scores = np.zeros((1, state.scores.shape[1]), dtype=state.scores.dtype)
    return state


def _state_bytes(state: Any) -> int:
    """What a saved state holds in memory: llama.cpp's KV cells and outputs, and its arrays."""
    return int(state.llama_state_size) + state.scores.nbytes + state.input_ids.nbytes


def _finish(reason: str | None) -> Any:
    """llama.cpp reports "stop" or "length"; anything else (a tool call) counts as a stop."""
    return "length" if reason == "length" else "stop"
