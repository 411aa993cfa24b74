"""Direct Preference Optimization of a LoRA adapter (Rafailov et al., NeurIPS 2023), with the
reference model's log-probs computed once and stored instead of kept as a second model.

DPO compares the policy π with a frozen reference π_ref on each pair (x, y_w, y_l):

    L = −log σ( β [ (log π(y_w|x) − log π_ref(y_w|x)) − (log π(y_l|x) − log π_ref(y_l|x)) ] )

(`finetune.losses.dpo_loss`). With LoRA the reference is the base model itself — the policy
with its adapter switched off — and its log-probs never change during training. So before the
first step every chosen and rejected sequence goes through the model once under
`disable_adapter()` (eval mode, no grad) and the (N, 2) table is saved beside the run:

    pairs ─▶ encode (prompt ids shared, labels on the reply + EOS)
          ─▶ reference pass, once: log π_ref(y_w|x), log π_ref(y_l|x)  ─▶ out/reference_logps.pt
    step:  [chosen rows; rejected rows] in one forward ─▶ log π ─▶ dpo_loss(…, table rows, β)

A resumed run reads the table back (it is keyed by data, base, dtype and max_len) instead of
recomputing it. At step 0 the adapter's B is zero, so π = π_ref and the loss is exactly log 2.
Everything else — checkpoints, curves, provenance, the adapter folder — is the SFT loop's
(`finetune.sft.run_training`).
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finetune.data import (
    IGNORE_INDEX, EncodedChat, PreferencePair, TrainingDataError, encode_pair, knowledge_base_pairs,
    load_preference_jsonl, pad_batch, records_sha256,
)
from finetune.sft import (
    KB_PREFIX, Job, SFTConfig, TrainResult, TrainingConfigError, arg_help, fit_length, forward_on_targets, pad_id,
    prepare, run_training,
)

REFERENCE_FILE = "reference_logps.pt"


@dataclass(frozen=True)
class DPOConfig(SFTConfig):
    """One DPO run: the SFT settings plus β. `data` are preference-pair JSONL files, or kb:catalog
    for synthetic pairs from the index (data.cited_preference_pairs: the cited answer over an
    uncited, wrong-fact or over-refusing one)."""

    lr: float = field(default=5e-5, metadata=arg_help("peak learning rate of AdamW (DPO wants less than SFT)"))
    beta: float = field(default=0.1, metadata=arg_help("DPO beta: how strongly the policy is held to the reference"))

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (math.isfinite(self.beta) and self.beta > 0):
            raise TrainingConfigError(f"invalid beta={self.beta!r}; DPO needs beta > 0, 0.1 is the usual start")


def sequence_logps_of(model: Any, rows: Sequence[EncodedChat], pad: int) -> Any:
    """log π(reply | prompt) of each row, (len(rows),): one padded forward pass."""
    from finetune.losses import sequence_logps

    logits, labels = forward_on_targets(model, pad_batch(rows, pad))  # (B, K, V), (B, K)
    return sequence_logps(logits, labels, labels != IGNORE_INDEX)


def reference_logps(model: Any, pairs: Sequence[tuple[EncodedChat, EncodedChat]], pad: int,
                    batch_size: int) -> Any:
    """(N, 2) log-probs of (chosen, rejected) under the base model: the peft adapter disabled,
    eval mode (no dropout), no autograd graph. Each sequence is scored exactly once."""
    import torch

    was_training = model.training
    model.eval()
    parts = []
    with torch.no_grad(), model.disable_adapter():
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start:start + batch_size]
            logps = sequence_logps_of(model, [c for c, _ in chunk] + [r for _, r in chunk], pad)  # (2b,)
            parts.append(torch.stack([logps[:len(chunk)], logps[len(chunk):]], dim=1))           # (b, 2)
    model.train(was_training)
    return torch.cat(parts).float()


def stored_reference(out: Path, key: dict[str, Any], compute: Callable[[], Any]) -> Any:
    """The table saved in `out` for this key, or `compute()` saved there atomically."""
    import torch

    path = out / REFERENCE_FILE
    if path.is_file():
        saved = torch.load(path, weights_only=True)
        if saved.get("key") == key:
            return saved["logps"]
    table = compute()
    out.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".tmp")
    torch.save({"key": key, "logps": table}, staging)
    os.replace(staging, path)
    return table


def load_pairs(cfg: DPOConfig) -> tuple[list[PreferencePair], dict[str, int]]:
    pairs, counts = [], {}
    for source in cfg.data:
        if source.startswith(KB_PREFIX):
            part = knowledge_base_pairs(source[len(KB_PREFIX):], seed=cfg.seed, limit=cfg.kb_items or None)
        else:
            part = load_preference_jsonl(source)
        counts[source] = len(part)
        pairs += part
    return pairs, counts


def dpo_job(cfg: DPOConfig, tokenizer: Any, model: Any, pairs: Sequence[PreferencePair], counts: dict[str, int],
            base_sha256: str) -> Job:
    """Encode the pairs, get the stored (or freshly computed) reference table, and define the
    loss of a batch of pair indices."""
    import torch

    from finetune.losses import dpo_loss

    encoded = [encode_pair(tokenizer, p) for p in pairs]
    keep = fit_length(encoded, lambda cr: max(len(cr[0]), len(cr[1])), cfg.max_len, "preference pair")
    kept = [encoded[i] for i in keep]
    pad = pad_id(tokenizer)
    data_sha256 = records_sha256(pairs)
    key = {"data_sha256": data_sha256, "base_sha256": base_sha256, "bf16": cfg.bf16, "max_len": cfg.max_len}
    ref = stored_reference(Path(cfg.out), key, lambda: reference_logps(model, kept, pad, cfg.batch_size))  # (N, 2)
    if ref.shape != (len(kept), 2):
        raise TrainingDataError(f"the stored reference table has shape {tuple(ref.shape)}, expected ({len(kept)}, 2); "
                                f"delete {Path(cfg.out) / REFERENCE_FILE} to recompute it")

    def loss(model: Any, idx: list[int]) -> tuple[Any, dict[str, float]]:
        b = len(idx)
        logps = sequence_logps_of(model, [kept[i][0] for i in idx] + [kept[i][1] for i in idx], pad)  # (2B,)
        rows = torch.tensor(idx)
        out = dpo_loss(logps[:b], logps[b:], ref[rows, 0], ref[rows, 1], cfg.beta)
        return out.loss, {"margin": out.margins.mean().item(),
                          "accuracy": (out.margins > 0).float().mean().item(),
                          "chosen_reward": out.chosen_rewards.mean().item(),
                          "rejected_reward": out.rejected_rewards.mean().item()}

    data = {"sha256": data_sha256, "sources": counts, "pairs": len(pairs), "used": len(kept),
            "dropped_longer_than_max_len": len(encoded) - len(kept), "reference_file": REFERENCE_FILE}
    return Job("dpo", len(kept), loss, data)


def train_dpo(cfg: DPOConfig, *, progress: bool = True,
              on_step: Callable[[int, dict[str, float]], None] | None = None) -> TrainResult:
    """Run one DPO job end to end (see the module docstring)."""
    base, model, tokenizer = prepare(cfg, progress=progress)
    pairs, counts = load_pairs(cfg)
    job = dpo_job(cfg, tokenizer, model, pairs, counts, base.sha256)
    return run_training(cfg, job, model, tokenizer, base, progress=progress, on_step=on_step)
