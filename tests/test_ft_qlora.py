"""QLoRA: our scratch QLoRALinear, and bitsandbytes' CPU fast path proven right on this CPU.

The bitsandbytes pitfall (DESIGN §6): on AVX512-BF16 CPUs a no-grad eval forward repacks
Linear4bit weights into an inference layout without autograd support, and later QLoRA
gradients of every layer below the last are silently wrong. We compare, after an eval
forward and one training step, the LoRA gradients of

  (a) bitsandbytes Linear4bit (nf4, double quant) + peft LoRA, with disable_bnb_cpu_repack,
  (b) our QLoRALinear over the *same* NF4 codes (read with nf4_weight_from_bnb),
  (c) a dense fp32 model holding the dequantized weights + our LoRALinear.

Tolerances: everything computes in fp32 over bit-identical bases, and on this CPU the three
gradients agree exactly; we allow 1e-6 of the gradient's largest entry for BLAS libraries
that sum in another order (fp32 has ~7 digits, and these are three chained matmuls of
width 64). The bf16 variant rounds activations to 8 mantissa bits (≈4e-3 relative per op),
so there we allow 3e-2 of the largest entry.
"""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from finetune.lora import LoRALinear, MergeStateError, lora_layers
from finetune.qlora import (
    QLoRALinear, RepackedWeightsError, disable_bnb_cpu_repack, inject_qlora, nf4_weight_from_bnb,
)
from finetune.quant_nf4 import NF4Config, NF4Linear, dequantize_nf4

bnb = pytest.importorskip("bitsandbytes")
from bitsandbytes.functional import has_avx512bf16  # noqa: E402

WIDTH = 64   # in = out = 64: one NF4 block per row; out divisible by 32, as bnb's CPU repack needs


class Stack(nn.Module):
    """Two projections with a nonlinearity between, so layer 1's gradient must flow back
    through layer 2's frozen 4-bit base."""

    def __init__(self, make) -> None:
        super().__init__()
        self.up, self.down = make(), make()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(torch.relu(self.up(x)))


def dense_stack(seed: int = 0) -> Stack:
    torch.manual_seed(seed)
    return Stack(lambda: nn.Linear(WIDTH, WIDTH, bias=False))


