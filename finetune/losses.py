"""Training losses as pure functions of tensors: supervised fine-tuning on response tokens
only, per-sequence log-probabilities, and the sigmoid DPO loss (Rafailov, Sharma, Mitchell,
Ermon, Manning & Finn, "Direct Preference Optimization: Your Language Model is Secretly a
Reward Model", NeurIPS 2023, Eq. 7).

Alignment convention (the one transformers and TRL use): `logits[:, t]` is the model's
distribution for token `t + 1`, and `labels` / masks are aligned with the input tokens. Every
function below therefore shifts by one: logits[:, :-1] score labels[:, 1:], and a token counts
when its mask entry (at its own position) is 1. The first token is never scored.

SFT: L = −(1/N) Σ_{response tokens t} log p(y_t | y_<t),   N = number of response tokens
in the batch (a token-level mean, as transformers' causal-LM loss with −100 labels).

DPO: with sequence log-probs π (policy) and π_ref (frozen reference) of the chosen y_w and
rejected y_l completions,

    r_w = β (log π(y_w|x) − log π_ref(y_w|x))        r_l = β (log π(y_l|x) − log π_ref(y_l|x))
    L   = −mean_batch log σ(r_w − r_l)

r_w, r_l are DPO's implicit rewards (reported detached, as TRL logs them); their difference is
the margin. This is TRL's `loss_type="sigmoid"` (which in TRL 1.16 ignores label_smoothing);
the tests run TRL's own DPOTrainer loss code against it.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from knowledge.errors import CairnError


class LossInputError(CairnError, ValueError):
    """Tensors with mismatched shapes, or settings outside their range."""


def _check_aligned(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> None:
    if logits.ndim != 3 or labels.shape != logits.shape[:2] or mask.shape != labels.shape:
        raise LossInputError(
            f"expected logits (B, T, V) with labels and mask (B, T); got logits {tuple(logits.shape)}, "
            f"labels {tuple(labels.shape)}, mask {tuple(mask.shape)}")
    if logits.shape[1] < 2:
        raise LossInputError(f"need at least 2 positions to score a next token, got T={logits.shape[1]}")


def token_logps(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probability of each next token and the matching mask, both (B, T−1).
    Positions outside the mask get log-prob 0 (their label may be −100 or anything)."""
    _check_aligned(logits, labels, mask)
    target_mask = mask[:, 1:].to(torch.bool)                              # (B, T-1)
    targets = torch.where(target_mask, labels[:, 1:], 0)                  # (B, T-1); −100 → a valid index
    # log-softmax in fp32: in bf16 the normalizer loses ~3 digits, which DPO's small
    # differences of large sums cannot afford.
    logps = torch.log_softmax(logits[:, :-1].float(), dim=-1)             # (B, T-1, V)
    picked = logps.gather(-1, targets.unsqueeze(-1)).squeeze(-1)          # (B, T-1)
    return picked * target_mask, target_mask


def sft_loss(logits: torch.Tensor, labels: torch.Tensor, response_mask: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy over response tokens only (the prompt is context, not a
    target). logits (B, T, V), labels (B, T), response_mask (B, T) with 1 on response tokens.
    Returns a scalar."""
    picked, target_mask = token_logps(logits, labels, response_mask)
    n_tokens = target_mask.sum()
    if n_tokens == 0:
        raise LossInputError("response_mask selects no token after the first position; the batch has "
                             "nothing to learn — check truncation (max_length) or the chat template's "
                             "response markers")
    return -picked.sum() / n_tokens


def sequence_logps(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """log π(y | x) = Σ over masked tokens of log p(token | prefix): the sequence-level
    quantity DPO compares. logits (B, T, V), labels (B, T), mask (B, T) → (B,)."""
    picked, _ = token_logps(logits, labels, mask)
    return picked.sum(dim=1)


class DPOOutput(NamedTuple):
    loss: torch.Tensor              # () mean over the batch
    chosen_rewards: torch.Tensor    # (B,) β·(log π − log π_ref) of the chosen answer, detached
    rejected_rewards: torch.Tensor  # (B,) same for the rejected answer, detached
    margins: torch.Tensor           # (B,) chosen_rewards − rejected_rewards


def dpo_loss(policy_chosen_logps: torch.Tensor, policy_rejected_logps: torch.Tensor,
             ref_chosen_logps: torch.Tensor, ref_rejected_logps: torch.Tensor,
             beta: float) -> DPOOutput:
    """Sigmoid DPO loss over a batch of preference pairs; every input is (B,) sequence
    log-probs (see `sequence_logps`). β (typically 0.1) sets how far the policy may drift
    from the reference: small β → rewards scaled down → weaker pull."""
    shapes = {t.shape for t in (policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps)}
    if len(shapes) != 1 or policy_chosen_logps.ndim != 1:
        raise LossInputError(f"the four log-prob tensors must share one (B,) shape, got {sorted(map(tuple, shapes))}")
    if not beta > 0:
        raise LossInputError(f"DPO beta must be positive, got {beta!r}; 0.1 is the usual starting point")
    chosen_logratios = policy_chosen_logps - ref_chosen_logps        # (B,)
    rejected_logratios = policy_rejected_logps - ref_rejected_logps  # (B,)
    logits = beta * (chosen_logratios - rejected_logratios)          # (B,)  = r_w − r_l
    # logsigmoid, not log(sigmoid(·)): stays finite for margins of ±100.
    losses = -F.logsigmoid(logits)                                   # (B,)
    chosen_rewards = beta * chosen_logratios.detach()
    rejected_rewards = beta * rejected_logratios.detach()
    return DPOOutput(losses.mean(), chosen_rewards, rejected_rewards, chosen_rewards - rejected_rewards)
