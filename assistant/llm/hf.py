"""The transformers backend: any causal-LM folder or a GGUF file (read by transformers' GGUF
loader, DESIGN.md §4), optionally with a peft adapter — the path fine-tuned adapters are
evaluated on before they are merged and quantized for llama.cpp.

    tokenizer.apply_chat_template(messages) ─▶ ids ─▶ model.generate(streamer=TextIteratorStreamer)
                                                         │ runs in a worker thread; the caller
                                                         │ reads text from the streamer queue
                              stop strings: a stopping criterion ends generate on them, and a
                              StopScanner keeps them out of the text the caller sees
    log-probs: log_softmax of the raw logits (`output_logits`), not of the sampling-warped scores

It decodes several times slower than llama.cpp on CPU (~3x on the 135M model here, 6-10x on
the 1.5B per DESIGN.md §4; tests/test_llm_llamacpp.py prints the numbers), so it is for
training-time evaluation and adapters, not for serving.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from assistant.llm.base import (
    ChatLLM,
    Completion,
    Delta,
    GenerationRequest,
    LLMConfigError,
    LLMError,
    LLMUnsupportedError,
    Message,
    Sampling,
    StopScanner,
    Stopwatch,
    TokenLogprob,
    candidate_token_ids,
    special_token_pattern,
)
from assistant.llm.config import Dtype, LLMConfig, local_model_path, model_fingerprint


def load_model_and_tokenizer(path: Path, *, dtype: Dtype = "float32") -> tuple[Any, Any]:
    """A causal LM and its tokenizer from a model folder or a .gguf file."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from knowledge.embedder import cpu_has_fast_bf16

    folder, extra = (path.parent, {"gguf_file": path.name}) if path.is_file() else (path, {})
    if dtype == "auto":
        # transformers 5 keeps GGUF weights packed and computes in float32 (bf16 only adds
        # casts); dense folders run ~4x faster in bf16 on CPUs with native bf16 matmuls.
        dtype = "bfloat16" if cpu_has_fast_bf16() and not extra else "float32"
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, **extra)
        if (path / "quantization.json").is_file():  # an nf4/int8 build of `cairn quantize`
            from finetune.quantize import load_quantized

            model = load_quantized(path, getattr(torch, dtype))
        else:
            model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=getattr(torch, dtype),
                                                         **extra)
    except (OSError, ValueError) as exc:
        raise LLMError(f"transformers could not load a causal LM from {path}: {exc}; pass a model folder "
                       "(config.json + weights) or a .gguf file, e.g. `cairn models pull smollm2-135m`") from exc
    if not getattr(tokenizer, "chat_template", None):
        raise LLMConfigError(f"the tokenizer at {path} has no chat template; use an instruct model "
                             "or set tokenizer.chat_template and save it")
    return model.eval(), tokenizer


class _Watch:
    """A `StoppingCriteria` (generate calls it after every token) that times each token, stops
    once the decoded reply contains a stop sequence, and lets the reader cancel (a consumer
    that abandons the stream). Our own rather than transformers' `stop_strings`, which needs
    a byte-level BPE vocabulary and fails on others (e.g. a word-level tokenizer)."""

    def __init__(self, clock: Stopwatch, tokenizer: Any, prompt_len: int, stops: Sequence[str]) -> None:
        self.clock, self.tokenizer, self.prompt_len, self.stops = clock, tokenizer, prompt_len, stops
        self.cancelled = False

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        self.clock.tick()
        done = self.cancelled
        if self.stops and not done:
            # Decoding the whole reply each step is O(n^2) in tokens, but n <= max_tokens and a
            # decode is microseconds next to a forward pass.
            text = self.tokenizer.decode(input_ids[0, self.prompt_len:], skip_special_tokens=True)
            done = any(stop in text for stop in self.stops)
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)


