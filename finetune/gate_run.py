"""`cairn gate` orchestration: load a candidate build and the model it was made from, run the
checks of gate.py on both, print the verdict, and register the build when it passes.

    CANDIDATE ─ builds.inspect_build ─▶ kind + reference (dense folder; --base overrides)
    reference (transformers, float32) ─▶ logits on chat prompts + held-out windows, greedy replies
        (kept as numpy; the model is freed before the candidate loads, so two 1.5B models never
        share the memory)
    candidate:  adapter    base + peft adapter (as hf.py serves it); parity: peft's
                           merge_and_unload() vs the unmerged adapter
                merged     folder; parity: merge.merged_folder_parity (base + its adapters again)
                quantized  finetune.quantize.load_quantized
                gguf       llama.cpp (logits_all), token ids from the reference tokenizer
    ─▶ gate.Check rows ─▶ table ─▶ pass: builds.register_build → registry.json

Both sides see identical token ids (the reference tokenizer's), so their logits line up
position by position; the template check separately verifies that the candidate's own
tokenizer (or llama.cpp's, for GGUF) produces those same ids.
"""
from __future__ import annotations

import gc
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from finetune.builds import Build, inspect_build, register_build
from finetune.gate import (
    Check, GateConfig, GateConfigError, chat_messages, chat_prompt_ids, eos_rate, format_table, heldout_texts,
    heldout_windows, kl_per_position, perplexity, template_problems, verdict,
)

GOLDEN_METRICS = ("refusal_correct", "rougeL_f")  # higher is better; model-dependent


@dataclass
class GateReport:
    build: Build
    reference: Path
    checks: list[Check]
    passed: bool
    registered: Any = None
    numbers: dict[str, Any] = field(default_factory=dict)

    def table(self) -> str:
        title = f"gate: {self.build.kind} {self.build.path} vs {self.reference}"
        return format_table(self.checks, title)

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "candidate_kind": self.build.kind, "candidate": str(self.build.path),
                "reference": str(self.reference), "numbers": self.numbers,
                "checks": [{"name": c.name, "value": c.value, "limit": c.limit, "passed": c.passed,
                            "detail": c.detail, **c.numbers} for c in self.checks]}


# -- logit sources --------------------------------------------------------------------------------------

def eos_ids_of(tokenizer: Any, model: Any = None) -> set[int]:
    """End-of-turn ids: the tokenizer's EOS, the generation config's, and <|im_end|> if present."""
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids |= set(eos) if isinstance(eos, list) else ({eos} if eos is not None else set())
    for token in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>"):
        if token in tokenizer.get_vocab():
            ids.add(tokenizer.convert_tokens_to_ids(token))
    return ids


class HFSource:
    """Logits and greedy replies of a transformers (or peft) model, float32 on CPU."""

    def __init__(self, model: Any, eos_ids: set[int], pad_id: int) -> None:
        self.model, self.eos_ids, self.pad_id = model.eval(), eos_ids, pad_id

    def logits(self, ids: Sequence[int]) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self.model(torch.tensor([list(ids)])).logits[0].float().numpy()    # (T, V)

    def greedy(self, ids: Sequence[int], n: int) -> list[int]:
        import torch
        from transformers import GenerationConfig

        config = GenerationConfig(max_new_tokens=n, do_sample=False, temperature=None, top_k=None, top_p=None,
                                  eos_token_id=sorted(self.eos_ids), pad_token_id=self.pad_id)
        prompt = torch.tensor([list(ids)])
        with torch.no_grad():
            out = self.model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt),
                                      generation_config=config)
        return _until_eos(out[0, len(ids):].tolist(), self.eos_ids)

    def close(self) -> None:
        self.model = None


class LlamaSource:
    """The same over a GGUF file in llama.cpp; every position's logits are kept (logits_all)."""

    def __init__(self, path: Path, eos_ids: set[int], n_ctx: int, threads: int) -> None:
        import llama_cpp

        from assistant.llm.llamacpp import _without_extra_buffer_types, amx_compiled_in

        options = dict(model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                       logits_all=True, verbose=False, seed=0)
        if amx_compiled_in():  # AMX faults in our VMs (assistant/llm/llamacpp.py)
            with _without_extra_buffer_types():
                self.llm = llama_cpp.Llama(**options)
        else:
            self.llm = llama_cpp.Llama(**options)
        self.eos_ids = eos_ids | {self.llm.token_eos()}

    def logits(self, ids: Sequence[int]) -> np.ndarray:
        self.llm.reset()
        self.llm.eval(list(ids))
        return np.array(self.llm.scores[: len(ids)], dtype=np.float32)                 # (T, V)

    def greedy(self, ids: Sequence[int], n: int) -> list[int]:
        self.llm.reset()
        self.llm.eval(list(ids))
        out: list[int] = []
        for _ in range(n):
            token = int(np.argmax(self.llm.scores[self.llm.n_tokens - 1]))
            out.append(token)
            if token in self.eos_ids:
                break
            self.llm.eval([token])
        return out

    def tokenize(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def chat_template(self) -> str:
        return self.llm.metadata.get("tokenizer.chat_template", "")

    def close(self) -> None:
        self.llm.close()


def _until_eos(tokens: list[int], eos_ids: set[int]) -> list[int]:
    for i, t in enumerate(tokens):
        if t in eos_ids:
            return tokens[: i + 1]
    return tokens


def _free() -> None:
    gc.collect()


# -- loading the two sides ---------------------------------------------------------------------------

def load_dense(folder: Path) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=torch.float32).eval()


