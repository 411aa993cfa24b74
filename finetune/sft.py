"""Supervised fine-tuning with a LoRA adapter, and the training loop DPO shares (DESIGN.md §3
"improve"): data → chat-template tokens → peft LoRA on a frozen base → adapter + provenance.

    --base smollm2-135m ─▶ convert.trainable_base (GGUF → folder, once)
    --data a.jsonl kb:catalog ─▶ data.load_sft_jsonl / data.knowledge_base_examples
        ─▶ data.encode_sft: prompt as inference renders it, labels only on reply + EOS
    loop: batch (seed, step) ─▶ forward ─▶ losses.sft_loss ─▶ AdamW on lora_A/lora_B
          every N steps: checkpoints/step-NNNNNN (adapter, optimizer, scheduler, RNG, history)
    out/: adapter_config.json + adapter_model.safetensors (PeftModel.from_pretrained loads it),
          loss.csv, loss.png, provenance.json

Why a plain torch loop and not TRL's SFTTrainer: the labels must follow our inference
rendering exactly, and TRL's `assistant_only_loss` needs `{% generation %}` markers that the
SmolLM2/Qwen templates lack; the loss is the tested `finetune.losses.sft_loss`; DPO needs
reference log-probs computed once and stored, which the same loop serves; and resume is exact
because a step's batch is a pure function of (seed, step) and every RNG state is checkpointed —
an interrupted run ends with bit-identical weights to an uninterrupted one. It also skips
gradient checkpointing and accelerate's wrapping, both slower for small models on 2 cores.

bf16 loads the frozen base in bfloat16 while peft keeps the adapter weights, their gradients
and AdamW's state in float32. Measured on SmolLM2-135M (2 shared cores, AMX, r=8 on all seven
projections, batch 2): 7.7 → 6.3 s/step at ~600 tokens, 3.2 → 2.1 s/step at ≤256 — less than
the ~4× of bf16 matmuls, because attention's backward and the adapter's dtype casts dominate.
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import shutil
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from finetune.convert import TrainableBase, trainable_base
from finetune.data import (
    IGNORE_INDEX, EncodedChat, SFTExample, TrainingDataError, encode_sft, knowledge_base_examples, load_sft_jsonl,
    pad_batch, records_sha256,
)
from knowledge.errors import CairnError
from knowledge.provenance import stamp

CHECKPOINTS = "checkpoints"
KB_PREFIX = "kb:"
# Settings that change how a run is carried out but not its result: a resume may change them.
RUN_ONLY_FIELDS = frozenset({"resume", "threads", "checkpoint_every", "keep_checkpoints"})


class TrainingConfigError(CairnError, ValueError):
    """A training setting outside its valid range."""


class OutputExistsError(CairnError, FileExistsError):
    """An output folder that already holds a run, without --resume."""


class ResumeError(CairnError, RuntimeError):
    """A checkpoint that cannot continue this run (other settings or other data)."""


class TrainingDivergedError(CairnError, RuntimeError):
    """The loss became NaN/Inf; the adapter is not saved."""


def arg_help(text: str) -> dict[str, str]:
    """Field metadata: the help text of the field's CLI flag."""
    return {"help": text}