def adapters(seed: int = 1) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Nonzero A and B for "up" and "down" (B = 0 would zero every gradient on A)."""
    g = torch.Generator().manual_seed(seed)
    return {n: (torch.randn(4, WIDTH, generator=g) * 0.2, torch.randn(WIDTH, 4, generator=g) * 0.05)
            for n in ("up", "down")}


def bnb_qlora(dense: Stack, fix: bool, ad: dict) -> nn.Module:
    from peft import LoraConfig, get_peft_model

    quant = Stack(lambda: bnb.nn.Linear4bit(WIDTH, WIDTH, bias=False, compute_dtype=torch.float32,
                                            compress_statistics=True, quant_type="nf4"))
    quant.load_state_dict(dense.state_dict())
    quant = quant.to("cpu")                                   # bitsandbytes quantizes here
    if fix:
        assert disable_bnb_cpu_repack(quant) == 2
    model = get_peft_model(quant, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["up", "down"]))
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, (a, b) in ad.items():
            params[f"base_model.model.{name}.lora_A.default.weight"].copy_(a)
            params[f"base_model.model.{name}.lora_B.default.weight"].copy_(b)
    return model


def ours_from(bases: dict[str, nn.Module], ad: dict, cls=LoRALinear) -> Stack:
    model = Stack(lambda: nn.Identity())
    for name, base in bases.items():
        layer = cls(base, r=4, alpha=8)
        with torch.no_grad():
            layer.lora_A.copy_(ad[name][0])
            layer.lora_B.copy_(ad[name][1])
        setattr(model, name, layer)
    return model


def eval_then_train_step(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """A generate-like no-grad eval forward, then one SGD step. Returns the LoRA gradients
    keyed "up.A", "down.B", … and the parameters after the step keyed "up.A+", …"""
    model.eval()
    with torch.no_grad():
        model(x)
    model.train()
    loss = (model(x).float() - target).pow(2).mean()
    loss.backward()
    out: dict[str, torch.Tensor] = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            layer = "up" if ".up." in f".{name}" else "down"
            key = f"{layer}.{'A' if 'lora_A' in name else 'B'}"
            out[key] = p.grad.detach().clone()
    torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5).step()
    for name, p in model.named_parameters():
        if p.requires_grad:
            layer = "up" if ".up." in f".{name}" else "down"
            out[f"{layer}.{'A' if 'lora_A' in name else 'B'}+"] = p.detach().clone()
    return out


@pytest.fixture(scope="module")
def batch():
    g = torch.Generator().manual_seed(2)
    return torch.randn(5, WIDTH, generator=g), torch.randn(5, WIDTH, generator=g)


def reference_runs(x, target):
    dense, ad = dense_stack(), adapters()
    bnb_model = bnb_qlora(dense, fix=True, ad=ad)
    quantized = {n: bnb_model.base_model.model.get_submodule(n).base_layer for n in ("up", "down")}
    nf4 = {n: nf4_weight_from_bnb(layer) for n, layer in quantized.items()}
    scratch = ours_from({n: NF4Linear(q) for n, q in nf4.items()}, ad, cls=QLoRALinear)
    dense_deq = {}
    for n, q in nf4.items():
        lin = nn.Linear(WIDTH, WIDTH, bias=False)
        with torch.no_grad():
            lin.weight.copy_(bnb.functional.dequantize_4bit(quantized[n].weight.data, quantized[n].weight.quant_state))
        dense_deq[n] = lin
        assert torch.equal(lin.weight, dequantize_nf4(q))        # same base, bit for bit
    dense_model = ours_from(dense_deq, ad)
    return (eval_then_train_step(bnb_model, x, target), eval_then_train_step(scratch, x, target),
            eval_then_train_step(dense_model, x, target), bnb_model)


def test_bnb_qlora_gradients_match_scratch_and_dense_after_eval(batch):
    x, target = batch
    bnb_run, scratch_run, dense_run, bnb_model = reference_runs(x, target)
    assert set(bnb_run) == {"up.A", "up.B", "down.A", "down.B", "up.A+", "up.B+", "down.A+", "down.B+"}
    for key in bnb_run:
        tol = 1e-6 * dense_run[key].abs().max()
        assert torch.allclose(scratch_run[key], dense_run[key], atol=tol, rtol=0), key
        assert torch.allclose(bnb_run[key], dense_run[key], atol=tol, rtol=0), key
    assert bnb_run["up.A"].abs().max() > 1e-2                     # real gradients, not zeros
    # the guard kept the weights in the training layout
    for name in ("up", "down"):
        state = bnb_model.base_model.model.get_submodule(name).base_layer.weight.quant_state
        assert not getattr(state, "packing_format_for_cpu", False)


@pytest.mark.skipif(not has_avx512bf16(), reason="this CPU has no AVX512-BF16: bitsandbytes never repacks "
                                                 "4-bit weights here, so the bug cannot occur (guard kept)")
def test_without_the_fix_gradients_are_silently_wrong(batch):
    """Documents the pitfall on this CPU: skip disable_bnb_cpu_repack and the eval forward
    repacks the weights; the forward still agrees, but `up` (below the repacked `down`)
    gets gradients that are mostly wrong, with only a warning from torch."""
    x, target = batch
    dense, ad = dense_stack(), adapters()
    _, _, dense_run, _ = reference_runs(x, target)
    broken = bnb_qlora(dense, fix=False, ad=ad)
    with pytest.warns(UserWarning, match="autograd kernel was not registered"):
        broken_run = eval_then_train_step(broken, x, target)
    down = broken.base_model.model.down.base_layer
    assert down.weight.quant_state.packing_format_for_cpu                      # it was repacked
    wrong = (broken_run["up.A"] - dense_run["up.A"]).abs().max() / dense_run["up.A"].abs().max()
    assert wrong > 0.2
    # The last layer's own adapter still sees right inputs and output gradients (bf16 kernel).
    assert torch.allclose(broken_run["down.B"], dense_run["down.B"], atol=3e-2 * dense_run["down.B"].abs().max())
    with pytest.raises(RepackedWeightsError, match="already repacked"):
        disable_bnb_cpu_repack(broken)


def test_bf16_inputs_agree_within_bf16_tolerance(batch):
    x, target = batch
    dense, ad = dense_stack(), adapters()
    _, _, dense_fp32, _ = reference_runs(x, target)
    bnb_model = bnb_qlora(dense, fix=True, ad=ad)
    for name in ("up", "down"):
        bnb_model.base_model.model.get_submodule(name).base_layer.compute_dtype = torch.bfloat16
    nf4 = {n: nf4_weight_from_bnb(bnb_model.base_model.model.get_submodule(n).base_layer) for n in ("up", "down")}
    scratch = ours_from({n: NF4Linear(q) for n, q in nf4.items()}, ad, cls=QLoRALinear)
    run_bnb = eval_then_train_step(bnb_model, x.bfloat16(), target)
    run_ours = eval_then_train_step(scratch, x.bfloat16(), target)
    for key in ("up.A", "up.B", "down.A", "down.B"):
        scale = dense_fp32[key].abs().max()
        # same bf16 ops on both sides (measured: identical here)
        assert torch.allclose(run_bnb[key], run_ours[key], atol=1e-6 * scale, rtol=0), key
        # vs the fp32 reference: bf16 rounding only (measured ≤ 0.6% of the largest entry)
        off = (run_ours[key] - dense_fp32[key]).abs().max()
        assert 0 < off < 3e-2 * scale, key


def test_tiny_llama_qlora_gradients_after_generate_match_dense():
    """The DESIGN §6 guard on a real causal LM: bnb 4-bit projections + peft LoRA, a real
    `generate()` call, then a training step; the LoRA gradients of the bottom layer (the
    ones the repack bug corrupts) must equal those of a dense fp32 model holding the
    dequantized weights with the same adapters."""
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    from finetune.lora import LLAMA_PROJECTIONS, inject_lora, replace_linears

    def to_linear4bit(lin: nn.Linear) -> nn.Module:
        q = bnb.nn.Linear4bit(lin.in_features, lin.out_features, bias=False, compute_dtype=torch.float32,
                              compress_statistics=True, quant_type="nf4")
        q.load_state_dict(lin.state_dict())
        return q.to("cpu")

    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, vocab_size=256)
    quant = LlamaForCausalLM(cfg)
    dense = copy.deepcopy(quant)
    replace_linears(quant.model, LLAMA_PROJECTIONS, to_linear4bit)
    assert disable_bnb_cpu_repack(quant) == 14
    peft_model = get_peft_model(quant, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0,
                                                  target_modules=list(LLAMA_PROJECTIONS)))
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    # dense twin: dequantized weights, the same adapters
    inject_lora(dense, LLAMA_PROJECTIONS, r=4, alpha=8)
    peft_params = dict(peft_model.named_parameters())
    with torch.no_grad():
        for name, layer in lora_layers(dense).items():
            src = peft_model.base_model.model.get_submodule(name).base_layer
            layer.base.weight.copy_(bnb.functional.dequantize_4bit(src.weight.data, src.weight.quant_state))
            layer.lora_A.copy_(peft_params[f"base_model.model.{name}.lora_A.default.weight"])
            layer.lora_B.copy_(peft_params[f"base_model.model.{name}.lora_B.default.weight"])

    ids = torch.randint(0, 256, (2, 6), generator=torch.Generator().manual_seed(2))
    peft_model.eval()
    out = peft_model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=3,
                              do_sample=False, pad_token_id=0)
    assert out.shape == (2, 9)
    for model in (peft_model, dense):
        model.train()
        model(input_ids=out, labels=out).loss.backward()
    for proj in ("self_attn.q_proj", "mlp.down_proj"):
        name = f"model.layers.0.{proj}"
        for ab in ("A", "B"):
            ours = getattr(dense.get_submodule(name), f"lora_{ab}").grad
            theirs = peft_params[f"base_model.model.{name}.lora_{ab}.default.weight"].grad
            assert ours.abs().max() > 0
            assert torch.allclose(theirs, ours, atol=1e-5 * ours.abs().max(), rtol=0), (name, ab)


# -- the scratch QLoRALinear on its own ------------------------------------------------------------

def test_qlora_linear_trains_only_adapters_and_merges_dense():
    torch.manual_seed(0)
    dense = nn.Linear(64, 32)
    layer = QLoRALinear(dense, r=4, alpha=8, nf4=NF4Config(block_size=64))
    assert isinstance(layer.base, NF4Linear)
    assert [n for n, p in layer.named_parameters() if p.requires_grad] == ["lora_A", "lora_B"]
    with torch.no_grad():
        layer.lora_B.normal_(0, 0.1)
    x = torch.randn(3, 64)
    layer(x).sum().backward()
    assert layer.lora_A.grad.abs().sum() > 0 and layer.lora_B.grad.abs().sum() > 0
    with pytest.raises(MergeStateError, match="to_merged_linear"):
        layer.merge()                                             # a 4-bit base cannot absorb the update
    merged = layer.to_merged_linear()
    assert isinstance(merged, nn.Linear)
    with torch.no_grad():
        assert torch.allclose(merged(x), layer(x), atol=1e-5, rtol=0)


def test_inject_qlora_on_tiny_llama_stays_close_to_dense():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, vocab_size=256)
    dense = LlamaForCausalLM(cfg).eval()
    model = copy.deepcopy(dense)
    names = inject_qlora(model, ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                         r=4, alpha=8)
    assert len(names) == 14 and len(lora_layers(model)) == 14
    assert all(n.endswith(("lora_A", "lora_B")) for n, p in model.named_parameters() if p.requires_grad)
    ids = torch.randint(0, 256, (2, 8), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        a, b = dense(ids).logits, model(ids).logits
    # B = 0, so the only difference is NF4 rounding of the 14 projections: small but not zero
    assert 0 < (a - b).norm() / a.norm() < 0.2