def own_tokenizer(build: Build, reference_tokenizer: Any) -> Any:
    """The candidate's saved tokenizer, or the reference's when it ships none (adapters)."""
    from transformers import AutoTokenizer

    if (build.folder / "tokenizer_config.json").is_file():
        return AutoTokenizer.from_pretrained(build.folder, local_files_only=True)
    return reference_tokenizer


def measure(source: Any, chats: Sequence[Sequence[int]], texts: Sequence[Sequence[int]],
            eos_within: int) -> dict[str, Any]:
    """Logits of every sequence and greedy replies to the chat prompts."""
    return {"logits": [source.logits(s) for s in [*chats, *texts]],
            "replies": [source.greedy(c, eos_within) for c in chats]}


# -- the checks -------------------------------------------------------------------------------------

def kl_check(ref: list[np.ndarray], cand: list[np.ndarray], mean_limit: float, pos_limit: float) -> Check:
    kl = np.concatenate([kl_per_position(r, c) for r, c in zip(ref, cand)])
    mean, top = float(kl.mean()), float(kl.max())
    return Check("kl", f"mean {mean:.4f}, max {top:.3f}", f"≤ {mean_limit:g}, ≤ {pos_limit:g}",
                 mean <= mean_limit and top <= pos_limit, numbers={"mean_kl": mean, "max_kl": top,
                                                                   "positions": int(kl.size)})


def ppl_check(ref: list[np.ndarray], cand: list[np.ndarray], texts: Sequence[Sequence[int]], limit: float) -> Check:
    p_ref, p_cand = perplexity(ref, texts), perplexity(cand, texts)
    ratio = p_cand / p_ref
    return Check("perplexity", f"{p_cand:.3f} vs {p_ref:.3f} (×{ratio:.3f})", f"× ≤ {limit:g}", ratio <= limit,
                 numbers={"ppl": p_cand, "ppl_reference": p_ref, "ratio": ratio,
                          "tokens": sum(len(t) - 1 for t in texts)})


def eos_check(ref_replies: list[list[int]], cand_replies: list[list[int]], eos_ids: set[int],
              cfg: GateConfig) -> Check:
    rate, base = eos_rate(cand_replies, eos_ids), eos_rate(ref_replies, eos_ids)
    need = min(cfg.min_eos_rate, base)
    return Check("eos", f"{rate:.0%} within {cfg.eos_within} (reference {base:.0%})", f"≥ {need:.0%}", rate >= need,
                 numbers={"eos_rate": rate, "eos_rate_reference": base})


def template_check(cand_tok: Any, ref_tok: Any, llama: LlamaSource | None) -> Check:
    problems = template_problems(cand_tok, reference=ref_tok)
    if llama is not None:
        if llama.chat_template() != ref_tok.chat_template:
            problems.append("the GGUF's chat template differs from the reference tokenizer's")
        for messages in chat_messages():
            text = ref_tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            if llama.tokenize(text) != list(ref_tok(text, add_special_tokens=False).input_ids):
                problems.append("llama.cpp tokenizes a rendered chat prompt differently from transformers")
                break
    return Check("template", "round trip ok" if not problems else f"{len(problems)} problem(s)", "none",
                 not problems, "; ".join(problems))


def parity_check(max_abs_diff: float | None, tol: float, why_na: str = "") -> Check:
    if max_abs_diff is None:
        return Check("parity", "n/a", f"≤ {tol:g}", None, why_na)
    return Check("parity", f"max |Δlogit| {max_abs_diff:.2e}", f"≤ {tol:g}", max_abs_diff <= tol,
                 numbers={"max_abs_diff": max_abs_diff})


def golden_check(build: Build, reference: Path, cfg: GateConfig) -> Check:
    """Score candidate and reference on the golden set with the evals harness (the chat's agent)."""
    from assistant.llm.config import LLMConfig
    from evals.config import EvalConfig
    from evals.runner import run_eval

    if build.kind == "gguf":
        cand = LLMConfig(backend="llamacpp", model=str(build.path), n_threads=cfg.threads or None)
    elif build.kind == "adapter":
        cand = LLMConfig(backend="hf", model=str(reference), adapter=str(build.folder), n_threads=cfg.threads or None)
    else:
        cand = LLMConfig(backend="hf", model=str(build.folder), n_threads=cfg.threads or None)
    scores = {}
    for side, llm in (("candidate", cand), ("reference", LLMConfig(backend="hf", model=str(reference)))):
        config = EvalConfig(llm=llm, judge="off", metrics=("refusal", "rouge"), limit=cfg.golden_limit,
                            transforms=(), bootstrap_b=100)
        with tempfile.TemporaryDirectory(prefix="cairn-gate-") as tmp:
            summary = run_eval([cfg.golden], config, tmp, progress=False).summary
        scores[side] = {k: v["mean"] for k, v in summary["metrics"].items()
                        if k in GOLDEN_METRICS and v["mean"] is not None}
    drops = {k: scores["reference"][k] - scores["candidate"].get(k, 0.0) for k in scores["reference"]}
    worst = max(drops.values(), default=0.0)
    shown = ", ".join(f"{k} {scores['candidate'].get(k, float('nan')):.2f} (ref {v:.2f})"
                      for k, v in scores["reference"].items())
    return Check("golden", shown or "no scores", f"drop ≤ {cfg.max_golden_drop:g}", worst <= cfg.max_golden_drop,
                 numbers={"scores": scores, "max_drop": worst})