@dataclass(frozen=True)
class SFTConfig:
    """One fine-tuning run; every field is also a CLI flag (pipeline_cli derives them)."""

    base: str = field(metadata=arg_help(
        "model to adapt: catalogue name (smollm2-135m), .gguf file or transformers folder"))
    data: tuple[str, ...] = field(metadata=arg_help("JSONL files, or kb:catalog for synthetic cited QA from the index"))
    out: str = field(metadata=arg_help("output folder for the adapter, curves, checkpoints and provenance"))
    steps: int = field(default=100, metadata=arg_help("optimizer steps"))
    lr: float = field(default=2e-4, metadata=arg_help("peak learning rate of AdamW"))
    rank: int = field(default=8, metadata=arg_help("LoRA rank r"))
    alpha: float = field(default=16.0, metadata=arg_help("LoRA alpha (update scale alpha/r)"))
    dropout: float = field(default=0.0, metadata=arg_help("dropout on the LoRA branch input"))
    batch_size: int = field(default=4, metadata=arg_help("sequences per step"))
    max_len: int = field(default=768, metadata=arg_help("longest sequence in tokens; longer examples are dropped"))
    bf16: bool = field(default=False, metadata=arg_help("load the frozen base in bfloat16 (adapter stays float32)"))
    resume: bool = field(default=False, metadata=arg_help("continue from the last checkpoint in --out"))
    seed: int = field(default=0, metadata=arg_help("seed of LoRA init, batch order and synthetic data"))
    schedule: Literal["constant", "linear"] = field(default="linear",
                                                    metadata=arg_help("learning-rate decay after warmup"))
    warmup_steps: int = field(default=0, metadata=arg_help("steps of linear learning-rate warmup"))
    max_grad_norm: float = field(default=1.0, metadata=arg_help("gradient clipping norm (0 disables)"))
    checkpoint_every: int = field(default=50, metadata=arg_help("save a resumable checkpoint every N steps"))
    keep_checkpoints: int = field(default=2, metadata=arg_help("how many recent checkpoints to keep"))
    kb_items: int = field(default=500, metadata=arg_help("catalog items drawn for kb:catalog (0 = all)"))
    threads: int = field(default=0, metadata=arg_help("torch CPU threads (0 = torch's default)"))
    target_modules: tuple[str, ...] = field(default=(), metadata=arg_help(
        "Linear layers to adapt (default: all seven LLaMA/Qwen projections)"))

    def __post_init__(self) -> None:
        # finetune.lora imports torch; imported here, not at the top, so `cairn --help` stays fast.
        from finetune.lora import LLAMA_PROJECTIONS, LoRAConfig

        for name in ("data", "target_modules"):
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))
        object.__setattr__(self, "target_modules", self.target_modules or LLAMA_PROJECTIONS)
        LoRAConfig(r=self.rank, alpha=self.alpha, dropout=self.dropout, target_modules=self.target_modules)
        checks = {
            "steps": self.steps >= 1, "batch_size": self.batch_size >= 1, "max_len": self.max_len >= 8,
            "lr": math.isfinite(self.lr) and self.lr > 0, "checkpoint_every": self.checkpoint_every >= 1,
            "keep_checkpoints": self.keep_checkpoints >= 1, "warmup_steps": 0 <= self.warmup_steps < self.steps,
            "max_grad_norm": self.max_grad_norm >= 0, "kb_items": self.kb_items >= 0, "threads": self.threads >= 0,
            "schedule": self.schedule in ("constant", "linear"), "base": bool(self.base), "out": bool(self.out),
            "data": bool(self.data) and all(self.data),
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise TrainingConfigError(
                f"invalid {', '.join(f'{n}={getattr(self, n)!r}' for n in bad)}; need steps, batch_size, "
                "checkpoint_every, keep_checkpoints >= 1, max_len >= 8, lr > 0, 0 <= warmup_steps < steps, "
                "schedule constant|linear, and non-empty base, data and out")

    def to_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Job:
    """What a trainer hands the shared loop: how many items batches index into, the loss of a
    batch of item indices, and the data's provenance."""

    kind: str
    n_items: int
    loss: Callable[[Any, list[int]], tuple[Any, dict[str, float]]]
    data: dict[str, Any]


@dataclass(frozen=True)
class TrainResult:
    """A finished run: where its artifacts are, its per-step log, and the trained peft model
    (still in memory, for an immediate evaluation)."""

    out: Path
    history: list[dict[str, float]]
    seconds: float
    resumed_from: int | None
    provenance: dict[str, Any]
    model: Any = field(default=None, repr=False, compare=False)


# -- model -------------------------------------------------------------------------------------------

def load_lora_model(base: Path, cfg: SFTConfig) -> tuple[Any, Any]:
    """(peft model with a fresh LoRA adapter, tokenizer) from a trainable folder. The seed is
    set right before peft draws lora_A, so the same seed gives the same initial adapter."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    if not getattr(tokenizer, "chat_template", None):
        raise TrainingConfigError(f"the tokenizer in {base} has no chat template; fine-tune an instruct model "
                                  "whose template inference also uses")
    model = AutoModelForCausalLM.from_pretrained(base, local_files_only=True,
                                                 dtype=torch.bfloat16 if cfg.bf16 else torch.float32)
    model.config.use_cache = False  # no KV cache in training forwards
    torch.manual_seed(cfg.seed)
    lora = LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, bias="none",
                      target_modules=list(cfg.target_modules), task_type="CAUSAL_LM")
    return get_peft_model(model, lora), tokenizer


def pad_id(tokenizer: Any) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def fit_length(rows: Sequence[Any], length: Callable[[Any], int], max_len: int, what: str) -> list[int]:
    """Indices of rows no longer than max_len. Longer ones are dropped, not truncated: a cut
    reply would teach an answer without its citation or its EOS."""
    kept = [i for i, r in enumerate(rows) if length(r) <= max_len]
    if not kept:
        shortest = min(length(r) for r in rows)
        raise TrainingDataError(f"every {what} is longer than max_len={max_len} tokens (the shortest is {shortest}); "
                                f"raise --max-len to at least {shortest}")
    return kept


def forward_on_targets(model: Any, batch: dict[str, Any]) -> tuple[Any, Any]:
    """(logits, labels) from one position before the batch's earliest target token to the end:
    (B, K, V) and (B, K), aligned as finetune.losses expects.

    The prompt needs hidden states but no logits: in a cited-QA example ~95% of the tokens are
    prompt, and the lm_head (576 → 49,152 on SmolLM2) plus the float32 log-softmax over those
    positions would cost about a quarter of the step. `logits_to_keep` runs the head on the
    last K positions only; with right padding they cover every row's targets."""
    labels = batch["labels"]                                              # (B, T)
    first = int((labels != IGNORE_INDEX).float().argmax(dim=1).min())     # earliest target position
    start = max(first - 1, 0)                                             # its logits sit one step earlier
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                logits_to_keep=labels.shape[1] - start)
    return out.logits, labels[:, start:]


