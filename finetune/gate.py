"""The release gate's pure parts: thresholds, fixed prompts, the checks as functions over
arrays and tokenizers, and the verdict table (`cairn gate`, DESIGN.md §3 "improve": merge/
quantize → release gate → registered model). gate_run.py loads the models and calls these.

A candidate is compared with the model it was made from — its *reference*: the base for an
adapter or a merge (how far training moved it: a sanity bound that catches broken adapters),
the dense model for a quantized build (quantization damage: a tight bound).

    check         what                                                      pass when
    kl            KL(P_ref ‖ P_cand) per position over the fixed chat       mean ≤ max_mean_kl and
                  prompts and held-out windows, teacher-forced              max ≤ max_position_kl
    perplexity    exp(mean next-token NLL) on held-out text                 cand / ref ≤ max_ppl_ratio
    eos           share of chat prompts whose greedy reply ends with EOS    ≥ min(min_eos_rate, the
                  within `eos_within` tokens                                  reference's own share)
    template      chat template renders; its special tokens encode to one   no problem found
                  id each; decode(encode(text)) == text; same rendering and
                  token ids as the reference (GGUF: llama.cpp's tokenizer)
    parity        merged vs unmerged logits, max |Δ| (adapters, merges)     ≤ parity_tol, or n/a
    golden        evals harness scores on a golden set (optional, slow)     drop ≤ max_golden_drop

KL(P‖Q) = Σ_v P(v) (log P(v) − log Q(v)), from log-softmax in float64 so that near-identical
distributions give ~0 and not rounding noise. The held-out text is the demo's clinical notes
(knowledge/demo/data/notes.jsonl): `cairn sft` trains on catalog QA and expert corrections, so
notes are never training data.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np

from finetune.sft import arg_help
from knowledge.errors import CairnError

DEMO_NOTES = Path(__file__).resolve().parents[1] / "knowledge" / "demo" / "data" / "notes.jsonl"

# Fixed chat prompts: short, answerable in a sentence, so an instruct model ends its turn.
CHAT_PROMPTS: tuple[tuple[tuple[str, str], ...], ...] = (
    (("user", "What is the capital of France?"),),
    (("user", "Say hello in one short sentence."),),
    (("system", "You answer briefly."), ("user", "Is a podcast audio or video?")),
    (("user", "Name one colour of the sky."),),
    (("user", "What is two plus two?"),),
)
# A conversation with every role, for the template round trip.
TEMPLATE_PROBE = [{"role": "system", "content": "You answer from sources."},
                  {"role": "user", "content": "what is night train about?"},
                  {"role": "assistant", "content": "a film [1]."},
                  {"role": "user", "content": "when did it come out?"}]


class GateConfigError(CairnError, ValueError):
    """A gate threshold or input that does not make sense."""


@dataclass(frozen=True)
class GateConfig:
    """Thresholds and inputs of one `cairn gate` run; every field is also a CLI flag."""

    candidate: str = field(metadata={**arg_help(
        "adapter folder, merged folder, nf4/int8 build, GGUF build (folder or .gguf) or registered name"),
        "positional": True})
    base: str = field(default="", metadata=arg_help(
        "reference model (default: what the candidate was made from, per its provenance)"))
    name: str = field(default="", metadata=arg_help("registry name on pass (default: the candidate folder's name)"))
    no_register: bool = field(default=False, metadata=arg_help("only report; do not register on pass"))
    max_mean_kl: float = field(default=1.0, metadata=arg_help("adapters/merges: largest mean KL to the base (nats)"))
    max_position_kl: float = field(default=25.0, metadata=arg_help(
        "adapters/merges: largest KL at any one position (nats)"))
    max_ppl_ratio: float = field(default=1.5, metadata=arg_help("adapters/merges: largest held-out perplexity ratio"))
    quant_max_mean_kl: float = field(default=0.1, metadata=arg_help(
        "quantized builds: largest mean KL to the dense model (nats)"))
    quant_max_position_kl: float = field(default=5.0, metadata=arg_help(
        "quantized builds: largest KL at any one position (nats)"))
    quant_max_ppl_ratio: float = field(default=1.1, metadata=arg_help(
        "quantized builds: largest held-out perplexity ratio"))
    eos_within: int = field(default=64, metadata=arg_help("greedy tokens within which a chat reply must end"))
    min_eos_rate: float = field(default=1.0, metadata=arg_help(
        "share of chat prompts that must end (or the reference's own share, if lower)"))
    parity_tol: float = field(default=1e-3, metadata=arg_help("largest merged-vs-unmerged logit difference"))
    heldout: str = field(default="", metadata=arg_help(
        "held-out text: .jsonl with a `text` field or .txt (default: the demo clinical notes)"))
    heldout_docs: int = field(default=4, metadata=arg_help("held-out documents used"))
    window: int = field(default=128, metadata=arg_help("tokens per held-out window"))
    golden: str = field(default="", metadata=arg_help("golden set (.jsonl) to score with the evals harness (slow)"))
    golden_limit: int = field(default=5, metadata=arg_help("golden cases scored"))
    max_golden_drop: float = field(default=0.1, metadata=arg_help("largest drop of any golden score vs the reference"))
    threads: int = field(default=0, metadata=arg_help("torch and llama.cpp CPU threads (0 = torch's default)"))

    def __post_init__(self) -> None:
        positive = ("max_mean_kl", "max_position_kl", "quant_max_mean_kl", "quant_max_position_kl", "parity_tol")
        bad = [f"{n}={getattr(self, n)!r} must be > 0" for n in positive if not getattr(self, n) > 0]
        bad += [f"{n}={getattr(self, n)!r} must be >= 1" for n in ("max_ppl_ratio", "quant_max_ppl_ratio")
                if not getattr(self, n) >= 1.0]
        bad += [f"{n}={getattr(self, n)!r} must be a positive integer" for n in
                ("eos_within", "heldout_docs", "window", "golden_limit") if getattr(self, n) < 1]
        if not 0.0 <= self.min_eos_rate <= 1.0:
            bad.append(f"min_eos_rate={self.min_eos_rate!r} must be in [0, 1]")
        if not 0.0 <= self.max_golden_drop <= 1.0:
            bad.append(f"max_golden_drop={self.max_golden_drop!r} must be in [0, 1]")
        if self.window < 8:
            bad.append(f"window={self.window} is too short to measure perplexity; use >= 8 tokens")
        if self.threads < 0:
            bad.append(f"threads={self.threads} must be >= 0")
        if not self.candidate:
            bad.append("CANDIDATE is empty")
        if bad:
            raise GateConfigError("invalid gate settings: " + "; ".join(bad))

    def limits(self, family: Literal["finetune", "quantized"]) -> tuple[float, float, float]:
        """(max mean KL, max position KL, max perplexity ratio) for a candidate family."""
        if family == "quantized":
            return self.quant_max_mean_kl, self.quant_max_position_kl, self.quant_max_ppl_ratio
        return self.max_mean_kl, self.max_position_kl, self.max_ppl_ratio

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# -- prompts and text -----------------------------------------------------------------------------------

def chat_messages() -> list[list[dict[str, str]]]:
    return [[{"role": r, "content": c} for r, c in chat] for chat in CHAT_PROMPTS]


def chat_prompt_ids(tokenizer: Any) -> list[list[int]]:
    """Token ids of each fixed chat prompt, rendered as inference renders it (generation prompt on)."""
    texts = [tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in chat_messages()]
    return [list(tokenizer(t, add_special_tokens=False).input_ids) for t in texts]


def heldout_texts(path: str | Path = "", n_docs: int = 4) -> list[str]:
    """The first n_docs texts of a .jsonl (`text` field) or a .txt file (blank-line separated)."""
    path = Path(path) if path else DEMO_NOTES
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GateConfigError(f"cannot read held-out text {path} ({exc}); "
                              "pass --heldout FILE (.jsonl or .txt)") from exc
    if path.suffix == ".jsonl":
        texts = [json.loads(line).get("text", "") for line in raw.splitlines() if line.strip()]
    else:
        texts = [part.strip() for part in raw.split("\n\n")]
    texts = [t for t in texts if t][:n_docs]
    if not texts:
        raise GateConfigError(f"{path} holds no text; a .jsonl needs a `text` field on each line")
    return texts


def heldout_windows(tokenizer: Any, texts: Sequence[str], window: int) -> list[list[int]]:
    """The first `window` tokens of each text (shorter texts are kept whole if ≥ 8 tokens)."""
    ids = [list(tokenizer(t, add_special_tokens=False).input_ids)[:window] for t in texts]
    return [w for w in ids if len(w) >= 8]


# -- pure checks ---------------------------------------------------------------------------------------

def log_softmax(logits: np.ndarray) -> np.ndarray:
    """(T, V) → (T, V) log-probabilities in float64."""
    x = logits.astype(np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def kl_per_position(ref_logits: np.ndarray, cand_logits: np.ndarray) -> np.ndarray:
    """KL(P_ref ‖ P_cand) at each position: (T, V), (T, V) → (T,), in nats, ≥ 0."""
    if ref_logits.shape != cand_logits.shape:
        raise GateConfigError(f"logit shapes differ: reference {ref_logits.shape}, candidate {cand_logits.shape}; "
                              "the candidate has another vocabulary — compare it with its own base (--base)")
    lp, lq = log_softmax(ref_logits), log_softmax(cand_logits)
    return np.maximum((np.exp(lp) * (lp - lq)).sum(axis=-1), 0.0)


def nll_sum(logits: np.ndarray, ids: Sequence[int]) -> tuple[float, int]:
    """(Σ −log p(ids[t+1] | ids[≤t]), count) over one sequence; logits (T, V) of ids (T,)."""
    lp = log_softmax(logits[:-1])                                   # (T-1, V) predicts ids[1:]
    targets = np.asarray(ids[1:])
    return float(-lp[np.arange(len(targets)), targets].sum()), len(targets)


def perplexity(logits: Sequence[np.ndarray], sequences: Sequence[Sequence[int]]) -> float:
    """exp of the token-mean NLL over all sequences (each scored from its second token)."""
    total, count = 0.0, 0
    for lg, ids in zip(logits, sequences):
        s, n = nll_sum(lg, ids)
        total, count = total + s, count + n
    return math.exp(total / count)


def eos_rate(replies: Sequence[Sequence[int]], eos_ids: set[int]) -> float:
    """Share of greedy replies (generated ids, stopped at the first EOS) that end with an EOS id."""
    return sum(1 for r in replies if r and r[-1] in eos_ids) / len(replies) if replies else 0.0


def template_problems(tokenizer: Any, reference: Any | None = None) -> list[str]:
    """What is wrong with `tokenizer`'s chat template round trip (empty list: nothing)."""
    template = getattr(tokenizer, "chat_template", None)
    if not template:
        return ["the tokenizer has no chat template"]
    try:
        text = tokenizer.apply_chat_template(TEMPLATE_PROBE, tokenize=False, add_generation_prompt=True)
    except Exception as exc:  # jinja errors come in many types
        return [f"the chat template does not render: {type(exc).__name__}: {exc}"]
    problems = [f"message {m['content']!r} missing from the rendering" for m in TEMPLATE_PROBE
                if m["content"] not in text]
    ids = list(tokenizer(text, add_special_tokens=False).input_ids)
    for token in sorted(set(tokenizer.all_special_tokens) | set(getattr(tokenizer, "added_tokens_encoder", {}))):
        seen = text.count(token)
        token_id = tokenizer.convert_tokens_to_ids(token)
        if seen and ids.count(token_id) != seen:
            problems.append(f"special token {token!r} appears {seen}× in the text but encodes to its id "
                            f"{ids.count(token_id)}×")
    if tokenizer.decode(ids, skip_special_tokens=False) != text:
        problems.append("decode(encode(rendered)) differs from the rendered text")
    if reference is not None:
        ref_text = reference.apply_chat_template(TEMPLATE_PROBE, tokenize=False, add_generation_prompt=True)
        if ref_text != text:
            problems.append("the chat template renders differently from the reference model's")
    return problems


# -- verdict ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    """One row of the verdict: passed is None when the check does not apply (n/a)."""

    name: str
    value: str
    limit: str
    passed: bool | None
    detail: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)


def verdict(checks: Sequence[Check]) -> bool:
    """Pass when no check failed (n/a rows neither pass nor fail)."""
    return all(c.passed is not False for c in checks)


def format_table(checks: Sequence[Check], title: str = "") -> str:
    rows = [("check", "value", "limit", "result")] + [
        (c.name, c.value, c.limit, {True: "pass", False: "FAIL", None: "n/a"}[c.passed]) for c in checks]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [title] if title else []
    for i, r in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines += [f"  {c.name}: {c.detail}" for c in checks if c.detail]
    lines.append(f"verdict: {'PASS' if verdict(checks) else 'FAIL'}")
    return "\n".join(lines)
