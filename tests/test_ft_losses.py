"""SFT and DPO losses: hand-computed cases, transformers' causal-LM loss, and TRL 1.16's own
DPO loss code run on the same tiny models."""
from __future__ import annotations

import math
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

from finetune.losses import LossInputError, dpo_loss, sequence_logps, sft_loss, token_logps

LN3 = math.log(3.0)


def three_token_case():
    # vocab of 3, one sequence of 3 tokens: labels [2, 0, 1], the first token is the prompt.
    # position 0 logits [0, 0, 0]     → p = [1/3, 1/3, 1/3]; it predicts token 1 (= 0): −log(1/3) = 1.098612
    # position 1 logits [0, ln 3, 0]  → p = [1/5, 3/5, 1/5]; it predicts token 2 (= 1): −log(3/5) = 0.510826
    # position 2 predicts nothing (no token 3)
    logits = torch.tensor([[[0.0, 0.0, 0.0], [0.0, LN3, 0.0], [5.0, -5.0, 0.0]]])
    labels = torch.tensor([[2, 0, 1]])
    return logits, labels


def test_sft_loss_by_hand():
    logits, labels = three_token_case()
    # both response tokens: (1.098612 + 0.510826) / 2 = 0.804719
    assert sft_loss(logits, labels, torch.tensor([[0, 1, 1]])).item() == pytest.approx(0.804719, abs=1e-6)
    # only the last token is response: 0.510826
    assert sft_loss(logits, labels, torch.tensor([[0, 0, 1]])).item() == pytest.approx(0.510826, abs=1e-6)
    # the mask at position 0 is irrelevant: the first token is never a target
    assert sft_loss(logits, labels, torch.tensor([[1, 0, 1]])).item() == pytest.approx(0.510826, abs=1e-6)


def test_sequence_logps_by_hand_and_ignore_index():
    logits, labels = three_token_case()
    # log(1/3) + log(3/5) = −1.098612 − 0.510826 = −1.609438 = log(1/5)
    assert sequence_logps(logits, labels, torch.tensor([[0, 1, 1]])).item() == pytest.approx(math.log(0.2), abs=1e-6)
    # −100 labels on masked positions are fine (they are never gathered)
    masked = torch.tensor([[-100, -100, 1]])
    assert sequence_logps(logits, masked, torch.tensor([[0, 0, 1]])).item() == pytest.approx(math.log(0.6), abs=1e-6)


def test_sft_loss_empty_mask_and_bad_shapes_raise():
    logits, labels = three_token_case()
    with pytest.raises(LossInputError, match="selects no token"):
        sft_loss(logits, labels, torch.tensor([[1, 0, 0]]))
    with pytest.raises(LossInputError, match=r"labels \(1, 2\)"):
        token_logps(logits, labels[:, :2], torch.ones(1, 2))


def test_sft_loss_equals_transformers_causal_lm_loss():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2, vocab_size=256)).eval()
    ids = torch.randint(0, 256, (3, 10), generator=torch.Generator().manual_seed(1))
    mask = torch.zeros_like(ids)
    mask[:, 4:] = 1
    mask[2, 8:] = 0                                   # a shorter response (padding after it)
    hf_labels = ids.masked_fill(mask == 0, -100)
    with torch.no_grad():
        out = model(ids, labels=hf_labels)
    assert sft_loss(out.logits, ids, mask).item() == pytest.approx(out.loss.item(), abs=1e-6)


def test_dpo_loss_by_hand():
    # pair 1: β=0.1, chosen logratio −10 − (−11) = 1, rejected −12 − (−11) = −1
    #   logits = 0.1·(1 − (−1)) = 0.2;  loss = −log σ(0.2) = log(1 + e^−0.2) = log 1.818731 = 0.598139
    #   rewards 0.1 and −0.1, margin 0.2
    # pair 2: policy = reference → logits 0 → loss log 2 = 0.693147, rewards 0, margin 0
    # batch mean: (0.598139 + 0.693147) / 2 = 0.645643
    out = dpo_loss(torch.tensor([-10.0, -5.0]), torch.tensor([-12.0, -5.0]),
                   torch.tensor([-11.0, -5.0]), torch.tensor([-11.0, -5.0]), beta=0.1)
    assert out.loss.item() == pytest.approx(0.645643, abs=1e-6)
    assert out.chosen_rewards.tolist() == pytest.approx([0.1, 0.0], abs=1e-7)
    assert out.rejected_rewards.tolist() == pytest.approx([-0.1, 0.0], abs=1e-7)
    assert out.margins.tolist() == pytest.approx([0.2, 0.0], abs=1e-7)
    loss, chosen, rejected, margins = out                     # unpacks as a 4-tuple
    assert loss is out.loss


def test_dpo_gradient_direction_and_stability():
    pc = torch.tensor([-10.0], requires_grad=True)
    pr = torch.tensor([-12.0], requires_grad=True)
    dpo_loss(pc, pr, torch.tensor([-11.0]), torch.tensor([-11.0]), beta=0.1).loss.backward()
    # dL/dpc = −β σ(−0.2) = −0.1 · 0.450166 = −0.0450166: raise the chosen, lower the rejected
    assert pc.grad.item() == pytest.approx(-0.0450166, abs=1e-6)
    assert pr.grad.item() == pytest.approx(0.0450166, abs=1e-6)
    # margins of ±1000 stay finite (logsigmoid, not log(sigmoid))
    huge = dpo_loss(torch.tensor([0.0]), torch.tensor([1e4]), torch.tensor([0.0]), torch.tensor([0.0]), beta=0.1)
    assert huge.loss.item() == pytest.approx(1000.0, rel=1e-6)