# -- batches and schedule --------------------------------------------------------------------------

@lru_cache(maxsize=8)
def _epoch_order(seed: int, epoch: int, n: int) -> tuple[int, ...]:
    import torch

    return tuple(torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch)).tolist())


def batch_indices(seed: int, step: int, batch_size: int, n: int) -> list[int]:
    """Item indices of batch `step`: positions step·B … step·B+B−1 of a stream of per-epoch
    shuffles. A pure function of its arguments, so a resumed run draws the same batches."""
    return [_epoch_order(seed, pos // n, n)[pos % n] for pos in range(step * batch_size, (step + 1) * batch_size)]


def lr_factor(step: int, cfg: SFTConfig) -> float:
    """Multiplier of cfg.lr at `step` (0-based): linear warmup, then constant or linear to 0."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant":
        return 1.0
    return max(0.0, (cfg.steps - step) / (cfg.steps - cfg.warmup_steps))


# -- checkpoints -------------------------------------------------------------------------------------

def _trainable(model: Any) -> dict[str, Any]:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def save_checkpoint(out: Path, step: int, model: Any, optimizer: Any, scheduler: Any, cfg: SFTConfig,
                    data_sha256: str, history: list[dict[str, float]]) -> Path:
    """Write checkpoints/step-NNNNNN atomically (staged, then renamed) and prune old ones."""
    import random

    import torch
    from safetensors.torch import save_file

    root = out / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    final, staging = root / f"step-{step:06d}", root / f".step-{step:06d}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    save_file({n: p.detach().contiguous() for n, p in _trainable(model).items()}, staging / "adapter.safetensors")
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "torch_rng": torch.get_rng_state(), "python_rng": random.getstate()}, staging / "optimizer.pt")
    state = {"step": step, "config": cfg.to_json(), "data_sha256": data_sha256, "history": history}
    (staging / "state.json").write_text(json.dumps(state), encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(staging, final)
    for old in sorted(root.glob("step-*"))[:-cfg.keep_checkpoints]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(out: Path) -> Path | None:
    done = sorted(p for p in (out / CHECKPOINTS).glob("step-*") if (p / "state.json").is_file())
    return done[-1] if done else None


def load_checkpoint(ckpt: Path, model: Any, optimizer: Any, scheduler: Any, cfg: SFTConfig,
                    data_sha256: str) -> tuple[int, list[dict[str, float]]]:
    """Restore adapter, optimizer, scheduler and RNG states; (step reached, history so far)."""
    import random

    import torch
    from safetensors.torch import load_file

    state = json.loads((ckpt / "state.json").read_text(encoding="utf-8"))
    mine, theirs = cfg.to_json(), state["config"]
    changed = sorted(k for k in mine.keys() | theirs.keys()
                     if k not in RUN_ONLY_FIELDS and mine.get(k) != theirs.get(k))
    if changed:
        was = ", ".join(f"{k}={theirs.get(k)!r}" for k in changed)
        raise ResumeError(f"checkpoint {ckpt} was made with other settings ({was}); "
                          "resume with the same settings, or train into a new --out")
    if state["data_sha256"] != data_sha256:
        raise ResumeError(f"the training data changed since checkpoint {ckpt} (sha256 {state['data_sha256'][:12]}…"
                          f" → {data_sha256[:12]}…); resume with the same data, or train into a new --out")
    saved, params = load_file(ckpt / "adapter.safetensors"), _trainable(model)
    if saved.keys() != params.keys():
        raise ResumeError(f"checkpoint {ckpt} holds other adapter tensors than this model trains; "
                          "train into a new --out")
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(saved[name])
    rest = torch.load(ckpt / "optimizer.pt", weights_only=False)
    optimizer.load_state_dict(rest["optimizer"])
    scheduler.load_state_dict(rest["scheduler"])
    torch.set_rng_state(rest["torch_rng"])
    random.setstate(rest["python_rng"])
    return state["step"], state["history"]


# -- artifacts ----------------------------------------------------------------------------------------

def write_curves(out: Path, history: list[dict[str, float]], *, title: str) -> None:
    """loss.csv (one row per step, every logged metric) and loss.png (one panel per metric)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    columns = list(dict.fromkeys(k for row in history for k in row))
    with open(out / "loss.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(history)
    panels = [c for c in columns if c not in ("step", "lr", "seconds", "tokens")]
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 2.6 * len(panels)), sharex=True, squeeze=False)
    steps = [row["step"] for row in history]
    for ax, name in zip(axes[:, 0], panels):
        ax.plot(steps, [row.get(name, math.nan) for row in history], marker="." if len(steps) < 50 else None)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[0, 0].set_title(title)
    axes[-1, 0].set_xlabel("step")
    fig.tight_layout()
    fig.savefig(out / "loss.png", dpi=100)
    plt.close(fig)


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    return {pkg: md.version(pkg) for pkg in ("torch", "transformers", "peft")}


def build_provenance(cfg: SFTConfig, job: Job, base: TrainableBase, tokenizer: Any, model: Any,
                     history: list[dict[str, float]], seconds: float, resumed_from: int | None) -> dict[str, Any]:
    template = getattr(tokenizer, "chat_template", "") or ""
    step_times = [row["seconds"] for row in history if row.get("seconds")]
    return stamp(
        kind=f"{job.kind}-adapter",
        base={"model_id": base.model_id, "sha256": base.sha256, "path": str(base.path), "source": str(base.source)},
        data=job.data, config=cfg.to_json(), seed=cfg.seed,
        chat_template_sha256=hashlib.sha256(template.encode("utf-8")).hexdigest(),
        adapter={"trainable_params": sum(p.numel() for p in _trainable(model).values()),
                 "dtype_base": "bfloat16" if cfg.bf16 else "float32"},
        training={"steps": len(history), "final_loss": history[-1]["loss"] if history else None,
                  "seconds": round(seconds, 2), "resumed_from_step": resumed_from,
                  "median_step_seconds": round(statistics.median(step_times), 4) if step_times else None},
        training_versions=_versions())


# -- the loop -----------------------------------------------------------------------------------------

def check_output(out: Path, resume: bool) -> None:
    if not resume and ((out / CHECKPOINTS).exists() or (out / "adapter_config.json").exists()):
        raise OutputExistsError(f"{out} already holds a training run; pass --resume to continue it, "
                                "or choose a new --out")


def run_training(cfg: SFTConfig, job: Job, model: Any, tokenizer: Any, base: TrainableBase, *,
                 progress: bool = True, on_step: Callable[[int, dict[str, float]], None] | None = None) -> TrainResult:
    """Train the adapter of `model` for cfg.steps steps on job.loss, checkpointing and resuming,
    then save the adapter, the curves and provenance.json into cfg.out."""
    import torch
    from tqdm.auto import tqdm

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    params = list(_trainable(model).values())
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, cfg))
    start, history, resumed_from = 0, [], None
    ckpt = latest_checkpoint(out) if cfg.resume else None
    if ckpt is not None:
        start, history = load_checkpoint(ckpt, model, optimizer, scheduler, cfg, job.data["sha256"])
        resumed_from = start
    started = time.perf_counter()
    model.train()
    bar = tqdm(total=cfg.steps, initial=start, desc=f"{job.kind} {out.name}", unit="step", disable=not progress)
    for step in range(start, cfg.steps):
        t0, lr = time.perf_counter(), scheduler.get_last_lr()[0]
        loss, metrics = job.loss(model, batch_indices(cfg.seed, step, cfg.batch_size, job.n_items))
        if not torch.isfinite(loss):
            raise TrainingDivergedError(f"the loss became {loss.item()} at step {step + 1}; lower --lr (now {cfg.lr}) "
                                        "or resume from an earlier checkpoint")
        loss.backward()
        if cfg.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        row = {"step": step + 1, "loss": loss.item(), "lr": lr, **metrics, "seconds": time.perf_counter() - t0}
        history.append(row)
        bar.update(1)
        bar.set_postfix(loss=f"{row['loss']:.4f}")
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
            save_checkpoint(out, step + 1, model, optimizer, scheduler, cfg, job.data["sha256"], history)
        if on_step is not None:
            on_step(step + 1, row)
    bar.close()
    seconds = time.perf_counter() - started
    model.save_pretrained(out)
    write_curves(out, history, title=f"{job.kind} on {Path(cfg.base).name}")
    record = build_provenance(cfg, job, base, tokenizer, model, history, seconds, resumed_from)
    (out / "provenance.json").write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    return TrainResult(out, history, seconds, resumed_from, record, model)


