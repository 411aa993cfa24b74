"""`cairn merge` on a tiny random Llama (hidden 32, 2 layers) with hand-made peft adapters:
a single-adapter merge equals peft's merge_and_unload and reloads with the unmerged logits;
task arithmetic is checked against the unmerged adapters, TIES against merging.py; a merge
whose logits drift from the unmerged model writes nothing; provenance is complete.

`make_adapter` and `gguf_base` are shared with the gate and GGUF export tests.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from finetune.merge import MergeParityError, MergeRunConfig, merge_adapters
from finetune.merging import MergeConfigError, ties
from knowledge.models_assemble import artifact_digest
from test_ft_sft import tiny_base

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def make_adapter(base: Path, out: Path, *, seed: int = 0, scale: float = 0.05, r: int = 4,
                 targets: list[str] | None = None) -> Path:
    """A peft LoRA adapter of `base` with random B (std `scale`; 0 = the untrained, zero-init
    adapter), saved as `cairn sft` saves one, with a provenance.json naming its base."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from finetune.convert import trainable_base

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    torch.manual_seed(seed)
    peft_model = get_peft_model(model, LoraConfig(r=r, lora_alpha=2 * r, target_modules=targets or TARGETS,
                                                  task_type="CAUSAL_LM"))
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * scale)
    peft_model.save_pretrained(out)
    tb = trainable_base(base)
    record = {"kind": "sft-adapter", "base": {"model_id": tb.model_id, "sha256": tb.sha256, "path": str(base),
                                              "source": str(tb.source)}}
    (out / "provenance.json").write_text(json.dumps(record), encoding="utf-8")
    return out


def gguf_base(root: Path) -> Path:
    """A tiny Llama that came from a GGUF (byte-level BPE, ChatML), converted into
    CAIRN_HOME/models/…-hf as `cairn sft` does. Its head is sharpened ×10 so that the random
    model's next-token distributions are peaked, like a trained model's (near-uniform ones
    would make every KL small)."""
    from safetensors.torch import load_file, save_file

    from finetune.convert import trainable_base
    from test_ft_convert import write_tiny_gguf

    root.mkdir(parents=True, exist_ok=True)
    base = trainable_base(write_tiny_gguf(root / "tiny-llama.Q8_0.gguf"), progress=False).path
    weights = load_file(base / "model.safetensors")
    weights["lm_head.weight"] = weights["lm_head.weight"] * 10.0
    save_file(weights, base / "model.safetensors", metadata={"format": "pt"})
    return base


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return tiny_base(tmp_path / "base")


