"""GGUF export: the llama q/k permutation against transformers' own inverse, a tiny model's
round trip (write → gguf.GGUFReader → dequantize → compare with the HF weights) within the
Q8_0 and Q4_0 error bounds, metadata copied from the source GGUF, an f16 export that
reproduces the source file's tensors, and llama.cpp serving the result with the HF model's
logits. The slow test does the same with the real SmolLM2-135M through our llama.cpp backend."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from finetune.gguf_export import (
    GGUFExportError, decode_tensor, export_gguf, hf_to_gguf_names, permute_qk, unpermute_qk, verify_against_source,
)
from test_ft_merge import gguf_base


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The converted tiny Llama (its own CAIRN_HOME: the autouse fixture is function-scoped)."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CAIRN_HOME", str(home))
        return gguf_base(home / "gguf")


@pytest.fixture(scope="module")
def hf_weights(tiny: Path) -> dict[str, np.ndarray]:
    from safetensors.torch import load_file

    return {k: v.float().numpy() for k, v in load_file(tiny / "model.safetensors").items()}


def gguf_order(hf: dict[str, np.ndarray], n_head: int = 4, n_kv: int = 2) -> dict[str, np.ndarray]:
    """The HF weights under their GGUF names, q/k rows in llama.cpp's order."""
    names = hf_to_gguf_names("llama", 2, list(hf))
    out = {}
    for key, gname in names.items():
        w = hf[key]
        w = permute_qk(w, n_head) if ".attn_q." in gname else permute_qk(w, n_kv) if ".attn_k." in gname else w
        out[gname] = w
    return out


def test_permutation_is_the_inverse_of_transformers_gguf_loader():
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    w = np.arange(24 * 5, dtype=np.float32).reshape(24, 5)              # 3 heads of dim 8
    undo = LlamaTensorProcessor()._reverse_permute_weights
    assert np.array_equal(undo(permute_qk(w, 3), 3, 3), w)
    assert np.array_equal(unpermute_qk(permute_qk(w, 3), 3), w)
    assert np.array_equal(undo(permute_qk(w, 2), 4, 2), w)              # k: the kv-head count wins
    # head 0 of dim 8: HF rows (0..3 | 4..7) = rotate_half pairs (i, i+4) → adjacent pairs (2i, 2i+1)
    assert permute_qk(w, 3)[:8, 0].tolist() == [0, 20, 5, 25, 10, 30, 15, 35]


def test_q8_0_round_trip_is_within_the_block_error_bound(tiny: Path, hf_weights, tmp_path: Path):
    import gguf

    result = export_gguf(tiny, tmp_path / "t.q8_0.gguf", "q8_0")
    want = gguf_order(hf_weights)
    reader = gguf.GGUFReader(str(result.path))
    assert {t.name for t in reader.tensors} == set(want)
    for t in reader.tensors:
        got, w = decode_tensor(t), want[t.name]
        if w.ndim == 1:
            assert t.tensor_type == gguf.GGMLQuantizationType.F32 and np.array_equal(got, w)
            continue
        assert t.tensor_type == gguf.GGMLQuantizationType.Q8_0
        # per block of 32: |err| ≤ d/2 with d = amax/127, plus d's own fp16 rounding (≤ 127·d·2⁻¹¹)
        amax = np.abs(w).reshape(w.shape[0], -1, 32).max(axis=-1, keepdims=True)
        err = np.abs(got - w).reshape(amax.shape[0], -1, 32)
        assert (err <= amax * (1 / 254 + 1 / 2048) + 1e-7).all(), t.name
    assert result.worst().rel_rmse < 0.01