class HFLLM(ChatLLM):
    """A transformers causal LM (+ optional peft adapter) on CPU."""

    backend = "hf"

    def __init__(self, model: Any, tokenizer: Any, *, model_id: str, fingerprint: str,
                 defaults: Sampling | None = None) -> None:
        super().__init__(model_id=model_id, fingerprint=fingerprint, defaults=defaults)
        self.model, self.tokenizer = model, tokenizer
        # The tokenizer splits every added token out of plain text, special or not.
        added = [token.content for token in getattr(tokenizer, "added_tokens_decoder", {}).values()]
        self.special_tokens = special_token_pattern([*tokenizer.all_special_tokens, *added])
        eos = model.generation_config.eos_token_id
        eos = eos if eos is not None else tokenizer.eos_token_id
        self.eos_ids: set[int] = set(eos) if isinstance(eos, list) else {eos}

    @classmethod
    def load(cls, path: str | Path, *, adapter: str | Path | None = None, dtype: Dtype = "float32",
             n_threads: int | None = None, model_id: str | None = None,
             defaults: Sampling | None = None) -> HFLLM:
        """Load from a folder or .gguf file; `adapter` is a peft adapter folder.
        `n_threads` sets torch's thread count, which is process-wide."""
        import torch

        path = Path(path)
        if n_threads:
            torch.set_num_threads(n_threads)
        model, tokenizer = load_model_and_tokenizer(path, dtype=dtype)
        fingerprint = model_fingerprint(path)
        if adapter is not None:
            model = _with_adapter(model, Path(adapter))
            fingerprint += f"+adapter:{model_fingerprint(Path(adapter))}"
        return cls(model, tokenizer, model_id=model_id or path.name, fingerprint=fingerprint, defaults=defaults)

    @classmethod
    def from_config(cls, config: LLMConfig) -> HFLLM:
        model_id, path = local_model_path(config.model)
        return cls.load(path, adapter=config.adapter, dtype=config.dtype, n_threads=config.threads,
                        model_id=model_id, defaults=config.sampling)

    # -- generation -----------------------------------------------------------------------------
    def _stream(self, request: GenerationRequest) -> Iterator[Delta]:
        if request.json_schema is not None or request.grammar is not None:
            raise LLMUnsupportedError("backend=hf cannot constrain output to a JSON schema or grammar; "
                                      "use backend=llamacpp (or a server that supports response_format)")
        return self._generate(request)

    def _generate(self, request: GenerationRequest) -> Iterator[Delta]:
        from transformers import GenerationConfig, StoppingCriteriaList, TextIteratorStreamer

        prompt = self._encode(self.apply_chat_template(request.messages))
        clock = Stopwatch()
        watch = _Watch(clock, self.tokenizer, prompt.shape[1], request.stop)
        # 60 s per piece: a worker that dies without ending the streamer must not hang us forever.
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=60)
        sampling = request.temperature > 0
        config = GenerationConfig(  # a fresh config: the checkpoint's sampling defaults must not leak in
            max_new_tokens=request.max_tokens, do_sample=sampling,
            temperature=request.temperature if sampling else None, top_k=None, top_p=None,
            eos_token_id=sorted(self.eos_ids), pad_token_id=self.tokenizer.pad_token_id or min(self.eos_ids),
            return_dict_in_generate=True,
            output_logits=request.logprobs is not None,
        )
        result: dict[str, Any] = {}

        def work() -> None:
            import torch

            try:
                if sampling and request.seed is not None:
                    torch.manual_seed(request.seed)
                with torch.inference_mode():
                    result["out"] = self.model.generate(
                        input_ids=prompt, attention_mask=torch.ones_like(prompt), generation_config=config,
                        streamer=streamer, stopping_criteria=StoppingCriteriaList([watch]))
            except BaseException as exc:  # re-raised in the caller's thread below
                result["error"] = exc
                streamer.end()

        worker = threading.Thread(target=work, name="cairn-hf-generate", daemon=True)
        worker.start()
        scanner = StopScanner(request.stop)
        pieces: list[str] = []
        try:
            for piece in streamer:
                out = scanner.feed(piece)
                if out:
                    pieces.append(out)
                    yield Delta(out)
            tail = scanner.flush()
            if tail:
                pieces.append(tail)
                yield Delta(tail)
        finally:
            watch.cancelled = True  # a closed stream stops the worker at its next token
            worker.join()
        if "error" in result:
            raise LLMError(f"transformers generation failed on {self.model_id}: {result['error']}") from result["error"]
        yield Delta("", completion=self._summary(request, prompt, result["out"], "".join(pieces),
                                                 scanner.stopped, clock))

    def _summary(self, request: GenerationRequest, prompt: Any, out: Any, text: str, hit_stop: bool,
                 clock: Stopwatch) -> Completion:
        generated = out.sequences[0, prompt.shape[1]:].tolist()
        ended = bool(generated) and generated[-1] in self.eos_ids
        n_out = len(generated) - int(ended)  # the end-of-turn token is not part of the reply
        finish = "stop" if ended or hit_stop or n_out < request.max_tokens else "length"
        logprobs = None
        if request.logprobs is not None:
            logprobs = self._token_logprobs(generated[:n_out], out.logits, request.logprobs, text, hit_stop)
        return Completion(text=text, finish_reason=finish, prompt_tokens=int(prompt.shape[1]),
                          completion_tokens=n_out, token_logprobs=logprobs, timings=clock.timings(n_out),
                          model_id=self.model_id)

    def _token_logprobs(self, ids: list[int], logits: Sequence[Any], k: int, text: str,
                        hit_stop: bool) -> list[TokenLogprob]:
        """Per generated token: log p of the chosen id and the top-k alternatives, from the raw
        logits (one (1, vocab) row per step). After a stop sequence, only the tokens that start
        before the cut are kept."""
        import torch

        if hit_stop:  # token i starts before the cut iff the reply decoded up to it is shorter
            ids = [t for i, t in enumerate(ids)
                   if len(self.tokenizer.decode(ids[:i], skip_special_tokens=True)) < len(text)]
        rows: list[TokenLogprob] = []
        for token_id, row in zip(ids, logits):
            logp = torch.log_softmax(row[0].float(), dim=-1)
            top = torch.topk(logp, k) if k else None
            rows.append(TokenLogprob(self.tokenizer.decode([token_id]), float(logp[token_id]), {} if top is None else {
                self.tokenizer.decode([int(i)]): float(v) for v, i in zip(top.values, top.indices)}))
        return rows

    # -- scoring, tokens, template ---------------------------------------------------------------
    def token_logprob_of(self, messages: Sequence[Message], candidates: Sequence[str]) -> dict[str, float]:
        import torch

        prompt_text = self.apply_chat_template(messages)
        prompt = self._encode(prompt_text)
        n = prompt.shape[1]
        with torch.inference_mode():
            first = torch.log_softmax(self.model(input_ids=prompt).logits[0, -1].float(), dim=-1)
            scores: dict[str, float] = {}
            for candidate in candidates:
                ids = candidate_token_ids(self._tokenize_plain, prompt_text, candidate)
                total = float(first[ids[0]])
                if len(ids) > 1:  # teacher-force the candidate: logits at n-1+j predict ids[j]
                    seq = torch.cat([prompt, torch.tensor([ids[:-1]], dtype=prompt.dtype)], dim=1)
                    logp = torch.log_softmax(self.model(input_ids=seq).logits[0, n:].float(), dim=-1)
                    total += float(sum(logp[j, ids[j + 1]] for j in range(len(ids) - 1)))
                scores[candidate] = total
        return scores

    def _encode(self, prompt_text: str) -> Any:
        """(1, n) prompt ids; the chat template already wrote every special token."""
        return self.tokenizer(prompt_text, add_special_tokens=False, return_tensors="pt").input_ids

    def _tokenize_plain(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False).input_ids

    def count_tokens(self, text: str) -> int:
        return len(self._tokenize_plain(text)) if text else 0

    def apply_chat_template(self, messages: Sequence[Message]) -> str:
        return self.tokenizer.apply_chat_template(self.safe_messages(messages), tokenize=False,
                                                  add_generation_prompt=True)


def _with_adapter(model: Any, adapter: Path) -> Any:
    from peft import PeftModel

    if not (adapter / "adapter_config.json").is_file():
        raise LLMConfigError(f"adapter={str(adapter)!r} is no peft adapter folder (no adapter_config.json); "
                             "pass the folder `save_pretrained` wrote, e.g. CAIRN_HOME/adapters/<name>")
    try:
        return PeftModel.from_pretrained(model, adapter, is_trainable=False).eval()
    except (ValueError, RuntimeError, KeyError) as exc:
        raise LLMError(f"could not apply adapter {adapter} to the base model: {exc}; was it trained on this "
                       "base model? (check base_model_name_or_path in its adapter_config.json)") from exc
