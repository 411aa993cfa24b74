"""`cairn quantize` nf4/int8 builds on a tiny random Llama: the saved codes are exactly what
quant_nf4/quant_int8 produce, the folder loads back (tied embeddings included) with the
in-memory quantized model's logits, the hf backend serves it, and bad inputs name the fix."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from finetune.quant_int8 import Int8Linear, absmax_quantize, zeropoint_quantize
from finetune.quant_nf4 import NF4Config, NF4Linear, quantize_nf4
from finetune.quantize import QuantizeConfig, QuantizeConfigError, load_quantized, quantize
from finetune.sft import OutputExistsError
from test_ft_merge import IDS, make_adapter
from test_ft_sft import tiny_base


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return tiny_base(tmp_path / "base")


def dense(folder: Path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()


def test_nf4_build_stores_exactly_our_codes_and_reloads_with_the_same_logits(base: Path, tmp_path: Path):
    from safetensors.torch import load_file

    from finetune.quantize import quantize_linears

    result = quantize(QuantizeConfig(model=str(base), format="nf4", out=str(tmp_path / "nf4"), dense_dtype="float32"))
    saved = load_file(result.out / "model.safetensors")
    w = dense(base).get_submodule("model.layers.1.mlp.up_proj").weight.detach()
    q = quantize_nf4(w, NF4Config())
    prefix = "model.layers.1.mlp.up_proj."
    assert "model.layers.1.mlp.up_proj.weight" not in saved
    for name, tensor in q.tensors().items():
        assert torch.equal(saved[prefix + name], tensor), name
    manifest = json.loads((result.out / "quantization.json").read_text())
    assert manifest["format"] == "nf4" and len(manifest["modules"]) == 2 * 7
    assert manifest["nf4"] == {"block_size": 64, "double_quant": True, "dq_block_size": 256}

    in_memory = dense(base)
    quantize_linears(in_memory, "nf4", QuantizeConfig(model="m", format="nf4"))
    loaded = load_quantized(result.out)
    assert isinstance(loaded.get_submodule("model.layers.0.self_attn.q_proj"), NF4Linear)
    with torch.no_grad():
        assert torch.equal(loaded(IDS).logits, in_memory(IDS).logits)
        drift = (loaded(IDS).logits - dense(base)(IDS).logits).abs().max()
    assert 0 < drift < 1.0                                           # quantized, but the same model
    record = json.loads((result.out / "provenance.json").read_text())
    assert record["kind"] == "quantized-model" and record["source"]["path"] == str(base)
    assert record["git_commit"] and record["time"] and 0.05 < record["weight_error"]["mean_rel_rmse"] < 0.15


@pytest.mark.parametrize("mode", ["absmax", "zeropoint"])
def test_int8_builds_round_trip(base: Path, tmp_path: Path, mode: str):
    from safetensors.torch import load_file

    result = quantize(QuantizeConfig(model=str(base), format="int8", int8_mode=mode, out=str(tmp_path / mode)))
    w = dense(base).get_submodule("model.layers.0.mlp.down_proj").weight.detach()
    saved = load_file(result.out / "model.safetensors")
    expected = absmax_quantize(w)[0] if mode == "absmax" else zeropoint_quantize(w)[0]
    assert torch.equal(saved["model.layers.0.mlp.down_proj.qweight"], expected)
    assert saved["model.embed_tokens.weight"].dtype == torch.bfloat16          # dense_dtype default
    loaded = load_quantized(result.out, torch.float32)
    layer = loaded.get_submodule("model.layers.0.mlp.down_proj")
    assert isinstance(layer, Int8Linear) and layer.mode == mode
    with torch.no_grad():
        assert (loaded(IDS).logits - dense(base)(IDS).logits).abs().max() < 0.1


def test_tied_embeddings_are_stored_once_and_retied(tmp_path: Path):
    from safetensors.torch import load_file
    from transformers import LlamaConfig, LlamaForCausalLM

    from test_ft_data import tiny_tokenizer

    tok = tiny_tokenizer()
    torch.manual_seed(0)
    config = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=len(tok), tie_word_embeddings=True)
    folder = tmp_path / "tied"
    LlamaForCausalLM(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    result = quantize(QuantizeConfig(model=str(folder), format="nf4", out=str(tmp_path / "q")))
    assert "lm_head.weight" not in load_file(result.out / "model.safetensors")
    loaded = load_quantized(result.out)
    assert loaded.lm_head.weight.data_ptr() == loaded.get_input_embeddings().weight.data_ptr()


def test_the_hf_backend_serves_a_quantized_folder(base: Path, tmp_path: Path):
    from assistant.llm.hf import HFLLM

    out = quantize(QuantizeConfig(model=str(base), format="nf4", out=str(tmp_path / "q"))).out
    llm = HFLLM.load(out, dtype="float32", n_threads=1)
    try:
        assert isinstance(llm.model.get_submodule("model.layers.0.mlp.gate_proj"), NF4Linear)
        assert llm.chat([{"role": "user", "content": "what is salt roads about?"}], max_tokens=3).completion_tokens <= 3
    finally:
        llm.close()


def test_bad_inputs_name_the_fix(base: Path, tmp_path: Path):
    with pytest.raises(QuantizeConfigError, match="unknown format"):
        QuantizeConfig(model=str(base), format="q3_k")
    with pytest.raises(QuantizeConfigError, match="only applies to gguf"):
        QuantizeConfig(model=str(base), format="nf4", source_gguf="x.gguf")
    adapter = make_adapter(base, tmp_path / "adapter")
    with pytest.raises(QuantizeConfigError, match="cairn merge"):
        quantize(QuantizeConfig(model=str(adapter), format="nf4"))
    out = quantize(QuantizeConfig(model=str(base), format="int8", out=str(tmp_path / "o"))).out
    with pytest.raises(OutputExistsError, match="--force"):
        quantize(QuantizeConfig(model=str(base), format="int8", out=str(out)))
    with pytest.raises(QuantizeConfigError, match="already a quantized build"):
        quantize(QuantizeConfig(model=str(out), format="nf4", out=str(tmp_path / "o2")))
    assert quantize(QuantizeConfig(model=str(base), format="int8", out=str(out), force=True)).out == out