def test_q4_0_round_trip_is_within_its_bound_and_keeps_the_output_at_8_bits(tiny: Path, hf_weights, tmp_path: Path):
    import gguf

    result = export_gguf(tiny, tmp_path / "t.q4_0.gguf", "q4_0")
    want = gguf_order(hf_weights)
    for t in gguf.GGUFReader(str(result.path)).tensors:
        got, w = decode_tensor(t), want[t.name]
        if w.ndim == 1:
            continue
        expected = "Q8_0" if t.name == "output.weight" else "Q4_0"
        assert t.tensor_type.name == expected, t.name
        if expected == "Q4_0":
            # levels (q − 8)·d, d = −(signed absmax)/8: the far side reaches only 7|d| → |err| ≤ |d| = amax/8
            amax = np.abs(w).reshape(w.shape[0], -1, 32).max(axis=-1, keepdims=True)
            err = np.abs(got - w).reshape(amax.shape[0], -1, 32)
            assert (err <= amax * (1 / 8 + 1 / 256) + 1e-7).all(), t.name
    assert 0.01 < result.worst().rel_rmse < 0.2                         # 4 bits: coarse but sane


def test_q4_k_m_is_built_by_llama_cpps_quantizer_from_an_f16_export(tiny: Path, hf_weights, tmp_path: Path):
    import gguf

    result = export_gguf(tiny, tmp_path / "t.q4_k_m.gguf", "q4_k_m")
    reader = gguf.GGUFReader(str(result.path))
    assert reader.fields["general.file_type"].contents() == gguf.LlamaFileType.MOSTLY_Q4_K_M
    # rows of 64 are not whole 256-value K blocks: llama.cpp falls back to 32-value types
    assert {t.tensor_type.name for t in reader.tensors if len(t.shape) == 2} <= {"Q5_0", "Q5_1", "Q8_0", "Q4_0",
                                                                               "Q4_1", "Q6_K", "Q4_K"}
    assert {t.name for t in reader.tensors} == set(gguf_order(hf_weights))
    assert result.worst().rel_rmse < 0.2 and not list(tmp_path.glob("*.f16"))   # the f16 step is cleaned up


def test_metadata_is_the_source_files_with_the_new_file_type(tiny: Path, tmp_path: Path):
    import gguf

    result = export_gguf(tiny, tmp_path / "t.q8_0.gguf", "q8_0")
    src, out = gguf.GGUFReader(str(result.source_gguf)), gguf.GGUFReader(str(result.path))
    for name, field in src.fields.items():
        if name.startswith("GGUF.") or name == "general.file_type":
            continue
        assert out.fields[name].contents() == field.contents(), name
    assert out.fields["general.file_type"].contents() == gguf.LlamaFileType.MOSTLY_Q8_0
    assert "<|im_start|>" in out.fields["tokenizer.chat_template"].contents()


def test_f16_export_reproduces_the_source_gguf_so_names_and_permutation_are_right(tiny: Path, tmp_path: Path):
    result = export_gguf(tiny, tmp_path / "t.f16.gguf", "f16")
    diffs = verify_against_source(result)
    # tiny's head was sharpened ×10 after conversion (gguf_base); every other tensor must match
    assert diffs.pop("output.weight") > 0.1
    assert max(diffs.values()) < 2e-3                                   # fp16 rounding of |w| ≤ ~1


def test_llama_cpp_serves_the_export_with_the_hf_logits(tiny: Path, tmp_path: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from finetune.gate_run import LlamaSource

    result = export_gguf(tiny, tmp_path / "t.q8_0.gguf", "q8_0")
    tok = AutoTokenizer.from_pretrained(tiny)
    model = AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32).eval()
    text = tok.apply_chat_template([{"role": "user", "content": "hello there"}], tokenize=False,
                                   add_generation_prompt=True)
    ids = tok(text, add_special_tokens=False).input_ids
    with torch.no_grad():
        hf = model(torch.tensor([ids])).logits[0].numpy()
    llama = LlamaSource(result.path, {2}, n_ctx=256, threads=1)
    try:
        assert llama.tokenize(text) == ids
        cpp = llama.logits(ids)
    finally:
        llama.close()
    assert cpp.shape == hf.shape
    assert (cpp.argmax(-1) == hf.argmax(-1)).mean() >= 0.9
    assert np.abs(cpp - hf).max() < 0.05 * np.abs(hf).max()