# -- the run ---------------------------------------------------------------------------------------------

def resolve_reference(build: Build, base: str) -> Path:
    from finetune.convert import trainable_base

    if base:
        return trainable_base(base, progress=False).path
    if build.reference is None:
        raise GateConfigError(f"{build.folder} records no model it was made from; pass --base MODEL "
                              "(the base of an adapter, or the dense model a build was quantized from)")
    return build.reference


def run_gate(cfg: GateConfig) -> GateReport:
    """Run every check on `cfg.candidate`; register it on pass unless cfg.no_register."""
    import torch
    from transformers import AutoTokenizer

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    build = inspect_build(cfg.candidate)
    reference = resolve_reference(build, cfg.base)
    ref_tok = AutoTokenizer.from_pretrained(reference, local_files_only=True)
    chats = chat_prompt_ids(ref_tok)
    texts = heldout_windows(ref_tok, heldout_texts(cfg.heldout, cfg.heldout_docs), cfg.window)
    ref_model = load_dense(reference)
    eos_ids = eos_ids_of(ref_tok, ref_model)
    pad = ref_tok.pad_token_id if ref_tok.pad_token_id is not None else min(eos_ids)
    ref = measure(HFSource(ref_model, eos_ids, pad), chats, texts, cfg.eos_within)
    del ref_model
    _free()

    llama, parity = None, parity_check(None, cfg.parity_tol, f"a {build.kind} build has no unmerged form")
    cand_tok = own_tokenizer(build, ref_tok)
    if build.kind == "gguf":
        n_ctx = max(256, max(len(s) for s in [*chats, *texts]) + cfg.eos_within + 16)
        llama = LlamaSource(build.path, eos_ids, n_ctx, cfg.threads or 1)
        cand = measure(llama, chats, texts, cfg.eos_within)
    elif build.kind == "adapter":
        from peft import PeftModel

        model = PeftModel.from_pretrained(load_dense(reference), build.folder).eval()
        cand = measure(HFSource(model, eos_ids, pad), chats, texts, cfg.eos_within)
        merged = HFSource(model.merge_and_unload(), eos_ids, pad)
        diff = max(float(np.abs(merged.logits(s) - u).max()) for s, u in zip(chats[:3], cand["logits"]))
        parity = parity_check(diff, cfg.parity_tol)
        del model, merged
    elif build.kind == "quantized":
        from finetune.quantize import load_quantized

        cand = measure(HFSource(load_quantized(build.folder, torch.float32), eos_ids, pad), chats, texts,
                       cfg.eos_within)
    else:
        cand = measure(HFSource(load_dense(build.folder), eos_ids, pad), chats, texts, cfg.eos_within)
    _free()
    if build.kind == "merged":
        from finetune.merge import merged_folder_parity

        gone = [a["path"] for a in build.provenance.get("adapters", []) if not Path(a["path"]).is_dir()]
        if gone:
            parity = parity_check(None, cfg.parity_tol, f"its adapters are gone ({gone[0]}); `cairn merge` "
                                  f"recorded parity {build.provenance.get('parity', {}).get('max_abs_diff')}")
        else:
            report = merged_folder_parity(build.folder, chats[:3], cfg.parity_tol)
            parity = parity_check(report.max_abs_diff, cfg.parity_tol, "ties/slerp merges have no unmerged form")

    mean_kl, pos_kl, ppl_ratio = cfg.limits(build.family)
    n_chat = len(chats)
    checks = [kl_check(ref["logits"], cand["logits"], mean_kl, pos_kl),
              ppl_check(ref["logits"][n_chat:], cand["logits"][n_chat:], texts, ppl_ratio),
              eos_check(ref["replies"], cand["replies"], eos_ids | (llama.eos_ids if llama else set()), cfg),
              template_check(cand_tok, ref_tok, llama), parity]
    if llama is not None:
        llama.close()
    if cfg.golden:
        checks.append(golden_check(build, reference, cfg))
    report = GateReport(build, reference, checks, verdict(checks),
                        numbers={"family": build.family, "chat_prompts": n_chat, "heldout_windows": len(texts)})
    if report.passed and not cfg.no_register:
        from knowledge.provenance import stamp

        name = cfg.name or build.folder.name
        report.registered = register_build(build, name, reference, stamp(kind="gate-report", config=cfg.to_json(),
                                                                          **report.to_json()))
    return report
