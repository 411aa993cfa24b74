"""LoRA: a frozen Linear plus a trainable low-rank update (Hu et al., "LoRA: Low-Rank
Adaptation of Large Language Models", ICLR 2022).

    x ─┬─────────► W0 (frozen, out×in) ──────────────────────┐
       │                                                    (+) ──► y
       └─► dropout ─► A (r×in) ─► B (out×r) ─► × alpha/r ───┘
                      Kaiming-    zeros
                      uniform

    y = W0 x + (alpha / r) · B A dropout(x)

B starts at zero, so the adapted model is exactly the base model at step 0; A starts
Kaiming-uniform (a = sqrt(5), the nn.Linear default peft uses) so the first gradient on B is
not zero. `merge()` folds (alpha/r)·BA into W0 for zero-latency inference and `unmerge()`
takes it out again; `inject_lora` swaps named nn.Linear layers of any model for LoRALinear.
The layer names and the arithmetic follow peft's `tuners/lora/layer.py`, which the tests use
as the reference implementation (same weights in → same outputs and parameter counts out).

Parameter counts. A pair on a Linear of shape (out, in) trains r·(in + out) weights. For a
whole model, `lora_param_count` sums over the targeted Linears of the architecture built on
torch.device("meta") — shapes, no storage — so a 7B model "builds" in under a second with no
memory and the count follows whatever transformers would build (GQA k/v widths, MLP sizes).
LLaMA-2-7B (hidden 4096, intermediate 11008, 32 layers, all seven projections):

    per layer: q,k,v,o  4 · r(4096 + 4096)  = 32768 r
               gate,up  2 · r(4096 + 11008) = 30208 r
               down     1 · r(11008 + 4096) = 15104 r      → 78080 r
    32 layers: 2,498,560 r  →  r=16: 39,976,960   r=64: 159,907,840
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from knowledge.errors import CairnError

# The seven projections of a LLaMA/Qwen decoder block: attention, then the SwiGLU MLP.
LLAMA_PROJECTIONS: tuple[str, ...] = (
    "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
)


class LoRAConfigError(CairnError, ValueError):
    """A LoRA hyperparameter outside its valid range."""


class TargetModulesNotFoundError(CairnError, LookupError):
    """A target module name that matches no nn.Linear of the model."""


class MergeStateError(CairnError, RuntimeError):
    """merge()/unmerge() called in the wrong state, or on a base that cannot absorb the update."""


class NonFiniteAdapterError(CairnError, ValueError):
    """An adapter whose update contains NaN/Inf; merging it would corrupt the base weights."""


@dataclass(frozen=True)
class LoRAConfig:
    """Hyperparameters of one LoRA adapter.

    r: rank of the update BA (1 ≤ r); 8–64 is typical, the seed's example uses 16.
    alpha: numerator of the scale alpha/r; keeping alpha/r fixed lets you change r without
        re-tuning the learning rate (Hu et al., §4.1).
    dropout: dropout probability applied to the input of the LoRA branch only, in [0, 1).
    target_modules: module-name suffixes to adapt ("q_proj" matches "model.layers.0.self_attn.q_proj").
    """

    r: int = 8
    alpha: float = 16.0
    dropout: float = 0.0
    target_modules: tuple[str, ...] = LLAMA_PROJECTIONS

    def __post_init__(self) -> None:
        if isinstance(self.r, bool) or not isinstance(self.r, int) or self.r < 1:
            raise LoRAConfigError(f"LoRA rank r must be a positive integer, got {self.r!r}; use e.g. r=8")
        if not (isinstance(self.alpha, (int, float)) and math.isfinite(self.alpha) and self.alpha > 0):
            raise LoRAConfigError(f"LoRA alpha must be a positive finite number, got {self.alpha!r}; "
                                  f"a common choice is alpha = 2*r")
        if not (0.0 <= self.dropout < 1.0):
            raise LoRAConfigError(f"LoRA dropout must be in [0, 1), got {self.dropout!r}; use 0.0 to disable it")
        if isinstance(self.target_modules, str) or not self.target_modules \
                or not all(isinstance(t, str) and t for t in self.target_modules):
            raise LoRAConfigError(f"target_modules must be a non-empty sequence of module names, got "
                                  f"{self.target_modules!r}; e.g. ('q_proj', 'v_proj')")
        object.__setattr__(self, "target_modules", tuple(self.target_modules))

    @property
    def scaling(self) -> float:
        return self.alpha / self.r


class LoRALinear(nn.Module):
    """`base` (frozen) plus a rank-r update. `base` is an nn.Linear, or any module with
    `in_features`/`out_features` whose forward is x ↦ W x + b (qlora.QLoRALinear puts an
    NF4Linear here and overrides `to_merged_linear`).

    Parameters are named `lora_A` (r, in) and `lora_B` (out, r), as in peft, so adapters can
    be copied across by name. `adapter_dtype` defaults to the base weight's float dtype, or
    float32 for a base that stores integer codes.
    """

    def __init__(self, base: nn.Module, r: int, alpha: float, dropout: float = 0.0,
                 adapter_dtype: torch.dtype | None = None) -> None:
        super().__init__()
        cfg = LoRAConfig(r=r, alpha=alpha, dropout=dropout)  # validates; targets unused here
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.in_features: int = base.in_features
        self.out_features: int = base.out_features
        self.r, self.alpha, self.scaling = cfg.r, cfg.alpha, cfg.scaling
        self.dropout = nn.Dropout(cfg.dropout) if cfg.dropout > 0 else nn.Identity()
        w = getattr(base, "weight", None)
        if adapter_dtype is None:
            adapter_dtype = w.dtype if isinstance(w, torch.Tensor) and w.is_floating_point() else torch.float32
        # same device as the base (a quantized base has buffers only)
        device = next(iter([*base.parameters(), *base.buffers()]), torch.empty(0)).device
        factory = dict(dtype=adapter_dtype, device=device)
        self.lora_A = nn.Parameter(torch.empty(cfg.r, self.in_features, **factory))   # (r, in)
        self.lora_B = nn.Parameter(torch.empty(self.out_features, cfg.r, **factory))  # (out, r)
        self.merged = False
        self.reset_lora_parameters()

    def reset_lora_parameters(self) -> None:
        # a = sqrt(5) makes the bound 1/sqrt(in_features): nn.Linear's default, which peft keeps.
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B)

    def delta_weight(self) -> torch.Tensor:
        """(alpha/r)·B A, shape (out, in): the update that merge() adds to W0."""
        return (self.lora_B @ self.lora_A) * self.scaling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (..., in) → y: (..., out)
        y = self.base(x)
        if self.merged:
            return y
        h = self.dropout(x.to(self.lora_A.dtype))          # (..., in)
        h = F.linear(F.linear(h, self.lora_A), self.lora_B)  # (..., r) → (..., out)
        return (y + h * self.scaling).to(y.dtype)

    # -- merge / unmerge ---------------------------------------------------------------

    def _checked_delta(self) -> torch.Tensor:
        delta = self.delta_weight().detach()
        if not torch.isfinite(delta).all():
            raise NonFiniteAdapterError(
                f"LoRA update of a {self.in_features}→{self.out_features} layer contains NaN/Inf; "
                "the adapter diverged — lower the learning rate or resume from an earlier checkpoint")
        return delta

    def _linear_weight(self) -> torch.Tensor:
        w = getattr(self.base, "weight", None)
        if not isinstance(w, torch.Tensor) or not w.is_floating_point():
            raise MergeStateError(
                f"cannot merge into a {type(self.base).__name__} base: it has no dense float weight; "
                "use to_merged_linear() to get a dense merged nn.Linear instead")
        return w

    @torch.no_grad()
    def merge(self) -> None:
        """W0 ← W0 + (alpha/r)·BA, in place; forward then skips the LoRA branch."""
        if self.merged:
            raise MergeStateError("this LoRA layer is already merged; call unmerge() before merging again")
        w = self._linear_weight()
        w.add_(self._checked_delta().to(w.dtype))
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """W0 ← W0 − (alpha/r)·BA: exact in fp32 up to rounding (≈1e-7 relative)."""
        if not self.merged:
            raise MergeStateError("this LoRA layer is not merged; there is nothing to unmerge")
        w = self._linear_weight()
        w.sub_(self.delta_weight().detach().to(w.dtype))
        self.merged = False

    def to_merged_linear(self) -> nn.Module:
        """The plain layer to keep after training: the base with the update merged in."""
        if not self.merged:
            self.merge()
        return self.base

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha}, scaling={self.scaling:g}, merged={self.merged}"


# -- model surgery ---------------------------------------------------------------------

def matches_target(module_name: str, target: str) -> bool:
    """peft's rule: the full name equals the target or ends with "." + target."""
    return module_name == target or module_name.endswith("." + target)


