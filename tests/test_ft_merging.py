"""Merging: LERP, SLERP, task arithmetic and TIES on hand-worked 4-element vectors, parity
with torch.lerp and peft's merge_utils, and the state-dict wrapper on a tiny model."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from finetune.merging import (
    MergeConfig, MergeConfigError, disjoint_mean, elect_sign, lerp, merge_state_dicts, slerp, task_arithmetic,
    task_vector, ties, trim_top_k,
)

T = torch.tensor


def test_lerp_by_hand_and_torch():
    # 0.75·[1, 2, 3, 4] + 0.25·[3, 2, 1, 0] = [1.5, 2, 2.5, 3]
    a, b = T([1.0, 2.0, 3.0, 4.0]), T([3.0, 2.0, 1.0, 0.0])
    assert lerp(a, b, 0.25).tolist() == [1.5, 2.0, 2.5, 3.0]
    assert torch.equal(lerp(a, b, 0.0), a) and torch.equal(lerp(a, b, 1.0), b)
    assert torch.allclose(lerp(a, b, 0.3), torch.lerp(a, b, 0.3), atol=1e-7)


def test_slerp_by_hand():
    e1, e2 = T([1.0, 0.0, 0.0, 0.0]), T([0.0, 1.0, 0.0, 0.0])
    # θ = π/2, sin θ = 1.  t = ½: sin(π/4) = 0.707107 each  (LERP would give 0.5 each, norm 0.707)
    assert slerp(e1, e2, 0.5).tolist() == pytest.approx([math.sqrt(0.5), math.sqrt(0.5), 0, 0], abs=1e-6)
    # t = ⅓: sin(⅔·π/2) = sin(π/3) = 0.866025 on e1, sin(π/6) = 0.5 on e2
    assert slerp(e1, e2, 1 / 3).tolist() == pytest.approx([0.866025, 0.5, 0, 0], abs=1e-6)
    # coefficients act on the originals: two norm-2 vectors stay norm 2 → [√2, √2, 0, 0]
    assert slerp(2 * e1, 2 * e2, 0.5).tolist() == pytest.approx([math.sqrt(2), math.sqrt(2), 0, 0], abs=1e-6)
    assert torch.allclose(slerp(e1, e2, 0.0), e1) and torch.allclose(slerp(e1, e2, 1.0), e2, atol=1e-7)


def test_slerp_near_parallel_falls_back_to_lerp():
    # cos θ between [1,0,0,0] and [2, 0.001, 0, 0] is 2/√(4 + 1e-6) = 0.99999988 > 0.9995 → LERP:
    # ½·[1, 0, 0, 0] + ½·[2, 0.001, 0, 0] = [1.5, 0.0005, 0, 0]
    out = slerp(T([1.0, 0.0, 0.0, 0.0]), T([2.0, 0.001, 0.0, 0.0]), 0.5)
    assert out.tolist() == pytest.approx([1.5, 0.0005, 0.0, 0.0], abs=1e-7)
    # anti-parallel too (sin θ = 0 at θ = π): [1,0,0,0] and [−1,0,0,0] → LERP midpoint 0
    assert slerp(T([1.0, 0, 0, 0]), T([-1.0, 0, 0, 0]), 0.5).tolist() == [0.0, 0.0, 0.0, 0.0]
    # a zero tensor has no direction: LERP
    assert slerp(torch.zeros(4), T([2.0, 0, 0, 0]), 0.25).tolist() == [0.5, 0.0, 0.0, 0.0]


def test_slerp_stays_on_the_great_circle():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(64, generator=g), torch.randn(64, generator=g)
    a, b = a / a.norm(), b / b.norm()
    theta = math.acos(torch.dot(a, b).item())
    for t in (0.2, 0.7):
        out = slerp(a, b, t)
        assert out.norm().item() == pytest.approx(1.0, abs=1e-5)
        assert math.acos(torch.dot(out, a).clamp(-1, 1).item()) == pytest.approx(t * theta, abs=1e-4)


def test_task_arithmetic_by_hand():
    # base [1, 2, 3, 4]; τ1 = [1, 0, 0, 0], τ2 = [0, 0, 0, −2]; λ = (0.5, 0.25)
    # base + 0.5·τ1 + 0.25·τ2 = [1.5, 2, 3, 3.5]
    base = {"w": T([1.0, 2.0, 3.0, 4.0])}
    ft1, ft2 = {"w": T([2.0, 2.0, 3.0, 4.0])}, {"w": T([1.0, 2.0, 3.0, 2.0])}
    assert task_vector(ft1, base)["w"].tolist() == [1.0, 0.0, 0.0, 0.0]
    merged = merge_state_dicts(MergeConfig("task_arithmetic", weights=(0.5, 0.25)), [ft1, ft2], base=base)
    assert merged["w"].tolist() == [1.5, 2.0, 3.0, 3.5]


# τ1 = [0.5, −0.1, 0.3, −0.4]   trimmed to 50% → [0.5, 0, 0, −0.4]
# τ2 = [−0.2, 0.6, −0.1, −0.3]  → [0, 0.6, 0, −0.3]
# τ3 = [−0.6, 0.2, 0.4, 0.1]    → [−0.6, 0, 0.4, 0]
# summed mass [−0.1, 0.6, 0.4, −0.7] → elected signs [−, +, +, −]
# disjoint mean: p0 only τ3 agrees → −0.6 (τ1's +0.5 is outvoted); p1 τ2 → 0.6; p2 τ3 → 0.4;
#                p3 τ1, τ2 agree → (−0.4 − 0.3)/2 = −0.35
TAUS = [T([0.5, -0.1, 0.3, -0.4]), T([-0.2, 0.6, -0.1, -0.3]), T([-0.6, 0.2, 0.4, 0.1])]


def test_ties_steps_by_hand():
    trimmed = torch.stack([trim_top_k(t, 0.5) for t in TAUS])
    assert torch.equal(trimmed, T([[0.5, 0.0, 0.0, -0.4], [0.0, 0.6, 0.0, -0.3], [-0.6, 0.0, 0.4, 0.0]]))
    sign = elect_sign(trimmed)
    assert sign.tolist() == [-1.0, 1.0, 1.0, -1.0]
    assert disjoint_mean(trimmed, sign).tolist() == pytest.approx([-0.6, 0.6, 0.4, -0.35], abs=1e-7)
    assert ties(TAUS, (1.0, 1.0, 1.0), density=0.5).tolist() == pytest.approx([-0.6, 0.6, 0.4, -0.35], abs=1e-7)
    # weights (2, 1, 1) scale the votes' values, not the election: p3 → (2·(−0.4) − 0.3)/2 = −0.55
    assert ties(TAUS, (2.0, 1.0, 1.0), density=0.5).tolist() == pytest.approx([-0.6, 0.6, 0.4, -0.55], abs=1e-7)
    # plain task arithmetic would give [−0.3, 0.7, 0.6, −0.6]: TIES differs, as it should
    assert task_arithmetic(TAUS, (1.0, 1.0, 1.0)).tolist() == pytest.approx([-0.3, 0.7, 0.6, -0.6], abs=1e-7)


def test_ties_state_dict_by_hand():
    # base [1, 1, 1, 1] + [−0.6, 0.6, 0.4, −0.35] = [0.4, 1.6, 1.4, 0.65]
    base = {"w": torch.ones(4), "step": T([7])}
    fts = [{"w": base["w"] + tau, "step": T([7])} for tau in TAUS]
    merged = merge_state_dicts(MergeConfig("ties", density=0.5), fts, base=base)
    assert merged["w"].tolist() == pytest.approx([0.4, 1.6, 1.4, 0.65], abs=1e-6)
    assert merged["step"].tolist() == [7]                   # integer buffers copied, not merged


def test_matches_peft_merge_utils():
    from peft.utils import merge_utils

    g = torch.Generator().manual_seed(0)
    taus = [torch.randn(8, 16, generator=g) for _ in range(3)]
    for weights, density in [((0.7, 1.0, 0.4), 0.2), ((0.7, 1.0, 0.4), 0.5), ((1.0, -0.5, 0.3), 0.3)]:
        w = torch.tensor(weights)
        assert torch.allclose(task_arithmetic(taus, weights), merge_utils.task_arithmetic(taus, w), atol=1e-6)
        ours = ties(taus, weights, density)
        assert torch.allclose(ours, merge_utils.ties(taus, w, density), atol=1e-6)
        assert (ours == 0).float().mean() < 0.9                # a real merge, not all zeros


def test_state_dict_slerp_on_a_model_and_errors():
    torch.manual_seed(0)
    a, b = nn.Linear(4, 3).state_dict(), nn.Linear(4, 3).state_dict()
    merged = merge_state_dicts(MergeConfig("slerp", t=0.5), [a, b])
    assert set(merged) == {"weight", "bias"}
    assert torch.allclose(merged["weight"], slerp(a["weight"], b["weight"], 0.5))
    assert not torch.allclose(merged["weight"], lerp(a["weight"], b["weight"], 0.5))
    with pytest.raises(MergeConfigError, match="shape"):
        merge_state_dicts(MergeConfig("lerp"), [a, nn.Linear(5, 3).state_dict()])
    with pytest.raises(MergeConfigError, match="exactly two"):
        merge_state_dicts(MergeConfig("lerp"), [a, b, a])
    with pytest.raises(MergeConfigError, match="2 weights for 3"):
        merge_state_dicts(MergeConfig("ties", weights=(1.0, 1.0)), [a, b, a], base=a)
    with pytest.raises(MergeConfigError, match="density must be in"):
        MergeConfig("ties", density=0.0)
    with pytest.raises(MergeConfigError, match="'average'"):
        MergeConfig("average")
