"""DPO on the tiny Llama: the reference pass runs once per sequence (adapter disabled) and is
stored, the first loss is log 2 (policy = reference), margins grow, artifacts match SFT's."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from finetune.dpo import REFERENCE_FILE, DPOConfig, train_dpo
from finetune.sft import TrainingConfigError
from test_ft_sft import tiny_base, write_jsonl

PAIRS = [
    ("what is night train about?", "a film [1].", "a podcast."),
    ("what is salt roads about?", "a podcast [1].", "a film."),
    ("when did night train come out?", "in 2003 [1].", "i couldn't find that."),
    ("when did salt roads come out?", "in 2020 [1].", "in 2003."),
]


@pytest.fixture
def setup(tmp_path: Path):
    base = tiny_base(tmp_path / "base")
    data = write_jsonl(tmp_path / "pairs.jsonl", [
        {"prompt": p, "chosen": c, "rejected": r, "source": "expert:test", "created": "2026-11-22"}
        for p, c, r in PAIRS])

    def config(**overrides) -> DPOConfig:
        settings = dict(base=str(base), data=(str(data),), out=str(tmp_path / "out"), steps=6, lr=2e-2, rank=4,
                        alpha=8.0, batch_size=2, max_len=64, schedule="constant", checkpoint_every=3, beta=0.5)
        return DPOConfig(**{**settings, **overrides})

    return config


class ReferenceCounter:
    """Counts the sequences that reach the base model while the LoRA adapter is disabled
    (reference passes) and while it is enabled (policy passes), via a forward pre-hook."""

    def __init__(self) -> None:
        self.reference_rows = self.policy_rows = 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import finetune.sft as sft

        original = sft.load_lora_model

        def load_and_hook(base, cfg):
            model, tokenizer = original(base, cfg)
            lora_layer = next(m for n, m in model.named_modules() if n.endswith("q_proj") and hasattr(m, "lora_A"))
            model.get_base_model().register_forward_pre_hook(
                lambda module, args, kwargs: self._count(lora_layer, kwargs["input_ids"]), with_kwargs=True)
            return model, tokenizer

        monkeypatch.setattr(sft, "load_lora_model", load_and_hook)

    def _count(self, lora_layer, input_ids: torch.Tensor) -> None:
        if lora_layer.disable_adapters:
            self.reference_rows += input_ids.shape[0]
        else:
            self.policy_rows += input_ids.shape[0]


def test_reference_log_probs_are_computed_once_per_sequence_and_stored(setup, monkeypatch):
    counter = ReferenceCounter()
    counter.install(monkeypatch)
    cfg = setup(steps=6)
    train_dpo(cfg, progress=False)
    assert counter.reference_rows == 2 * len(PAIRS)                  # each chosen and rejected once, not per step
    assert counter.policy_rows == 6 * 2 * cfg.batch_size             # one [chosen; rejected] forward per step
    stored = torch.load(Path(cfg.out) / REFERENCE_FILE, weights_only=True)
    assert stored["logps"].shape == (len(PAIRS), 2)
    # a resumed run reads the table back instead of scoring the data again
    counter.reference_rows = 0
    resumed = train_dpo(setup(steps=6, resume=True), progress=False)
    assert counter.reference_rows == 0 and resumed.resumed_from == 6


def test_first_loss_is_log_2_and_margins_grow(setup):
    result = train_dpo(setup(steps=8), progress=False)
    first, last = result.history[0], result.history[-1]
    assert first["loss"] == pytest.approx(math.log(2), abs=1e-5)     # B = 0: policy == reference
    assert first["margin"] == pytest.approx(0.0, abs=1e-5)
    assert last["margin"] > 1.0 and last["accuracy"] == 1.0 and last["loss"] < 0.5
    assert last["chosen_reward"] > last["rejected_reward"]


def test_artifacts_match_sft(setup):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    cfg = setup(steps=3)
    result = train_dpo(cfg, progress=False)
    out = result.out
    for name in ("adapter_config.json", "adapter_model.safetensors", "loss.csv", "loss.png", "provenance.json"):
        assert (out / name).is_file(), name
    header = (out / "loss.csv").read_text().splitlines()[0].split(",")
    assert {"step", "loss", "margin", "accuracy", "chosen_reward", "rejected_reward"} <= set(header)
    record = json.loads((out / "provenance.json").read_text())
    assert record["kind"] == "dpo-adapter" and record["config"]["beta"] == 0.5
    assert len(record["base"]["sha256"]) == 64 and len(record["data"]["sha256"]) == 64 and record["seed"] == 0
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(cfg.base), out).eval()
    ids = torch.tensor([[2, 5, 6, 7]])
    with torch.no_grad():
        assert torch.allclose(model(input_ids=ids).logits, result.model.eval()(input_ids=ids).logits, atol=1e-6)


def test_dpo_settings_are_checked(setup):
    with pytest.raises(TrainingConfigError, match="beta=0.0"):
        setup(beta=0.0)



def test_kb_catalog_draws_synthetic_pairs_from_the_index(setup, monkeypatch):
    import finetune.dpo as dpo

    seen = {}

    def fake_pairs(collection, **kwargs):
        seen.update(collection=collection, **kwargs)
        return ["pair"] * 3

    monkeypatch.setattr(dpo, "knowledge_base_pairs", fake_pairs)
    cfg = dpo.DPOConfig(base="unused", data=("kb:catalog",), out="unused", kb_items=40, seed=7)
    assert dpo.load_pairs(cfg) == (["pair"] * 3, {"kb:catalog": 3})
    assert seen == {"collection": "catalog", "seed": 7, "limit": 40}