def select_targets(linear_names: list[str], target_modules: tuple[str, ...] | list[str],
                   owner: str) -> list[str]:
    """The names among `linear_names` that match a target. Raises if a target matches
    nothing, so a typo ("q_prj") fails loudly instead of silently training fewer layers
    (peft only raises when no target matches at all)."""
    chosen = [n for n in linear_names if any(matches_target(n, t) for t in target_modules)]
    missing = [t for t in target_modules if not any(matches_target(n, t) for n in chosen)]
    if missing:
        suffixes = sorted({n.rsplit(".", 1)[-1] for n in linear_names})
        raise TargetModulesNotFoundError(
            f"target module(s) {missing} match no nn.Linear of {owner}; "
            f"its Linear layers are named {suffixes} — pick target_modules from these")
    return chosen


def replace_linears(model: nn.Module, target_modules: tuple[str, ...] | list[str],
                    factory: Callable[[nn.Linear], nn.Module]) -> list[str]:
    """Replace every nn.Linear whose name matches a target by `factory(linear)`, in place.
    Returns the replaced names."""
    linear_names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    chosen = select_targets(linear_names, target_modules, type(model).__name__)
    for name in chosen:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, factory(getattr(parent, child)))
    return chosen


def inject_lora(model: nn.Module, target_modules: tuple[str, ...] | list[str], r: int,
                alpha: float, dropout: float = 0.0) -> list[str]:
    """Freeze every parameter of `model`, then wrap each targeted nn.Linear in a LoRALinear.
    Afterwards only lora_A/lora_B train (peft's default `bias="none"`). Returns the names."""
    cfg = LoRAConfig(r=r, alpha=alpha, dropout=dropout, target_modules=tuple(target_modules))
    for p in model.parameters():
        p.requires_grad_(False)
    return replace_linears(model, cfg.target_modules,
                           lambda lin: LoRALinear(lin, cfg.r, cfg.alpha, cfg.dropout))