def load(folder: Path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()


IDS = torch.tensor([[2, 7, 9, 11, 13, 3, 5]])


def test_single_adapter_merge_equals_peft_and_keeps_the_unmerged_logits(base: Path, tmp_path: Path):
    from peft import PeftModel

    adapter = make_adapter(base, tmp_path / "a")
    result = merge_adapters(MergeRunConfig(adapters=(str(adapter),), out=str(tmp_path / "merged")))
    assert result.parity.max_abs_diff is not None and result.parity.max_abs_diff < 1e-4
    peft_model = PeftModel.from_pretrained(load(base), adapter).eval()
    with torch.no_grad():
        unmerged = peft_model(IDS).logits
        reference = peft_model.merge_and_unload().state_dict()
        merged_model = load(result.out)
        assert torch.allclose(merged_model(IDS).logits, unmerged, atol=1e-5)
    for key, tensor in merged_model.state_dict().items():
        assert torch.allclose(tensor, reference[key], atol=1e-6), key
    # the base weights really moved (the adapter was not a no-op)
    assert not torch.allclose(merged_model.state_dict()["model.layers.0.self_attn.q_proj.weight"],
                              load(base).state_dict()["model.layers.0.self_attn.q_proj.weight"])


def test_provenance_records_base_adapter_parity_commit_and_time(base: Path, tmp_path: Path):
    adapter = make_adapter(base, tmp_path / "a")
    out = merge_adapters(MergeRunConfig(adapters=(str(adapter),), out=str(tmp_path / "merged"))).out
    record = json.loads((out / "provenance.json").read_text())
    assert record["kind"] == "merged-model" and record["git_commit"] and record["time"]
    assert record["base"]["path"] == str(base) and len(record["base"]["sha256"]) == 64
    (entry,) = record["adapters"]
    assert entry["path"] == str(adapter.resolve())
    assert entry["sha256"] == artifact_digest(adapter / "adapter_model.safetensors", progress=False)
    assert record["parity"]["applicable"] and record["parity"]["max_abs_diff"] <= record["parity"]["tol"]
    assert (out / "tokenizer.json").is_file() and "<|im_start|>" in record["chat_template"]


def test_task_arithmetic_of_two_adapters_matches_the_unmerged_pair(base: Path, tmp_path: Path):
    a, b = make_adapter(base, tmp_path / "a", seed=1), make_adapter(base, tmp_path / "b", seed=2)
    cfg = MergeRunConfig(adapters=(str(a), str(b)), out=str(tmp_path / "m"), weights=(0.5, 2.0))
    result = merge_adapters(cfg)
    assert result.parity.max_abs_diff is not None and result.parity.ok
    # by hand: W = W0 + 0.5·Δa + 2·Δb on one weight
    from peft import PeftModel

    key = "model.layers.1.mlp.down_proj"
    deltas = []
    for adapter in (a, b):
        layer = PeftModel.from_pretrained(load(base), adapter).base_model.model.get_submodule(key)
        deltas.append(layer.get_delta_weight("default"))
    w0 = load(base).get_submodule(key).weight
    expected = w0 + 0.5 * deltas[0] + 2.0 * deltas[1]
    assert torch.allclose(load(result.out).get_submodule(key).weight, expected, atol=1e-6)


def test_ties_merge_applies_merging_ties_to_the_lora_deltas_and_has_no_parity(base: Path, tmp_path: Path):
    from peft import PeftModel

    a, b = make_adapter(base, tmp_path / "a", seed=1), make_adapter(base, tmp_path / "b", seed=2)
    result = merge_adapters(MergeRunConfig(adapters=(str(a), str(b)), out=str(tmp_path / "t"), method="ties",
                                           density=0.5))
    assert result.parity.max_abs_diff is None and result.parity.ok
    assert json.loads((result.out / "provenance.json").read_text())["parity"]["applicable"] is False
    key = "model.layers.0.self_attn.v_proj"
    deltas = [PeftModel.from_pretrained(load(base), x).base_model.model.get_submodule(key).get_delta_weight("default")
              for x in (a, b)]
    expected = load(base).get_submodule(key).weight + ties(deltas, (1.0, 1.0), 0.5)
    assert torch.allclose(load(result.out).get_submodule(key).weight, expected, atol=1e-6)


def test_a_merge_whose_logits_drift_writes_nothing(base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import finetune.merge as merge

    adapter = make_adapter(base, tmp_path / "a")
    real = merge.merged_weight
    monkeypatch.setattr(merge, "merged_weight", lambda cfg, w0, deltas: real(cfg, w0, deltas) + 0.05)
    with pytest.raises(MergeParityError, match="nothing was written"):
        merge_adapters(MergeRunConfig(adapters=(str(adapter),), out=str(tmp_path / "bad")))
    assert not (tmp_path / "bad").exists()


def test_bad_settings_and_inputs_are_refused_with_the_fix(base: Path, tmp_path: Path):
    a = make_adapter(base, tmp_path / "a")
    with pytest.raises(MergeConfigError, match="exactly two adapters"):
        MergeRunConfig(adapters=(str(a),), out="x", method="slerp")
    with pytest.raises(MergeConfigError, match="2 weights for 1 adapters"):
        MergeRunConfig(adapters=(str(a),), out="x", weights=(1.0, 2.0))
    with pytest.raises(MergeConfigError, match="density"):
        MergeRunConfig(adapters=(str(a), str(a)), out="x", method="ties", density=0.0)
    with pytest.raises(MergeConfigError, match="not a peft adapter folder"):
        merge_adapters(MergeRunConfig(adapters=(str(base),), out=str(tmp_path / "o")))
    from safetensors.torch import load_file, save_file

    other = tiny_base(tmp_path / "other")                      # same architecture, other weights
    weights = load_file(other / "model.safetensors")
    weights["model.norm.weight"] = weights["model.norm.weight"] + 0.5
    save_file(weights, other / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(MergeConfigError, match="pass the base they were trained on"):
        merge_adapters(MergeRunConfig(adapters=(str(a),), out=str(tmp_path / "o"), base=str(other)))
