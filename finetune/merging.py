"""Model merging: combine fine-tuned checkpoints of one architecture without training.

  LERP   (1 − t)·a + t·b                          straight line between two models
  SLERP  great-circle interpolation (Shoemake, "Animating Rotation with Quaternion Curves",
         SIGGRAPH 1985), applied per tensor as in mergekit:
             θ = arccos(â·b̂),   slerp = sin((1−t)θ)/sin θ · a + sin(tθ)/sin θ · b
         Near-parallel tensors (|cos θ| > 0.9995) make sin θ ≈ 0 and the ratio unstable;
         there the two curves agree to first order, so we fall back to LERP.
  Task arithmetic (Ilharco et al., "Editing Models with Task Arithmetic", ICLR 2023):
         τ_i = θ_i − θ_base,   θ = θ_base + Σ λ_i τ_i
  TIES   (Yadav, Tam, Choshen, Raffel & Bansal, "TIES-Merging: Resolving Interference When
         Merging Models", NeurIPS 2023), per parameter p over task vectors τ_i:
         1. trim:   keep the top `density` fraction of each τ_i by |value|, zero the rest
         2. elect:  γ_p = sign(Σ_i τ̂_i,p) — the sign with more total mass (ties → +)
         3. merge:  τ_p = mean of the τ̂_i,p whose sign equals γ_p (the "disjoint mean";
                    zeros and dissenters do not dilute it)
         θ = θ_base + τ. Optional weights λ_i: the sign is elected on the unweighted trimmed
         τ̂_i and the disjoint mean runs over λ_i·τ̂_i, as peft's `merge_utils.ties` does (the
         tests use it as the reference; mergekit instead weights before the election). With
         all λ_i = λ both equal the paper's θ_base + λ·τ.

The seed chapter writes LERP as α·W_A + (1 − α)·W_B; here t = 1 − α is the weight of b, so
t = 0 gives a, t = 1 gives b (the convention of torch.lerp and mergekit).

Tensor functions are pure; `merge_state_dicts` applies one of them key by key and refuses
state dicts whose keys or shapes disagree. Non-float entries (integer buffers) are copied
from the first model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Literal, Mapping, Sequence

import torch

from knowledge.errors import CairnError

StateDict = Mapping[str, torch.Tensor]


class MergeConfigError(CairnError, ValueError):
    """Merge settings or inputs that do not fit together."""


# -- pure tensor functions -------------------------------------------------------------------------

def lerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """(1 − t)·a + t·b, elementwise; any shape."""
    return (1.0 - t) * a + t * b


def slerp(a: torch.Tensor, b: torch.Tensor, t: float, dot_threshold: float = 0.9995,
          eps: float = 1e-8) -> torch.Tensor:
    """Spherical interpolation of two same-shape tensors, treated as flat vectors. The angle
    comes from normalized copies; the coefficients apply to the originals, so two tensors of
    equal norm keep that norm along the whole path (LERP would shrink it by cos(θ/2) at t=½)."""
    a32, b32 = a.float().reshape(-1), b.float().reshape(-1)                 # (n,)
    na, nb = a32.norm(), b32.norm()
    if na < eps or nb < eps:
        return lerp(a, b, t)                    # a zero tensor has no direction to rotate from
    cos = torch.dot(a32 / na, b32 / nb).clamp(-1.0, 1.0).item()
    if abs(cos) > dot_threshold:
        return lerp(a, b, t)
    theta = math.acos(cos)
    sin_theta = math.sin(theta)
    ca, cb = math.sin((1.0 - t) * theta) / sin_theta, math.sin(t * theta) / sin_theta
    return (ca * a32 + cb * b32).reshape(a.shape).to(a.dtype)


def _per_task(weights: Sequence[float], like: torch.Tensor) -> torch.Tensor:
    """λ as a (k, 1, …, 1) tensor that broadcasts against a (k, *shape) stack."""
    return torch.tensor(list(weights), dtype=like.dtype).view(-1, *[1] * (like.ndim - 1))


def task_arithmetic(taus: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
    """Σ λ_i τ_i over task vectors of one shape → the combined update (add it to the base)."""
    stacked = torch.stack(list(taus))                                        # (k, *shape)
    return (_per_task(weights, stacked) * stacked).sum(dim=0)


def trim_top_k(tau: torch.Tensor, density: float) -> torch.Tensor:
    """Keep the int(density · n) largest-magnitude entries of tau, zero the rest (TIES step 1)."""
    k = int(density * tau.numel())
    if k >= tau.numel():
        return tau.clone()
    keep = torch.zeros(tau.numel(), dtype=torch.bool)
    keep[tau.abs().reshape(-1).topk(k).indices] = True
    return tau * keep.view(tau.shape)


def elect_sign(trimmed: torch.Tensor) -> torch.Tensor:
    """trimmed (k, *shape) → γ (*shape) in {−1, +1}: sign of the summed mass (TIES step 2)."""
    return torch.where(trimmed.sum(dim=0) >= 0, 1.0, -1.0).to(trimmed.dtype)


def disjoint_mean(trimmed: torch.Tensor, sign: torch.Tensor, weights: Sequence[float] | None = None) -> torch.Tensor:
    """Mean over the task vectors that agree with the elected sign (TIES step 3); an entry
    with no agreeing vector stays 0. Agreement is judged on the unweighted values, so a
    negative λ_i (task negation) scales a vote instead of flipping it.
    trimmed (k, *shape), sign (*shape) → (*shape)."""
    agree = trimmed.sign() == sign                                           # (k, *shape); zeros never agree
    count = agree.sum(dim=0).clamp(min=1)
    values = trimmed if weights is None else _per_task(weights, trimmed) * trimmed
    return (values * agree).sum(dim=0) / count


def ties(taus: Sequence[torch.Tensor], weights: Sequence[float], density: float) -> torch.Tensor:
    """TIES-merged update of task vectors of one shape: trim → elect → weighted disjoint mean."""
    trimmed = torch.stack([trim_top_k(tau, density) for tau in taus])       # (k, *shape)
    return disjoint_mean(trimmed, elect_sign(trimmed), weights)


# -- state dicts ----------------------------------------------------------------------------------------

def _check_compatible(state_dicts: Sequence[StateDict]) -> None:
    first = state_dicts[0]
    for i, sd in enumerate(state_dicts[1:], start=1):
        if sd.keys() != first.keys():
            extra, missing = sorted(sd.keys() - first.keys()), sorted(first.keys() - sd.keys())
            raise MergeConfigError(f"model {i} differs in tensors from model 0 (extra {extra[:3]}, missing "
                                   f"{missing[:3]}); merging needs one architecture — merge adapters into "
                                   "their bases first (merge_and_unload)")
        for key, tensor in first.items():
            if sd[key].shape != tensor.shape:
                raise MergeConfigError(f"tensor {key!r} has shape {tuple(sd[key].shape)} in model {i} but "
                                       f"{tuple(tensor.shape)} in model 0; these are different architectures")


def task_vector(finetuned: StateDict, base: StateDict) -> dict[str, torch.Tensor]:
    """τ = θ_finetuned − θ_base for every float tensor."""
    _check_compatible([base, finetuned])
    return {k: finetuned[k] - base[k] for k in base if base[k].is_floating_point()}


@dataclass(frozen=True)
class MergeConfig:
    """method: lerp / slerp (two models, `t` = weight of the second), or task_arithmetic /
        ties (a base plus k fine-tunes, one weight λ_i per fine-tune).
    t: interpolation position in [0, 1].
    weights: λ_i for task_arithmetic / ties (default 1.0 each).
    density: fraction of each task vector TIES keeps, in (0, 1]; the paper uses 0.2."""

    method: Literal["lerp", "slerp", "task_arithmetic", "ties"] = "slerp"
    t: float = 0.5
    weights: tuple[float, ...] = field(default_factory=tuple)
    density: float = 0.2

    def __post_init__(self) -> None:
        if self.method not in ("lerp", "slerp", "task_arithmetic", "ties"):
            raise MergeConfigError(f"unknown merge method {self.method!r}; choose lerp, slerp, "
                                   "task_arithmetic or ties")
        if not 0.0 <= self.t <= 1.0:
            raise MergeConfigError(f"t must be in [0, 1], got {self.t}; 0 keeps the first model, 1 the second")
        if not 0.0 < self.density <= 1.0:
            raise MergeConfigError(f"density must be in (0, 1], got {self.density}; TIES keeps that fraction "
                                   "of each task vector (0.2 in the paper)")
        object.__setattr__(self, "weights", tuple(float(w) for w in self.weights))


def merge_state_dicts(config: MergeConfig, models: Sequence[StateDict],
                      base: StateDict | None = None) -> dict[str, torch.Tensor]:
    """lerp/slerp: `models` = [a, b]. task_arithmetic/ties: `base` plus `models` = fine-tunes
    of it. Returns a new state dict; inputs are not modified."""
    if config.method in ("lerp", "slerp"):
        if len(models) != 2 or base is not None:
            raise MergeConfigError(f"{config.method} merges exactly two models and no base, got "
                                   f"{len(models)} models{' and a base' if base is not None else ''}")
        _check_compatible(models)
        fn: Callable = lerp if config.method == "lerp" else slerp
        a, b = models
        return {k: fn(a[k], b[k], config.t) if a[k].is_floating_point() else a[k].clone() for k in a}

    if base is None or not models:
        raise MergeConfigError(f"{config.method} needs a base model and at least one fine-tune of it")
    weights = config.weights or (1.0,) * len(models)
    if len(weights) != len(models):
        raise MergeConfigError(f"got {len(weights)} weights for {len(models)} fine-tuned models; give one each")
    _check_compatible([base, *models])
    taus = [task_vector(m, base) for m in models]
    merged = {}
    for key, tensor in base.items():
        if not tensor.is_floating_point():
            merged[key] = tensor.clone()
            continue
        stack = [tau[key] for tau in taus]
        update = (task_arithmetic(stack, weights) if config.method == "task_arithmetic"
                  else ties(stack, weights, config.density))
        merged[key] = (tensor + update).to(tensor.dtype)
    return merged