def test_exports_without_a_source_gguf_or_of_another_architecture_are_refused(tmp_path: Path, tiny: Path):
    from test_ft_sft import tiny_base

    plain = tiny_base(tmp_path / "plain")                               # no provenance chain to a GGUF
    with pytest.raises(GGUFExportError, match="--source-gguf"):
        export_gguf(plain, tmp_path / "x.gguf", "q8_0")
    with pytest.raises(GGUFExportError, match="shape"):                 # a llama, but not that GGUF's
        export_gguf(plain, tmp_path / "x.gguf", "q8_0", source_gguf=next((tiny.parents[1] / "gguf").glob("*.gguf")))
    config = json.loads((plain / "config.json").read_text())
    (plain / "config.json").write_text(json.dumps({**config, "model_type": "gpt2"}))
    with pytest.raises(GGUFExportError, match="supports"):
        export_gguf(plain, tmp_path / "x.gguf", "q8_0", source_gguf=next((tiny.parents[1] / "gguf").glob("*.gguf")))
    assert not list(tmp_path.glob("*.gguf*"))                           # nothing half-written


@pytest.mark.slow
def test_real_smollm2_exports_to_q8_0_and_our_llama_cpp_backend_serves_it(real_model, cairn_home: Path,
                                                                         tmp_path: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from assistant.llm.llamacpp import LlamaCppLLM
    from finetune.convert import convert_gguf
    from finetune.gate import kl_per_position, log_softmax
    from finetune.gate_run import LlamaSource

    torch.set_num_threads(1)
    source = next(real_model("smollm2-135m").glob("*.gguf"))
    base = convert_gguf(source, cairn_home / "models" / "smollm2-135m-hf", model_id="smollm2-135m", progress=False)
    result = export_gguf(base.path, tmp_path / "smollm2.q8_0.gguf", "q8_0")
    assert result.source_gguf == source.resolve() and result.worst().rel_rmse < 0.02
    tok = AutoTokenizer.from_pretrained(base.path)
    model = AutoModelForCausalLM.from_pretrained(base.path, dtype=torch.float32).eval()
    # a prompt the fp32 model answers confidently: near-ties (|Δlogp| < 0.1) may flip under any rounding
    messages = [{"role": "user", "content": "What is two plus two?"}]
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = tok(text, add_special_tokens=False).input_ids
    with torch.no_grad():
        hf = model(torch.tensor([ids])).logits[0].numpy()
        hf_reply = model.generate(torch.tensor([ids]), max_new_tokens=8, do_sample=False)[0, len(ids):]
    llama = LlamaSource(result.path, {tok.eos_token_id}, n_ctx=512, threads=1)
    try:
        cpp = llama.logits(ids)
    finally:
        llama.close()
    kl = kl_per_position(hf, cpp)
    ranked = np.sort(log_softmax(hf), axis=-1)
    confident = ranked[:, -1] - ranked[:, -2] > 1.0                    # top-1 ahead by more than 1 nat
    agree = cpp.argmax(-1) == hf.argmax(-1)
    print(f"smollm2 q8_0 {result.size_bytes / 2**20:.1f} MiB: KL mean {kl.mean():.4f} max {kl.max():.4f}, "
          f"top-1 agreement {agree.mean():.2f} (confident positions {agree[confident].mean():.2f})")
    assert kl.mean() < 0.05 and agree.mean() >= 0.85 and agree[confident].all() and confident[-1]
    served = LlamaCppLLM(result.path, n_ctx=512, n_threads=1)           # the assistant's serving backend
    try:
        reply = served.chat(messages, max_tokens=8, temperature=0.0).text
    finally:
        served.close()
    assert reply.split()[:2] == tok.decode(hf_reply, skip_special_tokens=True).split()[:2], reply
