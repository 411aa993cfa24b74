"""`cairn merge`: fold one or more peft LoRA adapters into their base model and write a full
transformers folder (what `cairn quantize` and llama.cpp exports start from).

    ADAPTER… ─ adapter_config.json + provenance.json ─▶ their base (convert.trainable_base)
    base (float32) + every adapter loaded into one PeftModel as a0, a1, …
        per LoRA-wrapped Linear:  W0, Δ_i = (alpha_i / r_i)·B_i A_i   (peft get_delta_weight)
        one adapter, or task-arithmetic:  W = W0 + Σ λ_i Δ_i           (merging.task_arithmetic)
        ties:                              W = W0 + TIES(Δ_1…Δ_k; λ, density)
        lerp / slerp (two adapters):       W = lerp|slerp(W0 + Δ_1, W0 + Δ_2; t)
    parity: logits of the merged model vs the same model left unmerged — the adapters active
        on the frozen base, each scaled by λ_i (lerp: λ = (1 − t, t)) — on fixed chat prompts;
        above `parity_tol` nothing is written. TIES and SLERP are not linear in the adapters,
        so no unmerged model computes them: their parity is recorded as not applicable.
    OUT/ config.json  model.safetensors  tokenizer + chat template  provenance.json

A LoRA task vector is exactly its Δ_i (zero outside the adapted Linears), so merging.py's
methods apply to the Δ's of each adapted weight and every other tensor stays the base's.
Adapters must share one base (same recorded sha256) and train only LoRA A/B pairs: DoRA
magnitudes and `modules_to_save` copies have no task-vector form here and are refused.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

from finetune.sft import OutputExistsError, arg_help
from knowledge.atomic import staged_dir
from knowledge.errors import CairnError

PROVENANCE = "provenance.json"


class MergeParityError(CairnError, RuntimeError):
    """The merged model's logits differ from the unmerged adapters' beyond the tolerance."""


@dataclass(frozen=True)
class MergeRunConfig:
    """One `cairn merge`; every field is also a CLI flag (build_cli derives them)."""

    adapters: tuple[str, ...] = field(metadata={**arg_help(
        "peft adapter folder(s) from `cairn sft|dpo`; several are combined with --method"), "positional": True})
    out: str = field(metadata=arg_help("output folder for the merged transformers model"))
    base: str = field(default="", metadata=arg_help("base model (default: the one the adapters recorded)"))
    method: Literal["task-arithmetic", "ties", "lerp", "slerp"] = field(default="task-arithmetic", metadata=arg_help(
        "how several adapters combine; one adapter with weight 1 is a plain merge"))
    weights: tuple[float, ...] = field(default=(), metadata=arg_help(
        "one weight per adapter for task-arithmetic / ties (default 1 each)"))
    t: float = field(default=0.5, metadata=arg_help("lerp/slerp position: 0 = first adapter, 1 = second"))
    density: float = field(default=0.2, metadata=arg_help("ties: fraction of each task vector kept"))
    parity_tol: float = field(default=1e-3, metadata=arg_help(
        "largest |merged − unmerged| logit difference accepted (float32)"))
    dtype: Literal["float32", "bfloat16"] = field(default="float32", metadata=arg_help("dtype of the saved weights"))
    threads: int = field(default=0, metadata=arg_help("torch CPU threads (0 = torch's default)"))
    force: bool = field(default=False, metadata=arg_help("replace an existing merged model in --out"))

    def __post_init__(self) -> None:
        # finetune.merging imports torch; imported here, not at the top, so `cairn --help` stays fast.
        from finetune.merging import MergeConfigError

        adapters = (self.adapters,) if isinstance(self.adapters, str) else tuple(self.adapters)
        object.__setattr__(self, "adapters", adapters)
        object.__setattr__(self, "weights", tuple(float(w) for w in self.weights))
        if not self.adapters or not all(self.adapters):
            raise MergeConfigError("no adapter given; pass one or more adapter folders written by `cairn sft|dpo`")
        if not self.out:
            raise MergeConfigError("--out is empty; name the folder the merged model goes to")
        self.merge_config()  # validates method, t, density
        if self.method in ("lerp", "slerp") and len(self.adapters) != 2:
            raise MergeConfigError(f"{self.method} interpolates between exactly two adapters, got "
                                   f"{len(self.adapters)}; use task-arithmetic or ties for other counts")
        if self.weights and len(self.weights) != len(self.adapters):
            raise MergeConfigError(f"got {len(self.weights)} weights for {len(self.adapters)} adapters; give one each")
        if self.weights and self.method in ("lerp", "slerp"):
            raise MergeConfigError(f"{self.method} takes --t, not --weights")
        if not self.parity_tol > 0:
            raise MergeConfigError(f"parity_tol={self.parity_tol} must be > 0 (1e-3 suits float32 logits)")
        if self.threads < 0:
            raise MergeConfigError(f"threads={self.threads} must be >= 0 (0 = torch's default)")

    def merge_config(self) -> Any:
        from finetune.merging import MergeConfig

        method = self.method.replace("-", "_")
        return MergeConfig(method=method, t=self.t, weights=self.weights,  # type: ignore[arg-type]
                           density=self.density)

    def linear_weights(self) -> tuple[float, ...] | None:
        """λ of the unmerged model that equals the merge, or None when no such model exists."""
        if self.method == "task-arithmetic":
            return self.weights or (1.0,) * len(self.adapters)
        if self.method == "lerp":
            return (1.0 - self.t, self.t)
        return None

    def to_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class ParityReport:
    """max_abs_diff: largest |merged − unmerged| logit over `tokens` positions of the fixed
    prompts; None when the method has no unmerged equivalent (ties, slerp)."""

    max_abs_diff: float | None
    tol: float
    tokens: int

    @property
    def ok(self) -> bool:
        return self.max_abs_diff is None or self.max_abs_diff <= self.tol


@dataclass(frozen=True)
class MergeResult:
    out: Path
    parity: ParityReport
    provenance: dict[str, Any]


# -- adapters -----------------------------------------------------------------------------------------

def adapter_record(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What merging needs to know of an adapter folder: its config, recorded base, and hash."""
    from finetune.merging import MergeConfigError
    from knowledge.models_assemble import artifact_digest

    folder = Path(path)
    try:
        config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MergeConfigError(f"{folder} is not a peft adapter folder (no readable adapter_config.json: {exc}); "
                               "pass the --out folder of `cairn sft` or `cairn dpo`") from exc
    if config.get("use_dora") or config.get("modules_to_save"):
        raise MergeConfigError(f"adapter {folder} uses {'DoRA' if config.get('use_dora') else 'modules_to_save'}, "
                               "which has no LoRA task-vector form; merge it with peft's merge_and_unload instead")
    weights = folder / "adapter_model.safetensors"
    try:
        provenance = json.loads((folder / PROVENANCE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        provenance = {}
    base = provenance.get("base") or {"path": config.get("base_model_name_or_path")}
    digest = artifact_digest(weights, progress=False) if weights.is_file() else ""
    return {"path": str(folder.resolve()), "sha256": digest,
            "kind": provenance.get("kind", "adapter"), "r": config.get("r"), "lora_alpha": config.get("lora_alpha"),
            "base": base}


def resolve_base(spec: str, records: Sequence[dict[str, Any]]) -> Any:
    """The adapters' base as a TrainableBase; refuses adapters trained on different bases."""
    from finetune.convert import trainable_base
    from finetune.merging import MergeConfigError

    hashes = {r["base"].get("sha256") for r in records} - {None, ""}
    if len(hashes) > 1:
        raise MergeConfigError(f"the adapters were trained on {len(hashes)} different bases "
                               f"({', '.join(sorted(h[:12] for h in hashes))}); only adapters of one base merge")
    spec = spec or records[0]["base"].get("path") or ""
    if not spec:
        raise MergeConfigError(f"adapter {records[0]['path']} records no base; pass --base")
    base = trainable_base(spec, progress=False)
    if hashes and base.sha256 not in hashes:
        raise MergeConfigError(f"the adapters were trained on base sha256 {next(iter(hashes))[:12]}… but {spec} is "
                               f"{base.sha256[:12]}…; pass the base they were trained on")
    return base


def load_with_adapters(base_path: Path, adapter_paths: Sequence[str]) -> tuple[Any, Any, list[str]]:
    """(PeftModel over a float32 base holding every adapter as a0, a1, …, tokenizer, names)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(base_path, local_files_only=True, dtype=torch.float32).eval()
    names = [f"a{i}" for i in range(len(adapter_paths))]
    peft_model = PeftModel.from_pretrained(model, adapter_paths[0], adapter_name=names[0])
    for name, path in zip(names[1:], adapter_paths[1:]):
        peft_model.load_adapter(path, adapter_name=name)
    return peft_model.eval(), tokenizer, names


def lora_modules(peft_model: Any) -> dict[str, Any]:
    """LoRA-wrapped layers by their name in the unwrapped model (`model.layers.0.self_attn.q_proj`)."""
    from peft.tuners.lora import LoraLayer

    return {n: m for n, m in peft_model.base_model.model.named_modules() if isinstance(m, LoraLayer)}


# -- merged weights -------------------------------------------------------------------------------------

def merged_weight(cfg: MergeRunConfig, w0: Any, deltas: Sequence[Any]) -> Any:
    """The merged weight of one Linear from W0 (out, in) and the adapters' Δ_i (out, in)."""
    from finetune.merging import lerp, slerp, task_arithmetic, ties

    if cfg.method == "lerp":
        return lerp(w0 + deltas[0], w0 + deltas[1], cfg.t)
    if cfg.method == "slerp":
        return slerp(w0 + deltas[0], w0 + deltas[1], cfg.t)
    weights = cfg.weights or (1.0,) * len(deltas)
    update = task_arithmetic(deltas, weights) if cfg.method == "task-arithmetic" else ties(deltas, weights, cfg.density)
    return w0 + update


def merged_weights(cfg: MergeRunConfig, peft_model: Any, names: Sequence[str]) -> dict[str, Any]:
    """Module name → merged float32 weight, for every layer any adapter wraps."""
    import torch

    out = {}
    for mod_name, mod in lora_modules(peft_model).items():
        w0 = mod.get_base_layer().weight.detach().float()
        deltas = [mod.get_delta_weight(n).detach().float() if n in mod.lora_A else torch.zeros_like(w0) for n in names]
        out[mod_name] = merged_weight(cfg, w0, deltas)
    return out


def logits_of(model: Any, sequences: Sequence[Sequence[int]]) -> list[Any]:
    """Float32 logits (T, V) of each token sequence, one forward each."""
    import torch

    with torch.no_grad():
        return [model(torch.tensor([list(ids)])).logits[0].float() for ids in sequences]


def unmerged_logits(peft_model: Any, names: Sequence[str], lambdas: Sequence[float],
                    sequences: Sequence[Sequence[int]]) -> list[Any]:
    """Logits of the base with every adapter active at once, adapter i scaled by λ_i: the
    unmerged form of Σ λ_i Δ_i (scalings are restored afterwards)."""
    modules = lora_modules(peft_model).values()
    saved = [dict(m.scaling) for m in modules]
    try:
        for m in modules:
            for name, lam in zip(names, lambdas):
                if name in m.scaling:
                    m.scaling[name] *= lam
        peft_model.base_model.set_adapter(list(names))
        return logits_of(peft_model, sequences)
    finally:
        for m, scaling in zip(modules, saved):
            m.scaling.clear()
            m.scaling.update(scaling)


def max_abs_diff(a: Sequence[Any], b: Sequence[Any]) -> float:
    return max(float((x - y).abs().max()) for x, y in zip(a, b))


def apply_merge(cfg: MergeRunConfig, peft_model: Any, names: Sequence[str],
                sequences: Sequence[Sequence[int]]) -> tuple[Any, ParityReport]:
    """(the merged plain model, its parity against the unmerged adapters). Consumes peft_model."""
    import torch

    from finetune.merging import MergeConfigError

    lambdas = cfg.linear_weights()
    reference = unmerged_logits(peft_model, names, lambdas, sequences) if lambdas else None
    weights = merged_weights(cfg, peft_model, names)
    for w in weights.values():
        if not torch.isfinite(w).all():
            raise MergeConfigError("the merged weights contain NaN/Inf; an adapter is broken — "
                                   "check its training loss")
    model = peft_model.unload()  # the base with the LoRA wrappers removed, nothing merged yet
    with torch.no_grad():
        for mod_name, w in weights.items():
            model.get_submodule(mod_name).weight.copy_(w)
    tokens = sum(len(s) for s in sequences)
    diff = max_abs_diff(logits_of(model, sequences), reference) if reference is not None else None
    return model, ParityReport(diff, cfg.parity_tol, tokens)


# -- the command ----------------------------------------------------------------------------------------

def merge_adapters(cfg: MergeRunConfig) -> MergeResult:
    """Run one `cairn merge` end to end (module docstring). Nothing is written when parity fails."""
    import torch

    from finetune.gate import chat_prompt_ids
    from knowledge.provenance import stamp

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    if out.exists() and any(out.iterdir()) and not cfg.force:
        raise OutputExistsError(f"{out} already holds files; pass --force to replace them, or choose another --out")
    started = time.perf_counter()
    records = [adapter_record(a) for a in cfg.adapters]
    base = resolve_base(cfg.base, records)
    peft_model, tokenizer, names = load_with_adapters(base.path, [r["path"] for r in records])
    model, parity = apply_merge(cfg, peft_model, names, chat_prompt_ids(tokenizer)[:3])
    if not parity.ok:
        raise MergeParityError(f"merged logits differ from the unmerged adapters by {parity.max_abs_diff:.3g} "
                               f"(> parity_tol {cfg.parity_tol}); nothing was written — check the adapters' "
                               "configs (rank/alpha patterns) or raise --parity-tol if bf16 weights explain it")
    record = stamp(kind="merged-model", model_id=out.name,
                   base={"model_id": base.model_id, "sha256": base.sha256, "path": str(base.path),
                         "source": str(base.source)},
                   adapters=records, method=cfg.method, config=cfg.to_json(),
                   parity={"max_abs_diff": parity.max_abs_diff, "tol": parity.tol, "tokens": parity.tokens,
                           "applicable": parity.max_abs_diff is not None},
                   dtype=cfg.dtype, parameters=sum(p.numel() for p in model.parameters()),
                   chat_template=getattr(tokenizer, "chat_template", None),
                   seconds=round(time.perf_counter() - started, 2))
    with staged_dir(out) as staging:
        model.to(getattr(torch, cfg.dtype)).save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / PROVENANCE).write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    return MergeResult(out, parity, record)


def merged_folder_parity(folder: Path, sequences: Sequence[Sequence[int]], tol: float) -> ParityReport:
    """Re-check a merged folder against the adapters its provenance names (the gate's check)."""
    import torch
    from transformers import AutoModelForCausalLM

    record = json.loads((folder / PROVENANCE).read_text(encoding="utf-8"))
    cfg = MergeRunConfig(**{**record["config"], "adapters": tuple(record["config"]["adapters"]),
                            "weights": tuple(record["config"]["weights"])})
    lambdas = cfg.linear_weights()
    tokens = sum(len(s) for s in sequences)
    if lambdas is None:
        return ParityReport(None, tol, tokens)
    peft_model, _, names = load_with_adapters(Path(record["base"]["path"]), [a["path"] for a in record["adapters"]])
    reference = unmerged_logits(peft_model, names, lambdas, sequences)
    del peft_model
    merged = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=torch.float32).eval()
    return ParityReport(max_abs_diff(logits_of(merged, sequences), reference), tol, tokens)