def prepare(cfg: SFTConfig, *, progress: bool = True) -> tuple[TrainableBase, Any, Any]:
    """Shared start of SFT and DPO: threads, output check, base conversion, model + tokenizer."""
    import torch

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    check_output(Path(cfg.out), cfg.resume)
    base = trainable_base(cfg.base, progress=progress)
    model, tokenizer = load_lora_model(base.path, cfg)
    return base, model, tokenizer


# -- SFT ----------------------------------------------------------------------------------------------

def load_sft_examples(cfg: SFTConfig) -> tuple[list[SFTExample], dict[str, int]]:
    """Every example of every --data source, in order, and the count per source."""
    examples, counts = [], {}
    for source in cfg.data:
        if source.startswith(KB_PREFIX):
            part = knowledge_base_examples(source[len(KB_PREFIX):], seed=cfg.seed, limit=cfg.kb_items or None)
        else:
            part = load_sft_jsonl(source)
        counts[source] = len(part)
        examples += part
    return examples, counts


def sft_job(cfg: SFTConfig, tokenizer: Any, examples: Sequence[SFTExample], counts: dict[str, int]) -> Job:
    """Tokenize once; the loss of a batch is the token-mean cross-entropy on reply tokens."""
    from finetune.losses import sft_loss

    encoded = [encode_sft(tokenizer, e) for e in examples]
    kept: list[EncodedChat] = [encoded[i] for i in fit_length(encoded, len, cfg.max_len, "SFT example")]
    pad = pad_id(tokenizer)

    def loss(model: Any, idx: list[int]) -> tuple[Any, dict[str, float]]:
        logits, labels = forward_on_targets(model, pad_batch([kept[i] for i in idx], pad))  # (B, K, V), (B, K)
        targets = labels != IGNORE_INDEX
        return sft_loss(logits, labels, targets), {"tokens": float(targets.sum())}

    data = {"sha256": records_sha256(examples), "sources": counts, "examples": len(examples),
            "used": len(kept), "dropped_longer_than_max_len": len(encoded) - len(kept)}
    return Job("sft", len(kept), loss, data)


def train_sft(cfg: SFTConfig, *, progress: bool = True,
              on_step: Callable[[int, dict[str, float]], None] | None = None) -> TrainResult:
    """Run one SFT job end to end (see the module docstring)."""
    base, model, tokenizer = prepare(cfg, progress=progress)
    examples, counts = load_sft_examples(cfg)
    return run_training(cfg, sft_job(cfg, tokenizer, examples, counts), model, tokenizer, base,
                        progress=progress, on_step=on_step)