def lora_layers(model: nn.Module) -> dict[str, LoRALinear]:
    return {n: m for n, m in model.named_modules() if isinstance(m, LoRALinear)}


def merge_and_unload(model: nn.Module) -> nn.Module:
    """Merge every adapter and put the plain layers back: the result has no LoRA modules
    and the architecture of the original model (what `cairn merge` saves)."""
    for name, layer in lora_layers(model).items():
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, layer.to_merged_linear())
    return model


def lora_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Only the adapter tensors (a few MB), keyed by their full names."""
    return {k: v for k, v in model.state_dict().items() if k.endswith(("lora_A", "lora_B"))}


# -- parameter counts --------------------------------------------------------------------------

class ParamCount(NamedTuple):
    trainable: int
    total: int


def count_parameters(model: nn.Module) -> ParamCount:
    """(trainable, total) over model.parameters(); for models without bitsandbytes layers this
    equals peft's `PeftModel.get_nb_trainable_parameters()`."""
    trainable = total = 0
    for p in model.parameters():
        total += p.numel()
        if p.requires_grad:
            trainable += p.numel()
    return ParamCount(trainable, total)


def lora_params_for_linear(in_features: int, out_features: int, r: int) -> int:
    """r·(in + out): A is (r, in), B is (out, r)."""
    if r < 1:
        raise LoRAConfigError(f"LoRA rank r must be ≥ 1, got {r}")
    return r * (in_features + out_features)


def linear_shapes_from_config(config) -> dict[str, tuple[int, int]]:
    """{module name: (in_features, out_features)} of every nn.Linear that the architecture of
    a transformers `PretrainedConfig` builds, found on the meta device (no storage)."""
    from transformers import AutoModelForCausalLM  # heavy import, only needed here

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return {name: (m.in_features, m.out_features)
            for name, m in model.named_modules() if isinstance(m, nn.Linear)}


def lora_param_count(config, r: int, targets: Sequence[str]) -> int:
    """Trainable LoRA parameters for rank `r` on the Linear layers named by `targets`
    (suffix match, as peft does), computed from a model config alone."""
    shapes = linear_shapes_from_config(config)
    names = select_targets(list(shapes), tuple(targets), f"a {config.model_type} model")
    return sum(lora_params_for_linear(*shapes[n], r) for n in names)