def test_dpo_rejects_bad_arguments():
    z = torch.zeros(2)
    with pytest.raises(LossInputError, match="beta must be positive, got 0"):
        dpo_loss(z, z, z, z, beta=0)
    with pytest.raises(LossInputError, match="share one"):
        dpo_loss(z, z, z, torch.zeros(3), beta=0.1)


# -- parity with TRL 1.16 ---------------------------------------------------------------------------
# TRL 1.16 has no standalone DPO loss function: the sigmoid loss sits inline in
# `DPOTrainer._compute_loss` (trl/trainer/dpo_trainer.py, `loss_type == "sigmoid"`:
# `per_sequence_loss = -F.logsigmoid(self.beta * delta_score)`, then `.mean()`). Rather
# than transcribing it, we run that very method, unbound, on a stub holding only the
# attributes it reads.

TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, vocab_size=256)
PAIRS = 2


class _SingleProcess:
    device = torch.device("cpu")

    @staticmethod
    def gather(t):
        return t

    gather_for_metrics = gather

    @staticmethod
    def unwrap_model(m):
        return m


class _FixedLogps(torch.nn.Module):
    """Stands in for a model with TRL's fused LM head: returns given per-token log-probs."""

    def __init__(self, per_token: torch.Tensor) -> None:
        super().__init__()
        self.per_token = per_token                                    # (2·pairs, T−1)

    def forward(self, **_):
        zeros = torch.zeros_like(self.per_token)
        return SimpleNamespace(log_probs=self.per_token, entropy=zeros, mean_logits=zeros, is_top1=zeros.bool())


def trl_dpo(model, ref_model, inputs: dict, beta: float, precomputed: bool):
    from trl import DPOTrainer

    trainer = SimpleNamespace(
        model=model, ref_model=ref_model, accelerator=_SingleProcess(), beta=beta, label_smoothing=0.0,
        loss_types=["sigmoid"], loss_weights=[1.0], f_divergence_type="reverse_kl", ld_alpha=None,
        precompute_ref_logps=precomputed, aux_loss_enabled=False, use_weighting=False, _tp_size=1,
        _total_train_tokens=0, _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
        args=SimpleNamespace(gradient_checkpointing_kwargs=None))
    with torch.no_grad():
        loss = DPOTrainer._compute_loss(trainer, model, inputs, False)
    return loss, trainer._metrics["eval"]


def preference_batch():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    policy, ref = LlamaForCausalLM(LlamaConfig(**TINY)).eval(), LlamaForCausalLM(LlamaConfig(**TINY)).eval()
    ids = torch.randint(0, 256, (2 * PAIRS, 8), generator=torch.Generator().manual_seed(5))  # [chosen; rejected]
    completion = torch.zeros_like(ids)
    completion[:, 3:] = 1
    completion[1, 6:] = 0                                   # one shorter completion
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "completion_mask": completion}
    return policy, ref, inputs


@pytest.mark.parametrize("beta", [0.1, 0.5])
def test_dpo_loss_matches_trl_loss_code(beta):
    """Same sequence log-probs in, TRL's loss code vs ours: equal to 1e-6."""
    pytest.importorskip("trl")
    policy, ref, inputs = preference_batch()
    ids, completion = inputs["input_ids"], inputs["completion_mask"]
    with torch.no_grad():
        per_token, _ = token_logps(policy(ids).logits, ids, completion)           # (4, 7)
        ref_logps = sequence_logps(ref(ids).logits, ids, completion)              # (4,)
    pol = per_token.sum(1)
    ours = dpo_loss(pol[:PAIRS], pol[PAIRS:], ref_logps[:PAIRS], ref_logps[PAIRS:], beta=beta)
    inputs = dict(inputs, ref_chosen_logps=ref_logps[:PAIRS], ref_rejected_logps=ref_logps[PAIRS:])
    trl_loss, logged = trl_dpo(_FixedLogps(per_token).eval(), None, inputs, beta, precomputed=True)
    assert ours.loss.item() == pytest.approx(trl_loss.item(), abs=1e-6)
    assert ours.loss.item() > 0.1                                              # a real, non-trivial loss
    assert ours.margins.mean().item() == pytest.approx(logged["rewards/margins"][0], abs=1e-6)
    assert ours.chosen_rewards.mean().item() == pytest.approx(logged["rewards/chosen"][0], abs=1e-6)
    assert ours.rejected_rewards.mean().item() == pytest.approx(logged["rewards/rejected"][0], abs=1e-6)


def test_sequence_logps_and_dpo_match_trl_end_to_end():
    """TRL computes log-probs with its own fused, tiled LM head and a reference forward; ours
    use full logits. Sums of ~7 log-probs of ~−5 agree to ~1e-6 relative, so 1e-5 absolute."""
    pytest.importorskip("trl")
    from trl.trainer.utils import add_fused_lm_head

    policy, ref, inputs = preference_batch()
    ids, completion = inputs["input_ids"], inputs["completion_mask"]
    with torch.no_grad():
        pol = sequence_logps(policy(ids).logits, ids, completion)
        ref_logps = sequence_logps(ref(ids).logits, ids, completion)
    ours = dpo_loss(pol[:PAIRS], pol[PAIRS:], ref_logps[:PAIRS], ref_logps[PAIRS:], beta=0.1)
    add_fused_lm_head(policy, outputs=("log_probs", "entropy", "mean_logits", "is_top1"))
    add_fused_lm_head(ref)
    trl_loss, logged = trl_dpo(policy, ref, inputs, beta=0.1, precomputed=False)
    assert ours.loss.item() == pytest.approx(trl_loss.item(), abs=1e-5)
    assert pol[:PAIRS].mean().item() == pytest.approx(logged["logps/chosen"][0], abs=1e-5)
    assert pol[PAIRS:].mean().item() == pytest.approx(logged["logps/rejected"][0], abs=1e-5)
