"""GGUF → trainable folder: a tiny Llama GGUF (Q8_0 weights, byte-level BPE vocabulary of 261,
ChatML template) is written with the `gguf` package, loaded by transformers' own GGUF reader,
converted, reloaded with identical logits, cached, and trained through `cairn sft`'s path."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from finetune.convert import ConversionError, convert_gguf, load_gguf, strip_gguf_quantizer, trainable_base
from knowledge.models_assemble import artifact_digest
from test_ft_data import CHATML


def write_tiny_gguf(path: Path, *, hidden: int = 64, ffn: int = 128, layers: int = 2, heads: int = 4,
                    kv_heads: int = 2, seed: int = 0) -> Path:
    """A 2-layer Llama in llama.cpp's layout: tensor names blk.N.*, 2-D weights in Q8_0 blocks
    of 32 (so every row length is a multiple of 32), norms in F32."""
    import gguf
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    spelled = bytes_to_unicode()
    tokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", *(spelled[b] for b in range(256)), "he", "Ġt"]
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny")
    writer.add_block_count(layers)
    writer.add_context_length(128)
    writer.add_embedding_length(hidden)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(hidden // heads)
    writer.add_vocab_size(len(tokens))
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types([3, 3, 3] + [1] * (len(tokens) - 3))  # 3 = control (special) tokens
    writer.add_token_merges(["h e", "Ġ t"])
    writer.add_bos_token_id(0)
    writer.add_eos_token_id(2)
    writer.add_pad_token_id(0)
    writer.add_chat_template(CHATML)
    rng = np.random.default_rng(seed)

    def quantized(name: str, shape: tuple[int, int]) -> None:
        blocks = gguf.quants.quantize((rng.standard_normal(shape) * 0.1).astype(np.float32),
                                      gguf.GGMLQuantizationType.Q8_0)
        writer.add_tensor(name, blocks, raw_shape=blocks.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)

    head_dim, vocab = hidden // heads, len(tokens)
    quantized("token_embd.weight", (vocab, hidden))
    quantized("output.weight", (vocab, hidden))
    writer.add_tensor("output_norm.weight", np.ones(hidden, np.float32))
    for i in range(layers):
        for norm in ("attn_norm", "ffn_norm"):
            writer.add_tensor(f"blk.{i}.{norm}.weight", np.ones(hidden, np.float32))
        for name, shape in (("attn_q", (hidden, hidden)), ("attn_k", (kv_heads * head_dim, hidden)),
                            ("attn_v", (kv_heads * head_dim, hidden)), ("attn_output", (hidden, hidden)),
                            ("ffn_gate", (ffn, hidden)), ("ffn_up", (ffn, hidden)), ("ffn_down", (hidden, ffn))):
            quantized(f"blk.{i}.{name}.weight", shape)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture
def tiny_gguf(tmp_path: Path) -> Path:
    folder = tmp_path / "gguf"
    folder.mkdir()
    return write_tiny_gguf(folder / "tiny-llama.Q8_0.gguf")


def test_gguf_loaded_model_cannot_save_until_the_quantizer_is_stripped(tiny_gguf: Path, tmp_path: Path):
    from transformers import AutoModelForCausalLM

    # the plain GGUF load keeps its quantizer: the pitfall of DESIGN.md §6
    model = AutoModelForCausalLM.from_pretrained(tiny_gguf.parent, gguf_file=tiny_gguf.name).eval()
    assert model.is_quantized
    with pytest.raises(ValueError, match="not serializable"):
        model.save_pretrained(tmp_path / "direct")
    strip_gguf_quantizer(model)
    assert not model.is_quantized
    model.save_pretrained(tmp_path / "direct")
    assert "quantization_config" not in json.loads((tmp_path / "direct" / "config.json").read_text())
    # load_gguf asks for dequantize=True explicitly and gets the same dense weights, quantizer-free
    dense, _ = load_gguf(tiny_gguf, progress=False)
    ids = torch.tensor([[1, 100, 118, 2]])
    with torch.no_grad():
        assert torch.equal(dense.eval()(ids).logits, model(ids).logits)


def test_conversion_reloads_with_identical_logits_and_records_provenance(tiny_gguf: Path, cairn_home: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = trainable_base(tiny_gguf, progress=False)
    assert base.converted_now and base.path == cairn_home / "models" / "tiny-llama.q8_0-hf"
    record = json.loads((base.path / "provenance.json").read_text())
    assert record["source"]["sha256"] == artifact_digest(tiny_gguf, progress=False) == base.sha256
    assert record["model_id"] == base.model_id and record["git_commit"] and record["time"]
    assert "quantization_config" not in json.loads((base.path / "config.json").read_text())

    gguf_model, gguf_tok = load_gguf(tiny_gguf, progress=False)
    model = AutoModelForCausalLM.from_pretrained(base.path).eval()
    tok = AutoTokenizer.from_pretrained(base.path)
    messages = [{"role": "user", "content": "hi there"}]
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text == gguf_tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = tok(text, add_special_tokens=False, return_tensors="pt").input_ids
    assert ids.tolist() == gguf_tok(text, add_special_tokens=False, return_tensors="pt").input_ids.tolist()
    with torch.no_grad():
        assert torch.equal(model(ids).logits, gguf_model.eval()(ids).logits)
    assert not getattr(model, "is_quantized", False) and all(p.dtype == torch.float32 for p in model.parameters())


def test_conversion_is_cached_until_the_gguf_changes(tiny_gguf: Path, monkeypatch: pytest.MonkeyPatch):
    import finetune.convert as convert

    first = trainable_base(tiny_gguf, progress=False)
    with monkeypatch.context() as patch:
        patch.setattr(convert, "load_gguf", lambda *a, **k: pytest.fail("an unchanged GGUF was converted again"))
        again = trainable_base(tiny_gguf, progress=False)
        assert not again.converted_now and again.sha256 == first.sha256
        assert trainable_base(first.path).sha256 == first.sha256  # the folder itself: the same identity
    before = tiny_gguf.stat().st_mtime_ns
    write_tiny_gguf(tiny_gguf, seed=1)                             # new weights, same size, in the same file
    os.utime(tiny_gguf, ns=(before + 10**9, before + 10**9))       # a later write, whatever the clock granularity
    changed = trainable_base(tiny_gguf, progress=False)
    assert changed.converted_now and changed.sha256 != first.sha256


def test_sft_trains_from_a_gguf_base(tiny_gguf: Path, tmp_path: Path):
    from finetune.sft import SFTConfig, train_sft

    data = tmp_path / "sft.jsonl"
    data.write_text(json.dumps({"messages": [{"role": "user", "content": "hi there"},
                                             {"role": "assistant", "content": "hello"}]}) + "\n")
    result = train_sft(SFTConfig(base=str(tiny_gguf), data=(str(data),), out=str(tmp_path / "out"), steps=2,
                                 lr=1e-2, rank=4, batch_size=1, max_len=64), progress=False)
    assert len(result.history) == 2 and all(np.isfinite(r["loss"]) for r in result.history)
    assert result.provenance["base"]["sha256"] == artifact_digest(tiny_gguf, progress=False)


def test_a_base_that_is_neither_gguf_nor_model_folder_is_refused(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConversionError, match="neither a .gguf file nor a transformers model folder"):
        trainable_base(tmp_path / "empty")
    for name in ("a.gguf", "b.gguf"):
        (tmp_path / "two" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "two" / name).write_bytes(b"")
    with pytest.raises(ConversionError, match="2 .gguf files"):
        trainable_base(tmp_path / "two")


@pytest.mark.slow
def test_real_smollm2_converts_once(real_model, cairn_home: Path):
    from transformers import AutoModelForCausalLM

    gguf = next(real_model("smollm2-135m").glob("*.gguf"))
    started = time.perf_counter()
    base = convert_gguf(gguf, cairn_home / "models" / "smollm2-135m-hf", model_id="smollm2-135m", progress=False)
    seconds = time.perf_counter() - started
    model = AutoModelForCausalLM.from_pretrained(base.path)
    assert (model.config.hidden_size, model.config.num_hidden_layers) == (576, 30)
    record = json.loads((base.path / "provenance.json").read_text())
    assert record["source"]["sha256"] == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    assert "<|im_start|>" in record["chat_template"]
    print(f"smollm2-135m GGUF → transformers folder: {seconds:.1f}s")
